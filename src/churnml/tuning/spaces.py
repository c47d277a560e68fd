"""Search spaces: functions of an Optuna trial that return estimator keyword arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["SEARCHED_PARAMS", "Space", "classifier_space", "survival_space"]

Space = Callable[[Any], dict[str, Any]]

SEARCHED_PARAMS = (
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "colsample_bytree",
    "subsample",
    "reg_lambda",
    "reg_alpha",
    "min_split_gain",
)
"""The tree parameters both search spaces suggest (``subsample_freq`` follows ``subsample``)."""


# -- search spaces ---------------------------------------------------------------------


def _tree_space(trial: Any, *, max_child_samples: int) -> dict[str, Any]:
    subsample = trial.suggest_float("subsample", 0.5, 1.0)
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 128, log=True),
        "min_child_samples": trial.suggest_int(
            "min_child_samples", 10, max_child_samples, log=True
        ),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.2, 1.0),
        "subsample": subsample,
        # Bagging only happens with a frequency; without subsampling it would be a no-op.
        "subsample_freq": 1 if subsample < 1.0 else 0,
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 100.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "min_split_gain": trial.suggest_float("min_split_gain", 0.0, 1.0),
    }


def classifier_space(trial: Any) -> dict[str, Any]:
    """Search space of :class:`~churnml.classifier.ChurnClassifier`.

    Parameters
    ----------
    trial : optuna.trial.Trial or optuna.trial.FixedTrial
        Suggests ``learning_rate`` (0.01-0.2, log), ``num_leaves`` (4-128, log),
        ``min_child_samples`` (10-1000, log), ``colsample_bytree`` (0.2-1),
        ``subsample`` (0.5-1; bagging every round when below 1), ``reg_lambda``
        (1e-3-100, log), ``reg_alpha`` (1e-3-10, log) and ``min_split_gain`` (0-1).

    Returns
    -------
    dict
        Keyword arguments of ``ChurnClassifier``; calibration and early stopping keep
        their defaults.

    Examples
    --------
    >>> from optuna.trial import FixedTrial
    >>> trial = FixedTrial(
    ...     {"learning_rate": 0.05, "num_leaves": 16, "min_child_samples": 40,
    ...      "colsample_bytree": 0.5, "subsample": 0.8, "reg_lambda": 1.0,
    ...      "reg_alpha": 0.01, "min_split_gain": 0.0}
    ... )
    >>> params = classifier_space(trial)
    >>> params["num_leaves"], params["subsample"], params["subsample_freq"]
    (16, 0.8, 1)
    """
    return _tree_space(trial, max_child_samples=1000)


def survival_space(trial: Any) -> dict[str, Any]:
    """Search space of :class:`~churnml.survival.ChurnSurvivalModel`.

    The same tree parameters as :func:`classifier_space`, but ``min_child_samples`` reaches
    5000: the hazard learns on person-month rows, many per customer.

    Parameters
    ----------
    trial : optuna.trial.Trial or optuna.trial.FixedTrial

    Returns
    -------
    dict
        Keyword arguments of ``ChurnSurvivalModel``; ``duration_unit`` and ``max_months`` are
        properties of the data, not tuned (set them in ``base_params``).

    Examples
    --------
    >>> from optuna.trial import FixedTrial
    >>> trial = FixedTrial(
    ...     {"learning_rate": 0.05, "num_leaves": 16, "min_child_samples": 2000,
    ...      "colsample_bytree": 0.5, "subsample": 1.0, "reg_lambda": 1.0,
    ...      "reg_alpha": 0.01, "min_split_gain": 0.0}
    ... )
    >>> params = survival_space(trial)
    >>> params["min_child_samples"], params["subsample_freq"]
    (2000, 0)
    """
    return _tree_space(trial, max_child_samples=5000)
