"""The leakage guard on a bank panel: leaks planted in a real synthetic bank, found or not.

The panel is ``make_bank(n_customers=3000, months=24, seed=0)`` at the month ends from
2022-06-30 to 2023-06-30 with a 90-day horizon: 28,754 classification rows keyed by
``(customer_id, cutoff)``, 694 churners, 153 features (150 float32). The duration is the
training set's own: days to churn for churners, the censoring time for stayers. The numbers
in the comments were measured on it; docs/models.md quotes them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.datasets import make_bank
from churnml.errors import LeakageError
from churnml.leakage import check_leakage, leakage_report
from churnml.timeline import month_end_cutoffs
from churnml.training import training_set

HORIZON_DAYS = 90
CLOSED_NEXT = "future__accounts_closed__next_90d"
DAYS_TO_CHURN = "future__days_to_churn"
LABEL_COPY = "future__churned"
CALENDAR = "calendar__days_since_first_cutoff"
PLANTED = [CLOSED_NEXT, DAYS_TO_CHURN, LABEL_COPY, CALENDAR]


@pytest.fixture(scope="module")
def bank():
    return make_bank(n_customers=3_000, months=24, seed=0)


@pytest.fixture(scope="module")
def panel(bank):
    """``(X, y, duration)`` of the classification rows, as training_set checks them."""
    data = training_set(
        bank.tables,
        cutoffs=month_end_cutoffs("2022-06-30", "2023-06-30"),
        horizon_days=HORIZON_DAYS,
        check=False,
    )
    X, y = data.classification()
    known = data.labels["horizon_observed"].to_numpy(dtype=bool)
    return X, y.to_numpy(), data.labels.loc[known, "duration"], data.labels.loc[known]


def accounts_closed_next(accounts, index, days):
    """Accounts of each row's customer closed in ``(cutoff, cutoff + days]``: a future leak."""
    keys = index.to_frame(index=False)
    rows = keys.merge(accounts[["customer_id", "close_date"]], on="customer_id", how="left")
    end = rows["cutoff"] + pd.Timedelta(days=days)
    closed = (rows["close_date"] > rows["cutoff"]) & (rows["close_date"] <= end)
    counts = closed.groupby([rows["customer_id"], rows["cutoff"]]).sum()
    return counts.reindex(index).to_numpy(dtype="float32")


@pytest.fixture(scope="module")
def planted(bank, panel):
    X, y, _, labels = panel
    cutoffs = X.index.get_level_values("cutoff")
    return X.assign(
        **{
            CLOSED_NEXT: accounts_closed_next(bank.tables.accounts, X.index, HORIZON_DAYS),
            DAYS_TO_CHURN: labels["duration"].where(labels["observed"]).to_numpy("float32"),
            LABEL_COPY: y.astype("float32"),
            # What a tenure would be if every customer had joined at the first cutoff.
            CALENDAR: np.asarray((cutoffs - cutoffs.min()).days, dtype="float32"),
        }
    )


@pytest.fixture(scope="module")
def report(planted, panel):
    _, y, duration, _ = panel
    return leakage_report(planted, y, duration=duration).set_index("feature")


def test_honest_bank_features_pass_the_strict_check_with_the_duration(panel):
    X, y, duration, _ = panel
    assert X.shape[1] > 100  # the full feature set: 153 columns, 150 of them float32
    assert 500 < int(y.sum()) < 900  # 694 churners in 28,754 rows
    assert check_leakage(X, y, duration=duration, strict=True) == []


def test_honest_duration_correlations_stay_far_below_the_threshold(report):
    honest = report.drop(index=PLANTED)
    # Highest measured: flows__out_count_change__180d 0.353 (its 180-day history is missing
    # at the early cutoffs, so it follows the calendar), then peak__current_to_peak__12m
    # 0.350 among churners. Tenure, which follows the censoring time for stayers, 0.062.
    assert honest["duration_correlation"].max() < 0.5
    assert report.loc["products__tenure_months", "duration_correlation"] < 0.1
    assert not honest["flagged"].any()


def test_calendar_feature_follows_the_censoring_time_but_is_not_flagged(report):
    # A stayer's duration is the end of the data minus the cutoff: a feature that tracks
    # the cutoff follows it on all rows (measured 0.841), not among churners.
    calendar = report.loc[CALENDAR]
    assert 0.75 < calendar["duration_correlation"] < 0.9
    assert calendar["auc"] < 0.55
    assert not calendar["flagged"]


def test_blatant_future_features_are_flagged_and_strict_raises(planted, panel, report):
    _, y, duration, _ = panel
    assert report.loc[LABEL_COPY, "auc"] == 1.0
    days = report.loc[DAYS_TO_CHURN]
    assert days["auc"] == 1.0  # missing exactly for the rows that never churn
    assert days["duration_correlation"] == pytest.approx(1.0)
    assert "reconstructs the duration" in days["reason"]
    assert report.index[report["flagged"]].tolist() == [LABEL_COPY, DAYS_TO_CHURN]
    with pytest.raises(LeakageError, match=r"(?s)^2 of \d+ features.*'future__days_to_churn'"):
        check_leakage(planted, y, duration=duration, strict=True)


def test_accounts_closed_in_the_next_90_days_is_not_flagged(planted, panel, report):
    # The guard's honest limit: this feature is pure future information, yet it scores no
    # better than the honest balance features (measured AUC 0.803, best honest 0.818) and
    # does not follow the duration (0.067). Partial churners close nothing: 67% of the
    # churners close an account in their horizon, but so do 9% of the others.
    _, y, _, _ = panel
    closing = planted[CLOSED_NEXT].to_numpy() > 0
    assert 0.6 < closing[y].mean() < 0.75
    assert 0.05 < closing[~y].mean() < 0.15
    leak = report.loc[CLOSED_NEXT]
    assert 0.75 < leak["auc"] < 0.85
    assert leak["duration_correlation"] < 0.2
    assert not leak["flagged"]
    best_honest = report.drop(index=PLANTED)["auc"].max()
    assert leak["auc"] < best_honest + 0.02


def test_training_set_runs_the_duration_rule_on_its_own_durations(monkeypatch):
    # training_set(check=True) hands the guard each classification row's duration, so a
    # feature that reconstructs the time to churn is caught on bank panels, not only on
    # flat tables.
    import churnml.training as training

    seen = {}

    def spy(X, y, *, duration=None, **kwargs):
        seen.update(X=X, y=y, duration=duration)
        return []

    monkeypatch.setattr(training, "check_leakage", spy)
    small = make_bank(n_customers=400, months=18, seed=3)
    data = training_set(small.tables, cutoffs=["2022-09-30", "2022-12-31"], check=True)
    X, _ = data.classification()
    known = data.labels["horizon_observed"].to_numpy(dtype=bool)
    assert seen["duration"] is not None
    assert len(seen["duration"]) == len(seen["X"]) == len(X) == int(known.sum())
    np.testing.assert_array_equal(seen["duration"], data.labels["duration"].to_numpy()[known])
    pd.testing.assert_frame_equal(seen["X"], X)
