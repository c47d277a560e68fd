"""Churn labels in the bank analysts' taxonomy.

The contract's definitions (``../shared/CONTRACT.md``):

- **complete** churn on day d: the customer's last open account closes on d and none of
  their closures so far was by the bank;
- **partial** churn in month m: the month's average balance is at most ``1 - drop`` times
  the highest monthly average of the ``peak_months`` months before m, and that peak was
  positive and at least ``min_peak``; dated the last day of m;
- **any**: whichever comes first (the default);
- **passive** churn: every account closed and at least one by the bank. Never a positive:
  the customer leaves the population that day (censored).

A customer's first churn ends their follow-up. Under ``kind="partial"`` a complete churn
also ends follow-up (censored): a customer with no accounts cannot lose assets any more.
Under ``kind="complete"`` partial churn is no event and the customer stays at risk.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from churnml.errors import InputError
from churnml.monthly import monthly_balances
from churnml.tables import COUNTERPARTIES, Tables, TableSource, load_tables
from churnml.tiers import TierConfig, value_tiers
from churnml.timeline import Horizon, as_cutoffs, check_within_data

__all__ = [
    "CHURN_KINDS",
    "KNOWN_AT_CUTOFF",
    "OUTCOME_COLUMNS",
    "ChurnDefinition",
    "churn_events",
    "label_churn",
    "money_destinations",
    "population",
]

CHURN_KINDS = ("any", "complete", "partial")
DESTINATION_WINDOW_DAYS = 90
DESTINATION_COLUMNS = tuple(f"dest_{cp}_share" for cp in COUNTERPARTIES)
_NO_DATE = pd.Timestamp.max.normalize()
_ENDINGS = ("complete", "passive", "partial")
_COUNTED = {"any": ("complete", "partial"), "complete": ("complete",), "partial": ("partial",)}

OUTCOME_COLUMNS = (
    "event",
    "churn_kind",
    "churn_date",
    "duration_days",
    "observed",
    "horizon_observed",
    "censor_reason",
    *DESTINATION_COLUMNS,
)
"""Columns of :func:`label_churn` that tell what happened after the cutoff: never features.

The models refuse a feature table holding any of them, so a merge of labels and features
cannot put the future into ``X`` unnoticed."""

KNOWN_AT_CUTOFF = ("avg_balance_3m", "value_tier")
"""Columns of :func:`label_churn` known at the cutoff (the customer's value then)."""


@dataclass(frozen=True)
class ChurnDefinition:
    """Which churn counts, and the partial-churn rule's parameters.

    Parameters
    ----------
    kind : {"any", "complete", "partial"}
        The churn that counts as an event.
    drop : float
        Partial churn: the month's average is at most ``(1 - drop)`` times the peak.
    min_peak : float
        Partial churn: the peak must be at least this (balance units).
    peak_months : int
        Partial churn: the peak is taken over this many months before the month.
    """

    kind: str = "any"
    drop: float = 0.7
    min_peak: float = 0.0
    peak_months: int = 12

    def __post_init__(self) -> None:
        if self.kind not in CHURN_KINDS:
            raise InputError(f"churn kind must be one of {CHURN_KINDS}, got {self.kind!r}")
        if not 0 < self.drop < 1:
            raise InputError(f"drop must be between 0 and 1, got {self.drop}")
        if self.min_peak < 0 or self.peak_months < 1:
            raise InputError("min_peak must be >= 0 and peak_months >= 1")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the parameters (for MLflow params and config files)."""
        return asdict(self)


def churn_events(tables: TableSource, *, definition: ChurnDefinition | None = None) -> pd.DataFrame:
    """Each customer's first churn and the end of their follow-up.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables.
    definition : ChurnDefinition, optional
        Defaults to ``ChurnDefinition()`` (any churn).

    Returns
    -------
    pandas.DataFrame
        One row per customer, sorted by ``customer_id``: ``join_date``, ``churn_date``
        (NaT if none), ``churn_kind`` (complete, partial or None), ``exit_date`` (the day the
        customer leaves the population: churn or passive closure), ``censor_date`` (end of
        follow-up when there is no churn) and ``censor_reason`` (passive, complete,
        end_of_data).
    """
    tables = load_tables(tables)
    definition = definition or ChurnDefinition()
    customers = tables.customers[["customer_id", "join_date"]].sort_values("customer_id")
    closures = _all_closed_dates(tables.accounts)
    partial = _partial_churn_dates(tables, definition)
    out = customers.merge(closures, on="customer_id", how="left").merge(
        partial, on="customer_id", how="left"
    )
    # Dates that end follow-up under this definition; on a tie the earlier name wins (a
    # month-end closure explains that month's low balance).
    ending = ("complete", "passive") if definition.kind == "complete" else _ENDINGS
    counted = _COUNTED[definition.kind]
    frame = pd.DataFrame({kind: out[f"{kind}_date"].fillna(_NO_DATE) for kind in ending})
    first_kind = frame.idxmin(axis=1)
    first_date = frame.min(axis=1)
    happened = first_date < _NO_DATE
    is_churn = happened & first_kind.isin(counted)
    observed_until = tables.observed_until
    out["churn_date"] = first_date.where(is_churn)
    out["churn_kind"] = first_kind.where(is_churn, None)
    out["exit_date"] = first_date.where(happened)
    out["censor_date"] = first_date.where(happened & ~is_churn, observed_until)
    out["censor_reason"] = first_kind.where(happened, "end_of_data").where(~is_churn, None)
    columns = ["customer_id", "join_date", "churn_date", "churn_kind", "exit_date"]
    return out[[*columns, "censor_date", "censor_reason"]].reset_index(drop=True)


def _all_closed_dates(accounts: pd.DataFrame) -> pd.DataFrame:
    """First day each customer's open-account count falls to zero, split by who closed."""
    opens = accounts[["customer_id", "open_date"]].rename(columns={"open_date": "date"})
    closes = accounts.loc[accounts["close_date"].notna(), ["customer_id", "close_date"]]
    closes = closes.rename(columns={"close_date": "date"})
    moves = pd.concat(
        [opens.assign(delta=1, closing=0), closes.assign(delta=-1, closing=1)],
        ignore_index=True,
    )
    daily = moves.groupby(["customer_id", "date"], sort=True)[["delta", "closing"]].sum()
    open_after_day = daily["delta"].groupby(level=0).cumsum()
    all_closed = daily.index[(open_after_day.to_numpy() == 0) & (daily["closing"].to_numpy() > 0)]
    first = (
        pd.DataFrame(
            {"customer_id": all_closed.get_level_values(0), "date": all_closed.get_level_values(1)}
        )
        .groupby("customer_id", sort=True)["date"]
        .min()
    )
    bank = accounts.loc[accounts["close_reason"] == "bank", ["customer_id", "close_date"]]
    first_bank = bank.groupby("customer_id")["close_date"].min()
    by_bank = first_bank.reindex(first.index) <= first
    return pd.DataFrame(
        {
            "customer_id": first.index,
            "complete_date": first.where(~by_bank).to_numpy(),
            "passive_date": first.where(by_bank).to_numpy(),
        }
    )


def _partial_churn_dates(tables: Tables, definition: ChurnDefinition) -> pd.DataFrame:
    """First month whose average meets the partial-churn rule, dated its last day."""
    monthly = monthly_balances(tables.balances)
    values = monthly.values
    peak = np.full_like(values, np.nan)
    for lag in range(1, definition.peak_months + 1):
        if lag < values.shape[1]:
            peak[:, lag:] = np.fmax(peak[:, lag:], values[:, :-lag])
    with np.errstate(invalid="ignore"):
        meets = (
            (values <= (1 - definition.drop) * peak) & (peak > 0) & (peak >= definition.min_peak)
        )
    # No check that the month is complete: whether data follows a month is not known at
    # its end, and the point-in-time rule allows nothing dated later to decide the event.
    month_ends = monthly.months.to_timestamp(how="end").normalize()
    hit = meets.any(axis=1)
    first = np.argmax(meets, axis=1)
    return pd.DataFrame(
        {
            "customer_id": monthly.customers[np.flatnonzero(hit)],
            "partial_date": month_ends[first[hit]],
        }
    )


def population(
    tables: TableSource,
    *,
    cutoffs: Any,
    definition: ChurnDefinition | None = None,
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Customers at risk at each cutoff.

    A customer is in the population at cutoff c when they joined on or before c and, on
    or before c, have neither churned by the definition in use nor been closed by the bank.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables.
    cutoffs : date-like or list of date-like
        Cutoffs.
    definition : ChurnDefinition, optional
        Defaults to any churn.
    events : pandas.DataFrame, optional
        The output of :func:`churn_events`, if already computed.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` and ``cutoff``, sorted by ``customer_id`` then ``cutoff``.
    """
    tables = load_tables(tables)
    cutoff_index = as_cutoffs(cutoffs)
    if events is None:
        events = churn_events(tables, definition=definition)
    ids = np.tile(events["customer_id"].to_numpy(), len(cutoff_index))
    join = np.tile(events["join_date"].to_numpy(), len(cutoff_index))
    exit_ = np.tile(events["exit_date"].fillna(_NO_DATE).to_numpy(), len(cutoff_index))
    cut = np.repeat(cutoff_index.to_numpy(), len(events))
    keep = (join <= cut) & (exit_ > cut)
    rows = pd.DataFrame({"customer_id": ids[keep], "cutoff": cut[keep]})
    return rows.sort_values(["customer_id", "cutoff"], kind="stable").reset_index(drop=True)


def label_churn(
    tables: TableSource,
    *,
    cutoffs: Any,
    horizon_days: int | None = None,
    horizon_months: int | None = None,
    definition: ChurnDefinition | None = None,
    tiers: TierConfig | None = None,
) -> pd.DataFrame:
    """One label row per customer in the population at each cutoff.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables.
    cutoffs : date-like or list of date-like
        Cutoffs.
    horizon_days : int, optional
        The label is churn in ``(cutoff, cutoff + horizon_days]``.
    horizon_months : int, optional
        Instead of days: churn up to the month end ``horizon_months`` months after the
        cutoff's month (:class:`~churnml.timeline.Horizon`). Neither given: 90 days.
    definition : ChurnDefinition, optional
        Which churn counts; defaults to any churn.
    tiers : TierConfig, optional
        Value-tier edges; defaults to the four tiers by quantiles.

    Returns
    -------
    pandas.DataFrame
        Keyed by ``(customer_id, cutoff)``. Known at the cutoff (:data:`KNOWN_AT_CUTOFF`):
        ``avg_balance_3m`` and ``value_tier``. What happened after it
        (:data:`OUTCOME_COLUMNS`, never features): ``event`` (churn within the horizon),
        ``churn_kind`` and ``churn_date`` (of the first churn, whenever it happens),
        ``duration_days`` and ``observed`` (the survival target: days to churn, or to the
        end of follow-up when ``observed`` is False), ``horizon_observed`` (the label is
        known: the whole horizon lies inside the data, ``cutoff + horizon <=
        observed_until``, and follow-up did not end inside it without churn),
        ``censor_reason`` and, for rows with ``event``, the shares of the outflow in the
        90 days before churn by counterparty (``dest_<counterparty>_share``).

    Raises
    ------
    InputError
        If a cutoff lies after the last date in the tables, or the horizon is not one
        positive whole number of days or months.

    Examples
    --------
    >>> from churnml.datasets import make_bank
    >>> bank = make_bank(n_customers=200, months=18, seed=1)
    >>> labels = label_churn(bank.tables, cutoffs=["2022-12-31"], horizon_days=90)
    >>> sorted(labels["value_tier"].dropna().unique().tolist())[:2]
    ['heavyweight', 'lightweight']
    """
    horizon = Horizon.of(horizon_days, horizon_months)
    tables = load_tables(tables)
    cutoffs = as_cutoffs(cutoffs)
    check_within_data(cutoffs, tables)
    events = churn_events(tables, definition=definition)
    rows = population(tables, cutoffs=cutoffs, events=events)
    rows = rows.merge(events, on="customer_id", how="left")
    horizon_end = pd.Series(horizon.end(rows["cutoff"]), index=rows.index)
    churned = rows["churn_date"].notna()
    end = rows["churn_date"].where(churned, rows["censor_date"])
    rows["event"] = churned & (rows["churn_date"] <= horizon_end)
    rows["observed"] = churned
    rows["duration_days"] = (end - rows["cutoff"]).dt.days.astype("int64")
    # Known only when the whole horizon lies inside the data, for churners and stayers
    # alike: keeping the churners of a horizon the data cuts short would train on them
    # without their stayers.
    inside = horizon_end <= tables.observed_until
    rows["horizon_observed"] = inside & (rows["event"] | (rows["censor_date"] >= horizon_end))
    rows["churn_date"] = rows["churn_date"].astype("datetime64[ns]")
    value = value_tiers(tables, cutoffs=cutoffs, config=tiers, population=rows)
    rows = rows.merge(value, on=["customer_id", "cutoff"], how="left")
    destinations = money_destinations(
        tables, churners=rows.loc[rows["event"], ["customer_id", "churn_date"]].drop_duplicates()
    )
    rows = rows.merge(destinations, on="customer_id", how="left")
    rows.loc[~rows["event"], list(DESTINATION_COLUMNS)] = np.nan
    columns = ["customer_id", "cutoff", *KNOWN_AT_CUTOFF, *OUTCOME_COLUMNS]
    return rows[columns].sort_values(["customer_id", "cutoff"]).reset_index(drop=True)


def money_destinations(
    tables: TableSource,
    *,
    churners: pd.DataFrame,
    window_days: int = DESTINATION_WINDOW_DAYS,
) -> pd.DataFrame:
    """Where the money went: each churner's outflow by counterparty before churning.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables.
    churners : pandas.DataFrame
        Columns ``customer_id`` and ``churn_date``, one row per customer.
    window_days : int
        Outflows dated in ``(churn_date - window_days, churn_date]`` count.

    Returns
    -------
    pandas.DataFrame
        One row per churner: ``dest_<counterparty>_share`` for every counterparty of the
        contract (shares of the outflow amount, summing to 1; NaN without outflows or
        without a transactions table).
    """
    tables = load_tables(tables)
    out = churners[["customer_id"]].drop_duplicates().reset_index(drop=True)
    if tables.transactions is None or out.empty:
        return out.assign(**{column: np.nan for column in DESTINATION_COLUMNS})
    flows = tables.transactions.loc[
        tables.transactions["amount"] < 0, ["customer_id", "date", "amount", "counterparty"]
    ].merge(churners[["customer_id", "churn_date"]], on="customer_id")
    in_window = (flows["date"] <= flows["churn_date"]) & (
        flows["date"] > flows["churn_date"] - pd.Timedelta(days=window_days)
    )
    flows = flows[in_window]
    counterparty = flows["counterparty"].astype("object").fillna("other")
    amounts = (
        (-flows["amount"]).groupby([flows["customer_id"], counterparty]).sum().unstack(fill_value=0)
    )
    amounts = amounts.reindex(columns=list(COUNTERPARTIES), fill_value=0.0)
    shares = amounts.div(amounts.sum(axis=1), axis=0)
    shares.columns = list(DESTINATION_COLUMNS)
    return out.merge(shares.reset_index(), on="customer_id", how="left")
