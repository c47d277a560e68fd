"""Cutoffs and what is known at them: the one definition of point-in-time.

A row dated on or before a cutoff is known at the cutoff; nothing later is. For the
dated facts inside rows that are known (an account opened before the cutoff but closed
after it, a complaint resolved after it) the later fact is hidden: the account was open at
the cutoff, the complaint unresolved. :func:`as_of` is the reference implementation of that
rule; the batched feature engine implements the same rule for many cutoffs at once, and the
tests prove both agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from churnml.errors import InputError
from churnml.tables import Tables

__all__ = ["Horizon", "as_cutoffs", "as_of", "check_within_data", "month_end_cutoffs"]


def as_cutoffs(cutoffs: Any) -> pd.DatetimeIndex:
    """Turn one date or many into sorted, unique cutoffs at midnight.

    Parameters
    ----------
    cutoffs : date-like or iterable of date-like
        Explicit dates; there is no implicit "now".

    Returns
    -------
    pandas.DatetimeIndex
        Sorted unique cutoffs, named ``cutoff``.

    Examples
    --------
    >>> as_cutoffs(["2024-03-31", "2024-01-31", "2024-03-31"]).strftime("%Y-%m-%d").tolist()
    ['2024-01-31', '2024-03-31']
    """
    if cutoffs is None:
        raise InputError("cutoffs are required: pass one date or a list of dates")
    values = [cutoffs] if isinstance(cutoffs, str) or not isinstance(cutoffs, Iterable) else cutoffs
    try:
        index = pd.DatetimeIndex(pd.to_datetime(list(values), format="mixed"))
    except (ValueError, TypeError) as error:
        raise InputError(f"cutoffs must be dates, got {cutoffs!r}: {error}") from None
    if len(index) == 0 or index.hasnans:
        raise InputError(f"cutoffs must be one or more dates, got {cutoffs!r}")
    if index.tz is not None:
        index = index.tz_localize(None)
    return pd.DatetimeIndex(index.normalize().unique().sort_values(), name="cutoff")


def month_end_cutoffs(start: Any, end: Any) -> pd.DatetimeIndex:
    """Month-end cutoffs from ``start`` to ``end``, both inclusive.

    Examples
    --------
    >>> month_end_cutoffs("2024-01-15", "2024-03-31").strftime("%Y-%m-%d").tolist()
    ['2024-01-31', '2024-02-29', '2024-03-31']
    """
    return as_cutoffs(pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="ME"))


@dataclass(frozen=True)
class Horizon:
    """How far after a cutoff a label looks: a number of days or of month ends.

    A label for horizon H is churn in ``(cutoff, end(cutoff)]``. With ``days``, the end is
    ``cutoff + days``. With ``months`` (contract v1.1), the end is the month end ``months``
    calendar months after the cutoff's month, so after a month-end cutoff the window holds
    exactly ``months`` month ends, and as many partial-churn dates, whatever the calendar.

    Parameters
    ----------
    days : int, optional
    months : int, optional
        Exactly one of the two, a whole number of at least 1.

    Examples
    --------
    >>> Horizon(months=3).end(["2024-01-31", "2024-11-15"]).strftime("%Y-%m-%d").tolist()
    ['2024-04-30', '2025-02-28']
    >>> str(Horizon(days=90)), Horizon.of(horizon_months=3).to_dict()
    ('90 days', {'days': None, 'months': 3})
    """

    days: int | None = None
    months: int | None = None

    def __post_init__(self) -> None:
        given = [value for value in (self.days, self.months) if value is not None]
        if len(given) != 1:
            raise InputError(
                "give the horizon in days or in months, exactly one of them; got "
                f"days={self.days!r}, months={self.months!r}"
            )
        (value,) = given
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            unit = "days" if self.days is not None else "months"
            raise InputError(f"horizon {unit} must be a whole number of at least 1, got {value!r}")

    @classmethod
    def of(cls, horizon_days: int | None = None, horizon_months: int | None = None) -> Horizon:
        """The horizon of a function's ``horizon_days`` / ``horizon_months`` arguments.

        Neither given means the contract's default, 90 days.
        """
        if horizon_days is None and horizon_months is None:
            return cls(days=DEFAULT_HORIZON_DAYS)
        return cls(days=horizon_days, months=horizon_months)

    def end(self, cutoffs: Any) -> pd.DatetimeIndex:
        """The last day of the horizon after each cutoff (the cutoffs in the given order)."""
        index = pd.DatetimeIndex(pd.to_datetime(cutoffs))
        if self.days is not None:
            return index + pd.Timedelta(days=self.days)
        months = index.to_period("M") + int(self.months or 0)
        return months.to_timestamp(how="end").normalize()

    @property
    def max_days(self) -> int:
        """The longest the horizon can be in days (31 a month for a month horizon)."""
        return int(self.days) if self.days is not None else 31 * int(self.months or 0)

    def to_dict(self) -> dict[str, int | None]:
        """Plain dict (MLflow params, config files); ``Horizon(**d)`` rebuilds it."""
        return {"days": self.days, "months": self.months}

    def __str__(self) -> str:
        return f"{self.days} days" if self.days is not None else f"{self.months} months"


DEFAULT_HORIZON_DAYS = 90
"""The contract's default horizon (``--horizon-days 90``)."""


def check_within_data(cutoffs: pd.DatetimeIndex, tables: Tables) -> None:
    """Raise when a cutoff lies after the last date in the tables (nothing is known there).

    A cutoff at the end of the data is allowed: its population and features are known, its
    labels are not yet (the training set leaves those rows out of the classifier's target).
    """
    end = tables.observed_until
    late = cutoffs[cutoffs > end] if pd.notna(end) else cutoffs
    if len(late):
        shown = ", ".join(str(c.date()) for c in late[:5])
        last = end.date() if pd.notna(end) else "no dates"
        raise InputError(
            f"cutoffs {shown} lie after the end of the data ({last}): the tables know nothing "
            "after their latest date; choose cutoffs on or before it"
        )


def as_of(tables: Tables, cutoff: Any) -> Tables:
    """The bank's tables exactly as they were known at ``cutoff``.

    Rows dated after the cutoff are dropped; closures and resolutions dated after it are
    hidden (the account was still open, the complaint still unresolved).

    Parameters
    ----------
    tables : Tables
        Validated tables.
    cutoff : date-like
        The cutoff.

    Returns
    -------
    Tables
        A new :class:`Tables`; the input is not modified.
    """
    (c,) = as_cutoffs(cutoff)
    customers = tables.customers[tables.customers["join_date"] <= c]
    known = customers["customer_id"]

    accounts = tables.accounts[
        (tables.accounts["open_date"] <= c) & tables.accounts["customer_id"].isin(known)
    ].copy()
    closed_later = accounts["close_date"] > c
    accounts.loc[closed_later, "close_date"] = pd.NaT
    accounts.loc[closed_later, "close_reason"] = None

    def known_rows(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[(frame["date"] <= c) & frame["customer_id"].isin(known)]

    complaints = None
    if tables.complaints is not None:
        complaints = known_rows(tables.complaints).copy()
        complaints.loc[complaints["resolved_date"] > c, "resolved_date"] = pd.NaT
    return replace(
        tables,
        customers=customers,
        accounts=accounts,
        balances=known_rows(tables.balances),
        transactions=None if tables.transactions is None else known_rows(tables.transactions),
        complaints=complaints,
    )
