"""Money-flow features: how much money moves in and out, where it goes, how that changes.

Falling activity, large transfers out and money moving to other banks or payment wallets
are the early-warning signals of the domain material. For every look-back window ``w`` of
:attr:`FeatureConfig.flow_windows_days`, the features cover transactions dated in
``(cutoff - w, cutoff]``; the "change" features compare that window with the ``w`` days
before it, ``(cutoff - 2w, cutoff - w]``.

Transactions are read only through the engine's ``known_transactions`` and
``known_last_transaction`` views, the one point-in-time filter. One SQL query of
conditional aggregates (``COUNT(CASE WHEN ...)``, ``fsum(CASE WHEN ...)``) grouped by
``(customer_id, cutoff)`` makes the windowed features; only its aggregates meet the
population. It holds about a hundred aggregates per row at once, so a large population is
split into partitions of customers (by a hash of ``customer_id``) of about ``_PART_ROWS``
rows each, one query per partition, which bounds memory whatever the number of customers
and cutoffs. A second, narrow query reads the days since the last transaction.

Each feature is one :class:`~churnml.features._sql.SqlFeature`, its name, meaning and SQL
generated together from the windows and the contract's vocabularies, so they cannot drift
apart.

The balance at the cutoff follows the **as-of rule**: the customer's latest balance
snapshot dated on or before the cutoff, summed over products at that date. The
``latest_snapshot`` and ``balance_at_cutoff`` steps of the query are the only place
this family reads ``raw_balances``: an as-of join picks the date, so no snapshot dated
after the cutoff is read. With month-end snapshots and a mid-month cutoff it is the
previous month-end.

Missing data gives NaN, never an error: without a transactions table every feature is NaN;
shares whose denominator is zero (no such money moved, or no counterparty given by the
bank) are NaN, not 0; counts and amounts of a customer without transactions in a window
are 0.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from churnml.features._engine import KEY, FeatureConfig, FeatureContext
from churnml.features._sql import SqlFeature
from churnml.features.catalogue import FeatureSpec, Reason

__all__ = ["compute", "features", "specs"]

FAMILY = "flows"

# Where money paid out went (salary is money coming in: it has its own inflow share).
_OUT_COUNTERPARTIES = {
    "other_bank": "accounts at other banks",
    "third_party_payment": "payment wallets such as Alipay or WeChat Pay",
    "cash": "cash withdrawals",
    "internal": "the customer's other accounts at this bank (money that stays)",
    "merchant": "merchants (purchases)",
    "other": "other or unclassified counterparties",
}
_CHANNELS = {
    "branch": "a branch counter",
    "atm": "ATMs",
    "mobile": "mobile banking",
    "online": "online banking",
    "phone": "phone banking",
    "other": "other channels",
}
# Population rows per query: DuckDB holds all of a query's aggregates at once, and at this
# size a query peaks at about 3 GB (measured with a million customers).
_PART_ROWS = 250_000
_KEY = ", ".join(KEY)
_LAST_TRANSACTION = SqlFeature(
    f"{FAMILY}__days_since_last_transaction",
    "Days from the customer's last transaction (money in or out, however long ago) to the "
    "cutoff; 0 when it was on the cutoff day. Empty when the customer never transacted.",
    "date_diff('day', last_date, cutoff)",  # over the known_last_transaction view
    count=False,
    aggregate=False,
    reason=Reason("last transaction {value} day{s} ago", "days", missing="never transacted"),
)


def _reason_words(meaning: str) -> str:
    """A counterparty's words in a reason: without the catalogue's parenthesis."""
    return meaning.split(" (")[0]


def features(config: FeatureConfig) -> list[SqlFeature]:
    """The family's features, grouped by measure, windows in config order.

    Parameters
    ----------
    config : FeatureConfig
        ``flow_windows_days`` sets the windows, ``large_outflow_share`` the threshold of a
        large outflow.

    Returns
    -------
    list of SqlFeature
        The windowed features, expressions over the aggregates of the family's query, then
        the days since the last transaction.
    """
    return [*_windowed_features(config), _LAST_TRANSACTION]


def specs(config: FeatureConfig) -> list[FeatureSpec]:
    """The catalogue entries of the family's :func:`features`, in column order.

    Parameters
    ----------
    config : FeatureConfig
        ``flow_windows_days`` sets the windows, ``large_outflow_share`` the threshold of a
        large outflow (it appears in that feature's description).

    Returns
    -------
    list of FeatureSpec

    Examples
    --------
    >>> from churnml.features import FeatureConfig
    >>> names = [s.name for s in specs(FeatureConfig(flow_windows_days=(30, 90)))]
    >>> names[:3]
    ['flows__in_count__30d', 'flows__in_count__90d', 'flows__out_count__30d']
    >>> "flows__out_other_bank_share__90d" in names, len(names)
    (True, 59)
    """
    return [feature.spec() for feature in features(config)]


def compute(ctx: FeatureContext) -> pd.DataFrame:
    """Money-flow features for every row of the population.

    Parameters
    ----------
    ctx : FeatureContext
        The engine with the ``population``, ``cutoffs`` and ``known_*`` views.

    Returns
    -------
    pandas.DataFrame
        One float32 column per spec, in spec order; one row per population row, in its
        order. All NaN when the bank gave no transactions table.
    """
    names = [feature.name for feature in features(ctx.config)]
    if not ctx.has("transactions"):
        return pd.DataFrame(np.nan, index=ctx.population.index, columns=names, dtype=np.float32)
    # The narrow query first: its engine memory is free again before the wide results pile up.
    last = ctx.align(ctx.sql(_LAST_QUERY))[_LAST_TRANSACTION.name]
    n_parts = max(1, -(-len(ctx.population) // _PART_ROWS))
    parts = (ctx.sql(_query(ctx.config, part, n_parts)) for part in range(n_parts))
    out = ctx.align(pd.concat(parts, ignore_index=True))
    out[_LAST_TRANSACTION.name] = last
    return out


def _windowed_features(config: FeatureConfig) -> list[SqlFeature]:
    # zip(*...) regroups the per-window lists measure by measure: in_count 30d, 90d, ...
    per_window = [_window_features(w, config.large_outflow_share) for w in _windows(config)]
    return [feature for same_measure in zip(*per_window, strict=True) for feature in same_measure]


def _windows(config: FeatureConfig) -> tuple[int, ...]:
    return tuple(dict.fromkeys(config.flow_windows_days))


def _window_features(w: int, large_share: float) -> list[SqlFeature]:
    """Features of window ``w``; their SQL names the aggregates of :func:`_aggregates`."""
    return [*_volume_features(w), *_mix_features(w), *_change_features(w, large_share)]


def _expression(
    measure: str, description: str, sql: str, reason: Reason, *, window: int
) -> SqlFeature:
    """A feature of one window: an expression over that window's aggregates, never 0-filled."""
    return SqlFeature(
        f"{FAMILY}__{measure}__{window}d",
        description,
        sql,
        count=False,
        aggregate=False,
        reason=reason,
    )


def _volume_features(w: int) -> list[SqlFeature]:
    feature, last = partial(_expression, window=w), f"the last {w} days"
    return [
        feature(
            "in_count",
            f"Number of payments into the customer's accounts in {last}.",
            f"n_in_{w}",
            Reason(f"{{value}} payment{{s}} in over {last}", "count"),
        ),
        feature(
            "out_count",
            f"Number of payments out of the customer's accounts in {last}.",
            f"n_out_{w}",
            Reason(f"{{value}} payment{{s}} out over {last}", "count"),
        ),
        feature(
            "in_amount",
            f"Money received in {last}.",
            f"a_in_{w}",
            Reason(f"{{value}} received over {last}", "money"),
        ),
        feature(
            "out_amount",
            f"Money paid out in {last} (a positive amount).",
            f"a_out_{w}",
            Reason(f"{{value}} paid out over {last}", "money"),
        ),
        feature(
            "net_flow",
            f"Money received minus money paid out in {last}; negative when more left than came in.",
            f"a_in_{w} - a_out_{w}",
            Reason(f"net flow of {{value}} over {last}", "money"),
        ),
        feature(
            "net_flow_over_balance",
            f"Net flow of {last} as a share of the balance at the cutoff (latest balance "
            "snapshot on or before it); -0.5 means half of today's balance left, in net. "
            "Empty when that balance is unknown or zero.",
            f"(a_in_{w} - a_out_{w}) / NULLIF(balance, 0)",
            Reason(
                f"net flow over {last} was {{value}} of the balance",
                "change",
                missing="no balance to compare the flows with",
            ),
        ),
    ]


def _mix_features(w: int) -> list[SqlFeature]:
    """Where the money went and came from, and through which channels."""
    feature, last = partial(_expression, window=w), f"the last {w} days"
    out = [
        feature(
            f"out_{cp}_share",
            f"Share of the money paid out in {last} that went to {meaning} (of outflows "
            "whose counterparty the bank gave). Empty when nothing was paid out or the bank "
            "gives no counterparty.",
            f"a_out_{cp}_{w} / NULLIF(a_out_known_{w}, 0)",
            Reason(
                f"{{value}} of outflows went to {_reason_words(meaning)} in {last}",
                "share",
                missing=f"no payments out with a known destination in {last}",
            ),
        )
        for cp, meaning in _OUT_COUNTERPARTIES.items()
    ]
    out.append(
        feature(
            "in_salary_share",
            f"Share of the money received in {last} that was salary (of inflows whose "
            "counterparty the bank gave). Empty when nothing came in or no counterparty is given.",
            f"a_in_salary_{w} / NULLIF(a_in_known_{w}, 0)",
            Reason(
                f"salary was {{value}} of the money received in {last}",
                "share",
                missing=f"no money received with a known source in {last}",
            ),
        )
    )
    out += [
        feature(
            f"out_{ch}_channel_count",
            f"Number of payments out made through {meaning} in {last}.",
            f"n_out_ch_{ch}_{w}",
            Reason(f"{{value}} payment{{s}} out through {meaning} in {last}", "count"),
        )
        for ch, meaning in _CHANNELS.items()
    ]
    out += [
        feature(
            f"out_{ch}_channel_share",
            f"Share of the money paid out in {last} that went through {meaning}. "
            "Empty when nothing was paid out.",
            f"a_out_ch_{ch}_{w} / NULLIF(a_out_{w}, 0)",
            Reason(
                f"{{value}} of outflows went through {meaning} in {last}",
                "share",
                missing=f"no payments out in {last}",
            ),
        )
        for ch, meaning in _CHANNELS.items()
    ]
    return out


def _change_features(w: int, large_share: float) -> list[SqlFeature]:
    """Change against the window before, and payments out large against the balance."""
    feature, last = partial(_expression, window=w), f"the last {w} days"
    out = [
        feature(
            f"{measure}_change",
            f"Change of the {what} in {last} against the {w} days before, relative to the "
            "earlier period: -0.5 means halved, 1 doubled, -1 stopped. Empty when the "
            "earlier period had none.",
            f"({alias}_{w} - {alias}_prev_{w}) / NULLIF({alias}_prev_{w}, 0)",
            Reason(
                f"{what} changed {{value}} in {last} against the {w} days before",
                "change",
                missing=f"no {what} in the {w} days before {last}",
            ),
        )
        for measure, alias, what in (
            ("out_amount", "a_out", "money paid out"),
            ("out_count", "n_out", "number of payments out"),
            ("in_amount", "a_in", "money received"),
        )
    ]
    out.append(
        feature(
            "large_out_count",
            f"Number of single payments out in {last} each larger than {large_share:.0%} of "
            "the balance at the cutoff (latest snapshot on or before it; with a zero balance "
            "every payment out counts). Empty when that balance is unknown.",
            f"CASE WHEN balance IS NOT NULL THEN n_large_{w} END",
            Reason(
                f"{{value}} payment{{s}} out over {large_share:.0%} of the balance in {last}",
                "count",
                missing="no balance to compare payments with",
            ),
        )
    )
    return out


def _aggregates(config: FeatureConfig) -> dict[str, dict[str, str]]:
    """Conditional aggregates by step of the query, each a mapping alias -> SQL.

    Window ``w`` is ``age < w`` and the window before it ``w <= age < 2w``.
    """
    steps: dict[str, dict[str, str]] = {"money_out": {}, "money_in": {}, "large_out": {}}
    out, into = steps["money_out"], steps["money_in"]
    for w in _windows(config):
        now, before = f"age < {w}", f"age >= {w} AND age < {2 * w}"
        out[f"n_out_{w}"] = _count(now)
        out[f"a_out_{w}"] = _sum(now)
        out[f"a_out_known_{w}"] = _sum(now, "counterparty IS NOT NULL")
        out |= {
            f"a_out_{cp}_{w}": _sum(now, f"counterparty = '{cp}'") for cp in _OUT_COUNTERPARTIES
        }
        for ch in _CHANNELS:
            out[f"n_out_ch_{ch}_{w}"] = _count(now, f"channel = '{ch}'")
            out[f"a_out_ch_{ch}_{w}"] = _sum(now, f"channel = '{ch}'")
        out[f"n_out_prev_{w}"] = _count(before)
        out[f"a_out_prev_{w}"] = _sum(before)
        into[f"n_in_{w}"] = _count(now)
        into[f"a_in_{w}"] = _sum(now)
        into[f"a_in_known_{w}"] = _sum(now, "counterparty IS NOT NULL")
        into[f"a_in_salary_{w}"] = _sum(now, "counterparty = 'salary'")
        into[f"a_in_prev_{w}"] = _sum(before)
        steps["large_out"][f"n_large_{w}"] = _count(now)
    return steps


# CASE inside the aggregate, not FILTER (WHERE ...): the same meaning, and DuckDB runs it
# about three times faster with this many aggregates.
def _count(*conditions: str) -> str:
    return f"COUNT(CASE WHEN {' AND '.join(conditions)} THEN 1 END)"


def _sum(*conditions: str) -> str:
    # fsum (compensated summation) keeps sums independent of the order threads add rows.
    return f"fsum(CASE WHEN {' AND '.join(conditions)} THEN money END)"


def _select(aggregates: dict[str, str]) -> str:
    return ",\n           ".join(f"{sql} AS {alias}" for alias, sql in aggregates.items())


def _in_part(column: str, part: int, n_parts: int) -> str:
    # Every row of a customer falls in the same partition, whatever the cutoff.
    return "TRUE" if n_parts == 1 else f"hash({column}) % {n_parts} = {part}"


def _moves(in_part: str) -> str:
    """The partition's known transactions, with ``age`` and ``money``.

    ``age`` is the number of days before the cutoff (0 on the cutoff day); ``money`` the
    amount without its sign. A subquery, not a CTE: DuckDB materialises a CTE read more
    than once, a copy of every transaction row once per cutoff. The partition filter sits
    right on the view, where DuckDB pushes it down to the scan of the transactions.
    """
    return f"""(
        SELECT customer_id, cutoff, amount, abs(amount) AS money, channel, counterparty,
               date_diff('day', date, cutoff) AS age
        FROM known_transactions
        WHERE {in_part}
    ) AS moves"""


def _query(config: FeatureConfig, part: int, n_parts: int) -> str:
    """The windowed features of the population rows of one partition of customers."""
    aggregates = _aggregates(config)
    in_part = _in_part("customer_id", part, n_parts)
    filled = ",\n           ".join(
        f"COALESCE({alias}, 0) AS {alias}" for step in aggregates.values() for alias in step
    )
    selected = ",\n       ".join(
        feature.output_sql("filled") for feature in _windowed_features(config)
    )
    return f"""
WITH money_out AS (
    SELECT {_KEY},
           {_select(aggregates["money_out"])}
    FROM {_moves(in_part)}
    WHERE amount < 0
    GROUP BY {_KEY}
),
money_in AS (
    SELECT {_KEY},
           {_select(aggregates["money_in"])}
    FROM {_moves(in_part)}
    WHERE amount > 0
    GROUP BY {_KEY}
),
latest_snapshot AS (  -- the as-of rule: the latest snapshot date on or before the cutoff
    SELECT p.customer_id, p.cutoff, b.date
    FROM population p ASOF JOIN raw_balances b
      ON p.customer_id = b.customer_id AND p.cutoff >= b.date
    WHERE {_in_part("p.customer_id", part, n_parts)}
),
balance_at_cutoff AS (  -- summed over the products of that date
    SELECT s.customer_id, s.cutoff, SUM(b.balance) AS balance
    FROM latest_snapshot s JOIN raw_balances b
      ON b.customer_id = s.customer_id AND b.date = s.date
    WHERE {_in_part("b.customer_id", part, n_parts)}
    GROUP BY s.customer_id, s.cutoff
),
large_out AS (  -- only the outflows of the longest window meet the balance
    SELECT {_KEY},
           {_select(aggregates["large_out"])}
    FROM {_moves(in_part)} JOIN balance_at_cutoff USING ({_KEY})
    WHERE amount < 0 AND age < {max(_windows(config))}
      AND money > {config.large_outflow_share!r} * balance
    GROUP BY {_KEY}
),
filled AS (  -- after the join to the population, "no transaction" is 0
    SELECT {_KEY}, balance,
           {filled}
    FROM population
    LEFT JOIN money_out USING ({_KEY})
    LEFT JOIN money_in USING ({_KEY})
    LEFT JOIN large_out USING ({_KEY})
    LEFT JOIN balance_at_cutoff USING ({_KEY})
    WHERE {in_part}
)
SELECT {_KEY},
       {selected}
FROM filled
"""


_LAST_QUERY = f"""
SELECT {_KEY}, {_LAST_TRANSACTION.output_sql("known_last_transaction")}
FROM known_last_transaction
"""
