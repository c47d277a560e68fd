"""A synthetic retail bank whose churn is known: tables, ground truth and an oracle.

Each customer follows a hidden monthly Markov chain (stable, disengaging, churned, closed
by the bank). The stable-to-disengaging hazard rises with a short tenure, a low income, a
recent complaint, youth, the region and a per-customer frailty; a disengaging customer
either recovers or churns, completely (every account closed) or partially (accounts kept,
assets moved out). While disengaging, total assets fall in steps, money leaves for other
banks, payment wallets and cash, transactions thin out, products are closed and complaints
pile up unresolved: the early-warning signals the domain describes, planted in the five
contract tables. Because the chain is known, :meth:`SyntheticBank.oracle_probability` gives
the best churn probability any model could reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from churnml.datasets._synthetic_accounts import make_accounts
from churnml.datasets._synthetic_chain import (
    COMPLAINT_FRAILTY_POWER,
    DISENGAGING,
    GENDERS,
    INCOME_BANDS,
    KIND_COMPLETE,
    KIND_PARTIAL,
    KIND_PASSIVE,
    STABLE,
    Calendar,
    Chain,
    History,
    Population,
    churn_probability,
    draw_population,
    simulate,
)
from churnml.datasets._synthetic_flows import make_complaints, make_transactions
from churnml.errors import InputError
from churnml.tables import Tables, load_tables

__all__ = ["SyntheticBank", "SyntheticConfig", "make_bank"]

DateLike: TypeAlias = "str | date | pd.Timestamp | np.datetime64"
CutoffsLike: TypeAlias = "DateLike | Sequence[DateLike] | pd.DatetimeIndex | pd.Series"

# The contract's default partial-churn rule: month average <= (1 - 0.7) x 12-month peak.
CONTRACT_PARTIAL_RATIO = 0.3
SEGMENT_EDGES = (50_000.0, 500_000.0)
SEGMENTS = ("mass", "affluent", "private")
# Ordered by kind code, so that code 0 (no churn) can map to None in front of them.
KIND_NAMES = {KIND_COMPLETE: "complete", KIND_PARTIAL: "partial", KIND_PASSIVE: "passive"}
MAX_SHOWN = 5
_PROBABILITY_KNOBS = (
    "new_customer_share",
    "initial_disengaged_share",
    "disengage_rate",
    "churn_rate",
    "recover_rate",
    "passive_rate",
    "partial_share",
    "max_disengage_rate",
    "decline_step_min",
    "decline_step_max",
    "decline_step_prob",
    "decline_floor",
    "recovery_speed",
    "partial_residual_min",
    "partial_residual_max",
    "renewal_prob",
    "disengaged_closure_rate",
    "resolve_prob",
    "disengaged_resolve_prob",
)
_NON_NEGATIVE_KNOBS = (
    "max_prior_tenure_years",
    "frailty_sigma",
    "young_tenure_months",
    "balance_volatility",
    "complete_churn_spread_days",
    "transactions_per_month",
    "disengaged_activity",
    "disengaged_amount",
    "after_partial_activity",
    "complaint_rate",
    "disengaged_complaint_rate",
)


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs of the synthetic bank; every rate is monthly and every effect is on log-hazard.

    Attributes
    ----------
    new_customer_share : float
        Share of customers who join during the window; the rest joined up to
        ``max_prior_tenure_years`` before it.
    initial_disengaged_share : float
        Share of earlier customers already disengaging in the window's first month.
    disengage_rate : float
        Stable-to-disengaging hazard of a reference customer (mid income, aged 35-59).
    churn_rate, recover_rate, passive_rate : float
        Disengaging-to-churned, disengaging-to-stable and (from either state) bank-closure
        probabilities.
    partial_share : float
        Share of churners who keep their accounts but move their assets out.
    frailty_sigma : float
        Spread of the log-normal per-customer frailty (mean 1).
    young_tenure_months, young_tenure_effect, complaint_effect : int, float, float
        Hazard effects of a tenure shorter than ``young_tenure_months`` and of a complaint
        in the previous month.
    low_income_effect, high_income_effect, young_age_effect, senior_age_effect : float
        Hazard effects of income band and age (under 35, 60 and over).
    regions, region_shares, region_effects : tuple
        Region names, their shares of customers and their hazard effects.
    balance_drift, balance_volatility : float
        Mean and spread of stable customers' monthly log-change in total assets.
    decline_step_min, decline_step_max, decline_step_prob : float
        Size range of a disengaging month's fall in total assets and its probability.
    decline_floor : float
        Disengaging assets never fall below this share of their 12-month peak, so the
        decline alone never meets the contract's partial-churn rule (which needs 0.3).
    recovery_speed : float
        Share of the gap to their former level a recovering customer closes each month.
    partial_residual_min, partial_residual_max : float
        A partial churner keeps this share of the 12-month peak.
    renewal_prob : float
        Probability a maturing time deposit or wealth-management product is renewed.
    disengaged_closure_rate : float
        Monthly probability a disengaging customer closes each closable product.
    complete_churn_spread_days : int
        A complete churner closes all accounts over this many days.
    transactions_per_month : float
        Mean transactions a month of a stable customer.
    disengaged_activity, disengaged_amount, after_partial_activity : float
        Multipliers of transaction frequency and amount while disengaging, and of
        frequency after partial churn.
    complaint_rate, disengaged_complaint_rate : float
        Monthly complaint rates of a stable (average frailty) and a disengaging customer.
    resolve_prob, disengaged_resolve_prob : float
        Probability a complaint gets resolved, by the complainer's state.
    """

    new_customer_share: float = 0.35
    max_prior_tenure_years: float = 15.0
    initial_disengaged_share: float = 0.04
    disengage_rate: float = 0.010
    churn_rate: float = 0.25
    recover_rate: float = 0.10
    passive_rate: float = 0.0015
    partial_share: float = 0.4
    max_disengage_rate: float = 0.5
    frailty_sigma: float = 0.7
    young_tenure_months: int = 12
    young_tenure_effect: float = 0.8
    complaint_effect: float = 1.0
    low_income_effect: float = 0.4
    high_income_effect: float = -0.3
    young_age_effect: float = 0.25
    senior_age_effect: float = -0.3
    regions: tuple[str, ...] = ("north", "south", "east", "west", "central")
    region_shares: tuple[float, ...] = (0.2, 0.2, 0.25, 0.15, 0.2)
    region_effects: tuple[float, ...] = (0.0, 0.15, 0.35, -0.2, 0.0)
    balance_drift: float = 0.003
    balance_volatility: float = 0.03
    decline_step_min: float = 0.10
    decline_step_max: float = 0.25
    decline_step_prob: float = 0.85
    decline_floor: float = 0.42
    recovery_speed: float = 0.35
    partial_residual_min: float = 0.03
    partial_residual_max: float = 0.20
    renewal_prob: float = 0.6
    disengaged_closure_rate: float = 0.2
    complete_churn_spread_days: int = 3
    transactions_per_month: float = 3.0
    disengaged_activity: float = 0.55
    disengaged_amount: float = 0.6
    after_partial_activity: float = 0.3
    complaint_rate: float = 0.01
    disengaged_complaint_rate: float = 0.2
    resolve_prob: float = 0.9
    disengaged_resolve_prob: float = 0.3

    def __post_init__(self) -> None:
        problems = [message for broken, message in self._rules() if broken]
        if problems:
            raise InputError("invalid SyntheticConfig: " + "; ".join(problems))

    def _rules(self) -> list[tuple[bool, str]]:
        rules = [
            (not 0.0 <= getattr(self, name) <= 1.0, f"{name} must be in [0, 1]")
            for name in _PROBABILITY_KNOBS
        ]
        rules += [(getattr(self, name) < 0, f"{name} must be >= 0") for name in _NON_NEGATIVE_KNOBS]
        leave = self.churn_rate + self.recover_rate + self.passive_rate
        return [
            *rules,
            (leave > 1.0, "churn_rate + recover_rate + passive_rate must be at most 1"),
            (self.disengage_rate <= 0, "disengage_rate must be positive"),
            (
                self.decline_floor <= CONTRACT_PARTIAL_RATIO,
                f"decline_floor must exceed {CONTRACT_PARTIAL_RATIO} (the partial-churn rule)",
            ),
            (
                not 0
                < self.partial_residual_min
                <= self.partial_residual_max
                < CONTRACT_PARTIAL_RATIO,
                f"need 0 < partial_residual_min <= partial_residual_max < {CONTRACT_PARTIAL_RATIO}",
            ),
            (self.decline_step_min > self.decline_step_max, "decline_step_min > decline_step_max"),
            (self.renewal_prob >= 1.0, "renewal_prob must be below 1"),
            (
                len({len(self.regions), len(self.region_shares), len(self.region_effects)}) > 1,
                "regions, region_shares and region_effects must have the same length",
            ),
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return the knobs as a plain dict (tuples stay tuples), e.g. for MLflow params."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SyntheticConfig:
        """Build a config from :meth:`to_dict` output, also after a JSON or TOML round trip."""
        knobs: dict[str, Any] = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in values.items()
        }
        return cls(**knobs)


@dataclass(frozen=True, eq=False)
class SyntheticBank:
    """A synthetic bank: contract tables, the churn that really happened, and an oracle.

    Build it with :func:`make_bank`.

    Attributes
    ----------
    tables : Tables
        The five contract tables, validated by :func:`churnml.load_tables`.
    truth : pandas.DataFrame
        One row per customer, sorted by ``customer_id``: ``customer_id``, ``join_date``,
        ``churn_date`` (NaT if none), ``churn_kind`` (``"complete"``, ``"partial"``,
        ``"passive"`` or None), ``segment`` (mass, affluent, private by assets at joining),
        ``first_disengaged`` (end of the first disengaging month), ``months_disengaged``,
        ``recovered`` (disengaged, then became stable again) and ``frailty``.
    """

    tables: Tables
    truth: pd.DataFrame
    _chain: Chain = field(repr=False)

    def oracle_probability(
        self, cutoffs: CutoffsLike, horizon_days: int = 90, *, knows_frailty: bool = True
    ) -> pd.DataFrame:
        """Generator's own probability of churn in ``(cutoff, cutoff + horizon]``.

        The probability is exact under the hidden chain, given each customer's state at the
        cutoff: the per-customer monthly transition matrices of the months the horizon
        touches are multiplied out, and in the month the horizon ends in only churn dated
        by its end counts (partial churn is dated on a month's last day, complete churn on
        a uniform earlier day). So it is the probability of the contract's label for this
        horizon; no model can do better in expectation.

        Parameters
        ----------
        cutoffs : date-like or sequence of date-likes
            Month-ends inside the simulated window.
        horizon_days : int, default 90
            Horizon in days.
        knows_frailty : bool, default True
            False gives the probability for a customer of the same state, demographics,
            tenure and complaints but of median frailty (1): the frailty is a hidden
            per-customer multiplier of the hazard that no table records (it only tilts the
            complaint rate), so this is the oracle restricted to what the tables can reveal.

        Returns
        -------
        pandas.DataFrame
            Columns ``customer_id``, ``cutoff``, ``probability``, sorted by
            ``(customer_id, cutoff)``; one row per cutoff for every customer who joined on
            or before it and had neither churned nor been closed by the bank by then.

        Raises
        ------
        ValueError
            When a cutoff is not a month-end of the window, or the horizon is not positive.
        """
        if horizon_days < 1:
            raise InputError(f"horizon_days must be a positive number of days, got {horizon_days}")
        chain = self._chain
        if not knows_frailty:
            frailty = self.truth["frailty"].to_numpy()
            chain = replace(
                chain,
                log_hazard=chain.log_hazard - np.log(frailty),
                complaint_rate=chain.complaint_rate / frailty**COMPLAINT_FRAILTY_POWER,
            )
        ids = self.truth["customer_id"].to_numpy()
        months = self._cutoff_months(cutoffs)
        followed = [
            (chain.states[:, m] == STABLE) | (chain.states[:, m] == DISENGAGING) for m in months
        ]
        probability = [
            churn_probability(chain, m, int(horizon_days))[rows]
            for m, rows in zip(months, followed, strict=True)
        ]
        out = pd.DataFrame(
            {
                "customer_id": np.concatenate([ids[rows] for rows in followed] or [ids[:0]]),
                "cutoff": np.repeat(chain.month_ends[months], [int(r.sum()) for r in followed]),
                "probability": np.concatenate(probability or [np.zeros(0)]),
            }
        )
        out["cutoff"] = out["cutoff"].astype("datetime64[ns]")
        return out.sort_values(["customer_id", "cutoff"], ignore_index=True)

    def _cutoff_months(self, cutoffs: CutoffsLike) -> list[int]:
        values = pd.to_datetime(pd.Series(np.atleast_1d(np.asarray(cutoffs, dtype=object))))
        ends = pd.DatetimeIndex(self._chain.month_ends.astype("datetime64[ns]"))
        months = ends.get_indexer(pd.DatetimeIndex(values))
        if (months < 0).any():
            bad = values[months < 0].dt.date.astype(str).head(MAX_SHOWN).tolist()
            raise InputError(
                f"cutoffs must be month-ends from {ends[0].date()} to {ends[-1].date()}; "
                f"got {', '.join(bad)}"
            )
        return sorted(set(months.tolist()))

    def __repr__(self) -> str:
        kinds = self.truth["churn_kind"].value_counts().to_dict()
        shown = ", ".join(f"{kind}={kinds.get(kind, 0):,}" for kind in KIND_NAMES.values())
        return f"SyntheticBank({self.tables!r}, churn: {shown})"


def make_bank(
    n_customers: int = 2_000,
    months: int = 24,
    seed: int = 0,
    *,
    start: str = "2022-01-01",
    config: SyntheticConfig | None = None,
) -> SyntheticBank:
    """Simulate a retail bank whose customers' churn is known.

    Parameters
    ----------
    n_customers : int, default 2000
        Customers, including those who join during the window.
    months : int, default 24
        Length of the window in months; it begins with the month containing ``start``.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; the same seed gives identical tables.
    start : str, default "2022-01-01"
        A date in the window's first month.
    config : SyntheticConfig, optional
        The generator's knobs; defaults to ``SyntheticConfig()``.

    Returns
    -------
    SyntheticBank
        Validated contract tables, the ground truth and the oracle.

    Examples
    --------
    >>> from churnml.datasets import make_bank
    >>> bank = make_bank(n_customers=200, months=12, seed=1)
    >>> bank.tables.customers.shape
    (200, 6)
    >>> list(bank.truth.columns[:4])
    ['customer_id', 'join_date', 'churn_date', 'churn_kind']
    >>> oracle = bank.oracle_probability(["2022-06-30"], horizon_days=90)
    >>> bool(oracle["probability"].between(0, 1).all())
    True
    """
    if n_customers < 1 or months < 1:
        raise InputError(f"need n_customers >= 1 and months >= 1, got {n_customers}, {months}")
    config = SyntheticConfig() if config is None else config
    rng = np.random.default_rng(seed)
    first = np.datetime64(pd.Timestamp(start).date(), "M")
    calendar = Calendar((first + np.arange(months + 1)).astype("datetime64[D]"))
    population = draw_population(n_customers, calendar, config, rng)
    history = simulate(population, calendar, config, rng)
    tables = load_tables(
        {
            "customers": _customers(population, config),
            "accounts": make_accounts(population, history, calendar, config, rng),
            "balances": _balances(history, calendar),
            "transactions": make_transactions(population, history, calendar, config, rng),
            "complaints": make_complaints(population, history, calendar, config, rng),
        }
    )
    chain = Chain(
        month_ends=calendar.ends,
        states=history.states,
        complained=history.complaints > 0,
        join_month=population.join_month,
        log_hazard=population.log_hazard,
        complaint_rate=population.complaint_rate,
        config=config,
    )
    return SyntheticBank(tables, _truth(population, history, calendar), chain)


def _customers(population: Population, config: SyntheticConfig) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, len(population.join_date) + 1, dtype=np.int64),
            "join_date": population.join_date.astype("datetime64[ns]"),
            "birth_year": population.birth_year,
            "gender": np.asarray(GENDERS, dtype=object)[population.gender],
            "income_band": np.asarray(INCOME_BANDS, dtype=object)[population.income],
            "region": np.asarray(config.regions, dtype=object)[population.region],
        }
    )


def _balances(history: History, calendar: Calendar) -> pd.DataFrame:
    customer, month = np.nonzero(history.active)
    return pd.DataFrame(
        {
            "customer_id": customer.astype(np.int64) + 1,
            "date": calendar.ends[month].astype("datetime64[ns]"),
            "balance": history.balance[customer, month],
        },
        copy=False,
    )


def _truth(population: Population, history: History, calendar: Calendar) -> pd.DataFrame:
    kind = history.kind
    month_end = calendar.ends[np.clip(history.exit_month, 0, None)]
    churn_date = np.where(kind == KIND_PARTIAL, month_end, history.exit_date)
    churn_date = np.where(kind == 0, np.datetime64("NaT"), churn_date)
    disengaged = history.states == DISENGAGING
    ever = disengaged.any(axis=1)
    first = calendar.ends[disengaged.argmax(axis=1)]
    segment = np.searchsorted(np.asarray(SEGMENT_EDGES), population.wealth, side="right")
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, len(kind) + 1, dtype=np.int64),
            "join_date": population.join_date.astype("datetime64[ns]"),
            "churn_date": churn_date.astype("datetime64[ns]"),
            "churn_kind": np.asarray([None, *KIND_NAMES.values()], dtype=object)[kind],
            "segment": np.asarray(SEGMENTS, dtype=object)[segment],
            "first_disengaged": np.where(ever, first, np.datetime64("NaT")).astype(
                "datetime64[ns]"
            ),
            "months_disengaged": disengaged.sum(axis=1),
            "recovered": history.recovered,
            "frailty": population.frailty,
        }
    )
