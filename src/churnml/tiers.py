"""Customer value tiers at a cutoff, and the moves between tiers from one cutoff to another.

DOMAIN.md's four tiers, from the top: super-heavyweight, heavyweight, sub-heavyweight,
lightweight. A customer's value is, by default, their assets: the average balance over the
last months before the cutoff (the mean of the monthly averages, only snapshots on or before
the cutoff count). It may instead be their lifetime value (CLV), computed elsewhere and
passed in. Tier edges are quantiles of that value across the population at each cutoff, or
fixed edges when the bank has its own.

Banks re-assess tiers regularly with upgrade and downgrade rules: :func:`tier_moves` counts
the customers, and sums the assets, that moved between tiers from one cutoff to another.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churnml.errors import InputError
from churnml.monthly import balance_window, monthly_balances, row_mean
from churnml.tables import TableSource, load_tables
from churnml.timeline import as_cutoffs

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "LEFT",
    "MOVE_COLUMNS",
    "NEW",
    "TIER_BASES",
    "TIER_NAMES",
    "UNTIERED",
    "TierConfig",
    "count_tier_moves",
    "plot_tier_moves",
    "tier_edges",
    "tier_moves",
    "value_tiers",
]

TIER_NAMES = ("lightweight", "sub_heavyweight", "heavyweight", "super_heavyweight")
TIER_BASES = ("assets", "clv")
"""What a tier is cut on: the average balance (assets) or a given lifetime value (clv)."""
NEW, LEFT, UNTIERED = "new", "left", "untiered"
"""Move states beside the tiers: not yet a customer, no longer one, and no known value."""
MOVE_COLUMNS = (
    "tier_before",
    "tier_after",
    "move",
    "customers",
    "share",
    "assets_before",
    "assets_after",
    "assets_change",
)
_ASSETS = "avg_balance_3m"
_MOVE_INPUT = ("customer_id", "value_tier", _ASSETS)


@dataclass(frozen=True)
class TierConfig:
    """How to cut customers into the four value tiers.

    Parameters
    ----------
    quantiles : tuple of float
        Three increasing quantiles of the population's value at the cutoff; the default
        puts half the customers in the lightest tier and 5% in the top one.
    edges : tuple of float, optional
        Three fixed edges, in the units of the value (balance or CLV); when given, they
        replace the quantiles.
    lookback_months : int
        Months averaged for the average balance (the cutoff's month included).
    by : {"assets", "clv"}
        The value cut into tiers: the average balance, or the customer's lifetime value
        passed to :func:`value_tiers` as ``clv``.

    Examples
    --------
    >>> config = TierConfig(by="clv", edges=(100.0, 500.0, 2000.0))
    >>> TierConfig.from_dict(config.to_dict()) == config
    True
    """

    quantiles: tuple[float, ...] = (0.5, 0.8, 0.95)
    edges: tuple[float, ...] | None = None
    lookback_months: int = 3
    by: str = "assets"

    def __post_init__(self) -> None:
        # Lists from a JSON or TOML round trip become tuples, so configs stay hashable.
        object.__setattr__(self, "quantiles", tuple(float(q) for q in self.quantiles))
        if self.edges is not None:
            object.__setattr__(self, "edges", tuple(float(e) for e in self.edges))
        cuts = self.edges if self.edges is not None else self.quantiles
        if len(cuts) != len(TIER_NAMES) - 1 or list(cuts) != sorted(cuts):
            raise InputError(f"tier edges must be three increasing numbers, got {cuts}")
        if self.edges is None and not all(0 < q < 1 for q in self.quantiles):
            raise InputError(f"tier quantiles must lie in (0, 1), got {self.quantiles}")
        if self.lookback_months < 1:
            raise InputError("lookback_months must be at least 1")
        if self.by not in TIER_BASES:
            raise InputError(f"tiers are cut by one of {TIER_BASES}, got by={self.by!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the parameters."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TierConfig:
        """Build a config from :meth:`to_dict` output, also after a JSON or TOML round trip."""
        return cls(**values)

    @property
    def value_column(self) -> str:
        """The column of :func:`value_tiers` that the tiers cut."""
        return _ASSETS if self.by == "assets" else "clv"


def value_tiers(
    tables: TableSource,
    *,
    cutoffs: Any,
    config: TierConfig | None = None,
    population: pd.DataFrame | None = None,
    clv: pd.Series | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Average balance and value tier of each customer at each cutoff.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables.
    cutoffs : date-like or list of date-like
        Cutoffs.
    config : TierConfig, optional
        Tier edges and the value they cut; defaults to ``TierConfig()`` (assets).
    population : pandas.DataFrame, optional
        ``customer_id`` and ``cutoff`` rows to tier (quantiles are taken over them); by
        default every customer who joined on or before the cutoff.
    clv : pandas.Series or pandas.DataFrame, optional
        Required when ``config.by == "clv"``: a Series of CLV indexed by ``customer_id``
        (one cutoff only), or a DataFrame with ``customer_id``, ``clv`` and, for several
        cutoffs, ``cutoff``. Customers without a CLV get no tier.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``cutoff``, ``avg_balance_3m``, ``clv`` (only when tiering by
        CLV) and ``value_tier`` (an ordered categorical, lightest first; missing without
        a value).

    Raises
    ------
    InputError
        If tiering by CLV without ``clv``, or ``clv`` lacks a column or repeats a key.

    Examples
    --------
    >>> tables = {
    ...     "customers": pd.DataFrame({"customer_id": [1, 2], "join_date": ["2023-01-01"] * 2}),
    ...     "accounts": pd.DataFrame(
    ...         {
    ...             "account_id": [10, 20],
    ...             "customer_id": [1, 2],
    ...             "product_type": "savings",
    ...             "open_date": "2023-01-01",
    ...         }
    ...     ),
    ...     "balances": pd.DataFrame(
    ...         {"customer_id": [1, 2], "date": "2023-01-31", "balance": [100.0, 900.0]}
    ...     ),
    ... }
    >>> value_tiers(tables, cutoffs="2023-01-31")["value_tier"].tolist()
    ['lightweight', 'super_heavyweight']
    >>> clv = pd.Series([5_000.0, 10.0], index=pd.Index([1, 2], name="customer_id"))
    >>> by_clv = value_tiers(tables, cutoffs="2023-01-31", config=TierConfig(by="clv"), clv=clv)
    >>> by_clv["value_tier"].tolist()
    ['super_heavyweight', 'lightweight']
    """
    tables = load_tables(tables)
    config = config or TierConfig()
    cutoff_index = as_cutoffs(cutoffs)
    if config.by == "clv" and clv is None:
        raise InputError("TierConfig(by='clv') needs clv: a Series or DataFrame of CLV")
    if population is None:
        joined = tables.customers[["customer_id", "join_date"]]
        population = pd.concat(
            [
                joined.loc[joined["join_date"] <= c, ["customer_id"]].assign(cutoff=c)
                for c in cutoff_index
            ],
            ignore_index=True,
        )
    columns = ["customer_id", "cutoff", _ASSETS, *(["clv"] if config.by == "clv" else [])]
    columns.append("value_tier")
    clv_by_key = None if clv is None or config.by != "clv" else _clv_lookup(clv, population)
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
        part = rows.assign(**{_ASSETS: row_mean(window)})
        if clv_by_key is not None:
            part = part.merge(clv_by_key, on=["customer_id", "cutoff"], how="left")
        value = part[config.value_column].to_numpy(dtype=float)
        parts.append(part.assign(value_tier=_tier(value, _edges(value, config))))
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["value_tier"] = pd.Categorical(out["value_tier"], categories=TIER_NAMES, ordered=True)
    return out[columns]


def _clv_lookup(clv: pd.Series | pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """CLV as ``customer_id``, ``cutoff``, ``clv`` rows for the population's cutoffs."""
    cutoffs = pd.DatetimeIndex(pd.to_datetime(population["cutoff"]).unique())
    if isinstance(clv, pd.Series):
        clv = clv.rename("clv").rename_axis("customer_id").reset_index()
    if not isinstance(clv, pd.DataFrame):
        raise InputError(f"clv must be a Series or DataFrame, got {type(clv).__name__}")
    if "customer_id" not in clv.columns and "customer_id" in clv.index.names:
        clv = clv.reset_index()
    missing = [c for c in ("customer_id", "clv") if c not in clv.columns]
    if missing:
        raise InputError(
            f"clv frame lacks column(s) {missing}: it needs customer_id and clv (and cutoff "
            f"for several cutoffs); example rows:\n{clv.head(3)}"
        )
    if "cutoff" in clv.columns:
        lookup = clv[["customer_id", "cutoff", "clv"]].assign(
            cutoff=lambda f: pd.to_datetime(f["cutoff"])
        )
    elif len(cutoffs) > 1:
        raise InputError(
            f"clv without a cutoff column holds one value per customer, but {len(cutoffs)} "
            "cutoffs were asked for: add a cutoff column"
        )
    else:
        lookup = clv[["customer_id", "clv"]].merge(pd.DataFrame({"cutoff": cutoffs}), how="cross")
    repeated = lookup.duplicated(["customer_id", "cutoff"], keep=False)
    if repeated.any():
        raise InputError(
            f"clv has {int(repeated.sum())} rows repeating a (customer_id, cutoff); "
            f"example rows:\n{lookup[repeated].head(5)}"
        )
    return lookup.astype({"clv": float})


def tier_edges(values: Any, *, config: TierConfig | None = None) -> tuple[float, float, float]:
    """The three values that separate the tiers: the config's fixed edges or quantiles.

    A value on an edge belongs to the tier below it: "top 5%" means strictly above.

    Parameters
    ----------
    values : array-like
        Customers' values (missing values are ignored).
    config : TierConfig, optional
        Quantiles or fixed edges; defaults to ``TierConfig()``.

    Returns
    -------
    tuple of float
        Lightweight/sub-heavyweight, sub-heavyweight/heavyweight and
        heavyweight/super-heavyweight edges.

    Raises
    ------
    InputError
        If quantile edges are asked for and no value is known.

    Examples
    --------
    >>> tier_edges([1.0, 2.0, 3.0, 4.0, 5.0], config=TierConfig(quantiles=(0.25, 0.5, 0.75)))
    (2.0, 3.0, 4.0)
    """
    config = config or TierConfig()
    value = np.asarray(values, dtype=float)
    edges = _edges(value, config)
    if edges is None:
        raise InputError("no known value to take tier quantiles of: pass fixed edges")
    lower, middle, upper = (float(e) for e in edges)
    return lower, middle, upper


def _edges(value: np.ndarray, config: TierConfig) -> np.ndarray | None:
    if config.edges is not None:
        return np.asarray(config.edges, dtype=float)
    known = ~np.isnan(value)
    return np.quantile(value[known], config.quantiles) if known.any() else None


def _tier(value: np.ndarray, edges: np.ndarray | None) -> np.ndarray:
    if edges is None:
        return np.full(len(value), None, dtype=object)
    positions = np.searchsorted(edges, value, side="left")
    names = np.asarray(TIER_NAMES, dtype=object)[np.minimum(positions, len(TIER_NAMES) - 1)]
    names[np.isnan(value)] = None
    return names


def tier_moves(
    tables: TableSource,
    *,
    start: Any,
    end: Any,
    config: TierConfig | None = None,
    clv: pd.Series | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Up- and downgrades between two cutoffs, with the customers who left or joined.

    The population at a cutoff is every customer who joined on or before it and still
    has an open account (neither complete churn nor a bank closure on or before it): a
    partial churner is still a customer, and shows as a downgrade. Tiers at both
    cutoffs use the edges of ``start`` (the config's fixed edges, or its quantiles of the
    ``start`` population), so a bank-wide fall in value shows as downgrades rather than
    being hidden by edges that fall with it.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables.
    start, end : date-like
        The two cutoffs, ``start`` before ``end``.
    config : TierConfig, optional
        Tier edges and the value they cut; defaults to ``TierConfig()``.
    clv : pandas.DataFrame, optional
        When tiering by CLV: ``customer_id``, ``cutoff`` and ``clv`` rows for both cutoffs.

    Returns
    -------
    pandas.DataFrame
        :func:`count_tier_moves` of the two cutoffs' :func:`value_tiers`.

    Raises
    ------
    InputError
        If ``start`` is not before ``end``, or as :func:`value_tiers`.

    Examples
    --------
    >>> from churnml.datasets import make_bank
    >>> bank = make_bank(n_customers=200, months=18, seed=1)
    >>> moves = tier_moves(bank.tables, start="2022-06-30", end="2022-12-31")
    >>> moves.groupby("move")["customers"].sum().index.tolist()
    ['down', 'left', 'new', 'stay', 'up']
    """
    # churnml.labels imports this module, so its population rule is imported on use.
    from churnml.labels import ChurnDefinition, population

    tables = load_tables(tables)
    config = config or TierConfig()
    start, end = pd.Timestamp(as_cutoffs(start)[0]), pd.Timestamp(as_cutoffs(end)[0])
    if start >= end:
        raise InputError(
            f"start must be before end, got start={start:%Y-%m-%d}, end={end:%Y-%m-%d}"
        )
    rows = population(tables, cutoffs=[start, end], definition=ChurnDefinition(kind="complete"))
    frames = {}
    for cutoff in (start, end):
        frames[cutoff] = value_tiers(
            tables,
            cutoffs=[cutoff],
            config=config,
            population=rows[rows["cutoff"] == cutoff],
            clv=clv,
        )
        if cutoff == start:
            values = frames[start][config.value_column]
            config = replace(config, edges=tier_edges(values, config=config))
    return count_tier_moves(frames[start], frames[end])


def _tier_state(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Checked ``customer_id``, tier (``untiered`` when missing) and assets of one cutoff."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{name} must be a DataFrame, got {type(frame).__name__}")
    if "customer_id" not in frame.columns and "customer_id" in frame.index.names:
        frame = frame.reset_index()
    missing = [c for c in _MOVE_INPUT if c not in frame.columns]
    if missing:
        raise InputError(
            f"{name} lacks column(s) {missing}: it needs {list(_MOVE_INPUT)} (as from "
            f"value_tiers); example rows:\n{frame.head(3)}"
        )
    repeated = frame["customer_id"].duplicated(keep=False)
    if repeated.any():
        raise InputError(
            f"{name} repeats customer_id in {int(repeated.sum())} rows; tier one cutoff at a "
            f"time; example rows:\n{frame[repeated].head(5)}"
        )
    tier = frame["value_tier"].astype(object)
    unknown = tier.notna() & ~tier.isin(TIER_NAMES)
    if unknown.any():
        raise InputError(
            f"{name}: column 'value_tier' holds values outside {TIER_NAMES}; example "
            f"rows:\n{frame[unknown].head(5)}"
        )
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "tier": tier.where(tier.notna(), UNTIERED).to_numpy(),
            "assets": pd.to_numeric(frame[_ASSETS]).fillna(0.0).to_numpy(dtype=float),
        }
    )


def count_tier_moves(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Customers and assets moved between tiers from one tiered population to another.

    A customer only in ``before`` has left (``tier_after`` is ``"left"``); one only in
    ``after`` is new (``tier_before`` is ``"new"``); a customer without a known value is
    ``"untiered"``. The tiers are compared as they are given: for fixed edges across
    cutoffs, tier both with the same edges (as :func:`tier_moves` does).

    Parameters
    ----------
    before, after : pandas.DataFrame
        One row per customer with ``customer_id`` (a column or the index),
        ``value_tier`` and ``avg_balance_3m``, e.g. :func:`value_tiers` at one cutoff.

    Returns
    -------
    pandas.DataFrame
        One row per pair, every pair of tiers, ``new`` to each tier and each tier to
        ``left`` (pairs with ``untiered`` only when there are such customers), lightest
        first: ``tier_before``, ``tier_after``, ``move`` (up, down, stay, new, left or
        unknown), ``customers``, ``share`` (of the customers in ``tier_before``, so each
        ``tier_before`` sums to 1), ``assets_before`` and ``assets_after`` (the pair's
        summed average balances, 0 for a cutoff where they are not customers) and
        ``assets_change``.

    Raises
    ------
    InputError
        If a frame lacks a column, repeats a customer or holds an unknown tier.

    Examples
    --------
    >>> before = pd.DataFrame(
    ...     {"customer_id": [1, 2, 3], "value_tier": ["heavyweight", "lightweight", "lightweight"],
    ...      "avg_balance_3m": [900.0, 50.0, 80.0]}
    ... )
    >>> after = pd.DataFrame(
    ...     {"customer_id": [1, 2, 4], "value_tier": ["lightweight", "lightweight", "heavyweight"],
    ...      "avg_balance_3m": [60.0, 50.0, 700.0]}
    ... )
    >>> moves = count_tier_moves(before, after)
    >>> moves.loc[moves["customers"] > 0, ["tier_before", "tier_after", "move", "customers"]]
        tier_before   tier_after  move  customers
    0   lightweight  lightweight  stay          1
    4   lightweight         left  left          1
    10  heavyweight  lightweight  down          1
    22          new  heavyweight   new          1
    """
    old, new = _tier_state(before, "before"), _tier_state(after, "after")
    both = old.merge(new, on="customer_id", how="outer", suffixes=("_before", "_after"))
    both["tier_before"] = both["tier_before"].fillna(NEW)
    both["tier_after"] = both["tier_after"].fillna(LEFT)
    sums = both.groupby(["tier_before", "tier_after"]).agg(
        customers=("customer_id", "size"),
        assets_before=("assets_before", "sum"),
        assets_after=("assets_after", "sum"),
    )
    untiered = [UNTIERED] if UNTIERED in set(both["tier_before"]) | set(both["tier_after"]) else []
    grid = pd.MultiIndex.from_tuples(
        [
            (b, a)
            for b in (*TIER_NAMES, *untiered, NEW)
            for a in (*TIER_NAMES, *untiered, LEFT)
            if not (b == NEW and a == LEFT)
        ],
        names=["tier_before", "tier_after"],
    )
    out = sums.reindex(grid, fill_value=0).reset_index()
    out["customers"] = out["customers"].astype("int64")
    out[["assets_before", "assets_after"]] = out[["assets_before", "assets_after"]].astype(float)
    row_total = out.groupby("tier_before")["customers"].transform("sum")
    out["share"] = out["customers"] / row_total.where(row_total > 0)
    out["assets_change"] = out["assets_after"] - out["assets_before"]
    out["move"] = _move(out["tier_before"], out["tier_after"])
    return out[list(MOVE_COLUMNS)]


def _move(before: pd.Series, after: pd.Series) -> np.ndarray:
    rank = {name: i for i, name in enumerate(TIER_NAMES)}
    b, a = before.map(rank), after.map(rank)
    return np.select(
        [before == NEW, after == LEFT, b.isna() | a.isna(), a > b, a < b],
        [NEW, LEFT, "unknown", "up", "down"],
        default="stay",
    )


def plot_tier_moves(moves: pd.DataFrame) -> Figure:
    """Heat map of :func:`count_tier_moves`: customers from each tier (rows) to each (columns).

    Each cell shows the count and, below it, the share of its row.

    Parameters
    ----------
    moves : pandas.DataFrame
        The output of :func:`tier_moves` or :func:`count_tier_moves`.

    Returns
    -------
    matplotlib.figure.Figure
        A figure not registered with pyplot (nothing to close); save it with ``savefig``.

    Examples
    --------
    >>> before = pd.DataFrame(
    ...     {"customer_id": [1], "value_tier": ["heavyweight"], "avg_balance_3m": [900.0]}
    ... )
    >>> figure = plot_tier_moves(count_tier_moves(before, before))
    >>> figure.axes[0].get_title()
    'Tier moves (customers, share of row)'
    """
    from matplotlib.figure import Figure

    missing = [c for c in ("tier_before", "tier_after", "customers", "share") if c not in moves]
    if missing:
        raise InputError(f"moves lacks column(s) {missing}: pass the output of tier_moves")
    counts = moves.pivot(index="tier_before", columns="tier_after", values="customers")
    shares = moves.pivot(index="tier_before", columns="tier_after", values="share")
    rows, columns = list(moves["tier_before"].unique()), list(moves["tier_after"].unique())
    counts, shares = counts.loc[rows, columns], shares.loc[rows, columns]
    figure = Figure(figsize=(1.4 * len(columns) + 2, 0.8 * len(rows) + 1.5), layout="constrained")
    axes = figure.subplots()
    axes.imshow(shares.fillna(0.0).to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1)
    share_values = shares.to_numpy(dtype=float)
    for (i, j), count in np.ndenumerate(counts.fillna(0).to_numpy(dtype=float)):
        share = share_values[i, j]
        text = f"{int(count)}" + ("" if np.isnan(share) else f"\n{share:.0%}")
        axes.text(j, i, text, ha="center", va="center", fontsize=8)
    axes.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    axes.set_yticks(range(len(rows)), rows)
    axes.set_xlabel("tier after")
    axes.set_ylabel("tier before")
    axes.set_title("Tier moves (customers, share of row)")
    return figure
