"""What the LightGBM models share: the feature frame they see and how a booster is grown.

The feature frame keeps pandas columns as they are, except text columns, which become
pandas categories whose levels are learned at fit: a level first seen later is missing, not
a new code, so scores never depend on who joined after training. LightGBM splits on those
categories natively.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from sklearn.utils.validation import check_array

from churnml.errors import HoldoutWarning, InputError
from churnml.splitting import row_cutoffs
from churnml.timeline import Horizon
from churnml.training import check_no_keys_or_outcomes

__all__ = ["BOOSTER_DEFAULTS", "FeatureFrame", "Holdout", "choose_holdout", "grow_booster"]

# Parameters of the tree learner both models share; the estimators expose each as __init__.
BOOSTER_DEFAULTS: dict[str, Any] = {
    "n_estimators": 2000,
    "learning_rate": 0.03,
    "num_leaves": 31,
    "max_depth": -1,
    "min_child_samples": 50,
    "subsample": 1.0,
    "subsample_freq": 0,
    "colsample_bytree": 0.5,
    "reg_alpha": 0.0,
    "reg_lambda": 1.0,
    "min_split_gain": 0.0,
    "cat_smooth": 10.0,
}

HOLDOUT = "holdout"
# Fewer churners (or stayers) than this in the holdout and a model can neither stop early
# nor calibrate on it.
MIN_HOLDOUT_EVENTS = 20


@dataclass
class FeatureFrame:
    """Columns and text categories learned at fit, applied to every later frame."""

    owner: str
    columns: list[Any] = field(default_factory=list)
    categories: dict[Any, list[str]] = field(default_factory=dict)
    named: bool = False

    @classmethod
    def learn(cls, X: Any, *, owner: str) -> tuple[FeatureFrame, pd.DataFrame]:
        """Learn from the training frame; return the frame and its model view."""
        named = isinstance(X, pd.DataFrame)
        frame = X if named else _numeric_frame(X)
        check_no_keys_or_outcomes(frame, "X")
        if frame.shape[1] == 0:
            raise InputError(f"X has 0 features; {owner} needs at least one")
        categories = {
            name: sorted(map(str, frame[name].dropna().unique()))
            for name in frame.columns
            if not (is_numeric_dtype(frame[name]) or is_bool_dtype(frame[name]))
        }
        learned = cls(owner, list(frame.columns), categories, named)
        return learned, learned.view(frame, table="X")

    def fitted_on(self, estimator: Any) -> None:
        """Give ``estimator`` this frame and scikit-learn's ``n_features_in_`` (and names)."""
        estimator.frame_ = self
        estimator.n_features_in_ = len(self.columns)
        if self.named:
            estimator.feature_names_in_ = np.asarray(self.columns, dtype=object)

    def view(self, X: Any, *, table: str = "X") -> pd.DataFrame:
        """The model's view of ``X``: learned columns in order, categories fixed."""
        if self.named and not isinstance(X, pd.DataFrame):
            raise InputError(
                f"{table} must be a DataFrame with the columns {self.owner} was fitted on, "
                f"got {type(X).__name__}"
            )
        frame = X if self.named else _numeric_frame(X)
        missing = [name for name in self.columns if name not in frame.columns]
        if missing or frame.shape[1] < len(self.columns):
            shown = ", ".join(map(str, missing[:5]))
            raise InputError(
                f"{table} has {frame.shape[1]} features, but {self.owner} is expecting "
                f"{len(self.columns)} features as input" + (f"; missing: {shown}" if shown else "")
            )
        out = frame[self.columns].copy() if self.named else frame
        for name, levels in self.categories.items():
            out[name] = pd.Categorical(out[name].astype("string"), categories=levels)
        numeric = [name for name in self.columns if name not in self.categories]
        if numeric:
            out[numeric] = out[numeric].astype("float32")
        return out


def _numeric_frame(X: Any) -> pd.DataFrame:
    values = check_array(X, dtype="numeric", ensure_all_finite="allow-nan")
    return pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])


def booster_params(estimator: Any, *, objective: str, metric: str) -> dict[str, Any]:
    """LightGBM parameters from an estimator's ``get_params`` (deterministic, quiet)."""
    p = {name: getattr(estimator, name) for name in BOOSTER_DEFAULTS}
    return {
        "objective": objective,
        "metric": metric,
        "learning_rate": p["learning_rate"],
        "num_leaves": p["num_leaves"],
        "max_depth": p["max_depth"],
        "min_data_in_leaf": p["min_child_samples"],
        "bagging_fraction": p["subsample"],
        "bagging_freq": p["subsample_freq"],
        "feature_fraction": p["colsample_bytree"],
        "lambda_l1": p["reg_alpha"],
        "lambda_l2": p["reg_lambda"],
        "min_gain_to_split": p["min_split_gain"],
        "cat_smooth": p["cat_smooth"],
        "seed": estimator.random_state,
        "num_threads": estimator.n_jobs,
        "deterministic": True,
        "force_col_wise": True,
        "verbosity": -1,
        "feature_pre_filter": False,
    }


def grow_booster(
    params: dict[str, Any],
    learn: lgb.Dataset,
    *,
    n_estimators: int,
    holdout: lgb.Dataset | None,
    early_stopping_rounds: int | None,
    callbacks: list[Any] | None,
) -> lgb.Booster:
    """Grow a booster; stop early on the holdout when there is one."""
    extra = list(callbacks or [])
    if holdout is None:
        return lgb.train(params, learn, num_boost_round=n_estimators, callbacks=extra)
    if early_stopping_rounds:
        extra.insert(0, lgb.early_stopping(early_stopping_rounds, verbose=False))
    return lgb.train(
        params,
        learn,
        num_boost_round=n_estimators,
        valid_sets=[holdout],
        valid_names=[HOLDOUT],
        callbacks=extra,
    )


def stratified_holdout(y: np.ndarray, *, fraction: float, seed: int) -> np.ndarray:
    """Boolean holdout mask drawing ``fraction`` of each class (at least one)."""
    rng = np.random.default_rng(seed)
    holdout = np.zeros(len(y), dtype=bool)
    for value in np.unique(y):
        rows = np.flatnonzero(y == value)
        take = max(1, round(fraction * len(rows)))
        holdout[rng.choice(rows, size=min(take, len(rows) - 1), replace=False)] = True
    return holdout


@dataclass(frozen=True)
class Holdout:
    """The rows that stop the trees early (and calibrate the classifier), and how chosen.

    ``kind`` is ``"cutoff"`` (the latest cutoff of a panel), ``"random"`` (a stratified
    share of a flat table), ``"given"`` (``X_holdout``) or ``"none"``; code decides on
    ``kind``, people read ``description``.
    """

    kind: str
    learn: np.ndarray
    rows: np.ndarray
    description: str
    cutoff: pd.Timestamp | None = None


def _counts(events: np.ndarray, *, both: bool) -> dict[str, int]:
    churners = int(events.sum())
    return (
        {"churners": churners, "stayers": len(events) - churners}
        if both
        else {"churners": churners}
    )


def _enough(counts: dict[str, int]) -> bool:
    return min(counts.values()) >= MIN_HOLDOUT_EVENTS


def _shown(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {name}" for name, n in counts.items())


def choose_holdout(
    X: Any,
    events: np.ndarray,
    *,
    horizon: Horizon | None,
    fraction: float,
    seed: int,
    owner: str,
    both_classes: bool,
) -> Holdout:
    """The holdout for early stopping and calibration, or a clear word why there is none.

    With a ``cutoff`` index level (a panel: the same customers at neighbouring cutoffs) the
    holdout is the latest cutoff, and the trees learn on the rows whose ``horizon`` ends
    by then (``horizon`` None: every earlier cutoff, for a model that cuts the learning
    rows' follow-up there). A latest cutoff with fewer than :data:`MIN_HOLDOUT_EVENTS`
    churners (and, with ``both_classes``, stayers) pools the fewest latest cutoffs that
    have them, with a :class:`~churnml.errors.HoldoutWarning` naming the counts; when no
    such run leaves rows to learn from, an error. Never a random row holdout on a panel: it
    would hold out neighbours of the learning rows. A flat table
    gets a random share ``fraction`` stratified by ``events``; when that is too small, no
    holdout, with a :class:`~churnml.errors.HoldoutWarning`.
    """
    if isinstance(X, pd.DataFrame) and "cutoff" in X.index.names:
        return _cutoff_holdout(row_cutoffs(X), events, horizon, owner, both_classes)
    _check_not_a_panel(X, owner)
    holdout = stratified_holdout(events, fraction=fraction, seed=seed)
    counts = _counts(events[holdout], both=both_classes)
    if _enough(counts):
        return Holdout("random", ~holdout, holdout, f"random stratified {fraction:.0%} of rows")
    warnings.warn(
        f"{owner}: a {fraction:.0%} holdout of these {len(events):,} rows would hold "
        f"{_shown(counts)}, fewer than {MIN_HOLDOUT_EVENTS}: no early stopping"
        f"{' and no calibration' if both_classes else ''}; all trees grow on every row",
        HoldoutWarning,
        stacklevel=4,
    )
    everything = np.ones(len(events), dtype=bool)
    return Holdout("none", everything, ~everything, "none: too few churners for a holdout")


def _check_not_a_panel(X: Any, owner: str) -> None:
    """Refuse a random row holdout on a panel whose cutoffs were dropped from the index."""
    if not isinstance(X, pd.DataFrame) or "customer_id" not in X.index.names:
        return
    customers = X.index.get_level_values("customer_id")
    if customers.has_duplicates:
        repeated = customers[customers.duplicated()].unique()[:5].tolist()
        raise InputError(
            f"{owner}: X repeats customers (e.g. {repeated}) but has no cutoff in its index: "
            "a panel of the same customers at several cutoffs. A random row holdout would "
            "hold out neighbours of the learning rows; index X by (customer_id, cutoff)"
        )


def _cutoff_holdout(
    cutoffs: pd.DatetimeIndex,
    events: np.ndarray,
    horizon: Horizon | None,
    owner: str,
    both_classes: bool,
) -> Holdout:
    """The latest cutoff, or the fewest latest cutoffs that hold enough churners."""
    latest = cutoffs.max()
    first_counts = _counts(events[np.asarray(cutoffs == latest)], both=both_classes)
    for start in np.sort(cutoffs.unique())[::-1]:
        start = pd.Timestamp(start)
        holdout = np.asarray(cutoffs >= start)
        learn = _learning_rows(cutoffs, start, horizon)
        if not learn.any() and start == latest:
            raise InputError(
                f"{owner}: no training cutoff lies a horizon ({horizon}) before the latest "
                f"cutoff {latest.date()}, which holds out the trees' early stopping; add "
                "earlier cutoffs"
            )
        if not learn.any():
            break
        counts = _counts(events[holdout], both=both_classes)
        if _enough(counts):
            return _pooled(cutoffs, learn, holdout, start, counts, first_counts, owner)
    raise InputError(
        f"{owner}: the latest cutoff {latest.date()} holds {_shown(first_counts)}, and no run "
        f"of latest cutoffs with a training cutoff a horizon ({horizon or 'any'}) before it "
        f"holds {MIN_HOLDOUT_EVENTS} {' and '.join(first_counts)}, which stopping early needs. "
        "Add customers or earlier cutoffs, or pass an explicit X_holdout"
    )


def _learning_rows(
    cutoffs: pd.DatetimeIndex, start: pd.Timestamp, horizon: Horizon | None
) -> np.ndarray:
    if horizon is None:
        return np.asarray(cutoffs < start)
    return np.asarray(horizon.end(cutoffs) <= start)


def _pooled(
    cutoffs: pd.DatetimeIndex,
    learn: np.ndarray,
    holdout: np.ndarray,
    start: pd.Timestamp,
    counts: dict[str, int],
    first_counts: dict[str, int],
    owner: str,
) -> Holdout:
    latest = cutoffs.max()
    span = f"{start.date()}..{latest.date()}" if start < latest else str(latest.date())
    if start < latest:
        warnings.warn(
            f"{owner}: the latest cutoff {latest.date()} holds {_shown(first_counts)}, fewer "
            f"than {MIN_HOLDOUT_EVENTS}; the holdout is the cutoffs {span} instead "
            f"({_shown(counts)})",
            HoldoutWarning,
            stacklevel=5,
        )
    last = cutoffs[learn].max().date()
    return Holdout(
        "cutoff",
        learn,
        holdout,
        f"cutoff {span} ({_shown(counts)}), learning on cutoffs up to {last}",
        start,
    )
