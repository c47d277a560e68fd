"""Training sets and honest validation: the seam between the data layer and the models.

A :class:`TrainingSet` is one table keyed by ``(customer_id, cutoff)``: the features known
at each cutoff (``X``) and the labels of what happened after it (``labels``). From it come
the classifier's target (churn within the horizon, on rows whose horizon was followed up)
and the survival target (scikit-survival's structured array of ``event`` and a duration
named after its unit, ``duration_days`` for bank tables, on every row with any follow-up).

The classifier's labels carry their horizon (``y.attrs["horizon"]``), so the models and
:class:`TemporalSplitter` keep every training label's horizon before the rows they validate
on without the user repeating it: a training row is used only when ``cutoff + horizon`` is
on or before the validation cutoff. Within a fold the validation customers are kept out of
training altogether.

Flat tables (one row per customer, a label and optionally a duration such as tenure) enter
through :meth:`TrainingSet.from_frame` and train the same models.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sksurv.util import Surv

from churnml.errors import InputError, SchemaError
from churnml.features import build_features
from churnml.features._engine import KEY, FeatureConfig
from churnml.labels import OUTCOME_COLUMNS, ChurnDefinition, label_churn
from churnml.leakage import check_leakage
from churnml.schemas import example_rows
from churnml.splitting import (
    HORIZON_ATTR,
    TemporalSplitter,
    horizon_of,
    row_cutoffs,
    temporal_holdout,
)
from churnml.tables import TableSource, load_tables
from churnml.timeline import Horizon, as_cutoffs
from churnml.units import check_unit, duration_field

__all__ = [
    "KEY",
    "TemporalSplitter",
    "TrainingSet",
    "check_no_keys_or_outcomes",
    "horizon_of",
    "row_cutoffs",
    "survival_target",
    "temporal_holdout",
    "training_set",
]

FLAT_TABLE = "training table"


def survival_target(event: Any, duration: Any, *, unit: str) -> np.ndarray:
    """scikit-survival's structured target: ``event`` (bool) and ``duration_<unit>``.

    The duration field is named after its unit, so the target says what it counts wherever
    it goes (:mod:`churnml.units`).

    Examples
    --------
    >>> y = survival_target([True, False], [30, 365], unit="days")
    >>> y.dtype.names, y["duration_days"].tolist()
    (('event', 'duration_days'), [30.0, 365.0])
    """
    return Surv.from_arrays(
        np.asarray(event, dtype=bool),
        np.asarray(duration, dtype="float64"),
        name_event="event",
        name_time=duration_field(unit),
    )


def check_no_keys_or_outcomes(X: pd.DataFrame, table: str) -> None:
    """The key belongs in the index, the outcome nowhere in the features."""
    keys = [name for name in KEY if name in X.columns]
    if keys:
        raise InputError(
            f"{table} has {keys} as columns: they are the row key, not features; set them "
            f"as the index, e.g. {table}.set_index({list(KEY)})"
        )
    outcomes = [name for name in OUTCOME_COLUMNS if name in X.columns]
    if outcomes:
        raise InputError(
            f"{table} holds label columns {outcomes[:5]}: they tell what happened after the "
            "cutoff and would leak the future into the model; drop them from the features"
        )


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """Features and labels of the same rows, ready for the models.

    Attributes
    ----------
    X : pandas.DataFrame
        Features, indexed by ``(customer_id, cutoff)`` for bank tables or by the flat
        table's id; numeric columns and text (category) columns.
    labels : pandas.DataFrame
        Indexed like ``X``: ``event`` (churn within the horizon), ``observed`` (churn ever
        seen), ``duration`` (time to churn or end of follow-up, in ``duration_unit``),
        ``horizon_observed`` (the horizon label is known); bank training sets carry the
        other columns of :func:`~churnml.labels.label_churn` besides.
    horizon : Horizon or None
        The classifier's horizon; None for a flat table, whose label has none.
    duration_unit : {"days", "months", "years"} or None
        The unit of ``labels["duration"]``: days for bank tables; None for a flat table
        without a duration.
    """

    X: pd.DataFrame
    labels: pd.DataFrame
    horizon: Horizon | None
    duration_unit: str | None = "days"

    def __repr__(self) -> str:
        rows, features = self.X.shape
        known = self.labels["horizon_observed"].to_numpy(dtype=bool)
        rate = (
            float(self.labels["event"].to_numpy(dtype=bool)[known].mean()) if known.any() else 0.0
        )
        cutoffs = self.cutoffs
        span = (
            f"{len(cutoffs)} cutoffs {cutoffs.min().date()}..{cutoffs.max().date()}, "
            if len(cutoffs)
            else ""
        )
        horizon = f"horizon {self.horizon}, " if self.horizon is not None else ""
        return (
            f"TrainingSet({rows:,} rows x {features} features, {span}{horizon}"
            f"churn rate {rate:.2%} on {int(known.sum()):,} labelled rows)"
        )

    def _replace(self, X: pd.DataFrame, labels: pd.DataFrame) -> TrainingSet:
        return TrainingSet(X, labels, self.horizon, self.duration_unit)

    def rows(self, positions: Any) -> TrainingSet:
        """The training set of the rows at ``positions`` (as a splitter yields them)."""
        return self._replace(self.X.iloc[positions], self.labels.iloc[positions])

    def classification(self) -> tuple[pd.DataFrame, pd.Series]:
        """``(X, y)`` on rows whose horizon label is known, ``y`` = churn within it.

        ``y.attrs["horizon"]`` carries the horizon, so the classifier's holdout and
        :class:`TemporalSplitter` keep every training horizon before what they validate on.
        """
        known = self.labels["horizon_observed"].to_numpy(dtype=bool)
        y = self.labels.loc[known, "event"].astype(bool)
        if self.horizon is not None:
            y.attrs[HORIZON_ATTR] = self.horizon
        return self.X.loc[known], y

    def survival(self) -> tuple[pd.DataFrame, np.ndarray]:
        """``(X, y)`` on rows with any follow-up; ``y`` as :func:`survival_target`.

        A row censored at duration 0 (no follow-up at all, e.g. a flat table's stayer with
        tenure 0) says nothing and is left out; a churn at duration 0 is kept.
        """
        durations = self.labels["duration"].to_numpy()
        followed = (durations > 0) | (
            (durations == 0) & self.labels["observed"].to_numpy(dtype=bool)
        )
        if self.duration_unit is None:
            raise InputError(
                "this training set has no durations; for a flat table give "
                "TrainingSet.from_frame a duration column and its duration_unit"
            )
        rows = self.labels.loc[followed]
        target = survival_target(rows["observed"], rows["duration"], unit=self.duration_unit)
        return self.X.loc[followed], target

    @property
    def cutoffs(self) -> pd.DatetimeIndex:
        """The cutoffs of the rows, sorted; empty for a flat table."""
        if "cutoff" not in self.X.index.names:
            return pd.DatetimeIndex([], name="cutoff")
        return as_cutoffs(self.X.index.unique("cutoff")) if len(self.X) else pd.DatetimeIndex([])

    def at(self, cutoffs: Any) -> TrainingSet:
        """The rows at the given cutoffs."""
        wanted = as_cutoffs(cutoffs)
        rows = row_cutoffs(self.X).isin(wanted)
        return self._replace(self.X.loc[rows], self.labels.loc[rows])

    def until(self, cutoff: Any) -> TrainingSet:
        """The training set as it was known at ``cutoff``.

        Rows whose horizon ends on or before ``cutoff`` (so their horizon label is known
        then), with the survival follow-up cut at ``cutoff``: churn after it is not yet
        seen. Learn from this, validate on ``cutoff``, and nothing from the validation
        period reaches the model.

        Examples
        --------
        >>> index = pd.MultiIndex.from_tuples(
        ...     [(1, pd.Timestamp("2024-01-31")), (1, pd.Timestamp("2024-06-30"))],
        ...     names=KEY,
        ... )
        >>> labels = pd.DataFrame(
        ...     {"event": False, "observed": True, "duration": [200.0, 50.0],
        ...      "horizon_observed": True},
        ...     index=index,
        ... )
        >>> data = TrainingSet(
        ...     pd.DataFrame({"x": [1.0, 2.0]}, index=index), labels, Horizon(days=90)
        ... )
        >>> known = data.until("2024-06-30").labels
        >>> known[["observed", "duration"]].values.tolist()
        [[False, 151.0]]
        """
        if self.horizon is None:
            raise InputError("until() needs cutoffs and a horizon; a flat table has neither")
        end = as_cutoffs(cutoff)[0]
        cutoffs = row_cutoffs(self.X)
        rows = np.asarray(self.horizon.end(cutoffs) <= end)
        labels = self.labels.loc[rows].copy()
        known = np.asarray((end - cutoffs[rows]).days, dtype="float64")
        duration = labels["duration"].to_numpy(dtype="float64")
        labels["observed"] = labels["observed"].to_numpy(dtype=bool) & (duration <= known)
        labels["duration"] = np.minimum(duration, known)
        return self._replace(self.X.loc[rows], labels)

    def folds(self, splitter: TemporalSplitter) -> Iterator[tuple[TrainingSet, TrainingSet]]:
        """``(learn, validate)`` training sets of each fold of ``splitter``.

        The learning side is cut as :meth:`until` the fold's first validation cutoff, so
        survival targets are honest too (sklearn's ``cross_validate`` would pass the full
        follow-up of the training rows).
        """
        splits = (
            splitter.split_horizon(self.X, self.horizon)
            if isinstance(splitter, TemporalSplitter)
            else splitter.split(self.X)
        )
        for learn, valid in splits:
            first = row_cutoffs(self.X.iloc[valid]).min()
            part = self.rows(learn)
            yield (part.until(first) if self.horizon is not None else part, self.rows(valid))

    @classmethod
    def join(cls, labels: pd.DataFrame, features: pd.DataFrame, *, horizon: Horizon) -> TrainingSet:
        """A training set from the outputs of ``label_churn`` and ``build_features``.

        Both must come from the same tables, cutoffs and churn definition, and ``horizon``
        must be the one the labels were made with.
        """
        if not labels[KEY].equals(features[KEY]):
            raise InputError(
                "labels and features must cover the same (customer_id, cutoff) rows in the "
                "same order: build both from the same tables, cutoffs and churn definition"
            )
        index = pd.MultiIndex.from_frame(features[KEY])
        X = features.drop(columns=KEY).set_axis(index)
        check_no_keys_or_outcomes(X, "features")
        rows = labels.drop(columns=KEY).set_axis(index)
        rows = rows.rename(columns={"duration_days": "duration"}).astype({"duration": "float64"})
        return cls(X, rows, horizon, "days")

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        label: str,
        duration: str | None = None,
        duration_unit: str | None = None,
        id_column: str | None = None,
        drop: Sequence[str] = (),
        check: bool = True,
    ) -> TrainingSet:
        """A training set from a flat table: one row per customer, features and a label.

        Parameters
        ----------
        frame : pandas.DataFrame
            Features, the label and optionally a duration and an id.
        label : str
            Binary label column (1 / True = churned).
        duration : str, optional
            Time to churn for churners and follow-up time for the others (e.g. tenure);
            gives the survival target. Without it ``survival()`` has nothing to learn.
        duration_unit : {"days", "months", "years"}
            What ``duration`` counts; required with it (tenure is often in months or years,
            and reading it as days would shrink every curve).
        id_column : str, optional
            Customer id; becomes the index.
        drop : sequence of str
            Columns that are not features (row numbers, names).
        check : bool, default True
            Run :func:`~churnml.leakage.check_leakage` and warn about leaking features.

        Examples
        --------
        >>> frame = pd.DataFrame(
        ...     {"id": [1, 2, 3, 4], "age": [30, 41, 52, 63], "left": [0, 1, 0, 1],
        ...      "tenure": [5, 2, 7, 1]}
        ... )
        >>> data = TrainingSet.from_frame(
        ...     frame, label="left", duration="tenure", duration_unit="years", id_column="id"
        ... )
        >>> X, y = data.classification()
        >>> X.columns.tolist(), y.tolist()
        (['age'], [False, True, False, True])
        >>> data.survival()[1].dtype.names
        ('event', 'duration_years')
        """
        unit = _flat_duration_unit(duration, duration_unit)
        named = [label, *([duration] if duration else []), *([id_column] if id_column else [])]
        missing = [name for name in [*named, *drop] if name not in frame.columns]
        if missing:
            raise SchemaError(
                FLAT_TABLE, missing[0], f"no such column; columns are {list(frame.columns)}"
            )
        event = _binary_label(frame, label)
        durations = _flat_duration(frame, duration)
        features = frame.drop(columns=[*named, *drop])
        if id_column:
            features.index = pd.Index(frame[id_column].to_numpy(), name=id_column)
        labels = pd.DataFrame(
            {
                "event": event,
                "observed": event,
                "duration": durations,
                "horizon_observed": True,
            },
            index=features.index,
        )
        if check:
            check_leakage(features, event, duration=None if duration is None else durations)
        return cls(features, labels, None, unit)


def _flat_duration_unit(duration: str | None, unit: str | None) -> str | None:
    if duration is None:
        if unit is not None:
            raise InputError(f"duration_unit={unit!r} was given without a duration column")
        return None
    if unit is None:
        raise InputError(
            f"say what the duration column {duration!r} counts: duration_unit='days', "
            "'months' or 'years' (tenure is often years or months; read as days it would "
            "shrink every survival curve)"
        )
    return check_unit(unit)


def training_set(
    tables: TableSource,
    *,
    cutoffs: Any,
    horizon_days: int | None = None,
    horizon_months: int | None = None,
    definition: ChurnDefinition | None = None,
    config: FeatureConfig | None = None,
    check: bool = True,
) -> TrainingSet:
    """Features and labels of every customer in the population at each cutoff.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables.
    cutoffs : date-like or list of date-like
        Cutoffs, e.g. month-ends (:func:`~churnml.timeline.month_end_cutoffs`).
    horizon_days : int, optional
        The classifier's label is churn in ``(cutoff, cutoff + horizon_days]``.
    horizon_months : int, optional
        Instead of days: churn up to the month end that many months after the cutoff's
        month (:class:`~churnml.timeline.Horizon`). Neither given: 90 days.
    definition : ChurnDefinition, optional
        Which churn counts; decides both the population and the labels.
    config : FeatureConfig, optional
        Feature windows and thresholds.
    check : bool, default True
        Run :func:`~churnml.leakage.check_leakage` on the classification rows.

    Returns
    -------
    TrainingSet

    Examples
    --------
    >>> from churnml.datasets import make_bank
    >>> bank = make_bank(n_customers=200, months=18, seed=1)
    >>> data = training_set(bank.tables, cutoffs=["2022-09-30", "2022-12-31"], check=False)
    >>> data.X.index.names, str(data.horizon)
    (FrozenList(['customer_id', 'cutoff']), '90 days')
    """
    horizon = Horizon.of(horizon_days, horizon_months)
    tables = load_tables(tables)
    cutoffs = as_cutoffs(cutoffs)
    labels = label_churn(
        tables,
        cutoffs=cutoffs,
        horizon_days=horizon.days,
        horizon_months=horizon.months,
        definition=definition,
    )
    features = build_features(tables, cutoffs=cutoffs, definition=definition, config=config)
    data = TrainingSet.join(labels, features, horizon=horizon)
    if check:
        X_known, y_known = data.classification()
        if y_known.nunique() == 2:
            known = data.labels["horizon_observed"].to_numpy(dtype=bool)
            duration = data.labels["duration"].to_numpy()[known]
            check_leakage(X_known, y_known.to_numpy(), duration=duration)
    return data


def _binary_label(frame: pd.DataFrame, label: str) -> np.ndarray:
    values = frame[label]
    valid = values.isin([0, 1, True, False]) & values.notna()
    if not valid.all():
        raise SchemaError(
            FLAT_TABLE,
            label,
            f"{int((~valid).sum())} rows have a label that is not 0/1 or True/False",
            example_rows(frame, ~valid),
        )
    return values.astype(bool).to_numpy()


def _flat_duration(frame: pd.DataFrame, duration: str | None) -> np.ndarray:
    if duration is None:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[duration], errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        raise SchemaError(
            FLAT_TABLE,
            duration,
            f"{int(bad.sum())} rows have a duration that is missing, not a number or negative",
            example_rows(frame, bad),
        )
    return values.to_numpy(dtype="float64")
