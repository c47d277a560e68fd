"""The yardstick of ``benchmarks/features.py``: one hand-written DuckDB query.

It reads the contract's parquet files straight into DuckDB, skips validation, and makes the
feature families' aggregations per customer and cutoff in one statement: monthly averages,
peaks and slopes for the trend and peak windows; the flow windows' conditional counts and
sums by direction, channel and counterparty, the as-of balance and the last transaction;
product counts by type, risk, term and window; complaint counts and ages; the profile
columns. Windows come from the default :class:`~churnml.features.FeatureConfig`.
"""

from __future__ import annotations

from pathlib import Path

from churnml.features import FeatureConfig
from churnml.tables import PRODUCT_TYPES

TABLE_NAMES = ("customers", "accounts", "balances", "transactions", "complaints")
CATEGORIES = ("service", "fees", "product", "staff", "system", "other")


def _agg(call: str, value: str, where: str, alias: str, wrap: str = "{}") -> str:
    # CASE inside the aggregate rather than FILTER (WHERE ...): DuckDB runs this many
    # conditional aggregates several times faster that way.
    conditional = wrap.format(call.format(f"CASE WHEN {where} THEN {value} END"))
    return f"CAST({conditional} AS FLOAT) AS {alias}"


def _count(where: str, alias: str) -> str:
    return _agg("count({})", "1", where, alias)


_SINCE, _UNTIL = "date_diff('day', {}, cutoff)", "date_diff('day', cutoff, {})"


def _balance_aggs(months: tuple[int, ...]) -> list[str]:
    out = [
        _agg("max({})", "bal", "ago = 0", "bal_now"),
        _agg("stddev_pop({})", "bal", "ago < 12", "std_12m"),
    ]
    for k in months:
        out += [
            _agg("max({})", "bal", f"ago = {k}", f"bal_{k}m_ago"),
            _agg("avg({})", "bal", f"ago < {k}", f"avg_{k}m"),
            _agg("max({})", "bal", f"ago < {k}", f"max_{k}m"),
            _agg("regr_slope({}, -ago)", "bal", f"ago < {k}", f"slope_{k}m"),
        ]
    return out


def _flow_aggs(windows: tuple[int, ...], large_share: float) -> tuple[list[str], list[str]]:
    """Aggregates of money out (amount < 0) and of money in (amount > 0), window by window."""
    out, into = [], []
    for w in windows:
        now, prev = f"age < {w}", f"age >= {w} AND age < {2 * w}"
        known = f"{now} AND counterparty IS NOT NULL"
        out += [
            _count(now, f"n_out_{w}"),
            _agg("sum({})", "-amount", now, f"a_out_{w}"),
            _agg("sum({})", "-amount", known, f"a_out_known_{w}"),
            _count(prev, f"n_out_prev_{w}"),
            _agg("sum({})", "-amount", prev, f"a_out_prev_{w}"),
            _count(f"{now} AND -amount > {large_share} * balance", f"n_large_{w}"),
        ]
        for cp in ("internal", "other_bank", "third_party_payment", "cash", "merchant", "other"):
            out += [_agg("sum({})", "-amount", f"{now} AND counterparty = '{cp}'", f"a_{cp}_{w}")]
        for ch in ("branch", "atm", "mobile", "online", "phone", "other"):
            out += [_count(f"{now} AND channel = '{ch}'", f"n_ch_{ch}_{w}")]
            out += [_agg("sum({})", "-amount", f"{now} AND channel = '{ch}'", f"a_ch_{ch}_{w}")]
        into += [
            _count(now, f"n_in_{w}"),
            _agg("sum({})", "amount", now, f"a_in_{w}"),
            _agg("sum({})", "amount", known, f"a_in_known_{w}"),
            _agg("sum({})", "amount", f"{now} AND counterparty = 'salary'", f"a_salary_{w}"),
            _agg("sum({})", "amount", prev, f"a_in_prev_{w}"),
        ]
    return out, into


def _product_aggs(windows: tuple[int, ...]) -> list[str]:
    is_open = "(close_date IS NULL OR close_date > cutoff)"
    wealth = f"{is_open} AND product_type IN ('wealth_management', 'fund')"
    out = [_count(f"{is_open} AND product_type = '{p}'", f"open_{p}") for p in PRODUCT_TYPES]
    out += [_agg("count(DISTINCT {})", "product_type", is_open, "open_types")]
    out += [_count(is_open, "open_all"), _agg("max({})", "risk_level", wealth, "max_risk")]
    out += [_count(f"{wealth} AND risk_level = {r}", f"risk_{r}") for r in range(1, 6)]
    bands = (
        "term_months IS NULL",
        "term_months < 6",
        "term_months BETWEEN 6 AND 36",
        "term_months > 36",
    )
    out += [_count(f"{wealth} AND {band}", f"term_{i}") for i, band in enumerate(bands)]
    for d in windows:
        closed = f"close_date <= cutoff AND close_date > cutoff - INTERVAL {d} DAY"
        out += [
            _count(f"close_reason = 'customer' AND {closed}", f"closed_{d}"),
            _count(f"close_reason = 'maturity' AND {closed}", f"matured_{d}"),
            _count(f"open_date > cutoff - INTERVAL {d} DAY", f"opened_{d}"),
        ]
    maturity = "open_date + to_months(CAST(term_months AS INTEGER))"
    out += [_agg("min({})", "open_date", is_open, "oldest_open_days", _SINCE)]
    where = f"{is_open} AND {maturity} > cutoff"
    return [*out, _agg("min({})", maturity, where, "next_maturity_days", _UNTIL)]


def _complaint_aggs(windows: tuple[int, ...]) -> list[str]:
    unresolved = "(resolved_date IS NULL OR resolved_date > cutoff)"
    recent = f"date > cutoff - INTERVAL {max(windows)} DAY"
    out = [_count(f"date > cutoff - INTERVAL {d} DAY", f"count_{d}") for d in windows]
    out += [
        _count(unresolved, "unresolved"),
        _agg("max({})", "severity", recent, "max_severity"),
        _agg("max({})", "date", "true", "days_since_complaint", _SINCE),
        _agg(
            "avg({})",
            "date_diff('day', date, resolved_date)",
            f"{recent} AND NOT {unresolved}",
            "resolve",
        ),
        _count(f"{unresolved} AND date <= cutoff - INTERVAL 30 DAY", "overdue"),
    ]
    return out + [_count(f"{recent} AND cat = '{c}'", f"cat_{c}") for c in CATEGORIES]


def bare_sql(data: Path, cutoffs: list[str]) -> str:
    """One query with the families' aggregations per (customer, cutoff), straight off parquet."""
    config = FeatureConfig()
    src = {name: f"read_parquet('{data / name}.parquet')" for name in TABLE_NAMES}
    bal = _balance_aggs(config.trend_months)
    out, into = _flow_aggs(config.flow_windows_days, config.large_outflow_share)
    prods = _product_aggs(config.product_closed_windows_days)
    comp = _complaint_aggs(config.complaint_windows_days)
    known_categories = ", ".join(f"'{c}'" for c in CATEGORIES[:-1])
    dates = ", ".join(f"DATE '{c}'" for c in cutoffs)
    lookback = 2 * max(config.flow_windows_days)
    trend_months = max(*config.trend_months, 12) + 1
    key = "customer_id, cutoff"
    # NOT MATERIALIZED: DuckDB would otherwise materialise every CTE read twice, which at
    # a million customers takes 12 GiB or more instead of 9.
    return f"""
WITH cutoffs AS (SELECT unnest([{dates}]) AS cutoff),
base AS NOT MATERIALIZED (
    SELECT c.customer_id, k.cutoff, year(k.cutoff) - c.birth_year AS age, c.gender,
           c.income_band, c.region, date_diff('day', c.join_date, k.cutoff) AS tenure_days
    FROM {src["customers"]} c JOIN cutoffs k ON c.join_date <= k.cutoff),
daily AS NOT MATERIALIZED (
    SELECT customer_id, CAST(date AS DATE) AS day, sum(balance) AS bal
    FROM {src["balances"]} GROUP BY ALL),
monthly AS (SELECT customer_id, date_trunc('month', day) AS month, avg(bal) AS bal
            FROM daily GROUP BY ALL),
bal AS (SELECT {key}, {", ".join(bal)}
        FROM (SELECT m.*, k.cutoff, date_diff('month', m.month, k.cutoff) AS ago
              FROM monthly m JOIN cutoffs k ON m.month <= k.cutoff
               AND m.month > k.cutoff - INTERVAL {trend_months} MONTH)
        GROUP BY {key}),
asof_bal AS (SELECT b.customer_id, b.cutoff, d.bal AS balance FROM base b
             ASOF JOIN daily d ON b.customer_id = d.customer_id AND b.cutoff >= d.day),
tx AS NOT MATERIALIZED (
    SELECT customer_id, CAST(ts AS DATE) AS day, amount, channel, counterparty
    FROM {src["transactions"]}),
moves AS NOT MATERIALIZED (
    SELECT t.*, k.cutoff, date_diff('day', t.day, k.cutoff) AS age
    FROM tx t JOIN cutoffs k ON t.day <= k.cutoff AND t.day > k.cutoff - INTERVAL {lookback} DAY),
flows_out AS (SELECT {key}, {", ".join(out)}
              FROM moves LEFT JOIN asof_bal USING ({key}) WHERE amount < 0 GROUP BY {key}),
flows_in AS (SELECT {key}, {", ".join(into)} FROM moves WHERE amount > 0 GROUP BY {key}),
last_tx AS (SELECT b.customer_id, b.cutoff, date_diff('day', t.day, b.cutoff) AS days_since_tx
            FROM base b ASOF LEFT JOIN (SELECT DISTINCT customer_id, day FROM tx) t
              ON b.customer_id = t.customer_id AND b.cutoff >= t.day),
prods AS (SELECT a.customer_id, k.cutoff, {", ".join(prods)}
          FROM {src["accounts"]} a JOIN cutoffs k ON a.open_date <= k.cutoff
          GROUP BY a.customer_id, k.cutoff),
comp AS (SELECT x.customer_id, k.cutoff, {", ".join(comp)}
         FROM (SELECT *, CASE WHEN lower(trim(category)) IN ({known_categories})
                   THEN lower(trim(category)) ELSE 'other' END AS cat
               FROM {src["complaints"]}) x
         JOIN cutoffs k ON x.date <= k.cutoff GROUP BY x.customer_id, k.cutoff)
SELECT b.*, bal.* EXCLUDE ({key}), flows_out.* EXCLUDE ({key}),
       flows_in.* EXCLUDE ({key}), l.days_since_tx,
       prods.* EXCLUDE ({key}), comp.* EXCLUDE ({key})
FROM base b
LEFT JOIN bal USING ({key}) LEFT JOIN flows_out USING ({key})
LEFT JOIN flows_in USING ({key}) LEFT JOIN last_tx l USING ({key})
LEFT JOIN prods USING ({key}) LEFT JOIN comp USING ({key})
ORDER BY b.customer_id, b.cutoff
"""
