"""ChurnClassifier: sklearn contract, categories, holdout, calibration, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from churnml.classifier import ChurnClassifier
from churnml.errors import HoldoutWarning, InputError
from churnml.metrics import expected_calibration_error
from churnml.timeline import Horizon, month_end_cutoffs
from churnml.training import training_set

FAST = {"n_estimators": 200, "learning_rate": 0.1, "early_stopping_rounds": 20}

# Checks that cannot hold for a classifier that sets part of its training rows aside for
# early stopping and calibration, or that is binary by design.
EXPECTED_FAILURES = {
    "check_classifiers_train": (
        "uses three classes in part; ChurnClassifier is binary (two-class parts pass in "
        "test_learns_a_simple_rule)"
    ),
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILURES


# scikit-learn's checks fit on a few dozen rows, too few for a holdout: the classifier
# says so with a HoldoutWarning (test_too_few_churners_mean_no_holdout_and_a_warning).
@pytest.mark.filterwarnings("ignore::churnml.errors.HoldoutWarning")
@parametrize_with_checks(
    [ChurnClassifier(n_estimators=30, min_child_samples=2)],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_contract(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def monthly(synthetic_bank):
    """Fourteen month-end cutoffs of the synthetic bank, labels known for all."""
    cutoffs = month_end_cutoffs("2022-07-31", "2023-08-31")
    data = training_set(synthetic_bank.tables, cutoffs=cutoffs, horizon_days=90, check=False)
    return data.classification()


def test_learns_a_simple_rule():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=4000), "b": rng.normal(size=4000)})
    y = rng.random(4000) < 1 / (1 + np.exp(-3 * X["a"]))
    model = ChurnClassifier(**FAST).fit(X[:2000], y[:2000])
    # Scored on rows it never saw: the rule's own AUC (the true probability's) is the bar.
    fresh = model.predict_proba(X[2000:])[:, 1]
    best = roc_auc_score(y[2000:], 1 / (1 + np.exp(-3 * X["a"][2000:])))
    assert roc_auc_score(y[2000:], fresh) > best - 0.02
    assert model.predict(X).dtype == bool
    assert model.holdout_.kind == "random"
    assert model.holdout_.description == "random stratified 20% of rows"


def test_holdout_is_the_latest_cutoff_a_horizon_after_the_trees(monthly):
    X, y = monthly
    model = ChurnClassifier(**FAST).fit(X, y)
    assert model.holdout_.kind == "cutoff"
    assert model.holdout_.cutoff == pd.Timestamp("2023-08-31")
    assert model.holdout_.description.endswith("learning on cutoffs up to 2023-05-31")
    assert model.best_iteration_ < FAST["n_estimators"]
    assert model.refitted_


def test_the_horizon_follows_the_labels_and_a_shorter_one_is_an_error(monthly):
    X, y = monthly
    assert y.attrs["horizon"] == Horizon(days=90)
    with pytest.raises(InputError, match=r"horizon=60 days but y's labels .* 90 days"):
        ChurnClassifier(**FAST, horizon=Horizon(days=60)).fit(X, y)
    # Labels that lost their horizon (a numpy array) need it said, on a panel.
    with pytest.raises(InputError, match="horizon is unknown"):
        ChurnClassifier(**FAST).fit(X, y.to_numpy())
    given = ChurnClassifier(**FAST, horizon=Horizon(days=90)).fit(X, y.to_numpy())
    carried = ChurnClassifier(**FAST).fit(X, y)
    assert np.array_equal(given.predict_proba(X.head(200)), carried.predict_proba(X.head(200)))


def test_a_month_horizon_keeps_every_learning_label_before_the_holdout(synthetic_bank):
    cutoffs = month_end_cutoffs("2022-07-31", "2023-08-31")
    data = training_set(synthetic_bank.tables, cutoffs=cutoffs, horizon_months=3, check=False)
    model = ChurnClassifier(**FAST).fit(*data.classification())
    # 2023-05-31 + 3 month ends = 2023-08-31, the holdout: the last learning cutoff.
    assert model.holdout_.description.endswith("learning on cutoffs up to 2023-05-31")


def test_a_latest_cutoff_without_enough_churners_pools_the_latest_cutoffs(monthly):
    X, y = monthly
    cutoffs = X.index.get_level_values("cutoff")
    # Keep only 5 churners at the latest cutoff.
    latest_churners = np.flatnonzero(np.asarray(cutoffs == cutoffs.max()) & y.to_numpy())
    keep = np.ones(len(y), dtype=bool)
    keep[latest_churners[5:]] = False
    with pytest.warns(
        HoldoutWarning, match=r"latest cutoff 2023-08-31 holds 5 churners, [\d,]+ stayers"
    ):
        model = ChurnClassifier(**FAST).fit(X[keep], y[keep])
    # 2023-07-31 .. 2023-08-31 pooled; learning labels end by its first cutoff.
    assert model.holdout_.kind == "cutoff"
    assert model.holdout_.cutoff == pd.Timestamp("2023-07-31")
    assert model.holdout_.description.startswith("cutoff 2023-07-31..2023-08-31")
    assert model.holdout_.description.endswith("learning on cutoffs up to 2023-04-30")


def test_too_few_churners_in_any_run_of_latest_cutoffs_is_an_error(monthly):
    X, y = monthly
    late = np.asarray(X.index.get_level_values("cutoff") >= pd.Timestamp("2023-04-30"))
    few = late & ~(y.to_numpy() & (np.arange(len(y)) % 10 != 0))
    with pytest.raises(InputError, match=r"latest cutoff 2023-08-31 holds \d churners"):
        ChurnClassifier(**FAST).fit(X[few], y[few])


def test_one_cutoff_is_an_error_not_a_random_holdout(monthly):
    X, y = monthly
    last = np.asarray(X.index.get_level_values("cutoff") == pd.Timestamp("2023-08-31"))
    with pytest.raises(InputError, match="no training cutoff lies a horizon"):
        ChurnClassifier(**FAST).fit(X[last], y[last])


def test_a_panel_without_its_cutoffs_gets_no_random_holdout(monthly):
    X, y = monthly
    with pytest.raises(InputError, match=r"repeats customers .* no cutoff in its index"):
        ChurnClassifier(**FAST).fit(X.droplevel("cutoff"), y)


def test_key_and_label_columns_in_X_are_errors(monthly):
    X, y = monthly
    as_columns = X.reset_index()
    with pytest.raises(InputError, match=r"\['customer_id', 'cutoff'\] as columns"):
        ChurnClassifier(**FAST).fit(as_columns, y.to_numpy())
    with pytest.raises(InputError, match="label columns \\['duration_days'\\]"):
        ChurnClassifier(**FAST).fit(X.assign(duration_days=1.0), y)


def test_refit_grows_the_chosen_trees_on_every_row(monthly):
    X, y = monthly
    refit = ChurnClassifier(**FAST).fit(X, y)
    first = ChurnClassifier(**FAST, refit=False).fit(X, y)
    assert refit.best_iteration_ == first.best_iteration_
    assert refit.booster_.num_trees() == refit.best_iteration_
    # Same calibrator input rows, different trees: the refit saw the later cutoffs.
    assert not np.allclose(refit.decision_function(X), first.decision_function(X))
    assert refit.refitted_ and not first.refitted_


def test_same_data_and_seed_same_scores(monthly):
    X, y = monthly
    first = ChurnClassifier(**FAST, subsample=0.8, subsample_freq=1, random_state=3).fit(X, y)
    second = clone(first).fit(X, y)
    assert np.array_equal(first.predict_proba(X), second.predict_proba(X))
    other = ChurnClassifier(**FAST, subsample=0.8, subsample_freq=1, random_state=4).fit(X, y)
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))


def test_text_columns_are_native_categories_learned_at_fit(monthly):
    X, y = monthly
    model = ChurnClassifier(**FAST).fit(X, y)
    assert set(model.frame_.categories) == {
        "profile__gender",
        "profile__income_band",
        "profile__region",
    }
    later = X.head(50).copy()
    later["profile__region"] = "a region opened after training"
    later.loc[later.index[:5], "profile__gender"] = None
    probabilities = model.predict_proba(later)[:, 1]
    assert np.isfinite(probabilities).all()
    # Column order does not matter, names do.
    shuffled = X.head(50)[X.columns[::-1]]
    assert np.allclose(model.predict_proba(shuffled), model.predict_proba(X.head(50)))


def test_missing_columns_are_named(monthly):
    X, y = monthly
    model = ChurnClassifier(**FAST).fit(X, y)
    with pytest.raises(InputError, match="trend__balance__now"):
        model.predict_proba(X.drop(columns=["trend__balance__now"]))


def test_calibrated_on_a_later_cutoff_even_with_class_weights(monthly):
    X, y = monthly
    cutoffs = X.index.get_level_values("cutoff")
    # Three later cutoffs pooled (6,970 rows, 173 churners), so the realised rate is
    # known to about 8%; learning rows' horizons end before the first of them.
    test = np.asarray(cutoffs >= pd.Timestamp("2023-06-30"))
    learn = np.asarray(cutoffs <= pd.Timestamp("2023-03-31"))
    learn_X, learn_y, test_X, test_y = X[learn], y[learn], X[test], y[test]
    # Fixed trees: early stopping on the unweighted holdout would itself pull the raw
    # probabilities back towards the event rate and hide what the weights do.
    weighted = {
        "n_estimators": 100,
        "learning_rate": 0.05,
        "num_leaves": 7,
        "min_child_samples": 200,
        "class_weight": "balanced",
        "early_stopping_rounds": None,
    }
    raw = ChurnClassifier(**weighted, calibration=None).fit(learn_X, learn_y)
    platt = ChurnClassifier(**weighted, calibration="sigmoid").fit(learn_X, learn_y)
    isotonic = ChurnClassifier(**weighted, calibration="isotonic").fit(learn_X, learn_y)
    rate = test_y.mean()
    raw_p = raw.predict_proba(test_X)[:, 1]
    # Class weights inflate the raw probabilities ...
    assert raw_p.mean() > 3 * rate
    assert expected_calibration_error(test_y, raw_p) > 0.05
    # ... and the calibrator, fitted on unweighted holdout rows, brings them back.
    for model in (platt, isotonic):
        p = model.predict_proba(test_X)[:, 1]
        assert expected_calibration_error(test_y, p) <= 0.01
        assert abs(p.mean() - rate) < 0.15 * rate, (p.mean(), rate)
    # Platt scaling keeps the ranking of the raw scores.
    assert roc_auc_score(test_y, platt.predict_proba(test_X)[:, 1]) == pytest.approx(
        roc_auc_score(test_y, raw_p)
    )


def test_explicit_holdout_and_callbacks_are_used(monthly):
    X, y = monthly
    cutoffs = X.index.get_level_values("cutoff")
    late = np.asarray(cutoffs == cutoffs.max())
    seen = []

    def record(env):
        seen.append(env.evaluation_result_list[0][:2])

    model = ChurnClassifier(**FAST, metric="auc").fit(
        X[~late], y[~late], X_holdout=X[late], y_holdout=y[late], callbacks=[record]
    )
    assert model.holdout_.kind == "given" and not model.refitted_
    assert seen and seen[0] == ("holdout", "auc")


def test_too_few_churners_mean_no_holdout_and_a_warning():
    X = np.arange(400, dtype=float).reshape(-1, 1)
    y = np.arange(400) >= 350
    with pytest.warns(HoldoutWarning, match="10 churners, 70 stayers, fewer than 20"):
        model = ChurnClassifier(n_estimators=5, min_child_samples=1).fit(X, y)
    assert model.holdout_.kind == "none"
    assert model.calibrator_ is None and not model.refitted_


@pytest.mark.parametrize(
    ("kwargs", "y", "match"),
    [
        ({}, np.zeros(60), "(two classes|one class)"),
        ({}, np.arange(60) % 3, "(two classes|one class)"),
        ({"calibration": "beta"}, np.arange(60) % 2, "calibration"),
        ({"holdout_fraction": 1.5}, np.arange(60) % 2, "holdout_fraction"),
    ],
)
def test_bad_arguments_are_named(kwargs, y, match):
    with pytest.raises(InputError, match=match):
        ChurnClassifier(**kwargs).fit(np.zeros((60, 2)), y)
