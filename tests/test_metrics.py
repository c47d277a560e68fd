from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.spatial import ConvexHull
from sklearn.metrics import roc_curve
from sksurv.metrics import (
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)
from sksurv.util import Surv

from churnml.errors import InputError
from churnml.metrics import (
    capture_rate_at,
    classification_report,
    empc,
    empc_target_fraction,
    expected_calibration_error,
    harrell_c,
    integrated_brier,
    lift_at,
    survival_report,
    time_dependent_auc,
    uno_c,
    usable_times,
)


def surv(event, duration):
    return Surv.from_arrays(event, duration, name_event="event", name_time="duration")


# --- classification -------------------------------------------------------------------------


def test_ece_by_hand():
    # Two quantile bins: {0.1, 0.2} -> |0.15 - 0| and {0.3, 0.4} -> |0.35 - 1|, equal weights.
    assert expected_calibration_error([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], n_bins=2) == (
        pytest.approx(0.4)
    )


def test_ece_quantile_bins_separate_low_probabilities():
    # All below 0.1: equal-width bins would pool them (|0.2 - 1| / 4 = 0.2); quantile bins
    # split them into {0.01, 0.01} -> |0.01 - 0| and {0.09, 0.09} -> |0.09 - 0.5|.
    ece = expected_calibration_error([0, 0, 0, 1], [0.01, 0.01, 0.09, 0.09], n_bins=2)
    assert ece == pytest.approx((0.01 + 0.41) / 2)


def test_ece_is_zero_when_calibrated_and_ties_share_a_bin():
    y = [1, 0, 0, 0, 1, 0, 0, 0]
    assert expected_calibration_error(y, [0.25] * 8, n_bins=4) == pytest.approx(0.0)


def test_lift_and_capture_by_hand():
    y = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    score = [0.9, 0.8, 0.1, 0.2, 0.7, 0.0, 0.0, 0.0, 0.0, 0.0]
    # Top decile = the 0.9 row, a churner: rate 1 over 0.2; it holds 1 of 2 churners.
    assert lift_at(y, score) == pytest.approx(5.0)
    assert capture_rate_at(y, score) == pytest.approx(0.5)
    # Top 30 %: 0.9, 0.8, 0.7 -> 2 churners of 3 rows.
    assert lift_at(y, score, fraction=0.3) == pytest.approx((2 / 3) / 0.2)
    assert capture_rate_at(y, score, fraction=0.3) == pytest.approx(1.0)


def test_ties_at_the_threshold_take_the_earlier_rows():
    y = np.zeros(10, dtype=int)
    y[0] = 1
    tied = np.full(10, 0.5)
    assert capture_rate_at(y, tied) == 1.0
    assert capture_rate_at(y[::-1], tied) == 0.0
    assert lift_at(y, tied) == pytest.approx(10.0)


def test_top_fraction_is_not_inflated_by_rounding():
    # 0.1 * 30 is 3.0000000000000004 in floating point: the top must be 3 rows, not 4.
    y = np.zeros(30, dtype=int)
    y[[0, 3]] = 1
    score = -np.arange(30.0)
    assert capture_rate_at(y, score) == pytest.approx(0.5)


def test_perfect_predictions():
    y = np.array([0] * 90 + [1] * 10)
    report = classification_report(y, y.astype(float))
    assert report["roc_auc"] == 1.0
    assert report["pr_auc"] == 1.0
    assert report["brier"] == 0.0
    assert report["ece"] == 0.0
    assert report["lift_top_decile"] == pytest.approx(10.0)
    assert report["capture_top_decile"] == 1.0
    assert report["event_rate"] == pytest.approx(0.1)
    assert report["n"] == 100.0
    # Perfect: target the churners only, 0.1 * (E[gamma] * (200 - 10) - 1) = 5.6.
    assert report["empc"] == pytest.approx(5.6, rel=1e-6)


def test_random_predictions():
    rng = np.random.default_rng(0)
    y = (rng.random(20_000) < 0.1).astype(int)
    report = classification_report(y, rng.random(20_000))
    assert set(report) == {
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "ece",
        "lift_top_decile",
        "capture_top_decile",
        "empc",
        "event_rate",
        "n",
    }
    assert report["roc_auc"] == pytest.approx(0.5, abs=0.02)
    assert report["pr_auc"] == pytest.approx(y.mean(), abs=0.02)
    assert report["lift_top_decile"] == pytest.approx(1.0, abs=0.15)
    assert report["capture_top_decile"] == pytest.approx(0.1, abs=0.015)
    assert report["ece"] == pytest.approx(0.4, abs=0.02)  # mean proba 0.5 vs rate 0.1


def _empc_by_quadrature(y, score, clv, incentive, contact, alpha, beta):
    """EMPC and targeted fraction straight from the paper (Verbraken et al. 2013, eq. 14).

    The profit of a cut-off is linear in its ROC point, so for each acceptance rate gamma
    the best cut-off is a vertex of the ROC convex hull; integrate over Beta(alpha, beta).
    """
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    points = np.column_stack([fpr, tpr])
    # The corner (1, 0) closes the polygon below the curve: the other vertices are the hull.
    hull = ConvexHull(np.vstack([points, [1.0, 0.0]]))
    vertices = points[[v for v in hull.vertices if v < len(points)]]
    pi1 = np.mean(y)
    pi0 = 1 - pi1

    def profits(gamma):
        return (gamma * (clv - incentive) - contact) * pi1 * vertices[:, 1] - (
            incentive + contact
        ) * pi0 * vertices[:, 0]

    def best(gamma):
        return vertices[np.argmax(profits(gamma))]

    # The argmax changes only where two vertices' profits are equal: give quad those kinks.
    kinks = []
    for a, b in itertools.combinations(vertices, 2):
        if a[1] != b[1]:
            ratio = (incentive + contact) * pi0 * (a[0] - b[0]) / (pi1 * (a[1] - b[1]))
            kinks.append((contact + ratio) / (clv - incentive))
    kinks = sorted(k for k in kinks if 0 < k < 1)
    density = stats.beta(alpha, beta).pdf
    value = integrate.quad(lambda g: profits(g).max() * density(g), 0, 1, points=kinks)[0]
    rate = integrate.quad(
        lambda g: (pi1 * best(g)[1] + pi0 * best(g)[0]) * density(g), 0, 1, points=kinks
    )[0]
    # The hull loses nothing: the best of all ROC points equals the best hull vertex.
    for gamma in (0.05, 0.3, 0.7):
        all_points = (gamma * (clv - incentive) - contact) * pi1 * tpr - (
            incentive + contact
        ) * pi0 * fpr
        assert all_points.max() == pytest.approx(profits(gamma).max())
    return value, rate


@pytest.mark.parametrize(
    "costs",
    [
        {"clv": 200.0, "incentive": 10.0, "contact": 1.0, "alpha": 6.0, "beta": 14.0},
        {"clv": 100.0, "incentive": 20.0, "contact": 5.0, "alpha": 2.0, "beta": 3.0},
    ],
)
def test_empc_matches_the_paper_by_quadrature(costs):
    rng = np.random.default_rng(7)
    y = (rng.random(60) < 0.3).astype(int)
    # Coarse, partly informative scores: ties and a non-concave ROC curve.
    score = np.round(0.4 * y + rng.random(60), 1) / 1.4
    expected, expected_rate = _empc_by_quadrature(y, score, **costs)
    assert empc(y, score, **costs) == pytest.approx(expected, rel=1e-9)
    assert empc_target_fraction(y, score, **costs) == pytest.approx(expected_rate, rel=1e-9)


def test_empc_accepts_bool_labels():
    y = np.array([False, False, False, True])
    assert empc(y, [0.1, 0.2, 0.3, 0.9]) == pytest.approx(14.0, rel=1e-6)
    assert empc_target_fraction(y, [0.1, 0.2, 0.3, 0.9]) == pytest.approx(0.25, abs=1e-6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: classification_report([1, 1, 1], [0.2, 0.3, 0.4]), "single class"),
        (lambda: classification_report([0, 0, 0], [0.2, 0.3, 0.4]), "single class"),
        (lambda: classification_report([0, 1, 1], [0.2, 0.3]), "one length"),
        (lambda: classification_report([0, 1], [0.2, 1.3]), r"outside \[0, 1\]"),
        (lambda: classification_report([0, 1], [0.2, np.nan]), "NaN"),
        (lambda: classification_report([0, 2], [0.2, 0.3]), "0/1 or bool"),
        (lambda: expected_calibration_error([0, 1], [0.2, 0.3], n_bins=0), "n_bins"),
        (lambda: lift_at([0, 1], [0.2, 0.3], fraction=0.0), "fraction"),
        (lambda: lift_at([0, 0], [0.2, 0.3]), "at least one churner"),
        (lambda: capture_rate_at([0, 1], [0.2, np.inf]), "not finite"),
        (lambda: empc([0, 1], [0.2, 0.3], contact=-1.0), "costs must be >= 0"),
        (lambda: empc([0, 1], [0.2, 0.3], beta=0.0), "must be positive"),
    ],
)
def test_classification_input_errors(call, match):
    with pytest.raises(InputError, match=match):
        call()


# --- survival -------------------------------------------------------------------------------


def test_harrell_c_by_hand():
    y = surv([True, True, False, True], [1.0, 2.0, 3.0, 4.0])
    # Comparable pairs (earlier duration is an event): (1,2) (1,3) (1,4) (2,3) (2,4);
    # risks 4 > 1, 4 > 3, 4 > 2 agree, 1 < 3 and 1 < 2 disagree: 3 of 5.
    assert harrell_c(y, [4.0, 1.0, 3.0, 2.0]) == pytest.approx(0.6)
    assert harrell_c(y, [4.0, 3.0, 2.0, 1.0]) == 1.0


def bank_like(seed, n=300, end=360.0):
    """Exponential churn times, administratively censored at the end of data.

    As in bank data, the last durations are censored: the censoring Kaplan-Meier of such
    a training set drops to zero at its last duration.
    """
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    churn = rng.exponential(300.0 * np.exp(-risk))
    joined = rng.uniform(0.0, 200.0, n)
    censor = end - joined
    duration = np.ceil(np.minimum(churn, censor))
    return surv(churn <= censor, duration), risk


def test_last_censored_time_breaks_scikit_survival_but_not_churnml():
    # A temporal split: the training data end 90 days before the test data do.
    y_train, _ = bank_like(1, end=270.0)
    y_test, risk = bank_like(2)
    assert not y_train["event"][np.argmax(y_train["duration"])]
    assert (y_test["event"] & (y_test["duration"] >= y_train["duration"].max())).any()
    times = np.array([30.0, 90.0, 180.0])  # well inside follow-up
    # scikit-survival: even safe times fail, its IPCW is taken at every test event.
    with pytest.raises(ValueError, match="censoring survival function is zero"):
        cumulative_dynamic_auc(y_train, y_test, risk, times)
    with pytest.raises(ValueError, match="censoring survival function is zero"):
        concordance_index_ipcw(y_train, y_test, risk)
    auc, mean_auc = time_dependent_auc(y_train, y_test, risk, times)
    assert list(auc.index) == list(times)
    assert 0.6 < mean_auc < 1.0
    assert 0.6 < uno_c(y_train, y_test, risk) < 1.0
    curves = pd.DataFrame(np.exp(-np.outer(np.exp(risk), times) / 300.0), columns=times)
    assert 0.0 < integrated_brier(y_train, y_test, curves) < 0.25


def test_test_durations_beyond_training_break_scikit_survival_but_not_churnml():
    # Training ends with an event: its censoring Kaplan-Meier is undefined after day 5.
    y_train = surv([True, False, True, False, True], [1.0, 2.0, 3.0, 4.0, 5.0])
    y_test = surv([True, True, False, True, False], [1.0, 2.0, 3.0, 4.0, 8.0])
    curves = pd.DataFrame({1.5: [0.5, 0.8, 0.9, 0.9, 0.95], 3.5: [0.3, 0.4, 0.8, 0.8, 0.9]})
    with pytest.raises(ValueError, match="smaller than largest observed time"):
        integrated_brier_score(y_train, y_test, curves.to_numpy(), curves.columns.to_numpy())
    assert 0.0 < integrated_brier(y_train, y_test, curves) < 0.25


def test_censoring_at_the_bound_leaves_the_metrics_unchanged():
    # scikit-survival works here; churnml censors the test event at day 6 (the last training
    # duration) and must give the same values at earlier times.
    y_train = surv([True, False, True, True, False, True], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y_test = surv([True, True, False, True, True, True], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    risk = np.array([5.0, 6.0, 1.0, 3.0, 4.0, 2.0])
    times = np.array([1.0, 2.5, 4.5])
    curves = np.exp(-np.outer(risk, times) / 10.0)
    frame = pd.DataFrame(curves, columns=times)
    assert integrated_brier(y_train, y_test, frame) == pytest.approx(
        integrated_brier_score(y_train, y_test, curves, times)
    )
    auc, mean_auc = time_dependent_auc(y_train, y_test, risk, times)
    expected_auc, expected_mean = cumulative_dynamic_auc(y_train, y_test, risk, times)
    np.testing.assert_allclose(auc.to_numpy(), expected_auc)
    assert mean_auc == pytest.approx(expected_mean)
    assert uno_c(y_train, y_test, risk, tau=6.0) == pytest.approx(
        concordance_index_ipcw(y_train, y_test, risk, tau=6.0)[0]
    )


def test_unusable_times_are_dropped_with_a_warning():
    y_train = surv([True, False, True, False], [1.0, 2.0, 3.0, 4.0])  # last one censored
    y_test = surv([True, True, False, True, False], [1.0, 2.0, 2.5, 3.5, 6.0])
    with pytest.warns(UserWarning, match="dropped 3 of 5 times"):
        kept = usable_times(y_train, y_test, [0.5, 1.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(kept, [1.0, 3.0])
    with pytest.raises(InputError, match="none of the evaluation times"):
        usable_times(y_train, y_test, [4.0, 5.0])
    with pytest.warns(UserWarning, match="tau=5 capped at 4"):
        uno_c(y_train, y_test, [4.0, 3.0, 2.0, 1.0, 0.0], tau=5.0)


def test_survival_report_on_bank_like_data():
    y_train, _ = bank_like(3)
    y_test, risk = bank_like(4)
    times = np.arange(30.0, 400.0, 30.0)  # runs past the end of data (day 360)
    curves = pd.DataFrame(np.exp(-np.outer(np.exp(risk), times) / 300.0), columns=times)
    with pytest.warns(UserWarning, match="dropped"):
        report = survival_report(y_train, y_test, risk, curves)
    assert set(report) == {
        "harrell_c",
        "uno_c",
        "ibs",
        "mean_auc",
        "tau",
        "t_first",
        "t_last",
        "n_times",
    }
    assert report["tau"] == y_train["duration"].max()
    assert report["t_first"] == 30.0
    assert report["t_last"] < report["tau"]
    assert 0.6 < report["harrell_c"] < 1.0
    assert 0.6 < report["uno_c"] < 1.0
    assert 0.6 < report["mean_auc"] < 1.0
    assert 0.0 < report["ibs"] < 0.25


def test_random_risk_has_concordance_near_one_half():
    y_train, _ = bank_like(5, n=2000)
    y_test, _ = bank_like(6, n=2000)
    noise = np.random.default_rng(0).random(2000)
    assert harrell_c(y_test, noise) == pytest.approx(0.5, abs=0.04)
    assert uno_c(y_train, y_test, noise) == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda y: harrell_c(np.array([1.0, 2.0]), [0.1, 0.2]), "structured array"),
        (lambda y: harrell_c(y, [0.1, 0.2]), "risk must be 3"),
        (lambda y: time_dependent_auc(y, y, [3, 2, 1], [2.0, 1.0]), "strictly increasing"),
        (lambda y: integrated_brier(y, y, pd.DataFrame({1.0: [0.5] * 3})), "two usable"),
        (lambda y: integrated_brier(y, y, pd.DataFrame({1.0: [0.5] * 2})), "one row per"),
        (lambda y: integrated_brier(y, y, pd.DataFrame({"a": [0.5] * 3})), "durations"),
        (
            lambda y: integrated_brier(y, y, pd.DataFrame({1.0: [0.5, 1.2, 0.3], 2.0: 0.5})),
            r"in \[0, 1\]",
        ),
    ],
)
def test_survival_input_errors(call, match):
    y = surv([True, True, False], [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=match):
        call(y)


# --- units ----------------------------------------------------------------------------


def _days_and_curves():
    """Targets in days and a curve in months, as the models hand them over."""
    from churnml.training import survival_target

    rng = np.random.default_rng(3)
    days = rng.exponential(200, 400).round() + 1
    event = days < 300
    y = survival_target(event, np.minimum(days, 300), unit="days")
    months = pd.Index([1.0, 2.0, 4.0, 6.0, 8.0], name="month")
    rate = rng.uniform(0.02, 0.1, 400)
    curves = pd.DataFrame(np.exp(-np.outer(rate, months)), columns=months)
    return y, curves


def test_curves_in_months_are_read_in_the_targets_days():
    from churnml.units import DAYS_PER_MONTH

    y, curves = _days_and_curves()
    by_hand = curves.set_axis(curves.columns.to_numpy() * DAYS_PER_MONTH, axis=1)
    assert integrated_brier(y, y, curves) == pytest.approx(
        integrated_brier(
            surv(y["event"], y["duration_days"]), surv(y["event"], y["duration_days"]), by_hand
        )
    )
    # The number a silent mix-up of units would give is a different one.
    wrong = curves.set_axis(curves.columns.to_numpy(), axis=1)
    plain = surv(y["event"], y["duration_days"])
    mixed = integrated_brier(plain, plain, wrong)
    assert mixed != pytest.approx(integrated_brier(y, y, curves), rel=0.01)


def test_a_unit_said_on_one_side_only_is_an_error():
    y, curves = _days_and_curves()
    plain = surv(y["event"], y["duration_days"])
    with pytest.raises(
        InputError, match=r"survival times are in months but the targets' .* unnamed"
    ):
        integrated_brier(plain, plain, curves)
    with pytest.raises(InputError, match="unnamed unit but the targets' durations in days"):
        integrated_brier(y, y, curves.set_axis(curves.columns.to_numpy(), axis=1))
    with pytest.raises(InputError, match="y_train's durations are in days but y_test's in"):
        integrated_brier(y, plain, curves)


def test_evaluation_times_named_in_months_are_converted():
    from churnml.units import DAYS_PER_MONTH

    y, _ = _days_and_curves()
    risk = -y["duration_days"]
    months = pd.Index([2.0, 4.0], name="month")
    auc, _ = time_dependent_auc(y, y, risk, months)
    assert auc.index.tolist() == pytest.approx([2 * DAYS_PER_MONTH, 4 * DAYS_PER_MONTH])
