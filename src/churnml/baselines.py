"""A Cox proportional-hazards baseline for the churn survival model.

:class:`CoxBaseline` wraps lifelines' ``CoxPHFitter`` behind the same interface as the
main survival model, so an experiment can swap one for the other: it takes the flat
feature table, learns the preprocessing a Cox model needs (no missing values, no text),
and answers with risk scores, survival curves per month and expected months to churn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from sklearn.base import BaseEstimator
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from churnml.errors import InputError
from churnml.metrics.survival import harrell_c
from churnml.training import check_no_keys_or_outcomes
from churnml.units import convert, survival_arrays

__all__ = ["CoxBaseline"]

RMST_STEP_MONTHS = 0.25
"""Grid step, in months, of the trapezoid rule behind expected months."""

MISSING_LEVEL = "<missing>"
"""Level that stands for a missing value in a text or categorical column."""

_SHOWN = 5
# lifelines' Newton-Raphson has no line search: its default first step (0.95) can overshoot
# on rare indicators and heavy-tailed money columns and never recover (seen on a 1,000-row
# sample of the synthetic bank). Half steps reached the same optimum on every sample tried.
_NEWTON_STEP = 0.5
# months * period rarely lands exactly on a duration in floats (90 / 30.4375 * 30.4375 is
# just below 90), which would read the survival curve one step too early.
_TIME_RTOL = 1e-9
_DURATION_COLUMN = "_churnml_duration_"
_EVENT_COLUMN = "_churnml_event_"


def _few(items: Sequence[object]) -> str:
    shown = ", ".join(repr(item) for item in items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_numeric(column: pd.Series) -> bool:
    dtype = column.dtype
    return pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
    )


def _is_text(column: pd.Series) -> bool:
    dtype = column.dtype
    return isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype)


def _check_frame(X: object) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise InputError(
            f"X must be a pandas DataFrame of features, got {type(X).__name__}; "
            "wrap arrays with pandas.DataFrame(array, columns=names)."
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"X must have rows and columns, got shape {X.shape}.")
    check_no_keys_or_outcomes(X, "X")
    names = X.columns.tolist()
    if not all(isinstance(name, str) for name in names) or not X.columns.is_unique:
        raise InputError(
            "X must have unique string column names; got "
            f"{_few([n for n in names if not isinstance(n, str) or names.count(n) > 1])}."
        )
    return X


def _check_kinds(X: pd.DataFrame) -> list[str]:
    """Return the numeric columns; raise if a column is neither numeric nor text."""
    numeric = [c for c in X.columns if _is_numeric(X[c])]
    odd = [c for c in X.columns if c not in numeric and not _is_text(X[c])]
    if odd:
        raise InputError(
            f"X has columns of an unsupported kind: {_few(odd)} (dtypes "
            f"{_few([str(X[c].dtype) for c in odd])}); features must be numbers, booleans or "
            "text/categorical. Convert dates to numbers (e.g. days since) or drop them."
        )
    return numeric


def _check_numbers(X: pd.DataFrame, numeric: Sequence[str]) -> None:
    """Check that numeric columns hold finite numbers or NaN."""
    wrong = [c for c in numeric if not _is_numeric(X[c])]
    if wrong:
        raise InputError(
            f"X columns {_few(wrong)} were numeric at fit but now have dtypes "
            f"{_few([str(X[c].dtype) for c in wrong])}; pass numbers (NaN allowed)."
        )
    values = X[list(numeric)].astype("float64").to_numpy()
    infinite = [c for c, bad in zip(numeric, np.isinf(values).any(axis=0), strict=True) if bad]
    if infinite:
        raise InputError(
            f"X has infinite values in columns {_few(infinite)}; replace them with NaN "
            "(imputed with the median learned at fit) or with finite numbers."
        )


def _check_target(y: object, n_rows: int, unit: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Return ``(event, duration, unit)`` from a structured survival array, or raise."""
    if not isinstance(y, np.ndarray) or y.ndim != 1 or len(y.dtype.names or ()) != 2:
        raise InputError(
            "y must be a 1-d structured array of (event, duration), e.g. "
            "churnml.training.survival_target(event, duration, unit='days') or "
            f"sksurv.util.Surv.from_arrays(event, time); got {type(y).__name__}."
        )
    event, duration, found = survival_arrays(y, n_rows, unit=unit, owner="CoxBaseline")
    if not event.any():
        raise InputError("y has no events (every row is censored): a Cox model cannot be fit.")
    return event, duration, found


def _check_months(months: object) -> np.ndarray:
    try:
        values = np.atleast_1d(np.asarray(months, dtype="float64"))
    except (TypeError, ValueError) as error:
        raise InputError(f"months must be numbers of months, got {months!r}.") from error
    if values.ndim != 1 or values.size == 0:
        raise InputError(f"months must be a non-empty 1-d sequence of months, got {months!r}.")
    if not np.isfinite(values).all() or (values < 0).any():
        raise InputError(f"months must be finite and >= 0, got {values.tolist()}.")
    return values


def _as_levels(column: pd.Series) -> pd.Series:
    return column.astype("string").fillna(MISSING_LEVEL)


def _encoded_levels(column: pd.Series) -> list[str]:
    """Levels that get an indicator: all seen at fit except the most frequent (reference)."""
    counts = _as_levels(column).value_counts()
    reference = min(counts.index[counts == counts.max()])
    return sorted(level for level in counts.index if level != reference)


def _raw_design(X: pd.DataFrame, medians: pd.Series, levels: dict[str, list[str]]) -> pd.DataFrame:
    numeric = X[medians.index].astype("float64").fillna(medians)
    indicators = {
        f"{column}={level}": (values == level).to_numpy(dtype="float64", na_value=0.0)
        for column, values in ((c, _as_levels(X[c])) for c in levels)
        for level in levels[column]
    }
    return pd.concat([numeric, pd.DataFrame(indicators, index=X.index)], axis=1)


@dataclass(frozen=True)
class _Design:
    """Preprocessing learned at fit: what turns a feature table into the Cox design."""

    medians: pd.Series
    levels: dict[str, list[str]]
    mean: pd.Series
    scale: pd.Series

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        raw = _raw_design(X, self.medians, self.levels)[self.mean.index]
        return (raw - self.mean) / self.scale


def _redundant_columns(raw: pd.DataFrame) -> dict[str, str]:
    """Design columns a Cox model cannot use, with the reason: constant or duplicate."""
    dropped: dict[str, str] = {}
    first_with: dict[bytes, str] = {}
    for name in raw.columns:
        values = raw[name].to_numpy()
        if np.isnan(values).all():
            dropped[name] = "no value at fit"
        elif np.all(values == values[0]):
            dropped[name] = "constant at fit"
        else:
            twin = first_with.setdefault(values.tobytes(), name)
            if twin != name:
                dropped[name] = f"duplicate of {twin!r} at fit"
    return dropped


def _learn_design(X: pd.DataFrame) -> tuple[_Design, dict[str, str]]:
    numeric = _check_kinds(X)
    _check_numbers(X, numeric)
    medians = X[numeric].astype("float64").median()
    levels = {c: _encoded_levels(X[c]) for c in X.columns if c not in numeric}
    raw = _raw_design(X, medians, levels)
    dropped = _redundant_columns(raw)
    kept = raw.drop(columns=list(dropped))
    if kept.shape[1] == 0:
        raise InputError(
            f"X has no usable feature: all {X.shape[1]} columns are missing, constant or "
            "duplicated at fit."
        )
    design = _Design(medians, levels, kept.mean(), kept.std(ddof=0))
    return design, dropped


class CoxBaseline(BaseEstimator):
    """Cox proportional-hazards churn model (lifelines) on the flat feature table.

    The baseline the main survival model has to beat: same features, same target, same
    predictions. ``fit`` learns the preprocessing a Cox model needs, then fits lifelines'
    ``CoxPHFitter`` (Efron ties, Breslow baseline hazard) on the result:

    * numeric and boolean columns: missing values get the median seen at fit;
    * text and categorical columns: one indicator per level seen at fit (a missing value
      is its own level), except the most frequent level, the reference. A level unseen at
      fit gets no indicator, so it is treated as the reference level;
    * columns that are empty, constant or an exact duplicate of an earlier column (after
      imputation) are dropped (see ``dropped_columns_``);
    * every remaining design column is standardised with the mean and standard deviation
      seen at fit, so the penalty weighs all of them alike.

    Parameters
    ----------
    penalizer : float, default 0.1
        Strength of the elastic-net penalty on the coefficients (lifelines' ``penalizer``).
        Some penalty keeps the fit stable with the many correlated, heavy-tailed features
        of a bank: on the synthetic bank, values below 0.1 can fail to converge, which
        lifelines reports with a ``ConvergenceWarning``.
    l1_ratio : float, default 0.0
        Share of the penalty that is L1 (lasso); 0 is ridge.
    duration_unit : {"days", "months", "years"}, optional
        What the target's durations count: by default the target says it (its duration
        field, e.g. ``duration_days``); one that does not needs it, and one that says
        another unit is an error.

    Attributes
    ----------
    feature_names_in_ : numpy.ndarray
        Column names of ``X`` at fit.
    n_features_in_ : int
        Number of columns of ``X`` at fit.
    columns_ : numpy.ndarray
        Names of the design columns the Cox model sees: kept numeric columns by their
        name, indicators as ``"column=level"``.
    dropped_columns_ : dict of str to str
        Design columns dropped at fit, with the reason.
    design_ : object
        The preprocessing learned at fit (medians, levels, means and scales).
    model_ : lifelines.CoxPHFitter
        The fitted Cox model; its coefficients are per standard deviation of a column.

    See Also
    --------
    lifelines.CoxPHFitter : The model underneath.
    sksurv.metrics.concordance_index_censored : Harrell's C of :meth:`predict`.

    Notes
    -----
    Durations of 0 (churn at the cutoff itself) are kept as they are: the partial
    likelihood only uses the order of durations, so no shift is needed. Survival at
    month 0 is then below 1 for everyone, as it should be when churn at time 0 happened in
    training.

    The survival curve is lifelines' Breslow estimate, a step function that moves only at
    durations seen at fit (lifelines' own ``predict_survival_function`` interpolates
    linearly between them; both agree at them). It is flat after the last duration seen
    at fit: the model knows nothing later, so it holds the last value rather than
    extrapolate. Read horizons past the training follow-up with care.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from churnml.training import survival_target
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(
    ...     {
    ...         "trend__slope__3m": rng.normal(size=300),
    ...         "profile__region": rng.choice(["north", "south", "east"], 300),
    ...     }
    ... )
    >>> days = rng.exponential(300 * np.exp(-X["trend__slope__3m"]))
    >>> y = survival_target(days < 180, np.minimum(days, 180), unit="days")
    >>> model = CoxBaseline().fit(X, y)
    >>> model.columns_.tolist()
    ['trend__slope__3m', 'profile__region=north', 'profile__region=south']
    >>> bool(model.predict(X.iloc[[0]])[0] > model.predict(X.iloc[[1]])[0])
    True
    >>> model.predict_survival_function(X.head(2), months=[0, 3, 6]).round(2)
    month  0.0   3.0   6.0
    0      1.0  0.67  0.49
    1      1.0  0.75  0.59
    >>> model.predict_expected_months(X.head(2), horizon_months=6).round(1)
    0    4.1
    1    4.5
    Name: expected_months, dtype: float64
    """

    def __init__(
        self, penalizer: float = 0.1, l1_ratio: float = 0.0, duration_unit: str | None = None
    ) -> None:
        self.penalizer = penalizer
        self.l1_ratio = l1_ratio
        self.duration_unit = duration_unit

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _check_params(self) -> None:
        if not (_is_real(self.penalizer) and 0 <= self.penalizer < np.inf):
            raise InputError(f"penalizer must be a finite number >= 0, got {self.penalizer!r}.")
        if not (_is_real(self.l1_ratio) and 0 <= self.l1_ratio <= 1):
            raise InputError(f"l1_ratio must be between 0 and 1, got {self.l1_ratio!r}.")

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> CoxBaseline:
        """Learn the preprocessing and fit the Cox model.

        Parameters
        ----------
        X : pandas.DataFrame
            Features, one row per customer and cutoff; numeric, boolean, text or
            categorical columns, missing values allowed.
        y : numpy.ndarray
            Structured array with fields ``event`` (bool, churn observed) and ``duration``
            (time from the cutoff to churn or censoring, >= 0), as made by
            ``sksurv.util.Surv.from_arrays(..., name_event="event", name_time="duration")``.

        Returns
        -------
        CoxBaseline
            The fitted estimator.

        Raises
        ------
        InputError
            If a parameter is out of range, ``X`` is not a DataFrame of usable columns or
            ``y`` is not a valid survival target for ``X``.
        """
        self._check_params()
        X = _check_frame(X)
        event, duration, unit = _check_target(y, len(X), self.duration_unit)
        design, dropped = _learn_design(X)
        data = design.transform(X)
        data[_DURATION_COLUMN] = duration
        data[_EVENT_COLUMN] = event
        model = CoxPHFitter(penalizer=self.penalizer, l1_ratio=self.l1_ratio)
        model.fit(
            data,
            duration_col=_DURATION_COLUMN,
            event_col=_EVENT_COLUMN,
            fit_options={"step_size": _NEWTON_STEP},
        )
        self.duration_unit_ = unit
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.design_ = design
        self.dropped_columns_ = dropped
        self.columns_ = np.asarray(design.mean.index, dtype=object)
        self.model_ = model
        return self

    def _design_matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self)
        X = _check_frame(X)
        expected = self.feature_names_in_.tolist()
        missing = [c for c in expected if c not in X.columns]
        unseen = [c for c in X.columns if c not in set(expected)]
        if missing or unseen:
            raise InputError(
                f"X must have the {len(expected)} feature columns seen at fit; missing "
                f"{_few(missing) or 'none'}, unseen at fit {_few(unseen) or 'none'}."
            )
        _check_numbers(X, self.design_.medians.index.tolist())
        return self.design_.transform(X[expected])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Risk score: the log partial hazard, higher means sooner churn.

        Parameters
        ----------
        X : pandas.DataFrame
            Features with the columns seen at fit, in any order.

        Returns
        -------
        numpy.ndarray
            One score per row of ``X``; 0 is the hazard of the average training row.
        """
        design = self._design_matrix(X)
        return self.model_.predict_log_partial_hazard(design).to_numpy(dtype="float64")

    def _survival(self, X: pd.DataFrame, months: np.ndarray) -> np.ndarray:
        baseline = self.model_.baseline_cumulative_hazard_.iloc[:, 0]
        times = baseline.index.to_numpy(dtype="float64")
        cumulative = np.concatenate([[0.0], baseline.to_numpy(dtype="float64")])
        # Breslow step function: the cumulative hazard at the last time <= t (0 before).
        at = convert(months, "months", self.duration_unit_) * (1 + _TIME_RTOL)
        base = cumulative[np.searchsorted(times, at, side="right")]
        log_risk = self.predict(X)
        # log(0) = -inf is meant (no hazard yet); exp overflowing to inf means S = 0.
        with np.errstate(divide="ignore", over="ignore"):
            hazard = np.exp(log_risk[:, np.newaxis] + np.log(base)[np.newaxis, :])
        return np.exp(-hazard)

    def predict_survival_function(
        self, X: pd.DataFrame, months: Sequence[float] | np.ndarray
    ) -> pd.DataFrame:
        """Probability of not having churned after each number of months.

        Parameters
        ----------
        X : pandas.DataFrame
            Features with the columns seen at fit, in any order.
        months : sequence of float
            Months after the cutoff, >= 0; fractions allowed (``90 / DAYS_PER_MONTH`` is
            90 days).

        Returns
        -------
        pandas.DataFrame
            Indexed like ``X``, one column per entry of ``months``, in the given order:
            ``S(months * period)`` in [0, 1], never rising with the month. Past the last
            duration seen at fit the curve stays flat.
        """
        values = _check_months(months)
        survival = self._survival(X, values)
        return pd.DataFrame(survival, index=X.index, columns=pd.Index(values, name="month"))

    def predict_expected_months(self, X: pd.DataFrame, horizon_months: float = 12) -> pd.Series:
        """Expected months without churn within a horizon (restricted mean survival time).

        The area under the survival curve from 0 to ``horizon_months``, by the trapezoid
        rule on a grid of ``RMST_STEP_MONTHS`` months.

        Parameters
        ----------
        X : pandas.DataFrame
            Features with the columns seen at fit, in any order.
        horizon_months : float, default 12
            End of the window, in months; > 0.

        Returns
        -------
        pandas.Series
            Indexed like ``X``, named ``expected_months``: values between 0 and
            ``horizon_months``; lower means sooner churn.
        """
        if not (_is_real(horizon_months) and 0 < horizon_months < np.inf):
            raise InputError(
                f"horizon_months must be a finite number of months > 0, got {horizon_months!r}."
            )
        grid = np.append(np.arange(0.0, horizon_months, RMST_STEP_MONTHS), horizon_months)
        survival = self._survival(X, grid)
        area = ((survival[:, 1:] + survival[:, :-1]) / 2 * np.diff(grid)).sum(axis=1)
        return pd.Series(area, index=X.index, name="expected_months")

    def score(self, X: pd.DataFrame, y: np.ndarray) -> float:
        """Harrell's C-index of :meth:`predict` against the survival target ``y``."""
        check_is_fitted(self)
        _check_target(y, len(X), self.duration_unit_)
        return harrell_c(y, self.predict(X))
