"""Customer value tiers at a cutoff.

DOMAIN.md's four tiers, from the top: super-heavyweight, heavyweight, sub-heavyweight,
lightweight. A customer's value is their average balance over the last months before the
cutoff (the mean of the monthly averages, only snapshots on or before the cutoff count).
Tier edges are quantiles of that value across the population at each cutoff, or fixed
balance edges when the bank has its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from churnml.errors import InputError
from churnml.monthly import balance_window, monthly_balances, row_mean
from churnml.tables import TableSource, load_tables
from churnml.timeline import as_cutoffs

__all__ = ["TIER_NAMES", "TierConfig", "value_tiers"]

TIER_NAMES = ("lightweight", "sub_heavyweight", "heavyweight", "super_heavyweight")


@dataclass(frozen=True)
class TierConfig:
    """How to cut customers into the four value tiers.

    Parameters
    ----------
    quantiles : tuple of float
        Three increasing quantiles of the population's value at the cutoff; the default
        puts half the customers in the lightest tier and 5% in the top one.
    edges : tuple of float, optional
        Three fixed balance edges; when given, they replace the quantiles.
    lookback_months : int
        Months averaged for the value (the cutoff's month included).
    """

    quantiles: tuple[float, ...] = (0.5, 0.8, 0.95)
    edges: tuple[float, ...] | None = None
    lookback_months: int = 3

    def __post_init__(self) -> None:
        cuts = self.edges if self.edges is not None else self.quantiles
        if len(cuts) != len(TIER_NAMES) - 1 or list(cuts) != sorted(cuts):
            raise InputError(f"tier edges must be three increasing numbers, got {cuts}")
        if self.edges is None and not all(0 < q < 1 for q in self.quantiles):
            raise InputError(f"tier quantiles must lie in (0, 1), got {self.quantiles}")
        if self.lookback_months < 1:
            raise InputError("lookback_months must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the parameters."""
        return asdict(self)


def value_tiers(
    tables: TableSource,
    *,
    cutoffs: Any,
    config: TierConfig | None = None,
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Average balance and value tier of each customer at each cutoff.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables.
    cutoffs : date-like or list of date-like
        Cutoffs.
    config : TierConfig, optional
        Tier edges; defaults to ``TierConfig()``.
    population : pandas.DataFrame, optional
        ``customer_id`` and ``cutoff`` rows to tier (quantiles are taken over them); by
        default every customer who joined on or before the cutoff.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``cutoff``, ``avg_balance_3m`` and ``value_tier`` (an ordered
        categorical, lightest first; missing without balances).
    """
    tables = load_tables(tables)
    config = config or TierConfig()
    cutoff_index = as_cutoffs(cutoffs)
    if population is None:
        joined = tables.customers[["customer_id", "join_date"]]
        population = pd.concat(
            [
                joined.loc[joined["join_date"] <= c, ["customer_id"]].assign(cutoff=c)
                for c in cutoff_index
            ],
            ignore_index=True,
        )
    monthly = monthly_balances(tables.balances)
    parts = []
    for cutoff, rows in population[["customer_id", "cutoff"]].groupby("cutoff", sort=True):
        window = balance_window(
            tables.balances,
            monthly,
            rows["customer_id"],
            pd.Timestamp(str(cutoff)),
            config.lookback_months,
        )
        value = row_mean(window)
        parts.append(rows.assign(avg_balance_3m=value, value_tier=_tier(value, config)))
    columns = ["customer_id", "cutoff", "avg_balance_3m", "value_tier"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["value_tier"] = pd.Categorical(out["value_tier"], categories=TIER_NAMES, ordered=True)
    return out[columns]


def _tier(value: np.ndarray, config: TierConfig) -> np.ndarray:
    known = ~np.isnan(value)
    if config.edges is not None:
        edges = np.asarray(config.edges, dtype=float)
    elif known.any():
        edges = np.quantile(value[known], config.quantiles)
    else:
        return np.full(len(value), None, dtype=object)
    # A value on an edge belongs to the tier below it: "top 5%" means strictly above.
    positions = np.searchsorted(edges, value, side="left")
    names = np.asarray(TIER_NAMES, dtype=object)[np.minimum(positions, len(TIER_NAMES) - 1)]
    names[~known] = None
    return names
