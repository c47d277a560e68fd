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
from dataclasses import replace
from typing import Any

import pandas as pd

from churnml.errors import InputError
from churnml.tables import Tables

__all__ = ["as_cutoffs", "as_of", "month_end_cutoffs"]


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
