"""Leakage guard: flag features that on their own nearly decide the label or the duration.

A feature recorded after the outcome (a complaint logged while closing the account, the
closing date itself) makes a model look perfect in validation and useless in production.
Such a feature usually gives itself away: on its own it separates churners from the rest
almost perfectly, or it reconstructs the time to churn. :func:`leakage_report` scores every
feature alone; :func:`check_leakage` warns about the suspects before a training run, or with
``strict=True`` raises :class:`~churnml.errors.LeakageError`.

What it cannot see: future information of moderate strength (a count of the accounts closed
in the next 90 days scores AUC 0.80 on the synthetic bank, no higher than honest balance
features), a leak spread over several features, a leak in the choice of rows, or a target
encoding fitted outside. Point-in-time correctness of the features is proven by their tests
(``tests/test_point_in_time.py``), not by this guard.

The rules, one per kind of column:

- **Numeric** (float, int, bool; datetime and timedelta by their order): ROC AUC of the raw
  values, symmetrised as ``max(auc, 1 - auc)``. A missing value is a value of its own: the
  AUC is computed twice, with every missing value ranked below all present values and then
  above them, and the larger is kept. So a feature that is missing exactly for the churners
  is a perfect predictor, as it would be for a tree model. Only the order of the values is
  scored, so a numeric code whose meaning is not ordered (a branch number) should be cast to
  ``category`` first.
- **Categorical** (category, object, string): ROC AUC of an out-of-fold target-mean encoding
  (5 seeded folds; each row gets the churn rate of its category in the other folds, pulled
  toward the overall rate by one pseudo-row). Missing is a category of its own. A unique id
  then scores 0.5, as it tells nothing about rows it has not seen.
- **Constant** columns (one value, or all missing) score 0.5 and are never flagged.
- **Duration** (optional): ``|Spearman rho|`` between the feature (categorical: its
  out-of-fold mean duration) and the duration, on the rows where both are present, computed
  on all rows and again among the churners alone; the larger is reported. The second pass
  catches a feature that reconstructs the time to churn only for the rows that churned (for
  the others the duration is a censoring time that such a feature cannot know). It needs at
  least 10 such rows; with fewer it is not computed.

A feature is flagged when its AUC or its duration correlation reaches its threshold.

On a panel keyed by ``(customer_id, cutoff)`` a stayer's duration is a censoring time, the
end of the data minus the cutoff, so a feature that tracks the calendar follows it on all
rows: the cutoff itself scores ``|rho|`` 0.84 on the synthetic bank, below the threshold, while
tenure scores 0.06 and no honest feature more than 0.36.

For speed every column is sorted once; ranks within a subset of rows come from filtering that
order, and the per-category sums of the encoding from one ``bincount``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from churnml.errors import InputError, LeakageError, LeakageWarning

__all__ = ["check_leakage", "leakage_report"]

from churnml.leakage.scores import (
    N_FOLDS,
    BoolArray,
    Duration,
    FloatArray,
    Score,
    Target,
    as_float,
    is_categorical,
    is_numeric,
    ranks_within,
    score_column,
)

_AUC_THRESHOLD = 0.97
_CORRELATION_THRESHOLD = 0.97
_SEED = 0
_REPORT_COLUMNS = ["feature", "auc", "duration_correlation", "flagged", "reason"]
_MAX_EXAMPLES = 5


def leakage_report(
    X: pd.DataFrame,
    y: ArrayLike,
    *,
    duration: ArrayLike | None = None,
    auc_threshold: float = _AUC_THRESHOLD,
    correlation_threshold: float = _CORRELATION_THRESHOLD,
) -> pd.DataFrame:
    """Score every feature alone against the label and the duration.

    Parameters
    ----------
    X : pandas.DataFrame
        One column per feature: numeric (float, int, bool, datetime, timedelta) or
        categorical (category, object, string). Missing values are allowed.
    y : array-like of shape (n_rows,)
        Binary label aligned with ``X`` by position (0/1 or bool, both classes present). A
        Series must carry the index of ``X``.
    duration : array-like of shape (n_rows,), optional
        Numeric or timedelta time to the event or to censoring (for example days to churn,
        or tenure). Missing values are allowed. A Series must carry the index of ``X``.
    auc_threshold : float, default 0.97
        Flag a feature whose symmetrised single-feature AUC is at least this, in (0.5, 1].
    correlation_threshold : float, default 0.97
        Flag a feature whose ``|Spearman rho|`` with the duration is at least this, in (0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per column of ``X``, sorted by ``auc`` descending then ``feature``, with
        columns ``feature`` (the column name as text), ``auc``, ``duration_correlation`` (NaN
        without a duration, or with too few rows), ``flagged`` and ``reason`` (empty unless
        flagged). The module docstring gives the scoring rules.

    Raises
    ------
    InputError
        If ``X`` is not a DataFrame or has duplicate or unsupported columns, lengths or
        indexes differ, ``y`` is not binary, has missing values or one class, ``duration`` is
        not numeric or is all missing, or a threshold is out of range.

    See Also
    --------
    check_leakage : Warn about the flagged features before training.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> exited = rng.integers(0, 2, 500)
    >>> days = rng.exponential(200, 500).round()
    >>> X = pd.DataFrame(
    ...     {
    ...         "age": rng.normal(40, 10, 500),
    ...         "closing_code": np.where(exited == 1, None, "open"),
    ...         "customer_id": [f"C{i}" for i in range(500)],
    ...         "days_open": days + rng.normal(0, 1, 500),
    ...     }
    ... )
    >>> report = leakage_report(X, exited, duration=days)
    >>> report[["feature", "auc", "duration_correlation", "flagged"]].round(2)
            feature   auc  duration_correlation  flagged
    0  closing_code  1.00                  0.09     True
    1           age  0.54                  0.03    False
    2     days_open  0.51                  1.00     True
    3   customer_id  0.50                  0.00    False
    >>> print(report["reason"].iloc[0])
    on its own separates the label (AUC 1.000 >= 0.97; missing in 275 rows, scored as a value)
    >>> print(report["reason"].iloc[2])
    reconstructs the duration (|Spearman rho| 1.000 >= 0.97)
    """
    _check_thresholds(auc_threshold, correlation_threshold)
    if not isinstance(X, pd.DataFrame):
        raise InputError(f"X must be a pandas DataFrame, got {type(X).__name__}")
    _check_columns(X)
    target = _target(X, y, duration)
    rows = []
    for position, name in enumerate(X.columns):
        score = score_column(X.iloc[:, position], target)
        rho = float(np.fmax(score.rho_all, score.rho_churners))  # NaN only if both are
        reason = _reason(score, auc_threshold, correlation_threshold)
        rows.append((str(name), score.auc, rho, bool(reason), reason))
    report = pd.DataFrame(rows, columns=_REPORT_COLUMNS).astype(
        {"feature": object, "auc": float, "duration_correlation": float, "flagged": bool}
    )
    report = report.sort_values(["auc", "feature"], ascending=[False, True], kind="mergesort")
    return report.reset_index(drop=True)


def check_leakage(
    X: pd.DataFrame,
    y: ArrayLike,
    *,
    duration: ArrayLike | None = None,
    auc_threshold: float = _AUC_THRESHOLD,
    correlation_threshold: float = _CORRELATION_THRESHOLD,
    strict: bool = False,
) -> list[str]:
    """Warn (or raise) once, naming every feature that looks like a leak; return their names.

    Runs :func:`leakage_report` (same parameters) and, if any feature is flagged, emits one
    :class:`~churnml.errors.LeakageWarning` that names each with its AUC or duration
    correlation and says what to do; with ``strict=True`` it raises
    :class:`~churnml.errors.LeakageError` with the same message instead. Nothing is dropped:
    the caller decides.

    Parameters
    ----------
    X : pandas.DataFrame
        Feature table, one column per feature.
    y : array-like of shape (n_rows,)
        Binary label aligned with ``X`` (0/1 or bool).
    duration : array-like of shape (n_rows,), optional
        Time to the event or to censoring, e.g. ``labels["duration"]`` of a training set on
        the same rows.
    auc_threshold : float, default 0.97
        Flag a feature whose symmetrised single-feature AUC is at least this.
    correlation_threshold : float, default 0.97
        Flag a feature whose ``|Spearman rho|`` with the duration is at least this.
    strict : bool, default False
        Raise :class:`~churnml.errors.LeakageError` instead of warning.

    Returns
    -------
    list of str
        Names of the flagged features in report order (highest AUC first); empty when clean.

    Raises
    ------
    InputError
        On invalid input, as :func:`leakage_report`.
    LeakageError
        With ``strict=True``, when at least one feature is flagged.

    Warns
    -----
    LeakageWarning
        Without ``strict``, when at least one feature is flagged.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> exited = rng.integers(0, 2, 500)
    >>> X = pd.DataFrame({"complained": exited, "age": rng.normal(40, 10, 500)})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     flagged = check_leakage(X, exited)
    >>> flagged
    ['complained']
    >>> print(caught[0].message)
    1 of 2 features looks like a leak: on its own it nearly decides the label or the duration.
      'complained': on its own separates the label (AUC 1.000 >= 0.97)
    Drop it, or check that its value is known at the cutoff (recorded before the outcome).
    >>> check_leakage(X[["age"]], exited, strict=True)
    []
    >>> from churnml.errors import LeakageError
    >>> try:
    ...     check_leakage(X, exited, strict=True)
    ... except LeakageError as error:
    ...     print(str(error).splitlines()[1])
      'complained': on its own separates the label (AUC 1.000 >= 0.97)
    """
    report = leakage_report(
        X,
        y,
        duration=duration,
        auc_threshold=auc_threshold,
        correlation_threshold=correlation_threshold,
    )
    flagged = report[report["flagged"]]
    names = [str(name) for name in flagged["feature"]]
    if names:
        message = _warning_message(flagged, len(report))
        if strict:
            raise LeakageError(message)
        warnings.warn(message, LeakageWarning, stacklevel=2)
    return names


def _warning_message(flagged: pd.DataFrame, n_features: int) -> str:
    many = len(flagged) > 1
    lines = [
        f"{len(flagged)} of {n_features} features "
        f"{'look like leaks: on its own each' if many else 'looks like a leak: on its own it'}"
        " nearly decides the label or the duration."
    ]
    lines += [
        f"  {name!r}: {reason}"
        for name, reason in zip(flagged["feature"], flagged["reason"], strict=True)
    ]
    lines.append(
        f"Drop {'them' if many else 'it'}, or check that "
        f"{'each value' if many else 'its value'} is known at the cutoff "
        "(recorded before the outcome)."
    )
    return "\n".join(lines)


def _reason(score: Score, auc_threshold: float, correlation_threshold: float) -> str:
    parts = []
    if score.auc >= auc_threshold:
        missing = (
            f"; missing in {score.n_missing} rows, scored as a value" if score.n_missing else ""
        )
        parts.append(
            f"on its own separates the label (AUC {score.auc:.3f} >= {auc_threshold:.2f}{missing})"
        )
    if score.rho_all >= correlation_threshold:
        parts.append(
            f"reconstructs the duration (|Spearman rho| {score.rho_all:.3f} "
            f">= {correlation_threshold:.2f})"
        )
    elif score.rho_churners >= correlation_threshold:
        parts.append(
            f"reconstructs the duration among churners (|Spearman rho| "
            f"{score.rho_churners:.3f} >= {correlation_threshold:.2f})"
        )
    return "; ".join(parts)


# --- validation -------------------------------------------------------------------------


def _check_thresholds(auc_threshold: float, correlation_threshold: float) -> None:
    if not 0.5 < auc_threshold <= 1:
        raise InputError(f"auc_threshold must be in (0.5, 1], got {auc_threshold!r}")
    if not 0 < correlation_threshold <= 1:
        raise InputError(f"correlation_threshold must be in (0, 1], got {correlation_threshold!r}")


def _check_columns(X: pd.DataFrame) -> None:
    duplicated = X.columns[X.columns.duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"X has duplicate column names {list(duplicated)[:_MAX_EXAMPLES]}: "
            "give every feature a unique name"
        )
    unsupported = {
        str(name): str(dtype)
        for name, dtype in X.dtypes.items()
        if not (is_numeric(dtype) or is_categorical(dtype))
    }
    if unsupported:
        examples = dict(list(unsupported.items())[:_MAX_EXAMPLES])
        raise InputError(
            f"X has {len(unsupported)} columns of unsupported dtype {examples}: convert them "
            "to numbers or to category"
        )


def _as_series(values: ArrayLike, name: str, X: pd.DataFrame) -> pd.Series:
    """Positionally aligned 1-d Series; a Series must already carry the index of X."""
    if isinstance(values, pd.Series):
        series = values
        if len(series) == len(X) and not series.index.equals(X.index):
            raise InputError(
                f"{name} has a different index from X: align it (e.g. {name}.loc[X.index]) or "
                f"pass {name}.to_numpy() if the rows already match by position"
            )
    else:
        array = np.asarray(values)
        if array.ndim != 1:
            raise InputError(f"{name} must be one-dimensional, got shape {array.shape}")
        series = pd.Series(array)
    if len(series) != len(X):
        raise InputError(f"{name} has {len(series)} rows but X has {len(X)}: align them row by row")
    return series


def _binary_label(y: ArrayLike, X: pd.DataFrame) -> BoolArray:
    series = _as_series(y, "y", X)
    n_missing = int(series.isna().sum())
    if n_missing:
        raise InputError(f"y has {n_missing} missing values: the label must be 0/1 or bool")
    values = pd.unique(series).tolist()  # plain Python scalars, for the messages
    others = [value for value in values if value not in (0, 1)]
    if others:
        raise InputError(
            f"y must be binary (0/1 or bool); found other values {others[:_MAX_EXAMPLES]}"
        )
    if len(values) < 2:
        raise InputError(
            f"y has {len(values)} class ({values}): AUC needs churners and non-churners"
        )
    return np.asarray(series.to_numpy() == 1, dtype=bool)


def _duration(duration: ArrayLike, X: pd.DataFrame) -> FloatArray:
    series = _as_series(duration, "duration", X)
    if not is_numeric(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        raise InputError(
            f"duration must be numeric or timedelta, got dtype {series.dtype}: pass days to "
            "the event or to censoring"
        )
    values = as_float(series)
    if np.isnan(values).all():
        raise InputError("duration has no values (all missing)")
    return values


def _target(X: pd.DataFrame, y: ArrayLike, duration: ArrayLike | None) -> Target:
    positive = _binary_label(y, X)
    folds = (np.random.default_rng(_SEED).permutation(len(X)) % N_FOLDS).astype(np.intp)
    label = positive.astype(np.float64)
    if duration is None:
        return Target(positive, label, folds, None)
    values = _duration(duration, X)
    order = np.argsort(values)
    present = ~np.isnan(values)
    ranks = ranks_within(values, order, present)
    churner_ranks = ranks_within(values, order, present & positive)
    return Target(positive, label, folds, Duration(values, order, present, ranks, churner_ranks))
