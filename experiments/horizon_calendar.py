"""Churn rate by calendar month of the cutoff: a 90-day horizon against a 3-month one.

Partial churn is dated at month ends, so a 90-day window after a month-end cutoff holds two
partial-churn dates for some cutoffs and three for others, and the positive rate follows the
calendar; a 3-month horizon holds three month ends after every month-end cutoff. Prints the
markdown table of docs/labels.md:

    .venv/bin/python experiments/horizon_calendar.py
"""

from __future__ import annotations

import pandas as pd

from churnml.datasets import make_bank
from churnml.labels import label_churn
from churnml.timeline import Horizon, month_end_cutoffs

BANK = {"n_customers": 20_000, "months": 48, "seed": 7}
HORIZONS = {"90 days": Horizon(days=90), "3 months": Horizon(months=3)}


def main() -> None:
    bank = make_bank(**BANK)
    end = bank.tables.observed_until
    month_ends = month_end_cutoffs("2023-01-31", end)
    rows = {}
    for name, horizon in HORIZONS.items():
        cutoffs = month_ends[Horizon(days=92).end(month_ends) <= end]
        labels = label_churn(
            bank.tables, cutoffs=cutoffs, horizon_days=horizon.days, horizon_months=horizon.months
        )
        known = labels[labels["horizon_observed"]]
        month_ends_inside = [
            int(((month_ends > c) & (month_ends <= horizon.end([c])[0])).sum()) for c in cutoffs
        ]
        by_cutoff = known.groupby("cutoff")["event"].mean()
        table = pd.DataFrame(
            {"rate": by_cutoff, "month ends": pd.Series(month_ends_inside, index=cutoffs)}
        )
        rows[name] = table.groupby(table.index.month).agg({"rate": "mean", "month ends": "max"})
    print(
        f"`make_bank({', '.join(f'{k}={v:_}' for k, v in BANK.items())})`, cutoffs "
        f"{month_ends[0].date()} .. (every month end whose 92-day window ends by {end.date()})\n"
    )
    print(
        "| cutoff month | 90 days: churn rate | month ends in window | 3 months: churn rate "
        "| month ends in window |"
    )
    print("|---|---|---|---|---|")
    days, months = rows["90 days"], rows["3 months"]
    for month in days.index:
        print(
            f"| {pd.Timestamp(2000, month, 1):%b} | {days.loc[month, 'rate']:.2%} | "
            f"{int(days.loc[month, 'month ends'])} | {months.loc[month, 'rate']:.2%} | "
            f"{int(months.loc[month, 'month ends'])} |"
        )
    for name, table in rows.items():
        spread = table["rate"].max() / table["rate"].min()
        print(f"\n{name}: highest month's rate / lowest month's = {spread:.2f}")


if __name__ == "__main__":
    main()
