"""Cutoffs and the reference point-in-time rule."""

from __future__ import annotations

import pandas as pd
import pytest

from churnml import load_tables
from churnml.errors import ChurnMLError
from churnml.timeline import as_cutoffs, as_of, month_end_cutoffs


def test_cutoffs_are_sorted_unique_midnights():
    cutoffs = as_cutoffs(["2024-02-01 13:00", "2024-01-31", "2024-02-01"])
    assert cutoffs.tolist() == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-01")]
    assert as_cutoffs("2024-01-31").tolist() == [pd.Timestamp("2024-01-31")]


@pytest.mark.parametrize("bad", [None, [], ["not a date"], [None]])
def test_bad_cutoffs_are_clear_errors(bad):
    with pytest.raises(ChurnMLError, match="cutoffs"):
        as_cutoffs(bad)


def test_month_end_cutoffs():
    assert month_end_cutoffs("2024-01-01", "2024-03-30").strftime("%m-%d").tolist() == [
        "01-31",
        "02-29",
    ]


def test_as_of_hides_later_facts(small_bank):
    tables = load_tables(small_bank)
    cutoff = pd.Timestamp("2023-03-31")
    known = as_of(tables, cutoff)
    assert (known.customers["join_date"] <= cutoff).all()
    assert (known.accounts["open_date"] <= cutoff).all()
    assert (known.accounts["close_date"].dropna() <= cutoff).all()
    assert known.accounts.loc[known.accounts["close_date"].isna(), "close_reason"].isna().all()
    assert (known.balances["date"] <= cutoff).all()
    assert (known.transactions["date"] <= cutoff).all()
    assert (known.complaints["resolved_date"].dropna() <= cutoff).all()
    hidden = tables.accounts[
        (tables.accounts["open_date"] <= cutoff) & (tables.accounts["close_date"] > cutoff)
    ]
    assert len(hidden) > 0, "the fixture should have accounts closed after the cutoff"
    assert (
        known.accounts.set_index("account_id").loc[hidden["account_id"], "close_date"].isna().all()
    )
    # The input is untouched.
    assert (tables.accounts["close_date"] > cutoff).sum() > 0
