"""The synthetic bank's transactions and complaints, drawn from each customer-month's state.

A disengaging customer transacts less and in smaller amounts, sends money to other banks,
payment wallets and cash, moves the assets it loses out in large transfers, and complains
more, about fees and products, with complaints left unresolved.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from churnml.datasets._synthetic_chain import (
    CHURNED,
    DISENGAGING,
    KIND_COMPLETE,
    KIND_PASSIVE,
    BoolArray,
    Calendar,
    DateArray,
    FloatArray,
    History,
    IntArray,
    Population,
    choose,
)

CodeArray = npt.NDArray[np.int8]

if TYPE_CHECKING:
    from churnml.datasets.synthetic import SyntheticConfig

__all__ = ["make_complaints", "make_transactions"]

CHANNELS = ("branch", "atm", "mobile", "online", "phone")
# Young customers bank on their phones, older ones at the branch and the ATM (by age group).
CHANNEL_SHARES = (
    (0.04, 0.10, 0.62, 0.20, 0.04),
    (0.12, 0.18, 0.42, 0.22, 0.06),
    (0.40, 0.28, 0.12, 0.08, 0.12),
)
CASH_CHANNEL_SHARES = ((0.25, 0.75, 0.0, 0.0, 0.0),)
COUNTERPARTIES = ("internal", "other_bank", "third_party_payment", "cash", "merchant", "salary")
CASH = COUNTERPARTIES.index("cash")
SALARY = COUNTERPARTIES.index("salary")
# Rows: (flow class, direction in/out); classes are stable, disengaging, after partial churn.
COUNTERPARTY_SHARES = (
    (0.25, 0.12, 0.03, 0.05, 0.00, 0.55),
    (0.15, 0.10, 0.15, 0.12, 0.48, 0.00),
    (0.25, 0.25, 0.05, 0.10, 0.00, 0.35),
    (0.07, 0.35, 0.30, 0.15, 0.13, 0.00),
    (0.25, 0.20, 0.05, 0.10, 0.00, 0.40),
    (0.10, 0.25, 0.25, 0.15, 0.25, 0.00),
)
# Where lost assets go: a step of the decline, then the customer's final transfer.
OUTFLOW_SHARES = ((0.0, 0.55, 0.30, 0.15, 0.0, 0.0), (0.0, 0.80, 0.0, 0.20, 0.0, 0.0))
STABLE_FLOW, DISENGAGING_FLOW, AFTER_PARTIAL_FLOW = 0, 1, 2
OUTFLOW_PROBABILITY = (0.55, 0.75, 0.6)  # by flow class
# A partial churner keeps the account for small everyday payments only.
AFTER_PARTIAL_AMOUNT = 0.5
ACTIVITY_SPREAD = 0.3
TYPICAL_AMOUNT = (300.0, 900.0, 3_000.0)  # median transaction, by income band
CUSTOMER_AMOUNT_SPREAD = 0.4
AMOUNT_SPREAD = 0.8
SALARY_MULTIPLE = 3.0
MIN_AMOUNT = 0.01
SECONDS_PER_DAY = 86_400
NANOSECONDS_PER_SECOND = 1_000_000_000
# The final transfer of a complete churner happens in business hours of the exit day.
OPENING_HOUR, CLOSING_HOUR = 9, 17

COMPLAINT_CATEGORIES = ("service", "fees", "product", "staff", "system")
CATEGORY_SHARES = ((0.35, 0.20, 0.15, 0.15, 0.15), (0.20, 0.35, 0.25, 0.10, 0.10))
SEVERITY_SHARES = ((0.60, 0.30, 0.10), (0.25, 0.45, 0.30))
RESOLUTION_MEAN_DAYS = 10.0


@dataclass(frozen=True)
class _Cells:
    """Customer-months in which a customer holds an account, with their time bounds."""

    customer: IntArray
    month: IntArray
    flow: IntArray  # STABLE_FLOW, DISENGAGING_FLOW or AFTER_PARTIAL_FLOW
    exiting: BoolArray  # the month of complete churn or bank closure
    low: DateArray  # first day on which the customer can act this month
    high: DateArray  # first day on which they no longer can


def _cells(population: Population, history: History, calendar: Calendar) -> _Cells:
    customer, month = np.nonzero(history.active)
    state = history.states[customer, month]
    leaving_month = (month == history.exit_month[customer]) & (state == CHURNED)
    flow = np.select(
        [(state == DISENGAGING) | leaving_month, state == CHURNED],
        [DISENGAGING_FLOW, AFTER_PARTIAL_FLOW],
        STABLE_FLOW,
    )
    kind = history.kind[customer]
    exiting = ((kind == KIND_COMPLETE) | (kind == KIND_PASSIVE)) & (
        month == history.exit_month[customer]
    )
    low = np.maximum(calendar.starts[month], population.join_date[customer])
    high = np.where(exiting, history.exit_date[customer], calendar.starts[month + 1])
    return _Cells(customer, month, flow.astype(np.int64), exiting, low, high)


@dataclass(frozen=True)
class _Flows:
    """Transactions as arrays, before they are sorted into a table."""

    customer: IntArray
    seconds: IntArray  # timestamp, seconds since the epoch
    amount: FloatArray
    counterparty: CodeArray


def make_transactions(
    population: Population,
    history: History,
    calendar: Calendar,
    config: SyntheticConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Draw everyday transactions, then add the transfers that carry lost assets away."""
    cells = _cells(population, history, calendar)
    parts = [
        _everyday_flows(cells, population, calendar, config, rng),
        _asset_outflows(cells, history, rng),
    ]
    # Drop each part as soon as it is merged: at a million customers they are gigabytes.
    flows = _Flows(
        *(
            np.concatenate([getattr(part, column.name) for part in parts])
            for column in fields(_Flows)
        )
    )
    del parts, cells
    return _transactions_frame(population, flows, rng)


def _everyday_flows(
    cells: _Cells,
    population: Population,
    calendar: Calendar,
    config: SyntheticConfig,
    rng: np.random.Generator,
) -> _Flows:
    n = len(population.join_date)
    activity = config.transactions_per_month * rng.lognormal(
        -(ACTIVITY_SPREAD**2) / 2, ACTIVITY_SPREAD, n
    )
    typical = np.asarray(TYPICAL_AMOUNT)[population.income] * rng.lognormal(
        0.0, CUSTOMER_AMOUNT_SPREAD, n
    )
    flow_activity = np.array([1.0, config.disengaged_activity, config.after_partial_activity])
    days_open = (cells.high - cells.low).astype(np.int64)
    month_days = (calendar.starts[cells.month + 1] - calendar.starts[cells.month]).astype(np.int64)
    expected = activity[cells.customer] * flow_activity[cells.flow] * days_open / month_days
    row = np.repeat(np.arange(len(cells.customer)), rng.poisson(expected))
    customer, flow = cells.customer[row], cells.flow[row]
    outgoing = rng.random(len(row)) < np.asarray(OUTFLOW_PROBABILITY)[flow]
    counterparty = choose(rng, np.asarray(COUNTERPARTY_SHARES), 2 * flow + outgoing)
    amount_level = np.array([1.0, config.disengaged_amount, AFTER_PARTIAL_AMOUNT])
    size = typical[customer] * amount_level[flow] * rng.lognormal(0.0, AMOUNT_SPREAD, len(row))
    size = np.where(counterparty == SALARY, size * SALARY_MULTIPLE, size)
    amount = np.where(outgoing, -1.0, 1.0) * np.maximum(np.round(size, 2), MIN_AMOUNT)
    seconds = _seconds_within(cells.low[row], cells.high[row], rng)
    return _Flows(customer, seconds, amount, counterparty.astype(np.int8))


def _seconds_within(low: DateArray, high: DateArray, rng: np.random.Generator) -> IntArray:
    """Uniform timestamps (seconds since the epoch) in ``[low, high)``."""
    start = low.astype(np.int64) * SECONDS_PER_DAY
    span = (high - low).astype(np.int64) * SECONDS_PER_DAY
    return start + (rng.random(len(low)) * span).astype(np.int64)


def _asset_outflows(cells: _Cells, history: History, rng: np.random.Generator) -> _Flows:
    """One transfer out per month in which a leaving customer's total assets fell."""
    previous_month = np.maximum(cells.month - 1, 0)
    before = (
        np.where(cells.month > 0, history.balance[cells.customer, previous_month], 0.0)
        * history.active[cells.customer, previous_month]
    )
    after = history.balance[cells.customer, cells.month]
    leaving = (cells.flow == DISENGAGING_FLOW) | cells.exiting
    falls = leaving & (after < before - MIN_AMOUNT)
    pick = np.flatnonzero(falls)
    exiting = cells.exiting[pick]
    counterparty = choose(rng, np.asarray(OUTFLOW_SHARES), exiting.astype(np.int64))
    anytime = _seconds_within(cells.low[pick], cells.high[pick], rng)
    business_hours = rng.integers(OPENING_HOUR * 3600, CLOSING_HOUR * 3600, len(pick))
    exit_day = cells.high[pick].astype(np.int64) * SECONDS_PER_DAY
    seconds = np.where(exiting, exit_day + business_hours, anytime)
    amount = np.round(after[pick] - before[pick], 2)
    return _Flows(cells.customer[pick], seconds, amount, counterparty.astype(np.int8))


def _transactions_frame(
    population: Population, flows: _Flows, rng: np.random.Generator
) -> pd.DataFrame:
    customer, seconds = flows.customer, flows.seconds
    channel = choose(rng, np.asarray(CHANNEL_SHARES), population.age_group[customer])
    cash_channel = choose(rng, np.asarray(CASH_CHANNEL_SHARES), np.zeros(len(customer), np.int64))
    channel = np.where(flows.counterparty == CASH, cash_channel, channel).astype(np.int8)
    del cash_channel
    earliest = seconds.min(initial=0)
    span = int(seconds.max(initial=0) - earliest) + 1
    order = np.argsort(customer * span + (seconds - earliest), kind="stable")
    return pd.DataFrame(
        {
            "customer_id": customer[order] + 1,
            "ts": (seconds[order] * NANOSECONDS_PER_SECOND).view("datetime64[ns]"),
            "amount": flows.amount[order],
            "channel": pd.Categorical.from_codes(
                channel[order], dtype=pd.CategoricalDtype(list(CHANNELS))
            ),
            "counterparty": pd.Categorical.from_codes(
                flows.counterparty[order], dtype=pd.CategoricalDtype(list(COUNTERPARTIES))
            ),
        },
        copy=False,
    )


def make_complaints(
    population: Population,
    history: History,
    calendar: Calendar,
    config: SyntheticConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Complaints on the counts the chain drew; a disengaging customer's stay unresolved."""
    cells = _cells(population, history, calendar)
    counts = history.complaints[cells.customer, cells.month]
    row = np.repeat(np.arange(len(counts)), counts)
    customer = cells.customer[row]
    aggrieved = (cells.flow[row] == DISENGAGING_FLOW).astype(np.int64)
    # Complaints may come on the exit day itself, unlike everyday transactions.
    last_day = np.where(cells.exiting[row], cells.high[row], cells.high[row] - 1)
    days = (last_day - cells.low[row]).astype(np.int64) + 1
    date = cells.low[row] + (rng.random(len(row)) * days).astype("timedelta64[D]")
    category = choose(rng, np.asarray(CATEGORY_SHARES), aggrieved)
    severity = choose(rng, np.asarray(SEVERITY_SHARES), aggrieved) + 1
    resolve_prob = np.array([config.resolve_prob, config.disengaged_resolve_prob])[aggrieved]
    delay = 1 + rng.exponential(RESOLUTION_MEAN_DAYS, len(row)).astype(np.int64)
    resolved = date + delay.astype("timedelta64[D]")
    horizon = np.where(
        np.isnat(history.exit_date[customer]), calendar.ends[-1], history.exit_date[customer]
    )
    known = (rng.random(len(row)) < resolve_prob) & (resolved <= horizon)
    order = np.lexsort((date, customer))
    return pd.DataFrame(
        {
            "customer_id": customer[order] + 1,
            "date": date[order].astype("datetime64[ns]"),
            "category": np.asarray(COMPLAINT_CATEGORIES, dtype=object)[category[order]],
            "severity": severity[order],
            "resolved_date": np.where(known, resolved, np.datetime64("NaT"))[order].astype(
                "datetime64[ns]"
            ),
        }
    )
