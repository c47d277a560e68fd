"""The survival estimators keep scikit-learn's contract.

scikit-learn's common checks fit on a plain 1-d ``y``; a survival estimator takes
scikit-survival's structured ``(event, duration)`` target and refuses a 1-d one. So the
checks run on a thin test adapter that reads the checks' ``y`` as a survival target (every
row a churn, ``|y| + 1`` months after the cutoff) and, for the Cox baseline, names the
columns of an array, as the baseline needs named features. Everything else is the
estimator itself: fitting, validation, pickling, idempotence, subset and order invariance.
Then the same estimators go through ``clone`` and ``cross_val_score`` with real survival
targets, scored by their ``score`` (Harrell's C).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks
from sksurv.util import Surv

from churnml.baselines import CoxBaseline
from churnml.metrics import harrell_c
from churnml.survival import ChurnSurvivalModel
from churnml.training import survival_target


def _as_survival(y):
    months = np.abs(np.asarray(y)).astype("float64") + 1.0
    return survival_target(np.ones(len(months), dtype=bool), months, unit="months")


def _as_frame(X):
    """Name an array's columns; anything else (1-d, sparse, a DataFrame) goes as it is."""
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        return X
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])


class HazardOnCheckTargets(ChurnSurvivalModel):
    """ChurnSurvivalModel fitted on scikit-learn's check targets read as months to churn."""

    def fit(self, X, y, **kwargs):
        return super().fit(X, _as_survival(y), **kwargs)

    def score(self, X, y):
        return super().score(X, _as_survival(y))


class CoxOnCheckTargets(CoxBaseline):
    """CoxBaseline on the checks' arrays (columns named x0..) and targets (months)."""

    def fit(self, X, y):
        return super().fit(_as_frame(X), _as_survival(y))

    def predict(self, X):
        return super().predict(_as_frame(X))

    def score(self, X, y):
        return super().score(_as_frame(X), _as_survival(y))


COX_TAKES_NAMED_FRAMES = (
    "CoxBaseline takes a DataFrame of named features (its design columns carry their "
    "names) and says so in its own words rather than scikit-learn's"
)
COX_FAILURES = {
    "check_n_features_in_after_fitting": (
        "CoxBaseline names the columns missing at predict instead of counting features"
    ),
    "check_complex_data": COX_TAKES_NAMED_FRAMES,
    "check_estimators_empty_data_messages": COX_TAKES_NAMED_FRAMES,
    "check_estimator_sparse_tag": COX_TAKES_NAMED_FRAMES,
    "check_estimator_sparse_array": COX_TAKES_NAMED_FRAMES,
    "check_estimator_sparse_matrix": COX_TAKES_NAMED_FRAMES,
    "check_fit2d_predict1d": COX_TAKES_NAMED_FRAMES,
    "check_fit2d_1sample": (
        "on one row every column is constant: CoxBaseline says it has no usable feature"
    ),
    "check_dtype_object": (
        "object columns are text features to CoxBaseline (one indicator per level), not an error"
    ),
}


def _expected(estimator):
    return COX_FAILURES if isinstance(estimator, CoxBaseline) else {}


# The checks' data sets are a few dozen rows: no holdout, which the model says (tested in
# test_classifier's and test_survival's warnings tests).
@pytest.mark.filterwarnings("ignore::churnml.errors.HoldoutWarning")
@parametrize_with_checks(
    [HazardOnCheckTargets(n_estimators=10, min_child_samples=2), CoxOnCheckTargets()],
    expected_failed_checks=_expected,
)
def test_sklearn_contract(estimator, check):
    check(estimator)


def _customers(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"risk": rng.normal(size=n), "noise": rng.normal(size=n)})
    months = rng.exponential(12 / np.exp(X["risk"].to_numpy()))
    return X, survival_target(months < 18, np.minimum(months, 18), unit="months")


@pytest.mark.parametrize(
    "estimator", [ChurnSurvivalModel(n_estimators=60, learning_rate=0.1), CoxBaseline()]
)
def test_cross_val_score_uses_the_c_index(estimator):
    X, y = _customers()
    scores = cross_val_score(estimator, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert len(scores) == 3 and (scores > 0.65).all()
    fitted = estimator.fit(X, y)
    assert fitted.score(X, y) == pytest.approx(harrell_c(y, fitted.predict(X)))


@pytest.mark.parametrize("estimator", [ChurnSurvivalModel(n_estimators=30), CoxBaseline()])
def test_both_take_the_same_targets(estimator):
    X, y = _customers()
    plain = Surv.from_arrays(y["event"], y["duration_months"])  # fields 'event', 'time'
    said = type(estimator)(**{**estimator.get_params(), "duration_unit": "months"})
    np.testing.assert_allclose(said.fit(X, plain).predict(X), estimator.fit(X, y).predict(X))
