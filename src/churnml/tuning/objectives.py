"""What a trial optimises: booster metric for pruning, direction, score on the validation fold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from churnml.classifier import ChurnClassifier
from churnml.errors import InputError
from churnml.metrics import harrell_c, integrated_brier, usable_times
from churnml.survival import ChurnSurvivalModel

__all__ = ["CLASSIFIER_OBJECTIVES", "SURVIVAL_OBJECTIVES", "Direction", "Fold", "Objective"]

Direction = Literal["minimize", "maximize"]


# -- objectives ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fold:
    """One fold's learning and validation rows, as the estimator takes them."""

    X_learn: pd.DataFrame
    y_learn: Any
    X_valid: pd.DataFrame
    y_valid: Any
    name: str


@dataclass(frozen=True)
class Objective:
    """What a trial optimises: the pruning metric, the direction, the validation score."""

    metric: str
    direction: Direction
    score: Callable[[Any, Fold], float]
    check: Callable[[Fold, Any], None]


def _churn_probability(model: ChurnClassifier, fold: Fold) -> np.ndarray:
    return np.asarray(model.predict_proba(fold.X_valid)[:, 1])


def _log_loss(model: ChurnClassifier, fold: Fold) -> float:
    return float(log_loss(fold.y_valid, _churn_probability(model, fold), labels=[False, True]))


def _auc(model: ChurnClassifier, fold: Fold) -> float:
    return float(roc_auc_score(fold.y_valid, _churn_probability(model, fold)))


def _c_index(model: ChurnSurvivalModel, fold: Fold) -> float:
    # Harrell's C, not Uno's: it needs no censoring model from the learning rows (whose
    # follow-up is cut at the validation cutoff), and trials are compared on the same rows.
    return harrell_c(fold.y_valid, model.predict(fold.X_valid))


def _ibs_times(fold: Fold, period: float) -> np.ndarray:
    """Whole months (in duration units) where the IBS is defined, without a warning."""
    high = float(fold.y_learn["duration"].max())
    return usable_times(
        fold.y_learn, fold.y_valid, np.arange(1, int(high // period) + 2) * period, warn=False
    )


def _ibs(model: ChurnSurvivalModel, fold: Fold) -> float:
    times = _ibs_times(fold, model.period)
    curves = model.predict_survival_function(fold.X_valid, months=times / model.period)
    return integrated_brier(fold.y_learn, fold.y_valid, curves.set_axis(times, axis=1))


def _check_classes(fold: Fold, estimator: Any) -> None:
    if pd.Series(fold.y_valid).nunique() != 2:
        raise InputError(
            f"{fold.name}: the validation rows need churners and non-churners, got only "
            f"{pd.Series(fold.y_valid).unique().tolist()}; use more or later cutoffs"
        )


def _check_events(fold: Fold, estimator: Any) -> None:
    if not fold.y_valid["event"].any():
        raise InputError(f"{fold.name}: no churn in the validation rows; add later cutoffs")


def _check_ibs(fold: Fold, estimator: Any) -> None:
    _check_events(fold, estimator)
    try:
        usable = len(_ibs_times(fold, estimator.period))
    except InputError:
        usable = 0
    if usable < 2:
        raise InputError(
            f"{fold.name}: the integrated Brier score needs two whole months within both the "
            "learning and the validation follow-up; validate on earlier cutoffs or use "
            "objective='c_index'"
        )


CLASSIFIER_OBJECTIVES: dict[str, Objective] = {
    "log_loss": Objective("binary_logloss", "minimize", _log_loss, _check_classes),
    "auc": Objective("auc", "maximize", _auc, _check_classes),
}
SURVIVAL_OBJECTIVES: dict[str, Objective] = {
    "c_index": Objective("auc", "maximize", _c_index, _check_events),
    "ibs": Objective("binary_logloss", "minimize", _ibs, _check_ibs),
}
