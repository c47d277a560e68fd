"""Population stability: has the scored population moved from the one trained on.

The population stability index (PSI) of one feature compares its distribution in a
``reference`` frame (typically the training or evaluation features) with a ``current``
frame (the latest scoring run), bin by bin::

    PSI = sum over bins of (c_i - r_i) * ln(c_i / r_i)

where ``r_i`` and ``c_i`` are the shares of the reference's and the current rows in bin
``i``. The bins:

- **Numeric features** are cut at the reference's quantiles (``bins`` equal-frequency
  bins; tied quantiles merge, so a feature with few distinct values gets fewer bins). The
  outer bins are open, so current values beyond the reference's range land in them; bins
  are closed on the right.
- **Categorical, text and boolean features** get one bin per level seen in either frame,
  so a level new in the current frame is its own bin.
- **Missing values** are a bin of their own in both cases: a feature that starts to go
  missing drifts.
- A bin empty on one side would make the logarithm infinite, so every share is floored
  at :data:`EPSILON` (``1e-4``) before the sum; such a bin then adds a large but finite
  term.

The thresholds are the usual credit-risk ones (:data:`WATCH` and :data:`SHIFTED`):
a PSI below 0.1 is ``"stable"``, from 0.1 to below 0.25 ``"watch"`` (a moderate shift,
look at it), and from 0.25 ``"shifted"`` (the population has changed: rescore with care,
consider retraining). :func:`check_drift` warns with :class:`DriftWarning`, naming the
features past the threshold.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from churnml.errors import InputError

__all__ = [
    "DRIFT_COLUMNS",
    "EPSILON",
    "SHIFTED",
    "WATCH",
    "DriftWarning",
    "check_drift",
    "population_stability",
    "psi",
    "score_stability",
]

EPSILON = 1e-4
"""The floor of every bin share, so that a bin empty on one side adds a finite term."""
WATCH = 0.1
"""PSI from which a feature is ``"watch"`` (moderate shift)."""
SHIFTED = 0.25
"""PSI from which a feature is ``"shifted"`` (significant shift)."""
DRIFT_COLUMNS = (
    "feature",
    "kind",
    "psi",
    "status",
    "bins",
    "reference_missing",
    "current_missing",
)
"""The columns of :func:`population_stability`'s table."""
_MISSING = "<missing>"


class DriftWarning(UserWarning):
    """Features whose population stability index is past the threshold.

    A warning, not an error: a shifted population may still be scored, but the model's
    metrics were measured on another one.
    """


def psi(reference_share: Any, current_share: Any, *, epsilon: float = EPSILON) -> float:
    """The population stability index of two distributions over the same bins.

    Parameters
    ----------
    reference_share, current_share : array-like of float
        The share of rows in each bin (each summing to 1), in the same bin order.
    epsilon : float, default :data:`EPSILON`
        Floor of every share, so an empty bin adds a finite term.

    Returns
    -------
    float
        ``sum((current - reference) * ln(current / reference))``, 0 for identical shares.

    Examples
    --------
    >>> round(psi([0.5, 0.5], [0.2, 0.8]), 4)
    0.4159
    >>> psi([0.3, 0.7], [0.3, 0.7])
    0.0
    """
    r = np.maximum(np.asarray(reference_share, dtype="float64"), epsilon)
    c = np.maximum(np.asarray(current_share, dtype="float64"), epsilon)
    if r.shape != c.shape or r.ndim != 1:
        raise InputError(
            f"the shares must be two 1-D arrays of one length, got {r.shape}, {c.shape}"
        )
    return float(np.sum((c - r) * np.log(c / r)))


def _status(value: float) -> str:
    if value >= SHIFTED:
        return "shifted"
    return "watch" if value >= WATCH else "stable"


def _is_numeric(values: pd.Series) -> bool:
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return False
    return bool(pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype))


def _as_float(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.astype("int64").astype("float64").where(values.notna()).to_numpy()
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _numeric_counts(
    reference: pd.Series, current: pd.Series, bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counts per reference-quantile bin, then the missing bin, of both frames."""
    ref, cur = _as_float(reference), _as_float(current)
    known = ref[~np.isnan(ref)]
    inner = (
        np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1]))
        if known.size
        else np.array([])
    )
    counts = []
    for values in (ref, cur):
        present = values[~np.isnan(values)]
        binned = np.bincount(np.searchsorted(inner, present, side="left"), minlength=inner.size + 1)
        counts.append(np.append(binned, np.isnan(values).sum()))
    return counts[0], counts[1]


def _categorical_counts(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Counts per level seen in either frame, then the missing bin, of both frames."""
    ref = reference.astype(object).where(reference.notna(), _MISSING).astype(str)
    cur = current.astype(object).where(current.notna(), _MISSING).astype(str)
    levels = sorted(set(ref) | set(cur) | {_MISSING})
    return (
        ref.value_counts().reindex(levels, fill_value=0).to_numpy(),
        cur.value_counts().reindex(levels, fill_value=0).to_numpy(),
    )


def _columns(reference: pd.DataFrame, current: pd.DataFrame, columns: Any) -> list[Any]:
    if not isinstance(reference, pd.DataFrame) or not isinstance(current, pd.DataFrame):
        raise InputError("population_stability compares two DataFrames")
    if columns is None:
        return [c for c in reference.columns if c in current.columns]
    chosen = [columns] if isinstance(columns, str) else list(columns)
    absent = [c for c in chosen if c not in reference.columns or c not in current.columns]
    if absent:
        raise InputError(f"columns {absent} are not in both frames")
    return chosen


def population_stability(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    bins: int = 10,
    columns: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """The population stability index of every feature, reference against current.

    Parameters
    ----------
    reference, current : pandas.DataFrame
        The population the model knows (e.g. its training features) and the new one;
        at least one row each.
    bins : int, default 10
        Equal-frequency bins of numeric features, cut at the reference's quantiles
        (fewer when quantiles tie); missing values are a bin of their own.
    columns : sequence, optional
        Features to compare; by default every column of ``reference`` also in ``current``.

    Returns
    -------
    pandas.DataFrame
        :data:`DRIFT_COLUMNS`: ``feature``, ``kind`` (numeric or categorical), ``psi``,
        ``status`` (``"stable"`` below 0.1, ``"watch"`` below 0.25, else ``"shifted"``),
        ``bins`` (the number compared, the missing bin included) and the missing shares
        of each frame; the largest PSI first.

    Raises
    ------
    InputError
        When a frame has no rows, ``bins`` is not a whole number of at least 2, or a
        requested column is not in both frames.

    Examples
    --------
    >>> reference = pd.DataFrame({"x": range(1, 11), "tier": ["a"] * 5 + ["b"] * 5})
    >>> current = pd.DataFrame({"x": [1, 2, 6, 7, 8, 9, 10, 11, 12, 13],
    ...                         "tier": ["a"] * 5 + ["b"] * 5})
    >>> table = population_stability(reference, current, bins=2)
    >>> table[["feature", "psi", "status"]].round(4).to_numpy().tolist()
    [['x', 0.4159, 'shifted'], ['tier', 0.0, 'stable']]
    """
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise InputError(f"bins must be a whole number of at least 2, got {bins!r}")
    chosen = _columns(reference, current, columns)
    for name, frame in (("reference", reference), ("current", current)):
        if len(frame) == 0:
            raise InputError(f"the {name} frame has no rows: no distribution to compare")
    rows = []
    for column in chosen:
        ref, cur = reference[column], current[column]
        numeric = _is_numeric(ref) and _is_numeric(cur)
        if numeric:
            ref_counts, cur_counts = _numeric_counts(ref, cur, int(bins))
        else:
            ref_counts, cur_counts = _categorical_counts(ref, cur)
        value = psi(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum())
        rows.append(
            {
                "feature": column,
                "kind": "numeric" if numeric else "categorical",
                "psi": value,
                "status": _status(value),
                "bins": len(ref_counts),
                "reference_missing": float(ref.isna().mean()),
                "current_missing": float(cur.isna().mean()),
            }
        )
    table = pd.DataFrame(rows, columns=list(DRIFT_COLUMNS))
    table["psi"] = table["psi"].astype("float64")
    return table.sort_values("psi", ascending=False, kind="stable", ignore_index=True)


def _score_frame(scores: Any, column: str) -> pd.DataFrame:
    if isinstance(scores, pd.DataFrame):
        if column not in scores.columns:
            raise InputError(f"the scores have no {column!r} column")
        return scores[[column]]
    return pd.DataFrame({column: np.asarray(scores, dtype="float64")})


def score_stability(
    reference_scores: Any,
    current_scores: Any,
    *,
    bins: int = 10,
    column: str = "churn_probability",
) -> pd.DataFrame:
    """The population stability index of the churn probability between two scorings.

    Parameters
    ----------
    reference_scores, current_scores : pandas.DataFrame or array-like
        Scores frames with ``column`` (e.g. from :meth:`~churnml.pipeline.ChurnModel.score`
        or the model's evaluation scores), or the probabilities themselves.
    bins : int, default 10
        Bins cut at the reference probabilities' deciles.
    column : str, default "churn_probability"

    Returns
    -------
    pandas.DataFrame
        One row, the columns of :func:`population_stability`.

    Examples
    --------
    >>> table = score_stability([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], bins=2)
    >>> float(table.loc[0, "psi"]), table.loc[0, "status"]
    (0.0, 'stable')
    """
    return population_stability(
        _score_frame(reference_scores, column),
        _score_frame(current_scores, column),
        bins=bins,
        columns=[column],
    )


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    bins: int = 10,
    columns: Sequence[Any] | None = None,
    threshold: float = SHIFTED,
) -> pd.DataFrame:
    """:func:`population_stability`, warning when a feature's PSI reaches ``threshold``.

    Parameters
    ----------
    reference, current, bins, columns
        As in :func:`population_stability`.
    threshold : float, default :data:`SHIFTED` (0.25)
        PSI from which a feature is named in the warning; :data:`WATCH` warns earlier.

    Returns
    -------
    pandas.DataFrame
        The table of :func:`population_stability`.

    Warns
    -----
    DriftWarning
        Naming every feature with a PSI of at least ``threshold``, the largest first.

    Examples
    --------
    >>> reference = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    >>> check_drift(reference, reference.copy(), bins=2).loc[0, "status"]
    'stable'
    """
    if not np.isfinite(threshold) or threshold <= 0:
        raise InputError(f"threshold must be a positive PSI, got {threshold!r}")
    table = population_stability(reference, current, bins=bins, columns=columns)
    past = table[table["psi"] >= threshold]
    if len(past):
        named = ", ".join(f"{row.feature} (PSI {row.psi:.3f})" for row in past.itertuples())
        warnings.warn(
            f"{len(past)} feature(s) with a population stability index of at least "
            f"{threshold:g}: {named}",
            DriftWarning,
            stacklevel=2,
        )
    return table
