"""Product features: what the customer holds at the cutoff and how that is changing.

Holdings are read from the ``known_accounts`` view, so an account is *open* at a cutoff
when it was opened on or before the cutoff and has no closing date on or before it (an
account closed after the cutoff was still open; one closed on the cutoff is closed). Event
windows of ``w`` days are ``(cutoff - w, cutoff]``.

Wealth holdings are ``wealth_management`` and ``fund`` accounts, described the way the
bank's wealth-management analysis slices them: by risk level (1 conservative, 2 steady,
3 balanced, 4 active, 5 aggressive) and by term band (no term: demand or daily interest;
under 6 months; 6 months to 3 years, both ends included; over 3 years). A holding with no
risk level given is in no risk count.

Month arithmetic, one rule: a duration in months is its length in days divided by
30.4375, the mean length of a Gregorian month (``DAYS_PER_MONTH``). A contractual term is
a calendar span: a product with ``term_months`` m opened on day d matures on d plus m
calendar months (a month-end date clamps to the shorter month's end).

Every feature is one SQL expression generated below from the same loops that name it,
aggregated over ``(customer_id, cutoff)`` groups of the view; the result is aligned to the
population once.

Examples
--------
>>> from churnml.features._engine import FeatureConfig
>>> [s.name for s in specs(FeatureConfig())][:3]
['products__open_current', 'products__open_savings', 'products__open_time_deposit']
"""

from __future__ import annotations

import pandas as pd

from churnml.features._engine import FeatureConfig, FeatureContext
from churnml.features._sql import SqlFeature
from churnml.features.catalogue import FeatureSpec, Reason
from churnml.tables import PRODUCT_TYPES
from churnml.units import DAYS_PER_MONTH

__all__ = ["RISK_NAMES", "TERM_BANDS", "WEALTH_PRODUCTS", "compute", "features", "specs"]

WEALTH_PRODUCTS = ("wealth_management", "fund")
RISK_NAMES = {1: "conservative", 2: "steady", 3: "balanced", 4: "active", 5: "aggressive"}
# Band name -> (SQL condition on term_months, words for the catalogue).
TERM_BANDS = {
    "demand": ("term_months IS NULL", "with no term (demand or daily interest)"),
    "under_6m": ("term_months < 6", "with a term under 6 months"),
    "6m_to_3y": ("term_months BETWEEN 6 AND 36", "with a term from 6 months to 3 years"),
    "over_3y": ("term_months > 36", "with a term over 3 years"),
}
# Window measure -> (SQL condition, words for the catalogue); the window bound is added.
_WINDOW_EVENTS = {
    "closed_by_customer": ("close_reason = 'customer' AND close_date", "closed by the customer"),
    "matured": ("close_reason = 'maturity' AND close_date", "that ran to maturity and closed"),
    "opened": ("open_date", "opened"),
}
_OPEN = "close_date IS NULL"
_WEALTH_OPEN = f"{_OPEN} AND product_type IN ({', '.join(repr(p) for p in WEALTH_PRODUCTS)})"
_MATURITY = "(open_date + to_months(term_months))"


def specs(config: FeatureConfig) -> list[FeatureSpec]:
    """The catalogue entries of the family's :func:`features`, in column order.

    Parameters
    ----------
    config : FeatureConfig
        Supplies ``product_closed_windows_days``.

    Returns
    -------
    list of FeatureSpec
    """
    return [f.spec() for f in features(config)]


def compute(ctx: FeatureContext) -> pd.DataFrame:
    """Product features for every row of the population, in population order.

    Parameters
    ----------
    ctx : FeatureContext
        The engine with the ``known_accounts`` view and the customers table.

    Returns
    -------
    pandas.DataFrame
        One column per spec, one row per population row.
    """
    family = features(ctx.config)
    aggregates = ",\n".join(f'{f.sql} AS "{f.name}"' for f in family if f.aggregate)
    frame = ctx.sql(
        f"""
        WITH held AS (
            SELECT customer_id, cutoff,
            {aggregates}
            FROM known_accounts
            GROUP BY customer_id, cutoff
        )
        SELECT p.customer_id, p.cutoff,
        {", ".join(f.output_sql("h") for f in family)}
        FROM population p
        JOIN raw_customers c USING (customer_id)
        LEFT JOIN held h USING (customer_id, cutoff)
        """
    )
    return ctx.align(frame)


def _months_between(start: str, end: str) -> str:
    """SQL for the module's one month rule: whole days from start to end / DAYS_PER_MONTH."""
    return f"date_diff('day', {start}, {end}) / {DAYS_PER_MONTH}"


def features(config: FeatureConfig) -> list[SqlFeature]:
    """The family's features, in column order: holdings, wealth, windows, durations.

    Parameters
    ----------
    config : FeatureConfig
        Supplies ``product_closed_windows_days``.

    Returns
    -------
    list of SqlFeature
        Aggregates over the ``known_accounts`` view, or expressions over the population
        row, the customer file and those aggregates.
    """
    return [
        *_holding_features(),
        *_wealth_features(),
        *_window_features(config.product_closed_windows_days),
        SqlFeature(
            "products__months_to_next_maturity",
            "Months until the next open term product (e.g. a time deposit) matures (missing "
            "when none matures after the cutoff).",
            _months_between(
                "cutoff", f"MIN({_MATURITY}) FILTER (WHERE {_OPEN} AND {_MATURITY} > cutoff)"
            ),
            count=False,
            reason=Reason(
                "a term product matures in {value} month{s}",
                "months",
                missing="no term product left to mature",
            ),
        ),
        SqlFeature(
            "products__tenure_months",
            "Months since the customer's relationship with the bank began (join date).",
            _months_between("c.join_date", "p.cutoff"),  # from the customer file
            count=False,
            aggregate=False,
            reason=Reason("customer for {value} month{s}", "months"),
        ),
        SqlFeature(
            "products__oldest_open_account_months",
            "Months since the oldest account still open was opened (missing when none is open).",
            _months_between(f"MIN(open_date) FILTER (WHERE {_OPEN})", "cutoff"),
            count=False,
            reason=Reason(
                "oldest open account opened {value} month{s} ago",
                "months",
                missing="no open account",
            ),
        ),
    ]


def _holding_features() -> list[SqlFeature]:
    out = [
        SqlFeature(
            f"products__open_{product}",
            f"Number of open {product.replace('_', ' ')} accounts"
            + (" (products outside the standard list)." if product == "other" else "."),
            f"COUNT(*) FILTER (WHERE {_OPEN} AND product_type = '{product}')",
            reason=Reason(
                f"{{value}} open {product.replace('_', ' ')} account{{s}}"
                + (" (non-standard products)" if product == "other" else ""),
                "count",
            ),
        )
        for product in PRODUCT_TYPES
    ]
    out += [
        SqlFeature(
            "products__open_product_types",
            "Number of different product types the customer holds open (breadth of the "
            "relationship).",
            # From the per-type counts: cheaper than COUNT(DISTINCT) over millions of groups.
            " + ".join(f'(h."{f.name}" > 0)::INTEGER' for f in out),
            aggregate=False,
            reason=Reason("holds {value} type{s} of product", "count"),
        ),
        SqlFeature(
            "products__open_accounts",
            "Number of open accounts of any product type.",
            f"COUNT(*) FILTER (WHERE {_OPEN})",
            reason=Reason("{value} open account{s}", "count"),
        ),
    ]
    return out


def _wealth_features() -> list[SqlFeature]:
    out = [
        SqlFeature(
            f"products__wealth_risk_{name}",
            f"Open wealth-management and fund holdings of risk level {level} ({name}).",
            f"COUNT(*) FILTER (WHERE {_WEALTH_OPEN} AND risk_level = {level})",
            reason=Reason(f"{{value}} {name} (risk {level}) wealth product{{s}}", "count"),
        )
        for level, name in RISK_NAMES.items()
    ]
    out += [
        SqlFeature(
            f"products__wealth_term_{band}",
            f"Open wealth-management and fund holdings {words}.",
            f"COUNT(*) FILTER (WHERE {_WEALTH_OPEN} AND {condition})",
            reason=Reason(f"{{value}} wealth product{{s}} {words}", "count"),
        )
        for band, (condition, words) in TERM_BANDS.items()
    ]
    out.append(
        SqlFeature(
            "products__wealth_max_risk_level",
            "Highest risk level (1 conservative to 5 aggressive) among open wealth-management "
            "and fund holdings (missing when none has a risk level).",
            f"MAX(risk_level) FILTER (WHERE {_WEALTH_OPEN})",
            count=False,
            reason=Reason(
                "riskiest wealth product: level {value} of 5", "level", missing="no wealth product"
            ),
        )
    )
    return out


def _window_features(windows: tuple[int, ...]) -> list[SqlFeature]:
    return [
        SqlFeature(
            f"products__{measure}__{days}d",
            f"Number of accounts {words} in the last {days} days.",
            f"COUNT(*) FILTER (WHERE {dated} > cutoff - INTERVAL {days} DAY)",
            reason=Reason(f"{{value}} account{{s}} {words} in the last {days} days", "count"),
        )
        for measure, (dated, words) in _WINDOW_EVENTS.items()
        for days in windows
    ]
