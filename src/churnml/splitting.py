"""Validation over time: each row's cutoff, the latest-cutoff holdout, the temporal splitter.

Labels carry their horizon (``y.attrs["horizon"]``, set by
:meth:`churnml.training.TrainingSet.classification`), so the holdout and
:class:`TemporalSplitter` keep every training label's horizon before the rows they
validate on without the user repeating it: a training row is used only when ``cutoff +
horizon`` is on or before the validation cutoff.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from churnml.errors import InputError
from churnml.timeline import Horizon

__all__ = ["TemporalSplitter", "horizon_of", "row_cutoffs", "temporal_holdout"]

HORIZON_ATTR = "horizon"


def horizon_of(y: Any) -> Horizon | None:
    """The horizon the labels ``y`` were made with, if they carry it (else None).

    :meth:`TrainingSet.classification` gives its labels their horizon in
    ``y.attrs["horizon"]``; pandas keeps it through ``loc``, ``iloc`` and scikit-learn's
    row selection, not through ``to_numpy()``.
    """
    horizon = getattr(y, "attrs", {}).get(HORIZON_ATTR)
    return horizon if isinstance(horizon, Horizon) else None


def row_cutoffs(X: Any, groups: Any = None) -> pd.DatetimeIndex:
    """Each row's cutoff: ``groups`` if given, else the ``cutoff`` index level or column."""
    if groups is not None:
        return pd.DatetimeIndex(pd.to_datetime(np.asarray(groups)))
    if isinstance(X, pd.DataFrame | pd.Series):
        if "cutoff" in X.index.names:
            return pd.DatetimeIndex(X.index.get_level_values("cutoff"))
        if isinstance(X, pd.DataFrame) and "cutoff" in X.columns:
            return pd.DatetimeIndex(X["cutoff"])
    raise InputError(
        "temporal validation needs each row's cutoff: index X by (customer_id, cutoff) "
        "as training_set does, or pass the cutoffs as groups"
    )


def _row_customers(X: Any) -> np.ndarray:
    if isinstance(X, pd.DataFrame | pd.Series):
        if "customer_id" in X.index.names:
            return X.index.get_level_values("customer_id").to_numpy()
        if isinstance(X, pd.DataFrame) and "customer_id" in X.columns:
            return X["customer_id"].to_numpy()
    return np.arange(len(X))


def temporal_holdout(
    cutoffs: pd.DatetimeIndex, *, horizon: Horizon
) -> tuple[np.ndarray, np.ndarray]:
    """Masks ``(learn, holdout)``: holdout = the latest cutoff, learn = rows a horizon before.

    A learning row's horizon ends on or before the latest cutoff, so its label ends before
    the holdout's period starts. Both masks may be empty: the caller checks.

    Examples
    --------
    >>> cutoffs = pd.DatetimeIndex(["2024-01-31", "2024-03-31", "2024-04-30", "2024-06-30"])
    >>> learn, holdout = temporal_holdout(cutoffs, horizon=Horizon(months=3))
    >>> learn.tolist(), holdout.tolist()
    ([True, True, False, False], [False, False, False, True])
    """
    latest = cutoffs.max()
    holdout = np.asarray(cutoffs == latest)
    learn = np.asarray(horizon.end(cutoffs) <= latest)
    return learn, holdout


class TemporalSplitter(BaseCrossValidator):
    """Cross-validation over time: validate on later cutoffs, on customers not trained on.

    Fold ``i`` of ``n_splits`` validates on a window of ``validation_cutoffs`` cutoffs;
    the windows are the latest ones, oldest fold first (an expanding window, like
    :class:`~sklearn.model_selection.TimeSeriesSplit`). Training takes the rows whose
    horizon ends on or before the window's first cutoff, so no training label sees the
    validation period. The horizon comes from the labels (``y`` from
    :meth:`TrainingSet.classification` carries it); ``gap_days`` instead sets the gap by
    hand, and a gap shorter than the labels' horizon is an error. A share
    ``validation_customers`` of the customers, drawn per fold with ``random_state``, is
    validated on and never trained on in that fold, so a customer's rows never straddle the
    two sides; ``None`` keeps every customer on both sides (the deployment setting: the
    same customers scored later).

    Survival targets cannot be split by scikit-learn's ``cross_validate``: a training row's
    follow-up would run into the validation period. The splitter refuses them; use
    :meth:`TrainingSet.folds`, which cuts each learning row's follow-up at the fold.

    Rows' cutoffs come from ``X``'s ``cutoff`` index level (as :func:`training_set` makes
    it), a ``cutoff`` column, or ``groups``; customers from the ``customer_id`` level or
    column.

    Parameters
    ----------
    n_splits : int, default 3
    gap_days : int, optional
        Days between the last training cutoff and the validation window; by default the
        labels' horizon decides.
    validation_cutoffs : int, default 1
        Cutoffs per validation window.
    validation_customers : float or None, default 0.5
        Share of customers held out of training and validated on, in each fold.
    random_state : int, default 0

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> index = pd.MultiIndex.from_product(
    ...     [range(40), pd.date_range("2024-01-31", periods=8, freq="ME")],
    ...     names=["customer_id", "cutoff"],
    ... )
    >>> X = pd.DataFrame({"x": range(len(index))}, index=index)
    >>> splitter = TemporalSplitter(n_splits=2, gap_days=90)
    >>> for learn, valid in splitter.split(X):
    ...     print(
    ...         X.index[learn].get_level_values("cutoff").max().date(),
    ...         X.index[valid].get_level_values("cutoff").min().date(),
    ...     )
    2024-04-30 2024-07-31
    2024-05-31 2024-08-31
    """

    def __init__(
        self,
        n_splits: int = 3,
        *,
        gap_days: int | None = None,
        validation_cutoffs: int = 1,
        validation_customers: float | None = 0.5,
        random_state: int = 0,
    ) -> None:
        self.n_splits = n_splits
        self.gap_days = gap_days
        self.validation_cutoffs = validation_cutoffs
        self.validation_customers = validation_customers
        self.random_state = random_state

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of folds."""
        return int(self.n_splits)

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, validation)`` row positions, oldest validation window first."""
        if getattr(getattr(y, "dtype", None), "names", None):
            raise InputError(
                "TemporalSplitter cannot split a survival target for cross_validate: the "
                "training rows' follow-up would run into the validation period. Use "
                "TrainingSet.folds(splitter), which cuts it at each fold's validation cutoff"
            )
        return self.split_horizon(X, horizon_of(y), groups)

    def split_horizon(
        self, X: Any, horizon: Horizon | None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """:meth:`split` for labels of a known ``horizon`` (None: ``gap_days`` decides)."""
        self._check_parameters(horizon)
        cutoffs = row_cutoffs(X, groups)
        customers = _row_customers(X)
        unique = np.sort(cutoffs.unique())
        needed = self.n_splits * self.validation_cutoffs
        if len(unique) < needed + 1:
            raise InputError(
                f"TemporalSplitter needs more than {needed} cutoffs for {self.n_splits} folds "
                f"of {self.validation_cutoffs} validation cutoffs; the rows have {len(unique)}"
            )
        for fold in range(self.n_splits):
            end = len(unique) - (self.n_splits - 1 - fold) * self.validation_cutoffs
            window = unique[end - self.validation_cutoffs : end]
            learn = self._learn_rows(cutoffs, pd.Timestamp(window[0]), horizon, fold)
            valid = np.asarray(cutoffs.isin(window))
            if self.validation_customers is not None:
                held = self._held_customers(customers, fold)
                learn &= ~held
                valid &= held
            yield np.flatnonzero(learn), np.flatnonzero(valid)

    def _learn_rows(
        self, cutoffs: pd.DatetimeIndex, start: pd.Timestamp, horizon: Horizon | None, fold: int
    ) -> np.ndarray:
        if self.gap_days is None and horizon is not None:
            learn = np.asarray(horizon.end(cutoffs) <= start)
        else:
            learn = np.asarray(cutoffs <= start - pd.Timedelta(days=self.gap_days or 0))
            if horizon is not None and (horizon.end(cutoffs[learn]) > start).any():
                raise InputError(
                    f"gap_days={self.gap_days} is shorter than the labels' horizon of "
                    f"{horizon}: training labels would see the validation cutoff "
                    f"{start.date()}; leave gap_days unset to follow the horizon"
                )
        if not learn.any():
            raise InputError(
                f"fold {fold}: no training cutoff lies a horizon ({horizon or self.gap_days}"
                f"{'' if horizon else ' days'}) before the validation cutoff {start.date()}; "
                "add earlier cutoffs or reduce n_splits"
            )
        return learn

    def _held_customers(self, customers: np.ndarray, fold: int) -> np.ndarray:
        unique = np.unique(customers)
        rng = np.random.default_rng([self.random_state, fold])
        share = float(self.validation_customers or 0.0)
        held = rng.permutation(unique)[: max(1, round(share * len(unique)))]
        return np.isin(customers, held)

    def _check_parameters(self, horizon: Horizon | None) -> None:
        gap = self.gap_days
        if self.n_splits < 1 or self.validation_cutoffs < 1 or (gap is not None and gap < 0):
            raise InputError(
                "TemporalSplitter needs n_splits >= 1, validation_cutoffs >= 1 and "
                f"gap_days >= 0 or None; got {self.n_splits}, {self.validation_cutoffs}, {gap}"
            )
        if gap is None and horizon is None:
            raise InputError(
                "TemporalSplitter needs the labels' horizon to keep training labels before "
                "the validation cutoffs: pass y from TrainingSet.classification() (it carries "
                "the horizon) or set gap_days to at least the horizon"
            )
        share = self.validation_customers
        if share is not None and not 0 < share < 1:
            raise InputError(f"validation_customers must be a share in (0, 1) or None, got {share}")

    def _iter_test_indices(self, X: Any = None, y: Any = None, groups: Any = None) -> Any:
        for _, valid in self.split(X, y, groups):
            yield valid
