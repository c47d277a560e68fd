"""ChurnSurvivalModel: person-months, curves, restricted mean, holdout, against Cox."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sksurv.util import Surv

from churnml.baselines import CoxBaseline
from churnml.errors import InputError
from churnml.metrics import harrell_c
from churnml.survival import MONTH_FEATURE, ChurnSurvivalModel
from churnml.timeline import month_end_cutoffs
from churnml.training import survival_target, training_set
from churnml.units import DAYS_PER_MONTH

FAST = {"n_estimators": 150, "learning_rate": 0.1, "early_stopping_rounds": 20}


def exponential_customers(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Monthly churn hazard rising with `risk`; follow-up censored at 18 months."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"risk": rng.normal(size=n), "segment": rng.choice(["mass", "affluent"], n)})
    months = rng.exponential(12 / np.exp(X["risk"].to_numpy()))
    follow = rng.uniform(6, 18, n)
    return X, survival_target(months <= follow, np.minimum(months, follow), unit="months")


@pytest.fixture(scope="module")
def fitted():
    X, y = exponential_customers()
    return ChurnSurvivalModel(**FAST, max_months=18).fit(X, y), X, y


@pytest.fixture(scope="module")
def bank_survival(synthetic_bank):
    cutoffs = month_end_cutoffs("2022-06-30", "2023-06-30")
    data = training_set(synthetic_bank.tables, cutoffs=cutoffs, horizon_days=90, check=False)
    return data


def test_person_months_follow_the_target():
    model = ChurnSurvivalModel(max_months=3)
    model.duration_unit_ = "months"
    model.max_months_ = 3
    view = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    # 1.5 months then churn -> months 1 (0) and 2 (1); 2.5 months censored -> 2 survived
    # months and half of month 3; 1/3 month then churn -> month 1 (1); 6.7 months then
    # churn -> past max_months: censored at 3.
    event = np.array([True, False, True, True])
    duration = np.array([1.5, 2.5, 1 / 3, 6.7])
    dataset = model._person_months(view, event, duration)
    assert dataset.data["x"].tolist() == [1, 1, 2, 2, 2, 3, 4, 4, 4]
    assert dataset.data[MONTH_FEATURE].tolist() == [1, 2, 1, 2, 3, 1, 1, 2, 3]
    assert dataset.label.tolist() == [0, 1, 0, 0, 0, 1, 0, 0, 0]
    assert dataset.weight.tolist() == [1, 1, 1, 1, 0.5, 1, 1, 1, 1]


def test_survival_curves_are_a_dataframe_indexed_like_x(fitted):
    model, X, _ = fitted
    curves = model.predict_survival_function(X.head(5), months=[0, 0.5, 1, 6, 12, 30])
    assert curves.index.equals(X.head(5).index)
    assert curves.columns.tolist() == [0, 0.5, 1, 6, 12, 30]
    assert (curves[0] == 1).all()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    risk=st.lists(st.one_of(st.floats(-50, 50), st.just(float("nan"))), min_size=1, max_size=20),
    segment=st.sampled_from(["mass", "affluent", "private", None]),
    months=st.lists(st.floats(0, 40), min_size=1, max_size=12),
)
def test_survival_is_a_probability_and_never_rises(fitted, risk, segment, months):
    model, _, _ = fitted
    X = pd.DataFrame({"risk": risk, "segment": segment})
    ordered = sorted(months)
    curves = model.predict_survival_function(X, ordered).to_numpy()
    assert np.isfinite(curves).all()
    assert (curves >= 0).all() and (curves <= 1).all()
    assert (np.diff(curves, axis=1) <= 1e-12).all()


def test_risk_orders_customers_and_the_model_learns_it(fitted):
    model, X, y = fitted
    risk = model.predict(X)
    assert harrell_c(y, risk) > 0.7
    assert np.corrcoef(risk, X["risk"])[0, 1] > 0.8


def test_expected_months_is_the_area_under_the_curve(fitted):
    model, X, _ = fitted
    expected = model.predict_expected_months(X.head(20), horizon_months=6.5)
    grid = np.arange(0, 6.5 + 1e-9, 0.5)
    curves = model.predict_survival_function(X.head(20), grid).to_numpy()
    area = ((curves[:, 1:] + curves[:, :-1]) / 2 * 0.5).sum(axis=1)
    assert np.allclose(expected.to_numpy(), area)
    assert ((expected > 0) & (expected <= 6.5)).all()
    assert np.allclose(model.predict(X.head(20)), 12 - model.predict_expected_months(X.head(20)))


def test_hazard_beyond_the_learned_months_carries_on(fitted):
    model, X, _ = fitted
    hazards = model.predict_hazard(X.head(3), months=20)
    assert (hazards[19] == hazards[18]).all() and (hazards[20] == hazards[18]).all()


def test_refit_grows_the_chosen_trees_on_every_row(fitted):
    model, X, y = fitted
    assert model.holdout_.kind == "random" and model.refitted_
    assert model.booster_.num_trees() == model.best_iteration_
    held = clone(model).set_params(refit=False).fit(X, y)
    assert held.best_iteration_ == model.best_iteration_
    assert not np.array_equal(held.predict(X), model.predict(X))


def test_same_data_and_seed_same_curves(fitted):
    model, X, y = fitted
    again = clone(model).fit(X, y)
    assert np.array_equal(model.predict(X), again.predict(X))


def test_bank_holdout_is_the_latest_cutoff_with_follow_up_cut(bank_survival):
    X, y = bank_survival.survival()
    model = ChurnSurvivalModel(**FAST).fit(X, y)
    assert model.holdout_.kind == "cutoff" and model.refitted_
    # Every earlier cutoff learns, its follow-up cut at the holdout: no gap is needed.
    assert model.holdout_.description.endswith("learning on cutoffs up to 2023-05-31")
    assert model.duration_unit_ == "days"
    curves = model.predict_survival_function(X.head(3), [1, 3, 12])
    assert (curves.to_numpy() <= 1).all()


def test_hazard_model_beats_or_matches_cox_on_a_later_cutoff(bank_survival):
    learn = bank_survival.until("2023-06-30")
    test = bank_survival.at("2023-06-30")
    X, y = learn.survival()
    X_test, y_test = test.survival()
    params = {"num_leaves": 7, "min_child_samples": 200, "colsample_bytree": 0.3}
    hazard = ChurnSurvivalModel(**params, reg_lambda=10.0).fit(X, y)
    cox = CoxBaseline().fit(X, y)
    c_hazard = harrell_c(y_test, hazard.predict(X_test))
    c_cox = harrell_c(y_test, cox.predict(X_test))
    assert c_hazard > 0.7
    assert c_hazard >= c_cox - 0.01


def test_agrees_with_the_classifier_on_the_horizon_on_average(bank_survival):
    from churnml.classifier import ChurnClassifier

    # Three later cutoffs pooled (6,851 rows, 168 churners): the realised rate is known to
    # about 8%.
    learn = bank_survival.until("2023-04-30")
    test = bank_survival.at(month_end_cutoffs("2023-04-30", "2023-06-30"))
    params = {"num_leaves": 7, "min_child_samples": 200, "colsample_bytree": 0.3}
    hazard = ChurnSurvivalModel(**params).fit(*learn.survival())
    classifier = ChurnClassifier(**params).fit(*learn.classification())
    X_test, y_test = test.classification()
    within = 1 - hazard.predict_survival_function(X_test, [90 / DAYS_PER_MONTH]).iloc[:, 0]
    probability = classifier.predict_proba(X_test)[:, 1]
    # Two models, one question: their mean answers agree within 15%.
    assert within.mean() == pytest.approx(probability.mean(), rel=0.15)
    # Against what happened, 25%: this bank's churn rate moves by a third from one quarter
    # to the next (3.3% at the holdout's cutoffs, 2.45% at the test's), which no model
    # learning from the past can know.
    assert within.mean() == pytest.approx(y_test.mean(), rel=0.25)
    assert probability.mean() == pytest.approx(y_test.mean(), rel=0.25)
    assert np.corrcoef(within, probability)[0, 1] > 0.9


@pytest.mark.parametrize(
    ("y", "unit", "match"),
    [
        (np.zeros(10), "months", "structured array"),
        (survival_target([True] * 9, [1.0] * 9, unit="months"), None, "has 9 rows"),
        (survival_target([True] * 10, [-1.0] * 10, unit="months"), None, "negative"),
        (Surv.from_arrays([True] * 10, [1.0] * 10), None, "say no unit"),
        (survival_target([True] * 10, [1.0] * 10, unit="days"), "months", "in days .*='months'"),
    ],
)
def test_bad_targets_are_named(y, unit, match):
    with pytest.raises(InputError, match=match):
        ChurnSurvivalModel(duration_unit=unit).fit(pd.DataFrame({"x": np.arange(10.0)}), y)


def test_bad_months_are_named(fitted):
    model, X, _ = fitted
    with pytest.raises(InputError, match="months"):
        model.predict_survival_function(X, [-1])
    with pytest.raises(InputError, match="horizon_months"):
        model.predict_expected_months(X, horizon_months=0)
