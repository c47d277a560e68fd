"""How the experiments score models: the same metric code for every dataset.

Classification rows come from :func:`churnml.metrics.classification_report`, survival rows
from :func:`churnml.metrics.survival_report` on a monthly grid of evaluation times, and
cross-validation goes through scikit-learn's ``cross_val_score`` on churnml's estimators.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from results import Outcome, Target, at_least, at_most
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score

from churnml.metrics import classification_report, harrell_c, survival_report, usable_times
from churnml.tuning.spaces import SEARCHED_PARAMS
from churnml.units import convert, target_unit

CLASSIFIER_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "ece",
    "lift_top_decile",
    "capture_top_decile",
    "empc",
)
SURVIVAL_METRICS = ("harrell_c", "uno_c", "ibs", "mean_auc")
# The tuned hyperparameters worth showing (the others are fixed by the experiment).
SEARCHED = SEARCHED_PARAMS


def searched_params(params: dict[str, Any]) -> str:
    """The tuned hyperparameters, three significant digits."""
    shown = {
        name: float(f"{value:.3g}") if isinstance(value, float) else value
        for name, value in params.items()
        if name in SEARCHED
    }
    return ", ".join(f"{name}={value}" for name, value in shown.items())


def data_file(data_dir: Path, relative: str) -> Path:
    """The path of a data file or folder; :class:`MissingData` if it is absent."""
    from results import MissingData

    path = Path(data_dir) / relative
    if not path.exists():
        raise MissingData(f"{path} not found (pass --data to point at the shared data folder)")
    return path


def add_classification(
    out: Outcome,
    model: str,
    y: Any,
    proba: Any,
    *,
    targets: dict[str, Target] | None = None,
    metrics: Iterable[str] = CLASSIFIER_METRICS,
) -> dict[str, float]:
    """Add one row per metric of ``classification_report``; return the whole report."""
    report = classification_report(np.asarray(y, dtype=int), np.asarray(proba, dtype=float))
    targets = targets or {}
    for metric in metrics:
        out.add(model, metric, report[metric], target=targets.get(metric))
    return report


def stratified_folds(n_splits: int, seed: int) -> StratifiedKFold:
    return StratifiedKFold(n_splits, shuffle=True, random_state=seed)


def cv_auc(estimator: Any, X: pd.DataFrame, y: pd.Series, folds: StratifiedKFold) -> np.ndarray:
    """ROC AUC of each fold."""
    scores = cross_val_score(clone(estimator), X, y, cv=folds, scoring="roc_auc")
    return np.asarray(scores, dtype=float)


def _harrell_scorer(estimator: Any, X: pd.DataFrame, y: np.ndarray) -> float:
    return harrell_c(y, estimator.predict(X))


def cv_harrell(
    estimator: Any, X: pd.DataFrame, y: np.ndarray, folds: StratifiedKFold
) -> np.ndarray:
    """Harrell's C of each fold; the folds are stratified by the event."""
    splits = list(folds.split(X, y["event"]))
    scores = cross_val_score(clone(estimator), X, y, cv=splits, scoring=_harrell_scorer)
    return np.asarray(scores, dtype=float)


def bootstrap_auc(
    y: Any, scores: dict[str, Any], *, n_resamples: int, seed: int
) -> dict[str, np.ndarray]:
    """Bootstrap AUCs of several scores on the same resampled rows (paired resamples)."""
    labels = np.asarray(y, dtype=int)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in scores}
    while len(next(iter(draws.values()))) < n_resamples:
        rows = rng.integers(0, len(labels), len(labels))
        if labels[rows].min() == labels[rows].max():
            continue
        for name, score in scores.items():
            draws[name].append(roc_auc_score(labels[rows], np.asarray(score)[rows]))
    return {name: np.asarray(values) for name, values in draws.items()}


def interval(values: np.ndarray, level: float = 0.95) -> str:
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return f"{level:.0%} bootstrap interval [{low:.4f}, {high:.4f}]"


def monthly_grid(y_train: np.ndarray, y_test: np.ndarray, months: int) -> tuple[np.ndarray, str]:
    """Months ``1..months`` after the cutoff that the metrics can use (in months).

    :func:`churnml.metrics.usable_times` warns when it drops times; here dropping them is
    the point, so the warning becomes a note for the report.
    """
    grid = pd.Index(np.arange(1, months + 1, dtype=float), name="month")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        usable = usable_times(y_train, y_test, grid)
    unit = target_unit(y_train)
    kept = convert(usable, unit, "months") if unit else usable
    dropped = len(grid) - len(kept)
    note = (
        f"{len(kept)} of {months} monthly times usable ({dropped} beyond the follow-up dropped)"
        if caught
        else f"all {months} monthly times usable"
    )
    return np.round(kept, 9), note


def hazard_learning_rows(model: Any) -> str:
    """How a fitted ``ChurnSurvivalModel`` chose its trees."""
    refit = (
        f"; the {model.best_iteration_} trees it chose are then grown again on every row with "
        "its full follow-up (`refit`)"
        if model.refitted_
        else ""
    )
    return f"holdout: {model.holdout_.description}" + refit


def versus_cox(metric: str, cox: float) -> Target:
    """At least as good as Cox: higher concordance and AUC, lower Brier."""
    return at_most(cox, "Cox") if metric == "ibs" else at_least(cox, "Cox")


def add_survival_versus_cox(
    out: Outcome,
    label: str,
    scores: dict[str, dict[str, float]],
    *,
    cox: str,
    hazards: Iterable[str],
    hazard_note: str,
) -> None:
    """Cox's survival metrics, then each hazard model's with Cox as its target."""
    out.notes.append(f"Survival @ {label}: how the LightGBM hazard chose its trees: {hazard_note}.")
    for metric in SURVIVAL_METRICS:
        out.add(f"{cox} @ {label}", metric, scores[cox][metric])
    for name in hazards:
        for metric in SURVIVAL_METRICS:
            out.add(
                f"{name} @ {label}",
                metric,
                scores[name][metric],
                target=versus_cox(metric, scores[cox][metric]),
            )


def survival_scores(
    model: Any, y_train: np.ndarray, X_test: pd.DataFrame, y_test: np.ndarray, months: np.ndarray
) -> dict[str, float]:
    """``survival_report`` of a fitted model: risk from ``predict``, curves at ``months``."""
    curves = model.predict_survival_function(X_test, months)
    return survival_report(y_train, y_test, model.predict(X_test), curves)
