"""The synthetic bank's hidden state: who its customers are and how each one drifts away.

Every customer follows a monthly Markov chain: stable, disengaging, churned (complete or
partial) or closed by the bank. Only the stable-to-disengaging hazard depends on the
customer (demographics, tenure, a recent complaint, a frailty); the chain is simulated once,
vectorised over customers, together with the customer's total assets, and the same hazards
give the exact churn probability the oracle reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from churnml.datasets.synthetic import SyntheticConfig

__all__ = [
    "BANK_CLOSED",
    "CHURNED",
    "COMPLAINT_FRAILTY_POWER",
    "DISENGAGING",
    "GENDERS",
    "INCOME_BANDS",
    "KIND_COMPLETE",
    "KIND_NONE",
    "KIND_PARTIAL",
    "KIND_PASSIVE",
    "NOT_JOINED",
    "STABLE",
    "BoolArray",
    "Calendar",
    "Chain",
    "DateArray",
    "FloatArray",
    "History",
    "IntArray",
    "Population",
    "choose",
    "churn_probability",
    "draw_population",
    "simulate",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DateArray = npt.NDArray[np.datetime64]

NOT_JOINED, STABLE, DISENGAGING, CHURNED, BANK_CLOSED = -1, 0, 1, 2, 3
N_STATES = 4
KIND_NONE, KIND_COMPLETE, KIND_PARTIAL, KIND_PASSIVE = 0, 1, 2, 3

INCOME_BANDS = ("low", "mid", "high")
GENDERS = ("F", "M")
# Age groups drive channel use, product choice and hazard: under 35, 35 to 59, 60 and over.
AGE_GROUP_EDGES = (35, 60)
MIN_AGE, MAX_AGE = 18, 90
EXISTING_AGE_MEAN, EXISTING_AGE_SD = 46.0, 15.0
NEW_AGE_MEAN, NEW_AGE_SD = 34.0, 12.0
INCOME_SHARES_BY_AGE = ((0.50, 0.40, 0.10), (0.30, 0.45, 0.25), (0.45, 0.40, 0.15))
# Median total assets at joining by income band; log-normal spread around it.
WEALTH_MEDIAN = (6_000.0, 30_000.0, 150_000.0)
WEALTH_SIGMA = 1.0
WEALTH_PER_YEAR_OF_AGE = 0.015
DRIFT_SPREAD = 0.002
DAYS_PER_YEAR = 365
# Frail customers also complain more often while stable (square root keeps it mild).
COMPLAINT_FRAILTY_POWER = 0.5
PEAK_LOOKBACK_MONTHS = 12


@dataclass(frozen=True)
class Calendar:
    """The window's months: ``starts`` has one more entry than there are months."""

    starts: DateArray  # datetime64[D], first day of each month and of the month after

    @property
    def n_months(self) -> int:
        """Number of months in the window."""
        return len(self.starts) - 1

    @property
    def ends(self) -> DateArray:
        """Last day of each month."""
        return self.starts[1:] - np.timedelta64(1, "D")


@dataclass(frozen=True)
class Population:
    """Customers' demographics and the fixed parts of their hazards, one entry per customer."""

    join_date: DateArray
    join_month: IntArray  # month index of join_date; negative before the window
    birth_year: IntArray
    age_group: IntArray
    gender: IntArray
    income: IntArray
    region: IntArray
    frailty: FloatArray
    log_hazard: FloatArray  # static part of the log stable-to-disengaging hazard
    complaint_rate: FloatArray  # monthly complaint rate while stable
    wealth: FloatArray  # total assets when first seen


@dataclass(frozen=True)
class History:
    """The simulated chain: states, complaint counts and month-end total assets."""

    states: npt.NDArray[np.int8]  # customers x months
    complaints: npt.NDArray[np.int16]
    balance: FloatArray
    active: BoolArray  # the customer holds an account during the month
    kind: npt.NDArray[np.int8]
    exit_month: IntArray  # month of churn or bank closure, -1 if none
    exit_date: DateArray  # day of complete churn or bank closure, NaT otherwise
    recovered: BoolArray


@dataclass(frozen=True)
class Chain:
    """What the oracle needs to replay the chain's transition probabilities."""

    month_ends: DateArray
    states: npt.NDArray[np.int8]
    complained: BoolArray
    join_month: IntArray
    log_hazard: FloatArray
    complaint_rate: FloatArray
    config: SyntheticConfig


def draw_population(
    n: int, calendar: Calendar, config: SyntheticConfig, rng: np.random.Generator
) -> Population:
    """Draw demographics, join dates and the static hazard of ``n`` customers."""
    start = calendar.starts[0]
    is_new = rng.random(n) < config.new_customer_share
    age = np.where(
        is_new,
        rng.normal(NEW_AGE_MEAN, NEW_AGE_SD, n),
        rng.normal(EXISTING_AGE_MEAN, EXISTING_AGE_SD, n),
    )
    age = np.clip(np.rint(age), MIN_AGE, MAX_AGE).astype(np.int64)
    # Existing customers joined as adults, at most max_prior_tenure_years before the window.
    longest = np.minimum(config.max_prior_tenure_years, age - MIN_AGE) * DAYS_PER_YEAR
    prior_days = np.maximum(1, (rng.random(n) * longest).astype(np.int64))
    window_days = int((calendar.starts[-1] - start).astype(np.int64))
    new_days = rng.integers(0, window_days, n)
    join_date = start + np.where(is_new, new_days, -prior_days).astype("timedelta64[D]")
    join_month = (join_date.astype("datetime64[M]") - start.astype("datetime64[M]")).astype(
        np.int64
    )
    age_group = np.searchsorted(np.asarray(AGE_GROUP_EDGES), age, side="right")
    income = choose(rng, np.asarray(INCOME_SHARES_BY_AGE), age_group)
    region = choose(rng, np.asarray([config.region_shares]), np.zeros(n, np.int64))
    frailty = rng.lognormal(-(config.frailty_sigma**2) / 2, config.frailty_sigma, n)
    income_effect = np.array([config.low_income_effect, 0.0, config.high_income_effect])
    age_effect = np.array([config.young_age_effect, 0.0, config.senior_age_effect])
    log_hazard = (
        np.log(config.disengage_rate)
        + income_effect[income]
        + age_effect[age_group]
        + np.asarray(config.region_effects)[region]
        + np.log(frailty)
    )
    wealth = rng.lognormal(
        np.log(np.asarray(WEALTH_MEDIAN)[income]) + WEALTH_PER_YEAR_OF_AGE * (age - 40),
        WEALTH_SIGMA,
    )
    start_year = int(start.astype("datetime64[Y]").astype(np.int64)) + 1970
    return Population(
        join_date=join_date,
        join_month=join_month,
        birth_year=start_year - age,
        age_group=age_group.astype(np.int64),
        gender=rng.integers(0, len(GENDERS), n),
        income=income,
        region=region,
        frailty=frailty,
        log_hazard=log_hazard,
        complaint_rate=config.complaint_rate * frailty**COMPLAINT_FRAILTY_POWER,
        wealth=wealth,
    )


def choose(rng: np.random.Generator, probs: FloatArray, group: IntArray) -> IntArray:
    """Draw one category per row from the row's group of probabilities (vectorised).

    Each row's uniform draw is shifted by its group number, so that one search over every
    group's cumulative edges (laid end to end) finds the category of every row at once.
    """
    cumulative = np.cumsum(probs, axis=1)
    cumulative /= cumulative[:, -1:]
    n_groups, n_categories = probs.shape
    edges = (np.arange(n_groups)[:, None] + cumulative[:, :-1]).ravel()
    position = np.searchsorted(edges, group + rng.random(len(group)), side="right")
    return position - group * (n_categories - 1)


def disengage_hazard(
    log_hazard: FloatArray, tenure_months: IntArray, complained: BoolArray, config: SyntheticConfig
) -> FloatArray:
    """Monthly probability that a stable customer starts to disengage."""
    log_rate = (
        log_hazard
        + config.young_tenure_effect * (tenure_months < config.young_tenure_months)
        + config.complaint_effect * complained
    )
    return np.minimum(np.exp(log_rate), config.max_disengage_rate)


def simulate(
    population: Population, calendar: Calendar, config: SyntheticConfig, rng: np.random.Generator
) -> History:
    """Run the chain month by month for every customer at once."""
    n, n_months = len(population.join_month), calendar.n_months
    states = np.full((n, n_months), NOT_JOINED, np.int8)
    complaints = np.zeros((n, n_months), np.int16)
    balance = np.zeros((n, n_months))
    kind = np.zeros(n, np.int8)
    exit_month = np.full(n, -1, np.int64)
    recovered = np.zeros(n, bool)
    assets = _Assets(population.wealth.copy(), np.ones(n), rng.normal(0.0, DRIFT_SPREAD, n))
    previous = np.full(n, NOT_JOINED, np.int8)
    for month in range(n_months):
        complained = complaints[:, month - 1] > 0 if month else np.zeros(n, bool)
        state = _transition(previous, population, month, complained, config, rng)
        leaving = (state >= CHURNED) & (previous < CHURNED) & (previous != NOT_JOINED)
        partial = leaving & (state == CHURNED) & (rng.random(n) < config.partial_share)
        kind[leaving] = np.where(state[leaving] == BANK_CLOSED, KIND_PASSIVE, KIND_COMPLETE)
        kind[partial] = KIND_PARTIAL
        exit_month[leaving] = month
        recovered |= (previous == DISENGAGING) & (state == STABLE)
        rate = _complaint_rate(state, previous, kind, population, config)
        complaints[:, month] = rng.poisson(rate)
        balance[:, month] = assets.step(
            state, previous, leaving, partial, balance, month, config, rng
        )
        states[:, month] = state
        previous = state
    months = np.arange(n_months)
    gone = (kind == KIND_COMPLETE) | (kind == KIND_PASSIVE)
    after_exit = gone[:, None] & (months[None, :] > exit_month[:, None])
    active = (states != NOT_JOINED) & ~after_exit
    balance[~active] = 0.0
    exit_date = _exit_dates(exit_month, gone, calendar, rng)
    return History(states, complaints, balance, active, kind, exit_month, exit_date, recovered)


def _transition(
    previous: npt.NDArray[np.int8],
    population: Population,
    month: int,
    complained: BoolArray,
    config: SyntheticConfig,
    rng: np.random.Generator,
) -> npt.NDArray[np.int8]:
    n = len(previous)
    tenure = month - population.join_month
    p_disengage = disengage_hazard(population.log_hazard, tenure, complained, config)
    u = rng.random(n)
    passive = u < config.passive_rate
    from_stable = np.where(
        passive, BANK_CLOSED, np.where(u < config.passive_rate + p_disengage, DISENGAGING, STABLE)
    )
    churn_edge = config.passive_rate + config.churn_rate
    from_disengaging = np.select(
        [passive, u < churn_edge, u < churn_edge + config.recover_rate],
        [BANK_CLOSED, CHURNED, STABLE],
        DISENGAGING,
    )
    state = np.where(
        previous == STABLE,
        from_stable,
        np.where(previous == DISENGAGING, from_disengaging, previous),
    ).astype(np.int8)
    if month == 0:
        # Customers from before the window enter it already mid-way through their chain.
        earlier = population.join_month < 0
        starts_disengaged = rng.random(n) < config.initial_disengaged_share
        state[earlier] = np.where(starts_disengaged[earlier], DISENGAGING, STABLE)
    state[population.join_month == month] = STABLE
    return state


def _complaint_rate(
    state: npt.NDArray[np.int8],
    previous: npt.NDArray[np.int8],
    kind: npt.NDArray[np.int8],
    population: Population,
    config: SyntheticConfig,
) -> FloatArray:
    # Leaving customers are as aggrieved in their last month as while disengaging.
    aggrieved = (state == DISENGAGING) | ((state == CHURNED) & (previous == DISENGAGING))
    stayed_after_partial = (state == CHURNED) & (previous == CHURNED) & (kind == KIND_PARTIAL)
    calm = (state == STABLE) | stayed_after_partial
    return np.where(
        aggrieved,
        config.disengaged_complaint_rate,
        np.where(calm, population.complaint_rate, 0.0),
    )


@dataclass
class _Assets:
    """Running total assets: a wandering level times the share the customer keeps here."""

    level: FloatArray
    kept: FloatArray
    drift: FloatArray

    def step(
        self,
        state: npt.NDArray[np.int8],
        previous: npt.NDArray[np.int8],
        leaving: BoolArray,
        partial: BoolArray,
        history: FloatArray,
        month: int,
        config: SyntheticConfig,
        rng: np.random.Generator,
    ) -> FloatArray:
        n = len(state)
        shock = rng.normal(0.0, config.balance_volatility, n)
        self.level *= np.exp(config.balance_drift + self.drift + shock)
        declines = (state == DISENGAGING) & (rng.random(n) < config.decline_step_prob)
        step = rng.uniform(config.decline_step_min, config.decline_step_max, n)
        self.kept = np.where(declines, self.kept * (1.0 - step), self.kept)
        self.kept = np.where(
            state == STABLE, self.kept + config.recovery_speed * (1 - self.kept), self.kept
        )
        joining = previous == NOT_JOINED
        self.kept[joining] = 1.0
        value = self.level * self.kept
        lookback = history[:, max(0, month - PEAK_LOOKBACK_MONTHS) : month]
        peak = lookback.max(axis=1) if month else np.zeros(n)
        # The floor keeps a decline from meeting the contract's partial-churn rule by itself.
        engaged = (state == STABLE) | (state == DISENGAGING)
        value = np.where(engaged, np.maximum(value, config.decline_floor * peak), value)
        residual = rng.uniform(config.partial_residual_min, config.partial_residual_max, n)
        value = np.where(partial, residual * peak, value)
        value = np.where(leaving & ~partial, 0.0, value)
        value = np.where(state == NOT_JOINED, 0.0, np.round(value, 2))
        self.kept = np.where(engaged | partial, value / self.level, self.kept)
        return value


def _exit_dates(
    exit_month: IntArray, gone: BoolArray, calendar: Calendar, rng: np.random.Generator
) -> DateArray:
    """Day of complete churn or bank closure: any day of the exit month but its last."""
    month = np.clip(exit_month, 0, None)
    first = calendar.starts[month]
    days = (calendar.starts[month + 1] - first).astype(np.int64)
    offset = (rng.random(len(month)) * (days - 1)).astype(np.int64)
    date = first + offset.astype("timedelta64[D]")
    return np.where(gone, date, np.datetime64("NaT", "D"))


def churn_probability(chain: Chain, month: int, horizon_days: int) -> FloatArray:
    """Exact P(churn dated in (cutoff, cutoff + horizon_days] | the chain at ``month``'s end).

    The per-customer transition matrices of the coming months are multiplied out; the
    first month uses the known complaint indicator, later months its expectation. In the
    month the horizon ends in, only churn dated on or before its end counts: partial churn
    is dated on the month's last day, complete churn on a uniform day before it.
    """
    config = chain.config
    state = chain.states[:, month].astype(np.int64)
    n = len(state)
    probability = np.zeros((n, N_STATES))
    known = state >= 0
    probability[np.flatnonzero(known), state[known]] = 1.0
    stable_complains = 1.0 - np.exp(-chain.complaint_rate)
    cutoff = chain.month_ends[month]
    horizon_end = cutoff + np.timedelta64(horizon_days, "D")
    churned = np.zeros(n)
    step = 1
    while (first := _month_start(cutoff, step)) <= horizon_end:
        tenure = month + step - chain.join_month
        if step == 1:
            p_disengage = disengage_hazard(
                chain.log_hazard, tenure, chain.complained[:, month], config
            )
        else:
            calm = disengage_hazard(chain.log_hazard, tenure, np.zeros(n, bool), config)
            upset = disengage_hazard(chain.log_hazard, tenure, np.ones(n, bool), config)
            p_disengage = stable_complains * upset + (1 - stable_complains) * calm
        before = probability[:, CHURNED]
        probability = np.einsum(
            "ni,nij->nj", probability, _transition_matrices(p_disengage, config)
        )
        churned += (probability[:, CHURNED] - before) * _share_dated_by(
            first, _month_start(cutoff, step + 1), horizon_end, config.partial_share
        )
        step += 1
    return churned


def _month_start(cutoff: np.datetime64, months_ahead: int) -> np.datetime64:
    return (cutoff.astype("datetime64[M]") + months_ahead).astype("datetime64[D]")


def _share_dated_by(
    first: np.datetime64, following: np.datetime64, end: np.datetime64, partial_share: float
) -> float:
    """Share of a month's churn dated on or before ``end`` (see :func:`_exit_dates`)."""
    if following - np.timedelta64(1, "D") <= end:
        return 1.0
    complete_days = int((following - first).astype(np.int64)) - 1
    covered = int((end - first).astype(np.int64)) + 1
    return (1.0 - partial_share) * min(covered, complete_days) / complete_days


def _transition_matrices(p_disengage: FloatArray, config: SyntheticConfig) -> FloatArray:
    n = len(p_disengage)
    matrix = np.zeros((n, N_STATES, N_STATES))
    passive, churn, recover = config.passive_rate, config.churn_rate, config.recover_rate
    matrix[:, STABLE, STABLE] = 1.0 - passive - p_disengage
    matrix[:, STABLE, DISENGAGING] = p_disengage
    matrix[:, STABLE, BANK_CLOSED] = passive
    matrix[:, DISENGAGING, STABLE] = recover
    matrix[:, DISENGAGING, DISENGAGING] = 1.0 - passive - churn - recover
    matrix[:, DISENGAGING, CHURNED] = churn
    matrix[:, DISENGAGING, BANK_CLOSED] = passive
    matrix[:, CHURNED, CHURNED] = 1.0
    matrix[:, BANK_CLOSED, BANK_CLOSED] = 1.0
    return matrix
