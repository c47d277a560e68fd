"""The synthetic bank's product holdings: what customers open, renew at maturity and close.

A holding is one product a customer keeps: a demand product is one account; a term
product is a chain of accounts, each renewal opening a new account on the day the last one
matures. Disengaging customers close holdings one by one; churn and bank closure cut every
holding at once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from churnml.datasets._synthetic_chain import (
    DISENGAGING,
    KIND_COMPLETE,
    KIND_PASSIVE,
    BoolArray,
    Calendar,
    DateArray,
    History,
    IntArray,
    Population,
    choose,
)
from churnml.units import DAYS_PER_MONTH

if TYPE_CHECKING:
    from churnml.datasets.synthetic import SyntheticConfig

__all__ = ["PRODUCT_NAMES", "add_months", "make_accounts"]

CURRENT = 0
MAX_OWNERSHIP = 0.95
# Share of a customer's products opened on the day they join; the rest come later.
OPENED_AT_JOIN = 0.6
LATER_PURCHASE_DAYS = 720
RISK_LEVEL_COUNT = 5
REASON_CUSTOMER, REASON_BANK, REASON_MATURITY = 0, 1, 2
REASONS = ("customer", "bank", "maturity")
# Far enough in the future to mean "never cut".
NEVER = np.datetime64("2200-01-01", "D")


@dataclass(frozen=True)
class Product:
    """One line of business: who holds it, its terms and risk levels."""

    name: str
    ownership: tuple[float, float, float]  # probability of holding it, by income band
    age_factor: tuple[float, float, float]  # multiplies ownership, by age group
    terms: tuple[int, ...] = (0,)  # contractual term in months, 0 for demand products
    term_shares: tuple[float, ...] = (1.0,)
    renews: bool = False
    risk_shares: tuple[tuple[float, ...], ...] | None = None  # by age group, over levels 1..5
    closable: bool = True  # a disengaging customer may close it


CATALOGUE = (
    Product("current", (1.0, 1.0, 1.0), (1.0, 1.0, 1.0), closable=False),
    Product("savings", (0.5, 0.6, 0.7), (0.9, 1.0, 1.2)),
    Product(
        "time_deposit",
        (0.20, 0.35, 0.45),
        (0.6, 1.0, 1.5),
        terms=(3, 6, 12, 24, 36, 60),
        term_shares=(0.15, 0.2, 0.3, 0.15, 0.15, 0.05),
        renews=True,
    ),
    Product(
        "wealth_management",
        (0.05, 0.20, 0.45),
        (0.8, 1.0, 1.1),
        terms=(0, 3, 6, 12, 36, 60),
        term_shares=(0.3, 0.15, 0.2, 0.2, 0.1, 0.05),
        renews=True,
        risk_shares=(
            (0.10, 0.20, 0.30, 0.25, 0.15),
            (0.20, 0.30, 0.30, 0.15, 0.05),
            (0.40, 0.35, 0.20, 0.05, 0.00),
        ),
    ),
    Product(
        "fund",
        (0.04, 0.15, 0.35),
        (1.3, 1.0, 0.6),
        risk_shares=(
            (0.00, 0.15, 0.35, 0.30, 0.20),
            (0.00, 0.25, 0.40, 0.25, 0.10),
            (0.00, 0.45, 0.40, 0.15, 0.00),
        ),
    ),
    Product("insurance", (0.05, 0.10, 0.20), (0.6, 1.0, 1.2), terms=(120,)),
    Product("credit_card", (0.30, 0.45, 0.60), (1.3, 1.0, 0.5)),
    Product(
        "loan",
        (0.08, 0.10, 0.06),
        (1.2, 1.0, 0.4),
        terms=(12, 36, 60),
        term_shares=(0.3, 0.4, 0.3),
        closable=False,
    ),
    Product(
        "mortgage",
        (0.02, 0.06, 0.10),
        (0.8, 1.2, 0.3),
        terms=(240, 360),
        term_shares=(0.6, 0.4),
        closable=False,
    ),
)
PRODUCT_NAMES = tuple(product.name for product in CATALOGUE)


@dataclass(frozen=True)
class _Holdings:
    customer: IntArray
    product: IntArray
    opened: DateArray
    term: IntArray
    risk: IntArray  # 0 when the product has no risk level
    renews: BoolArray
    closable: BoolArray


def make_accounts(
    population: Population,
    history: History,
    calendar: Calendar,
    config: SyntheticConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Build the accounts table: holdings, their renewals and every closure."""
    holdings = _draw_holdings(population, calendar, rng)
    cut, reason = _schedule_cuts(holdings, history, calendar, config, rng)
    return _expand(holdings, cut, reason, calendar, config, rng)


def _draw_holdings(
    population: Population, calendar: Calendar, rng: np.random.Generator
) -> _Holdings:
    n = len(population.join_date)
    start, last_day = calendar.starts[0], calendar.ends[-1]
    parts: list[_Holdings] = []
    for code, product in enumerate(CATALOGUE):
        share = np.asarray(product.ownership)[population.income]
        share = np.minimum(share * np.asarray(product.age_factor)[population.age_group], 1.0)
        owns = rng.random(n) < (share if code == CURRENT else np.minimum(share, MAX_OWNERSHIP))
        later = (rng.random(n) >= OPENED_AT_JOIN) & (code != CURRENT)
        delay = (later * rng.random(n) * LATER_PURCHASE_DAYS).astype("timedelta64[D]")
        opened = population.join_date + delay
        term = np.asarray(product.terms)[
            choose(rng, np.asarray([product.term_shares]), np.zeros(n, np.int64))
        ]
        if product.risk_shares is None:
            risk = np.zeros(n, np.int64)
        else:
            risk = choose(rng, np.asarray(product.risk_shares), population.age_group) + 1
        # A term product bought long ago shows as the term running when the window opens.
        matured = (term > 0) & (add_months(opened, term) <= start)
        running_since = start - (1 + rng.random(n) * term * DAYS_PER_MONTH).astype("timedelta64[D]")
        opened = np.where(matured, np.maximum(running_since, opened), opened)
        keep = owns & (opened <= last_day)
        parts.append(
            _Holdings(
                customer=np.flatnonzero(keep),
                product=np.full(int(keep.sum()), code, np.int64),
                opened=opened[keep],
                term=term[keep],
                risk=risk[keep],
                renews=np.full(int(keep.sum()), product.renews),
                closable=np.full(int(keep.sum()), product.closable),
            )
        )
    return _Holdings(
        *(
            np.concatenate([getattr(part, column.name) for part in parts])
            for column in fields(_Holdings)
        )
    )


def _schedule_cuts(
    holdings: _Holdings,
    history: History,
    calendar: Calendar,
    config: SyntheticConfig,
    rng: np.random.Generator,
) -> tuple[DateArray, IntArray]:
    """Day each holding is cut short (``NEVER`` if it is not) and the reason code."""
    size = len(holdings.customer)
    cut = np.full(size, NEVER)
    for month in range(calendar.n_months):
        start, following = calendar.starts[month], calendar.starts[month + 1]
        disengaged = history.states[holdings.customer, month] == DISENGAGING
        closes = (
            holdings.closable
            & (cut == NEVER)
            & disengaged
            & (holdings.opened < following)
            & (rng.random(size) < config.disengaged_closure_rate)
        )
        day = start + (rng.random(size) * (following - start).astype(np.int64)).astype(
            "timedelta64[D]"
        )
        cut = np.where(closes, np.maximum(day, holdings.opened + np.timedelta64(1, "D")), cut)
    reason = np.full(size, REASON_CUSTOMER)
    kind = history.kind[holdings.customer]
    leaving = history.exit_date[holdings.customer]
    # A complete churner empties the other accounts over a few days, the current one last.
    spread = rng.integers(0, config.complete_churn_spread_days + 1, size)
    spread = np.where(holdings.product == CURRENT, 0, spread).astype("timedelta64[D]")
    exit_cut = np.where(kind == KIND_COMPLETE, leaving - spread, leaving)
    exit_cut = np.where((kind == KIND_COMPLETE) | (kind == KIND_PASSIVE), exit_cut, NEVER)
    by_exit = exit_cut < cut
    cut = np.where(by_exit, exit_cut, cut)
    reason = np.where(by_exit & (kind == KIND_PASSIVE), REASON_BANK, reason)
    return cut, reason


def _expand(
    holdings: _Holdings,
    cut: DateArray,
    reason: IntArray,
    calendar: Calendar,
    config: SyntheticConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One row per account: renewals of term holdings, then closures, then the window's end."""
    last_day = calendar.ends[-1]
    size = len(holdings.customer)
    term = holdings.term
    renewals = np.where(holdings.renews, rng.geometric(1.0 - config.renewal_prob, size) - 1, 0)
    span = (last_day.astype("datetime64[M]") - holdings.opened.astype("datetime64[M]")).astype(
        np.int64
    )
    needed = np.where(term > 0, span // np.maximum(term, 1) + 1, 1)
    generations = np.minimum(renewals + 1, needed)
    holding = np.repeat(np.arange(size), generations)
    first_row = np.cumsum(generations) - generations
    generation = np.arange(len(holding)) - np.repeat(first_row, generations)
    term_g = term[holding]
    opened = add_months(holdings.opened[holding], generation * term_g)
    matures = np.where(
        term_g > 0, add_months(holdings.opened[holding], (generation + 1) * term_g), NEVER
    )
    cut_g = cut[holding]
    keep = (opened < cut_g) & (opened <= last_day)
    is_cut = cut_g < matures
    closed = np.where(is_cut, cut_g, matures)
    why = np.where(is_cut, reason[holding], REASON_MATURITY)
    # Nothing after the window's last day is known yet.
    known = closed <= last_day
    order = np.lexsort((generation, holdings.product[holding], opened, holdings.customer[holding]))
    order = order[keep[order]]
    rows = holding[order]
    return pd.DataFrame(
        {
            "account_id": np.arange(1, len(order) + 1, dtype=np.int64),
            "customer_id": holdings.customer[rows] + 1,
            "product_type": pd.Categorical.from_codes(
                holdings.product[rows], dtype=pd.CategoricalDtype(list(PRODUCT_NAMES))
            ),
            "open_date": opened[order].astype("datetime64[ns]"),
            "close_date": np.where(known, closed, np.datetime64("NaT"))[order].astype(
                "datetime64[ns]"
            ),
            "close_reason": pd.Categorical.from_codes(
                np.where(known, why, -1)[order], dtype=pd.CategoricalDtype(list(REASONS))
            ),
            "risk_level": _optional_int(holdings.risk[rows]),
            "term_months": _optional_int(holdings.term[rows]),
        }
    )


def _optional_int(values: IntArray) -> pd.arrays.IntegerArray:
    """Positive values as nullable integers, zero meaning "not applicable"."""
    return pd.arrays.IntegerArray(values.astype(np.int64), values <= 0)


def add_months(dates: DateArray, months: IntArray | int) -> DateArray:
    """Add whole months to day dates, keeping the day of month where the month allows it."""
    month = dates.astype("datetime64[M]")
    day = (dates - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months).astype("timedelta64[M]")
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    return target.astype("datetime64[D]") + np.minimum(day, length - 1).astype("timedelta64[D]")
