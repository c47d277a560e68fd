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

The first trial of a new study is the estimator's defaults (:func:`default_trial`), so a
study never returns a model that scored worse than the defaults on its folds.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.trial import FixedTrial, TrialState
from optuna_integration import LightGBMPruningCallback
from sklearn.model_selection import StratifiedKFold

from churnml._boosting import BOOSTER_DEFAULTS, HOLDOUT
from churnml.classifier import ChurnClassifier
from churnml.errors import ChurnMLError, InputError
from churnml.survival import ChurnSurvivalModel
from churnml.training import TemporalSplitter, TrainingSet
from churnml.tuning.objectives import (
    CLASSIFIER_OBJECTIVES,
    SURVIVAL_OBJECTIVES,
    Fold,
    Objective,
)
from churnml.tuning.spaces import SEARCHED_PARAMS, Space, classifier_space, survival_space

__all__ = [
    "CLASSIFIER_OBJECTIVES",
    "SURVIVAL_OBJECTIVES",
    "TuningResult",
    "classifier_space",
    "default_trial",
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
# The lowest reg_alpha of the (log-scale) search spaces: where the default 0 enters.
REG_ALPHA_FLOOR = 1e-3
# A study remembers which objective it optimises, so a resumed study cannot mix two.
OBJECTIVE_ATTR = "churnml_objective"


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
    objective: Objective
    base_params: dict[str, Any]
    folds: list[Fold]

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
    >>> import pandas as pd
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=1000, weights=[0.8], random_state=0)
    >>> frame = pd.DataFrame(X).add_prefix("x").assign(churned=y)
    >>> data = TrainingSet.from_frame(frame, label="churned", check=False)
    >>> result = tune_classifier(data, n_trials=2, base_params={"n_estimators": 20})
    >>> result.direction, result.n_complete, result.best_params["n_estimators"]
    ('minimize', 2, 20)
    """
    spec = _lookup(CLASSIFIER_OBJECTIVES, objective, n_trials, timeout)
    folds = [
        Fold(*learn.classification(), *valid.classification(), name=name)
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
        target's unit) inside both the learning and the validation follow-up.
    n_trials, splitter, timeout, storage, study_name, seed, show_progress_bar, pruner
        As in :func:`tune_classifier`; flat sets are stratified by churn.
    base_params : dict, optional
        Fixed arguments of ``ChurnSurvivalModel``, e.g. ``{"max_months": 36}`` for a
        longer follow-up.

    Returns
    -------
    TuningResult

    Examples
    --------
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> risk = rng.normal(size=300)
    >>> months = rng.exponential(12 / np.exp(risk))
    >>> frame = pd.DataFrame({"risk": risk, "left": months < 18,
    ...                       "tenure": np.minimum(months, 18)})
    >>> data = TrainingSet.from_frame(
    ...     frame, label="left", duration="tenure", duration_unit="months", check=False
    ... )
    >>> result = tune_survival(data, n_trials=1, base_params={"n_estimators": 20})
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
        Fold(*learn.survival(), *valid.survival(), name=name)
        for name, learn, valid in _folds(data, splitter, seed)
    ]
    search = _search(ChurnSurvivalModel, survival_space, spec, data, folds, base_params, seed)
    study = _study(objective, spec, storage, study_name, seed, pruner)
    return _optimize(study, search, objective, n_trials, timeout, show_progress_bar)


def _lookup(
    objectives: dict[str, Objective], objective: str, n_trials: int, timeout: float | None
) -> Objective:
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
    if data.horizon is not None:
        splitter = splitter or TemporalSplitter(random_state=seed)
        for number, (learn, valid) in enumerate(data.folds(splitter)):
            yield f"fold {number} (validation cutoff {valid.cutoffs.min().date()})", learn, valid
        return
    splitter = splitter or StratifiedKFold(FLAT_FOLDS, shuffle=True, random_state=seed)
    churned = data.labels["event"].to_numpy(dtype=bool)
    for number, (learn, valid) in enumerate(splitter.split(data.X, churned)):
        yield (
            f"fold {number}",
            data.rows(learn),
            data.rows(valid),
        )


def _search(
    estimator: type[Any],
    space: Space,
    objective: Objective,
    data: TrainingSet,
    folds: list[Fold],
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
    fixed = estimator(**base)
    for fold in folds:
        objective.check(fold, fixed)
    return _Search(estimator, space, objective, base, folds)


def _study(
    name: str,
    objective: Objective,
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
        if not study.trials:
            study.enqueue_trial(default_trial(), user_attrs={"churnml_defaults": True})
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


def default_trial() -> dict[str, Any]:
    """The estimators' default tree parameters, as the search spaces name them.

    ``reg_alpha`` is searched on a log scale from 1e-3, so the default 0 enters as 1e-3, a
    penalty too small to change a split.

    Examples
    --------
    >>> default_trial()["num_leaves"], default_trial()["reg_alpha"]
    (31, 0.001)
    """
    params = {name: BOOSTER_DEFAULTS[name] for name in SEARCHED_PARAMS}
    params["reg_alpha"] = max(params["reg_alpha"], REG_ALPHA_FLOOR)
    return params


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence Optuna's INFO line per trial, then restore the caller's verbosity."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)
