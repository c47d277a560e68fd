"""Monthly average balances as a customers x months matrix.

The contract defines a month's average balance as the mean of that month's snapshots (per
customer, summed over products first). Labels (partial churn, value tiers) and the balance
features all read this one matrix, so the definition lives here once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["MonthlyBalances", "balance_window", "monthly_balances", "row_mean"]


@dataclass(frozen=True)
class MonthlyBalances:
    """Monthly average balances, one row per customer and one column per calendar month.

    Attributes
    ----------
    customers : pandas.Index
        Customer ids, sorted; row labels of ``values``.
    months : pandas.PeriodIndex
        Consecutive calendar months; column labels of ``values``.
    values : numpy.ndarray
        Mean of the month's snapshots; NaN where a customer has no snapshot that month.
    """

    customers: pd.Index
    months: pd.PeriodIndex
    values: np.ndarray

    def column_of(self, month: pd.Period) -> int:
        """Position of ``month`` in :attr:`months` (may be out of range)."""
        return int((month - self.months[0]).n)

    def window(self, rows: np.ndarray, last_month: pd.Period, length: int) -> np.ndarray:
        """The ``length`` months ending with ``last_month`` for the given row positions.

        Months before the matrix's first month come back as NaN, so every cutoff gets a
        window of the same shape.
        """
        last = self.column_of(last_month)
        first = last - length + 1
        out = np.full((len(rows), length), np.nan)
        lo, hi = max(first, 0), min(last + 1, self.values.shape[1])
        if hi > lo:
            out[:, lo - first : hi - first] = self.values[np.ix_(rows, np.arange(lo, hi))]
        return out


def monthly_balances(
    balances: pd.DataFrame, *, until: pd.Timestamp | None = None
) -> MonthlyBalances:
    """Monthly average balances from the contract's ``balances`` table.

    Parameters
    ----------
    balances : pandas.DataFrame
        Normalised ``balances`` table.
    until : pandas.Timestamp, optional
        Use only snapshots dated on or before this day (the last month may be partial).

    Returns
    -------
    MonthlyBalances

    Examples
    --------
    >>> import pandas as pd
    >>> snaps = pd.DataFrame({"customer_id": [1, 1, 1],
    ...                       "date": pd.to_datetime(["2024-01-15", "2024-01-31", "2024-03-31"]),
    ...                       "balance": [100.0, 300.0, 50.0]})
    >>> mb = monthly_balances(snaps)
    >>> mb.values.tolist()
    [[200.0, nan, 50.0]]
    """
    if until is not None:
        balances = balances[balances["date"] <= until]
    if balances.empty:
        return MonthlyBalances(
            pd.Index([], name="customer_id"),
            pd.period_range("2000-01", periods=0, freq="M"),
            np.empty((0, 0)),
        )
    # A customer's balance at a date is the sum over products; the month's average is the
    # mean of those daily totals.
    daily = balances.groupby(["customer_id", "date"], sort=False, observed=True)["balance"].sum()
    customer_codes, customers = pd.factorize(daily.index.get_level_values(0), sort=True)
    dates = pd.DatetimeIndex(daily.index.get_level_values(1))
    month_numbers = (dates.year * 12 + dates.month - 1).to_numpy()
    first_month = int(month_numbers.min())
    n_months = int(month_numbers.max()) - first_month + 1
    cells = customer_codes.astype(np.int64) * n_months + (month_numbers - first_month)
    size = len(customers) * n_months
    sums = np.bincount(cells, weights=daily.to_numpy(dtype=float), minlength=size)
    counts = np.bincount(cells, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    start = pd.Period(year=first_month // 12, month=first_month % 12 + 1, freq="M")
    return MonthlyBalances(
        pd.Index(customers, name="customer_id"),
        pd.period_range(start, periods=n_months, freq="M"),
        values.reshape(len(customers), n_months),
    )


def balance_window(
    balances: pd.DataFrame,
    monthly: MonthlyBalances,
    customer_ids: pd.Series | pd.Index,
    cutoff: pd.Timestamp,
    length: int,
) -> np.ndarray:
    """Monthly averages of the ``length`` months up to the cutoff's, as known at the cutoff.

    Earlier months are complete at the cutoff; the cutoff's own month counts only the
    snapshots dated on or before the cutoff.

    Parameters
    ----------
    balances : pandas.DataFrame
        Normalised ``balances`` table (used for the cutoff's partial month).
    monthly : MonthlyBalances
        ``monthly_balances(balances)``, computed once for many cutoffs.
    customer_ids : pandas.Series or pandas.Index
        Rows of the result, in this order; customers without balances get NaN.
    cutoff : pandas.Timestamp
        The cutoff.
    length : int
        Number of months, the cutoff's month last.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(customer_ids), length)``.
    """
    rows = monthly.customers.get_indexer(pd.Index(customer_ids))
    window = np.full((len(rows), length), np.nan)
    if len(monthly.months):
        window = monthly.window(np.maximum(rows, 0), cutoff.to_period("M"), length)
        window[rows < 0] = np.nan
    if cutoff != cutoff + pd.offsets.MonthEnd(0):
        month_start = cutoff - pd.offsets.MonthBegin(1) if cutoff.day > 1 else cutoff
        so_far = balances[(balances["date"] >= month_start) & (balances["date"] <= cutoff)]
        partial = monthly_balances(so_far)
        current = partial.customers.get_indexer(pd.Index(customer_ids))
        window[:, -1] = np.where(
            current >= 0,
            partial.values[np.maximum(current, 0), -1] if partial.values.size else np.nan,
            np.nan,
        )
    return window


def row_mean(values: np.ndarray) -> np.ndarray:
    """Mean of each row over its non-missing cells; NaN for a row with none."""
    present = ~np.isnan(values)
    counts = present.sum(axis=1)
    sums = np.where(present, values, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
