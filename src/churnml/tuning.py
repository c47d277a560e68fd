"""Hyperparameter search with Optuna: seeded TPE, pruning, resumable studies.

A search space is a function of an Optuna trial returning estimator keyword arguments, so
it reads like the estimator's signature and is tested with a
:class:`~optuna.trial.FixedTrial`. :func:`tune_classifier` and :func:`tune_survival` score
each trial on honest validation folds (later cutoffs for bank training sets, stratified
K-fold for flat tables) and prune it early with Optuna's LightGBM callback.

Two yardsticks per trial, on purpose:

- the *pruning* stream is the LightGBM metric on the model's own early-stopping holdout
  (validation set ``"holdout"``), reported every 10 boosting rounds of the **first** fold
  only: a pruner compares trials round by round, which needs one monotone stream per
  trial, and for bank sets the first fold is the oldest, so the cheapest to abandon;
- the trial's *value* is the objective on the validation rows of every fold, averaged.

The booster metric is chosen so the pruning stream moves the way the study does
(``LightGBMPruningCallback`` refuses a higher-is-better metric in a minimising study):

============  =================  ==========  ========================================
objective     booster metric     direction   value on the validation fold
============  =================  ==========  ========================================
``log_loss``  ``binary_logloss`` minimize    log loss of the calibrated probabilities
``auc``       ``auc``            maximize    ROC AUC
``c_index``   ``auc``            maximize    Harrell's C of ``predict`` (person-months
                                             AUC while boosting)
``ibs``       ``binary_logloss`` minimize    integrated Brier score, monthly grid
============  =================  ==========  ========================================

Refit the winner on all the data with its keyword arguments, e.g.
``ChurnClassifier(**result.best_params).fit(*data.classification())``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FixedTrial, TrialState
from optuna_integration import LightGBMPruningCallback
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from churnml._boosting import HOLDOUT
from churnml.classifier import ChurnClassifier
from churnml.errors import ChurnMLError, InputError
from churnml.metrics import harrell_c, integrated_brier
from churnml.survival import ChurnSurvivalModel
from churnml.training import TemporalSplitter, TrainingSet

__all__ = [
    "CLASSIFIER_OBJECTIVES",
    "SURVIVAL_OBJECTIVES",
    "TuningResult",
    "classifier_space",
    "survival_space",
    "tune_classifier",
    "tune_survival",
]

# Learning rates differ between trials, so their first rounds are not comparable: let the
# pruner judge a trial only after this many boosting rounds.
PRUNING_WARMUP_ROUNDS = 50
# Each report is a write to the study's storage (a commit with SQLite): report every few
# rounds, not every round of thousands.
PRUNING_REPORT_ROUNDS = 10
# The median pruner needs a few finished trials before its median means anything.
PRUNING_STARTUP_TRIALS = 5
FLAT_FOLDS = 5
# A study remembers which objective it optimises, so a resumed study cannot mix two.
OBJECTIVE_ATTR = "churnml_objective"

Space = Callable[[Any], dict[str, Any]]
Direction = Literal["minimize", "maximize"]


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
        Keyword arguments of ``ChurnSurvivalModel``; ``period`` and ``max_months`` are
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


# -- objectives ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fold:
    """One fold's learning and validation rows, as the estimator takes them."""

    X_learn: pd.DataFrame
    y_learn: Any
    X_valid: pd.DataFrame
    y_valid: Any
    name: str


@dataclass(frozen=True)
class _Objective:
    """What a trial optimises: the pruning metric, the direction, the validation score."""

    metric: str
    direction: Direction
    score: Callable[[Any, _Fold], float]
    check: Callable[[_Fold, Any], None]


def _churn_probability(model: ChurnClassifier, fold: _Fold) -> np.ndarray:
    return np.asarray(model.predict_proba(fold.X_valid)[:, 1])


def _log_loss(model: ChurnClassifier, fold: _Fold) -> float:
    return float(log_loss(fold.y_valid, _churn_probability(model, fold), labels=[False, True]))


def _auc(model: ChurnClassifier, fold: _Fold) -> float:
    return float(roc_auc_score(fold.y_valid, _churn_probability(model, fold)))


def _c_index(model: ChurnSurvivalModel, fold: _Fold) -> float:
    # Harrell's C, not Uno's: it needs no censoring model from the learning rows (whose
    # follow-up is cut at the validation cutoff), and trials are compared on the same rows.
    return harrell_c(fold.y_valid, model.predict(fold.X_valid))


def _ibs_times(fold: _Fold, period: float) -> np.ndarray:
    """Whole months (in duration units) where the IBS is defined.

    The rule of :func:`~churnml.metrics.usable_times` (from the first validation duration to
    before the last learning or validation one), applied here so that no time is dropped
    with a warning on every trial.
    """
    low = float(fold.y_valid["duration"].min())
    high = min(float(fold.y_learn["duration"].max()), float(fold.y_valid["duration"].max()))
    times = np.arange(1, int(high // period) + 2) * period
    return times[(times >= low) & (times < high)]


def _ibs(model: ChurnSurvivalModel, fold: _Fold) -> float:
    times = _ibs_times(fold, model.period)
    curves = model.predict_survival_function(fold.X_valid, months=times / model.period)
    return integrated_brier(fold.y_learn, fold.y_valid, curves.set_axis(times, axis=1))


def _check_classes(fold: _Fold, estimator: Any) -> None:
    if pd.Series(fold.y_valid).nunique() != 2:
        raise InputError(
            f"{fold.name}: the validation rows need churners and non-churners, got only "
            f"{pd.Series(fold.y_valid).unique().tolist()}; use more or later cutoffs"
        )


def _check_events(fold: _Fold, estimator: Any) -> None:
    if not fold.y_valid["event"].any():
        raise InputError(f"{fold.name}: no churn in the validation rows; add later cutoffs")


def _check_ibs(fold: _Fold, estimator: Any) -> None:
    _check_events(fold, estimator)
    if len(_ibs_times(fold, estimator.period)) < 2:
        raise InputError(
            f"{fold.name}: the integrated Brier score needs two whole months within both the "
            "learning and the validation follow-up; validate on earlier cutoffs or use "
            "objective='c_index'"
        )


CLASSIFIER_OBJECTIVES: dict[str, _Objective] = {
    "log_loss": _Objective("binary_logloss", "minimize", _log_loss, _check_classes),
    "auc": _Objective("auc", "maximize", _auc, _check_classes),
}
SURVIVAL_OBJECTIVES: dict[str, _Objective] = {
    "c_index": _Objective("auc", "maximize", _c_index, _check_events),
    "ibs": _Objective("binary_logloss", "minimize", _ibs, _check_ibs),
}


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TuningResult:
    """The outcome of a study.

    Attributes
    ----------
    best_params : dict
        Keyword arguments of the best trial's estimator: ``base_params``, the sampled
        space and the booster metric, ready for ``ChurnClassifier(**best_params)``.
    best_value : float
        Its objective, averaged over the validation folds.
    objective : str
    direction : str
        ``"minimize"`` or ``"maximize"``.
    n_complete, n_pruned : int
        Trials of the whole study (a resumed one included) that finished or were pruned.
    study : optuna.study.Study
        For plots and the trials table; left out of equality and repr.
    """

    best_params: dict[str, Any]
    best_value: float
    objective: str
    direction: str
    n_complete: int
    n_pruned: int
    study: optuna.study.Study = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Flat dict for MLflow: the best parameters and the study's summary."""
        return {
            **self.best_params,
            "objective": self.objective,
            "direction": self.direction,
            "best_value": self.best_value,
            "n_complete": self.n_complete,
            "n_pruned": self.n_pruned,
        }


# -- the search ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Search:
    """Everything a trial needs, fixed before the study starts."""

    estimator: type[Any]
    space: Space
    objective: _Objective
    base_params: dict[str, Any]
    folds: list[_Fold]

    def params(self, trial: Any) -> dict[str, Any]:
        return {**self.space(trial), **self.base_params, "metric": self.objective.metric}

    def pruning(self, trial: optuna.Trial) -> LightGBMPruningCallback:
        return LightGBMPruningCallback(
            trial,
            self.objective.metric,
            valid_name=HOLDOUT,
            report_interval=PRUNING_REPORT_ROUNDS,
        )

    def __call__(self, trial: optuna.Trial) -> float:
        params = self.params(trial)
        scores = []
        for number, fold in enumerate(self.folds):
            callbacks = [self.pruning(trial)] if number == 0 else None
            model = self.estimator(**params).fit(fold.X_learn, fold.y_learn, callbacks=callbacks)
            scores.append(self.objective.score(model, fold))
        return float(np.mean(scores))


def tune_classifier(
    data: TrainingSet,
    *,
    objective: str = "log_loss",
    n_trials: int = 50,
    splitter: Any = None,
    timeout: float | None = None,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    seed: int = 0,
    show_progress_bar: bool = False,
    base_params: dict[str, Any] | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> TuningResult:
    """Tune :class:`~churnml.classifier.ChurnClassifier` with Optuna's TPE and pruning.

    Parameters
    ----------
    data : TrainingSet
        A bank training set (rows keyed by customer and cutoff) or a flat one
        (:meth:`TrainingSet.from_frame`).
    objective : {"log_loss", "auc"}, default "log_loss"
        Scored on the validation rows of each fold and averaged.
    n_trials : int, default 50
        New trials to run; a resumed study keeps its earlier trials besides.
    splitter : cross-validator, optional
        For bank sets a :class:`~churnml.training.TemporalSplitter` (default: 3 folds, the
        gap = the horizon, seeded with ``seed``); for flat sets any splitter taking
        ``(X, y)`` (default: stratified 5-fold, shuffled with ``seed``).
    timeout : float, optional
        Stop starting trials after this many seconds.
    storage : str or optuna storage, optional
        E.g. ``"sqlite:///tuning.db"``: the study persists and, under the same
        ``study_name``, resumes where it stopped. Default: in memory.
    study_name : str, optional
        Name of the study in ``storage``; needed to resume.
    seed : int, default 0
        Seeds the TPE sampler, the splitter and the estimators' ``random_state``: the same
        data and seed give the same trials.
    show_progress_bar : bool, default False
        Optuna's tqdm progress bar.
    base_params : dict, optional
        Fixed estimator arguments (e.g. ``{"n_estimators": 500}``); they override the
        space. For bank sets ``holdout_gap_days`` defaults to the horizon.
    pruner : optuna pruner, optional
        Default: median pruner after 5 trials and 50 boosting rounds.

    Returns
    -------
    TuningResult

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=300, weights=[0.8], random_state=0)
    >>> frame = pd.DataFrame(X).add_prefix("x").assign(churned=y)
    >>> data = TrainingSet.from_frame(frame, label="churned", check=False)
    >>> result = tune_classifier(data, n_trials=2, base_params={"n_estimators": 20})
    >>> result.direction, result.n_complete, result.best_params["n_estimators"]
    ('minimize', 2, 20)
    """
    spec = _lookup(CLASSIFIER_OBJECTIVES, objective, n_trials, timeout)
    folds = [
        _Fold(*learn.classification(), *valid.classification(), name=name)
        for name, learn, valid in _folds(data, splitter, seed)
    ]
    search = _search(ChurnClassifier, classifier_space, spec, data, folds, base_params, seed)
    study = _study(objective, spec, storage, study_name, seed, pruner)
    return _optimize(study, search, objective, n_trials, timeout, show_progress_bar)


def tune_survival(
    data: TrainingSet,
    *,
    objective: str = "c_index",
    n_trials: int = 50,
    splitter: Any = None,
    timeout: float | None = None,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    seed: int = 0,
    show_progress_bar: bool = False,
    base_params: dict[str, Any] | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> TuningResult:
    """Tune :class:`~churnml.survival.ChurnSurvivalModel` with Optuna's TPE and pruning.

    Parameters
    ----------
    data : TrainingSet
        A bank training set, or a flat one with a duration column. The learning side of
        each temporal fold is cut at the validation cutoff (:meth:`TrainingSet.folds`).
    objective : {"c_index", "ibs"}, default "c_index"
        Harrell's C of the risk score (``predict``), maximised; or the integrated Brier
        score of the survival curves, minimised, over the whole months (in the model's
        ``period``) inside both the learning and the validation follow-up.
    n_trials, splitter, timeout, storage, study_name, seed, show_progress_bar, pruner
        As in :func:`tune_classifier`; flat sets are stratified by churn.
    base_params : dict, optional
        Fixed arguments of ``ChurnSurvivalModel``, e.g. ``{"period": 1.0}`` for durations
        in months.

    Returns
    -------
    TuningResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> risk = rng.normal(size=300)
    >>> months = rng.exponential(12 / np.exp(risk))
    >>> frame = pd.DataFrame({"risk": risk, "left": months < 18,
    ...                       "tenure": np.minimum(months, 18)})
    >>> data = TrainingSet.from_frame(frame, label="left", duration="tenure", check=False)
    >>> result = tune_survival(
    ...     data, n_trials=1, base_params={"n_estimators": 20, "period": 1.0}
    ... )
    >>> result.objective, result.direction, 0.5 < result.best_value <= 1.0
    ('c_index', 'maximize', True)
    """
    spec = _lookup(SURVIVAL_OBJECTIVES, objective, n_trials, timeout)
    if isinstance(data, TrainingSet) and not (data.labels["duration"] > 0).any():
        raise InputError(
            "data has no follow-up durations to learn survival from; for a flat table give "
            "TrainingSet.from_frame a duration column (e.g. tenure)"
        )
    folds = [
        _Fold(*learn.survival(), *valid.survival(), name=name)
        for name, learn, valid in _folds(data, splitter, seed)
    ]
    search = _search(ChurnSurvivalModel, survival_space, spec, data, folds, base_params, seed)
    study = _study(objective, spec, storage, study_name, seed, pruner)
    return _optimize(study, search, objective, n_trials, timeout, show_progress_bar)


def _lookup(
    objectives: dict[str, _Objective], objective: str, n_trials: int, timeout: float | None
) -> _Objective:
    """The objective's definition, once the search budget is checked too."""
    if objective not in objectives:
        raise InputError(f"objective must be one of {sorted(objectives)}, got {objective!r}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 1:
        raise InputError(f"n_trials must be a whole number of at least 1, got {n_trials!r}")
    if timeout is not None and not timeout > 0:
        raise InputError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    return objectives[objective]


def _folds(
    data: TrainingSet, splitter: Any, seed: int
) -> Iterator[tuple[str, TrainingSet, TrainingSet]]:
    """``(name, learn, validate)`` of each fold: temporal for bank sets, stratified if flat."""
    if not isinstance(data, TrainingSet):
        raise InputError(f"data must be a churnml TrainingSet, got {type(data).__name__}")
    if data.horizon_days is not None:
        splitter = splitter or TemporalSplitter(gap_days=data.horizon_days, random_state=seed)
        for number, (learn, valid) in enumerate(data.folds(splitter)):
            yield f"fold {number} (validation cutoff {valid.cutoffs.min().date()})", learn, valid
        return
    splitter = splitter or StratifiedKFold(FLAT_FOLDS, shuffle=True, random_state=seed)
    churned = data.labels["event"].to_numpy(dtype=bool)
    for number, (learn, valid) in enumerate(splitter.split(data.X, churned)):
        yield (
            f"fold {number}",
            TrainingSet(data.X.iloc[learn], data.labels.iloc[learn], None),
            TrainingSet(data.X.iloc[valid], data.labels.iloc[valid], None),
        )


def _search(
    estimator: type[Any],
    space: Space,
    objective: _Objective,
    data: TrainingSet,
    folds: list[_Fold],
    base_params: dict[str, Any] | None,
    seed: int,
) -> _Search:
    """Check the fixed arguments and every fold once, before any trial runs."""
    base = dict(base_params or {})
    known = set(estimator().get_params())
    unknown = sorted(set(base) - known)
    if unknown or "metric" in base:
        raise InputError(
            f"base_params: {unknown or ['metric']} cannot be set; give {estimator.__name__} "
            "arguments other than metric, which the objective decides"
        )
    base.setdefault("random_state", seed)
    if data.horizon_days is not None:
        base.setdefault("holdout_gap_days", data.horizon_days)
    fixed = estimator(**base)
    for fold in folds:
        objective.check(fold, fixed)
    return _Search(estimator, space, objective, base, folds)


def _study(
    name: str,
    objective: _Objective,
    storage: Any,
    study_name: str | None,
    seed: int,
    pruner: optuna.pruners.BasePruner | None,
) -> optuna.study.Study:
    """A new study, or the stored one of the same name if it optimises the same objective."""
    pruner = pruner or optuna.pruners.MedianPruner(
        n_startup_trials=PRUNING_STARTUP_TRIALS, n_warmup_steps=PRUNING_WARMUP_ROUNDS
    )
    with _quiet_optuna():
        study = optuna.create_study(
            storage=storage,
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=pruner,
            study_name=study_name,
            direction=objective.direction,
            load_if_exists=True,
        )
    stored = study.user_attrs.get(OBJECTIVE_ATTR, name)
    if stored != name:
        raise InputError(
            f"study {study.study_name!r} optimises {stored!r}, not {name!r}: resume it with "
            f"objective={stored!r} or choose another study_name"
        )
    if study.direction.name.lower() != objective.direction:
        raise InputError(
            f"study {study.study_name!r} is set to {study.direction.name.lower()}, but "
            f"{name!r} must {objective.direction}: choose another study_name"
        )
    study.set_user_attr(OBJECTIVE_ATTR, name)
    return study


def _optimize(
    study: optuna.study.Study,
    search: _Search,
    name: str,
    n_trials: int,
    timeout: float | None,
    show_progress_bar: bool,
) -> TuningResult:
    with _quiet_optuna():
        study.optimize(
            search, n_trials=n_trials, timeout=timeout, show_progress_bar=show_progress_bar
        )
    states = [trial.state for trial in study.trials]
    n_complete = states.count(TrialState.COMPLETE)
    if n_complete == 0:
        raise ChurnMLError(
            f"no trial of study {study.study_name!r} completed ({states.count(TrialState.PRUNED)}"
            " pruned); run more trials or give a longer timeout"
        )
    return TuningResult(
        best_params=search.params(FixedTrial(study.best_params)),
        best_value=float(study.best_value),
        objective=name,
        direction=search.objective.direction,
        n_complete=n_complete,
        n_pruned=states.count(TrialState.PRUNED),
        study=study,
    )


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence Optuna's INFO line per trial, then restore the caller's verbosity."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)
