"""A customer's monthly margin: spread on balances by product, plus fees, less cost to serve.

:func:`monthly_margin` is the margin a customer earns the bank in the month of a cutoff,
from what is known at the cutoff only; :class:`MarginConfig` holds every rate.
:func:`realised_margin` applies the same definition to each month after a cutoff, to
check a valuation against what was actually earned. :mod:`churnml.value` turns the margin
into lifetime value. See ``docs/value.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from churnml.errors import InputError
from churnml.monthly import balance_window, monthly_balances
from churnml.tables import PRODUCT_TYPES, Tables, TableSource, load_tables
from churnml.timeline import Horizon, as_cutoffs, as_of, check_within_data

__all__ = ["MARGIN_COLUMNS", "MarginConfig", "monthly_margin", "realised_margin"]

KEY = ["customer_id", "cutoff"]
MONTHS_PER_YEAR = 12
_SHOWN = 5

MARGIN_COLUMNS = ("balance", "spread_income", "fee_income", "cost_to_serve", "margin")
"""Columns of :func:`monthly_margin` after the key, in balance units per month."""
DEFAULT_ANNUAL_SPREAD: Mapping[str, float] = MappingProxyType(
    {
        "current": 0.025,
        "savings": 0.0125,
        "time_deposit": 0.005,
        "wealth_management": 0.008,
        "fund": 0.006,
    }
)
DEFAULT_MONTHLY_FEE: Mapping[str, float] = MappingProxyType(
    {"current": 3.0, "credit_card": 4.0, "insurance": 2.0}
)
DEFAULT_COST_TO_SERVE = 8.0
ASSET_PRODUCTS = ("current", "savings", "time_deposit", "wealth_management", "fund")
# A customer's balance rows without a product type, split over their open asset accounts.
_UNALLOCATED = "unallocated"


def _rates(values: Mapping[str, float], name: str, *, low: float) -> Mapping[str, float]:
    if not isinstance(values, Mapping):
        raise InputError(f"{name} must map product types to numbers, got {values!r}")
    unknown = sorted(set(values) - set(PRODUCT_TYPES))
    if unknown:
        raise InputError(f"{name}: unknown product types {unknown}; known: {PRODUCT_TYPES}")
    out = {}
    for product, value in values.items():
        number = float(value)
        if not math.isfinite(number) or number < low:
            raise InputError(f"{name}[{product!r}] must be a finite number >= {low}, got {value}")
        out[product] = number
    return MappingProxyType(out)


@dataclass(frozen=True)
class MarginConfig:
    """What a customer earns the bank each month, in balance units.

    ``margin = sum_p balance_p * annual_spread[p] / 12 + sum_p open_p * monthly_fee[p]
    - cost_to_serve``, where ``balance_p`` is the month's average balance held in product
    type ``p`` and ``open_p`` the customer's open accounts of that type. The defaults are an
    illustrative assumption, typical of European retail banks in 2023-24; a bank must
    replace them with its own funds-transfer-pricing (FTP) curve, tariff and cost model.

    Parameters
    ----------
    annual_spread : mapping of str to float
        Annual margin on one unit of balance held in each product type: the FTP credit
        minus the rate paid to the depositor for deposits; the bank's yearly share of the
        assets for investment products. A product type left out earns nothing on its
        balance. Defaults: current 2.5% (pays about nothing, funds the bank like stable
        long money), savings 1.25%, time_deposit 0.5% (priced close to the swap curve),
        wealth_management 0.8% and fund 0.6% (management and distribution fees).
        Lending margins (loan, mortgage, credit_card) are out of scope: the contract's
        balances are assets; put a per-account fee in ``monthly_fee`` to approximate them.
    monthly_fee : mapping of str to float
        Fee income per open account of each type per month. Defaults: current 3.0
        (account package), credit_card 4.0 (annual fee plus interchange, net of rewards),
        insurance 2.0 (commission per policy).
    cost_to_serve : float
        Monthly cost of serving a customer with at least one open account (branch,
        contact centre, IT, statements); default 8.0, about 100 a year.
    asset_products : tuple of str
        Product types that hold the balance when a balance row has no ``product_type``:
        such a balance is split evenly over the customer's open accounts of these types
        (earning their average spread); with none open it earns nothing.

    Examples
    --------
    >>> config = MarginConfig(monthly_fee={"current": 5.0}, cost_to_serve=6.0)
    >>> MarginConfig.from_dict(config.to_dict()) == config
    True
    >>> config.annual_spread["current"]
    0.025
    """

    annual_spread: Mapping[str, float] = field(default_factory=lambda: DEFAULT_ANNUAL_SPREAD)
    monthly_fee: Mapping[str, float] = field(default_factory=lambda: DEFAULT_MONTHLY_FEE)
    cost_to_serve: float = DEFAULT_COST_TO_SERVE
    asset_products: tuple[str, ...] = ASSET_PRODUCTS

    def __post_init__(self) -> None:
        # A spread above -100% a year; fees and costs are amounts the bank receives or pays.
        object.__setattr__(
            self, "annual_spread", _rates(self.annual_spread, "annual_spread", low=-1)
        )
        object.__setattr__(self, "monthly_fee", _rates(self.monthly_fee, "monthly_fee", low=0))
        cost = float(self.cost_to_serve)
        if not math.isfinite(cost) or cost < 0:
            raise InputError(f"cost_to_serve must be a number >= 0, got {self.cost_to_serve}")
        object.__setattr__(self, "cost_to_serve", cost)
        assets = tuple(self.asset_products)
        unknown = sorted(set(assets) - set(PRODUCT_TYPES))
        if unknown or not assets:
            raise InputError(
                f"asset_products must be one or more of {PRODUCT_TYPES}, got {self.asset_products}"
            )
        object.__setattr__(self, "asset_products", assets)

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the parameters (MLflow params, config files, JSON)."""
        return {
            "annual_spread": dict(self.annual_spread),
            "monthly_fee": dict(self.monthly_fee),
            "cost_to_serve": self.cost_to_serve,
            "asset_products": list(self.asset_products),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MarginConfig:
        """Rebuild a config from :meth:`to_dict`'s output (lists become tuples)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"MarginConfig has no parameters {unknown}; known: {sorted(known)}")
        given = dict(values)
        if "asset_products" in given:
            given["asset_products"] = tuple(given["asset_products"])
        return cls(**given)


def monthly_margin(
    tables: TableSource,
    *,
    cutoffs: Any,
    config: MarginConfig | None = None,
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each customer's margin in the month of each cutoff, as known at the cutoff.

    The balance of each product type is its average over the cutoff's month, counting only
    snapshots dated on or before the cutoff (:func:`~churnml.monthly.balance_window`, as
    for value tiers); a customer with no snapshot in that month yet keeps the previous
    month's average. Accounts count when open at the cutoff (:func:`~churnml.timeline.as_of`).
    A customer with no open account holds no balance and costs nothing: their margin is 0.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables.
    cutoffs : date-like or list of date-like
        Cutoffs; month ends give whole months.
    config : MarginConfig, optional
        Rates, fees and cost; defaults to ``MarginConfig()``.
    population : pandas.DataFrame, optional
        ``customer_id`` and ``cutoff`` rows to value; by default every customer who joined
        on or before each cutoff.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``cutoff`` and :data:`MARGIN_COLUMNS` (balance units per month),
        sorted by ``customer_id`` then ``cutoff``.

    Raises
    ------
    InputError
        If a cutoff lies after the end of the data.

    Examples
    --------
    >>> tables = {
    ...     "customers": pd.DataFrame({"customer_id": [1], "join_date": ["2024-01-05"]}),
    ...     "accounts": pd.DataFrame({"account_id": [10, 11], "customer_id": [1, 1],
    ...                               "product_type": ["current", "savings"],
    ...                               "open_date": ["2024-01-05", "2024-01-05"]}),
    ...     "balances": pd.DataFrame({"customer_id": [1, 1], "date": ["2024-01-31"] * 2,
    ...                               "product_type": ["current", "savings"],
    ...                               "balance": [1200.0, 12000.0]}),
    ... }
    >>> margin = monthly_margin(tables, cutoffs="2024-01-31")
    >>> margin[["spread_income", "fee_income", "cost_to_serve", "margin"]].round(2).values.tolist()
    [[15.0, 3.0, 8.0, 10.0]]
    """
    tables = load_tables(tables)
    config = config or MarginConfig()
    cutoff_index = as_cutoffs(cutoffs)
    check_within_data(cutoff_index, tables)
    # Only the tables the margin reads go through as_of, once per cutoff.
    held = replace(tables, transactions=None, complaints=None)
    wanted = None if population is None else _population_cutoffs(population, cutoff_index)
    products = _product_balances(tables.balances)
    parts = []
    for cutoff in cutoff_index:
        known = as_of(held, cutoff)
        ids = (
            known.customers["customer_id"]
            if population is None or wanted is None
            else population.loc[(wanted == cutoff).to_numpy(), "customer_id"]
        )
        parts.append(_margin_at(known, products, pd.Index(ids), cutoff, config))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(KEY, kind="stable").reset_index(drop=True)


def _population_cutoffs(frame: pd.DataFrame, cutoffs: pd.DatetimeIndex) -> pd.Series:
    """The ``cutoff`` column of a population frame, each one of ``cutoffs``."""
    if not isinstance(frame, pd.DataFrame) or not {"customer_id", "cutoff"} <= set(frame.columns):
        shown = list(frame.columns) if isinstance(frame, pd.DataFrame) else type(frame).__name__
        raise InputError(
            f"population needs customer_id and cutoff columns, got {shown}; for a frame "
            "indexed by them use frame.reset_index()"
        )
    values = pd.to_datetime(frame["cutoff"]).dt.normalize()
    stray = values[~values.isin(cutoffs)].unique()
    if len(stray):
        raise InputError(
            f"population has cutoffs {[str(c.date()) for c in stray[:_SHOWN]]} that are not "
            "among the cutoffs given; pass them in cutoffs too"
        )
    return values


def _product_balances(
    balances: pd.DataFrame,
) -> dict[str, tuple[pd.DataFrame, Any]]:
    """Each product type's balance rows and their monthly averages, computed once."""
    product = balances["product_type"].astype("object").fillna(_UNALLOCATED)
    return {
        str(name): (rows, monthly_balances(rows))
        for name, rows in balances.groupby(product, sort=True, observed=True)
    }


def _margin_at(
    known: Tables,
    products: dict[str, tuple[pd.DataFrame, Any]],
    ids: pd.Index,
    cutoff: pd.Timestamp,
    config: MarginConfig,
) -> pd.DataFrame:
    counts = _open_accounts(known.accounts, ids)
    held = _held_balances(products, ids, cutoff)
    any_open = counts.sum(axis=1) > 0
    spread = np.array([config.annual_spread.get(p, 0.0) for p in PRODUCT_TYPES])
    fee = np.array([config.monthly_fee.get(p, 0.0) for p in PRODUCT_TYPES])
    assets = counts * np.isin(PRODUCT_TYPES, config.asset_products)
    n_assets = assets.sum(axis=1)
    blended = np.where(n_assets > 0, assets @ spread / np.maximum(n_assets, 1), 0.0)
    by_product = np.column_stack([held.get(p, np.zeros(len(ids))) for p in PRODUCT_TYPES])
    unallocated = held.get(_UNALLOCATED, np.zeros(len(ids)))
    annual = by_product @ spread + unallocated * blended
    # No open account: nothing left to hold a balance or to serve.
    balance = np.where(any_open, by_product.sum(axis=1) + unallocated, 0.0)
    spread_income = np.where(any_open, annual / MONTHS_PER_YEAR, 0.0)
    fee_income = counts @ fee
    cost = np.where(any_open, config.cost_to_serve, 0.0)
    return pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "cutoff": cutoff,
            "balance": balance,
            "spread_income": spread_income,
            "fee_income": fee_income,
            "cost_to_serve": cost,
            "margin": spread_income + fee_income - cost,
        }
    )


def _open_accounts(accounts: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    """Open accounts per customer (rows) and product type (columns, as PRODUCT_TYPES)."""
    open_accounts = accounts[accounts["close_date"].isna()]
    if open_accounts.empty:
        return np.zeros((len(ids), len(PRODUCT_TYPES)))
    product = open_accounts["product_type"].astype("object")
    table = open_accounts.groupby([open_accounts["customer_id"], product]).size().unstack()
    return table.reindex(index=ids, columns=list(PRODUCT_TYPES)).fillna(0).to_numpy(float)


def _held_balances(
    products: dict[str, tuple[pd.DataFrame, Any]], ids: pd.Index, cutoff: pd.Timestamp
) -> dict[str, np.ndarray]:
    """Average balance per product type in the cutoff's month (or the one before)."""
    windows = {
        name: balance_window(rows, monthly, ids, cutoff, 2)
        for name, (rows, monthly) in products.items()
    }
    if not windows:
        return {}
    # One month for all of a customer's products: this month's if any snapshot is known.
    this_month = np.zeros(len(ids), dtype=bool)
    for window in windows.values():
        this_month |= ~np.isnan(window[:, 1])
    return {
        name: np.nan_to_num(np.where(this_month, window[:, 1], window[:, 0]))
        for name, window in windows.items()
    }


def realised_margin(
    tables: TableSource,
    *,
    cutoff: Any,
    horizon_months: int,
    config: MarginConfig | None = None,
) -> pd.DataFrame:
    """The margin each customer actually earned in each month after a cutoff.

    Month ``k`` is the calendar month ``k`` months after the cutoff's month (its end is
    :class:`~churnml.timeline.Horizon` ``(months=k)``), valued by :func:`monthly_margin`
    at that month end: the same definition, applied later. A customer who left earns 0
    from the month their last account closed; a partial churner earns what their remaining
    balance earns.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables; they must reach the horizon's last month end.
    cutoff : date-like
        One cutoff.
    horizon_months : int
        Months after the cutoff.
    config : MarginConfig, optional
        Defaults to ``MarginConfig()``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(customer_id, cutoff)`` over the customers who joined on or before the
        cutoff, one column per month ``1 .. horizon_months`` (column index ``month``),
        like survival curves.

    Raises
    ------
    InputError
        If the horizon is not a whole number of at least 1, or ends after the data.

    Examples
    --------
    >>> from churnml.datasets import make_bank
    >>> bank = make_bank(n_customers=30, months=6, seed=0)
    >>> realised = realised_margin(bank.tables, cutoff="2022-03-31", horizon_months=3)
    >>> realised.columns.tolist(), list(realised.index.names)
    ([1, 2, 3], ['customer_id', 'cutoff'])
    """
    tables = load_tables(tables)
    (start,) = as_cutoffs(cutoff)
    months = np.arange(1, _whole(horizon_months, "horizon_months") + 1)
    ends = pd.DatetimeIndex([Horizon(months=int(k)).end([start])[0] for k in months])
    check_within_data(ends[-1:], tables)
    ids = tables.customers.loc[tables.customers["join_date"] <= start, "customer_id"]
    population = pd.DataFrame(
        {"customer_id": np.tile(ids.to_numpy(), len(ends)), "cutoff": np.repeat(ends, len(ids))}
    )
    long = monthly_margin(tables, cutoffs=ends, config=config, population=population)
    long["month"] = pd.Index(ends).get_indexer(pd.Index(long["cutoff"])) + 1
    wide = long.pivot(index="customer_id", columns="month", values="margin")
    wide = wide.reindex(columns=pd.Index(months.tolist(), name="month"))
    wide.index = pd.MultiIndex.from_arrays(
        [wide.index, pd.DatetimeIndex([start] * len(wide))], names=KEY
    )
    return wide


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(f"{name} must be a whole number of months, at least 1; got {value!r}")
    return int(value)
