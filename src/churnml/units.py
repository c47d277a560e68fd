"""Units of time: the one month length, and durations that say what they count.

A survival target is scikit-survival's structured array of an event flag and a duration.
churnml names the duration field after its unit (``duration_days``, ``duration_months``,
``duration_years``), so a target carries its unit wherever it goes and a model or metric
reading it in another unit is an error, not a silently different number. Survival curves
carry their unit in the name of their column index (``month``, ``day``, ``year``), as
:meth:`~churnml.survival.ChurnSurvivalModel.predict_survival_function` returns them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from churnml.errors import InputError

__all__ = [
    "DAYS_PER_MONTH",
    "TIME_UNITS",
    "axis_unit",
    "check_unit",
    "convert",
    "duration_field",
    "in_months",
    "resolve_unit",
    "survival_arrays",
    "target_unit",
]

DAYS_PER_MONTH = 365.25 / 12
"""The mean length of a Gregorian month in days (30.4375): churnml's one month."""

# How many months one of each unit is.
TIME_UNITS: dict[str, float] = {"days": 1 / DAYS_PER_MONTH, "months": 1.0, "years": 12.0}
# The singular names a curve's column index carries (``month`` for the models' curves).
_AXIS_NAMES = {"day": "days", "month": "months", "year": "years"}
_FIELD_PREFIX = "duration_"


def check_unit(unit: Any, *, what: str = "duration_unit") -> str:
    """``unit`` if it is one of :data:`TIME_UNITS`, else an :class:`InputError`."""
    if unit not in TIME_UNITS:
        raise InputError(f"{what} must be one of {sorted(TIME_UNITS)}, got {unit!r}")
    return str(unit)


def duration_field(unit: str) -> str:
    """The structured target's duration field for ``unit``: ``duration_<unit>``.

    Examples
    --------
    >>> duration_field("months")
    'duration_months'
    """
    return _FIELD_PREFIX + check_unit(unit)


def target_unit(y: Any, *, name: str = "y") -> str | None:
    """The unit a structured survival target declares in its duration field's name.

    Returns None for a target whose second field names no unit (e.g. scikit-survival's
    ``Surv.from_arrays(event, time)``, field ``time``).

    Examples
    --------
    >>> from churnml.training import survival_target
    >>> target_unit(survival_target([True], [3.0], unit="months"))
    'months'
    """
    fields = tuple(getattr(getattr(y, "dtype", None), "names", None) or ())
    if len(fields) != 2:
        raise InputError(
            f"{name} must be a structured array of (event, duration), as "
            "churnml.training.survival_target makes it"
        )
    field = fields[1]
    if field.startswith(_FIELD_PREFIX):
        return check_unit(field[len(_FIELD_PREFIX) :], what=f"{name}'s duration field {field!r}")
    return None


def resolve_unit(y: Any, given: str | None, *, name: str = "y", owner: str = "the model") -> str:
    """The unit of ``y``'s durations: the one it declares, or ``given``; both must agree.

    A target that declares no unit needs ``given``; one that declares a unit other than
    ``given`` is an error, so days are never read as months.
    """
    declared = target_unit(y, name=name)
    if given is not None:
        check_unit(given)
    if declared is None and given is None:
        raise InputError(
            f"{name}'s durations say no unit (field {y.dtype.names[1]!r}): build it with "
            "churnml.training.survival_target(event, duration, unit=...) or give "
            f"{owner} duration_unit='days', 'months' or 'years'"
        )
    if declared is not None and given is not None and declared != given:
        raise InputError(
            f"{name}'s durations are in {declared} (field {y.dtype.names[1]!r}) but "
            f"{owner} was given duration_unit={given!r}"
        )
    return str(declared or given)


def axis_unit(index: Any) -> str | None:
    """The unit a curve's time columns name (``month``, ``day``, ``year``), else None.

    Examples
    --------
    >>> import pandas as pd
    >>> axis_unit(pd.Index([1.0, 3.0], name="month")), axis_unit(pd.Index([1.0]))
    ('months', None)
    """
    name = getattr(index, "name", None)
    if not isinstance(name, str):
        return None
    unit = _AXIS_NAMES.get(name, name)
    return unit if unit in TIME_UNITS else None


def in_months(values: Any, unit: str) -> np.ndarray:
    """``values`` (durations in ``unit``) in months.

    Examples
    --------
    >>> in_months([365.25, 0.0], "days").tolist()
    [12.0, 0.0]
    """
    return np.asarray(values, dtype="float64") * TIME_UNITS[check_unit(unit)]


def convert(values: Any, source: str, target: str) -> np.ndarray:
    """Durations in ``source`` units expressed in ``target`` units."""
    return in_months(values, source) / TIME_UNITS[check_unit(target)]


def survival_arrays(
    y: Any, n_rows: int, *, unit: str | None = None, name: str = "y", owner: str = "the model"
) -> tuple[np.ndarray, np.ndarray, str]:
    """``(event, duration, unit)`` of a structured survival target, checked.

    Any two-field structured array is taken, event first (scikit-survival's convention,
    whatever the field names); the unit is the one the target declares or ``unit``.
    """
    found = resolve_unit(y, unit, name=name, owner=owner)
    event_field, duration_field_ = y.dtype.names
    event = np.asarray(y[event_field]).astype(bool)
    duration = np.asarray(y[duration_field_], dtype="float64")
    if len(event) != n_rows:
        raise InputError(f"{name} has {len(event)} rows but X has {n_rows}")
    bad = ~np.isfinite(duration) | (duration < 0)
    if bad.any():
        raise InputError(
            f"{name}: {int(bad.sum())} durations are missing, infinite or negative, e.g. rows "
            f"{np.flatnonzero(bad)[:5].tolist()}; durations count the time from the cutoff"
        )
    return event, duration, found
