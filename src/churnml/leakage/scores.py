"""How strongly one feature alone separates the label or follows the duration.

Rank statistics computed once per column: the symmetrised ROC AUC with missing values ranked
both below and above the rest (the larger counts), an out-of-fold churn-rate encoding for
text columns, and Spearman correlations with the duration on all rows and among churners.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pandas.api.extensions import ExtensionDtype

__all__ = [
    "N_FOLDS",
    "BoolArray",
    "Dtype",
    "Duration",
    "FloatArray",
    "Score",
    "Target",
    "as_float",
    "is_categorical",
    "is_numeric",
    "ranks_within",
    "score_column",
]


# Folds of the out-of-fold encoding of text columns.
N_FOLDS = 5
# Pseudo-rows at the overall mean added to every category, so a category seen once in the
# other folds does not get an extreme encoding from a single row.
_SMOOTHING = 1.0
# Below this many rows a rank correlation of 0.97 or more happens by chance too often.
_MIN_CORRELATION_ROWS = 10


FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]
Dtype = np.dtype[Any] | ExtensionDtype


@dataclass(frozen=True)
class Duration:
    """The duration, its sort order, and its ranks among all rows and among churners."""

    values: FloatArray
    order: IntArray
    present: BoolArray
    ranks: FloatArray
    churner_ranks: FloatArray


@dataclass(frozen=True)
class Target:
    """The label, the fold of every row and the optional duration."""

    positive: BoolArray
    label: FloatArray
    folds: IntArray
    duration: Duration | None


@dataclass(frozen=True)
class Score:
    """One feature's scores: AUC, duration correlation on all rows and among churners."""

    auc: float
    rho_all: float = np.nan
    rho_churners: float = np.nan
    n_missing: int = 0


def is_numeric(dtype: Dtype) -> bool:
    """Scored by value order: numbers, booleans, dates and durations."""
    return (
        (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype))
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
    )


def is_categorical(dtype: Dtype) -> bool:
    """Scored by an out-of-fold churn-rate encoding: categories and text."""
    return isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype)


# --- scoring ----------------------------------------------------------------------------


def as_float(column: pd.Series) -> FloatArray:
    """Float values of a numeric column; NaN where missing. Dates become seconds."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        column = column - column.min()
    if pd.api.types.is_timedelta64_dtype(column.dtype):
        return column.dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    # Contiguous: a column of a 2-d block is a strided view, and sorting it is much slower.
    return np.ascontiguousarray(column.to_numpy(dtype=np.float64, na_value=np.nan))


def score_column(column: pd.Series, target: Target) -> Score:
    """One column's AUC (and duration correlations) against the target."""
    if is_numeric(column.dtype):
        return _score_numeric(as_float(column), target)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    n_missing = int((codes < 0).sum())
    n_codes = len(uniques) + (n_missing > 0)
    codes = np.where(codes < 0, len(uniques), codes).astype(np.intp)
    return _score_categorical(codes, n_codes, n_missing, target)


def _score_numeric(x: FloatArray, target: Target) -> Score:
    present = ~np.isnan(x)
    n_present = int(present.sum())
    n_missing = len(x) - n_present
    order = np.argsort(x)  # missing values sort last
    if n_present == 0 or (n_missing == 0 and x[order[0]] == x[order[-1]]):
        return _constant_score(target)
    auc = _auc(x, order, n_present, target)
    duration = target.duration
    if duration is None:
        return Score(auc, n_missing=n_missing)
    rows = present & duration.present
    churners = rows & target.positive
    if n_missing:
        d_ranks = ranks_within(duration.values, duration.order, rows)
        d_churner_ranks = ranks_within(duration.values, duration.order, churners)
    else:
        d_ranks, d_churner_ranks = duration.ranks, duration.churner_ranks
    rho_all = _spearman(x, order, rows, d_ranks)
    return Score(auc, rho_all, _spearman(x, order, churners, d_churner_ranks), n_missing)


def _score_categorical(codes: IntArray, n_codes: int, n_missing: int, target: Target) -> Score:
    if n_codes <= 1:
        return _constant_score(target)
    encoded = _oof_mean(codes, n_codes, target.label, target.folds)
    auc = _auc(encoded, np.argsort(encoded), len(encoded), target)
    duration = target.duration
    if duration is None:
        return Score(auc, n_missing=n_missing)
    # Among churners the encoding learns from churners only, as a numeric feature is ranked
    # among churners only.
    by_all = _oof_mean(codes, n_codes, duration.values, target.folds)
    churner_values = np.where(target.positive, duration.values, np.nan)
    by_churners = _oof_mean(codes, n_codes, churner_values, target.folds)
    churners = duration.present & target.positive
    return Score(
        auc,
        _spearman(by_all, np.argsort(by_all), duration.present, duration.ranks),
        _spearman(by_churners, np.argsort(by_churners), churners, duration.churner_ranks),
        n_missing,
    )


def _constant_score(target: Target) -> Score:
    if target.duration is None:
        return Score(0.5)
    return Score(0.5, 0.0, 0.0)


def _sorted_ranks(sorted_values: FloatArray) -> FloatArray:
    """Average ranks (1-based, ties share their mean rank) of values already sorted."""
    n = len(sorted_values)
    new_run = np.empty(n, dtype=bool)
    new_run[:1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    if len(starts) == n:
        return np.arange(1.0, n + 1.0)
    sizes = np.diff(starts, append=n)
    return np.repeat(starts + (sizes + 1) / 2, sizes)


def ranks_within(values: FloatArray, order: IntArray, rows: BoolArray) -> FloatArray:
    """Each row's average rank among ``rows`` (0 elsewhere); ``order`` sorts ``values``."""
    selected = order[rows[order]]
    ranks = np.zeros(len(values))
    ranks[selected] = _sorted_ranks(values[selected])
    return ranks


def _auc(x: FloatArray, order: IntArray, n_present: int, target: Target) -> float:
    """Symmetrised AUC, missing values tied at the bottom and at the top; the larger one.

    ``order`` sorts ``x`` with its ``len(x) - n_present`` missing values last.
    """
    n_pos = int(target.positive.sum())
    n_neg = len(x) - n_pos
    n_missing = len(x) - n_present
    present_rows = order[:n_present]
    pos_present = target.label[present_rows]
    present_sum = _dot(_sorted_ranks(x[present_rows]), pos_present)
    n_pos_present = int(pos_present.sum())
    n_pos_missing = n_pos - n_pos_present
    missing_mid = (n_missing + 1) / 2
    below = present_sum + n_missing * n_pos_present + n_pos_missing * missing_mid
    above = present_sum + n_pos_missing * (n_present + missing_mid)
    return max(_symmetric_auc(below, n_pos, n_neg), _symmetric_auc(above, n_pos, n_neg))


def _symmetric_auc(positive_rank_sum: float, n_pos: int, n_neg: int) -> float:
    """Mann-Whitney U of the positives over ``n_pos * n_neg``, folded above 0.5."""
    auc = (positive_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return max(auc, 1.0 - auc)


def _spearman(x: FloatArray, order: IntArray, rows: BoolArray, d_ranks: FloatArray) -> float:
    """``|Spearman rho|`` of x and the duration over ``rows``; 0 if one is constant there.

    ``order`` sorts ``x``; ``d_ranks`` holds the duration's ranks among the same ``rows``.
    Filtering the sort order keeps it sorted, so no subset is sorted again.
    """
    n_rows = int(rows.sum())
    if n_rows < _MIN_CORRELATION_ROWS:
        return np.nan
    selected = order if n_rows == len(x) else order[rows[order]]
    mean_rank = (n_rows + 1) / 2  # ranks are exact halves, so centring them is exact
    rank_x = _sorted_ranks(x[selected]) - mean_rank
    rank_d = d_ranks[selected] - mean_rank
    scale = float(np.sqrt(_dot(rank_x, rank_x) * _dot(rank_d, rank_d)))
    if scale == 0.0:
        return 0.0
    return min(abs(_dot(rank_x, rank_d)) / scale, 1.0)


def _dot(a: FloatArray, b: FloatArray) -> float:
    """Inner product without BLAS, whose threads only contend on one vector."""
    return float(np.einsum("i,i->", a, b))


def _oof_mean(codes: IntArray, n_codes: int, values: FloatArray, folds: IntArray) -> FloatArray:
    """Each row's category mean of ``values`` in the other folds, smoothed to the mean."""
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    overall = float(filled.sum()) / max(int(present.sum()), 1)
    cells = folds * n_codes + codes
    size = N_FOLDS * n_codes
    sums = np.bincount(cells, weights=filled, minlength=size).reshape(N_FOLDS, n_codes)
    counts = np.bincount(cells, weights=present, minlength=size).reshape(N_FOLDS, n_codes)
    other_sums = sums.sum(axis=0) - sums
    other_counts = counts.sum(axis=0) - counts
    encoding = (other_sums + _SMOOTHING * overall) / (other_counts + _SMOOTHING)
    return np.asarray(encoding[folds, codes], dtype=np.float64)
