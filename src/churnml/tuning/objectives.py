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
from churnml.units import convert, target_unit

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


def _ibs_months(fold: Fold, unit: str | None) -> np.ndarray:
    """Whole months where the IBS is defined, without a warning."""
    unit = target_unit(fold.y_learn) or unit
    if unit is None:
        raise InputError(f"{fold.name}: the survival target says no unit; give duration_unit")
    high = convert(fold.y_learn[fold.y_learn.dtype.names[1]].max(), unit, "months")
    months = pd.Index(np.arange(1, int(high) + 2, dtype="float64"), name="month")
    usable = usable_times(fold.y_learn, fold.y_valid, convert(months, "months", unit), warn=False)
    return convert(usable, unit, "months")


def _ibs(model: ChurnSurvivalModel, fold: Fold) -> float:
    months = _ibs_months(fold, model.duration_unit)
    curves = model.predict_survival_function(fold.X_valid, months=months)
    return integrated_brier(fold.y_learn, fold.y_valid, curves)


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
        usable = len(_ibs_months(fold, estimator.duration_unit))
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
