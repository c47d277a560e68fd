"""Complaint features: how often, how badly and how recently a customer complained.

Only about 4% of dissatisfied customers complain, so every complaint is a warning sign, and
an unresolved one more so. Complaints are read from the ``known_complaints`` view: a
complaint is known at a cutoff when dated on or before it, and resolved at the cutoff only
when its resolution is dated on or before it. Windows of ``w`` days are
``(cutoff - w, cutoff]``: a complaint dated exactly ``w`` days before the cutoff is outside.
The severity, category and resolution-time features use the longest configured window
(365 days by default), which their names carry.

Categories are compared lower-cased and stripped; anything outside ``CATEGORIES`` counts as
``other``. Days are calendar days. Without a complaints table every feature is missing
(NaN); with one, counts are 0 for customers who never complained.

Every feature is one SQL aggregate generated below from the same loops that name it,
over ``(customer_id, cutoff)`` groups of the view; the result is aligned to the population
once.

Examples
--------
>>> from churnml.features._engine import FeatureConfig
>>> [s.name for s in specs(FeatureConfig())][:3]
['complaints__count__30d', 'complaints__count__90d', 'complaints__count__365d']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features._engine import FeatureConfig, FeatureContext
from churnml.features._sql import SqlFeature
from churnml.features.catalogue import FeatureSpec, Reason

__all__ = ["CATEGORIES", "OVERDUE_DAYS", "compute", "features", "specs"]

# Category -> what it is about, in the catalogue's words.
CATEGORIES = {
    "service": "service",
    "fees": "fees and charges",
    "product": "a product",
    "staff": "staff",
    "system": "the bank's systems",
    "other": "anything else (any category outside this list)",
}
# A complaint still unresolved this many days after it was made is overdue.
OVERDUE_DAYS = 30
_UNRESOLVED = "resolved_date IS NULL"


def specs(config: FeatureConfig) -> list[FeatureSpec]:
    """The catalogue entries of the family's :func:`features`, in column order.

    Parameters
    ----------
    config : FeatureConfig
        Supplies ``complaint_windows_days``.

    Returns
    -------
    list of FeatureSpec
    """
    return [f.spec() for f in features(config)]


def compute(ctx: FeatureContext) -> pd.DataFrame:
    """Complaint features for every row of the population, in population order.

    Parameters
    ----------
    ctx : FeatureContext
        The engine with the ``known_complaints`` view (absent without a complaints table).

    Returns
    -------
    pandas.DataFrame
        One column per spec, one row per population row; all NaN without complaints.
    """
    family = features(ctx.config)
    names = [f.name for f in family]
    if not ctx.has("complaints"):
        return pd.DataFrame(np.nan, index=ctx.population.index, columns=names)
    listed = ", ".join(f"'{c}'" for c in CATEGORIES if c != "other")
    aggregates = ",\n".join(f'{f.sql} AS "{f.name}"' for f in family)
    selected = ",\n".join(f.output_sql("k") for f in family)
    frame = ctx.sql(
        f"""
        WITH known AS (
            SELECT customer_id, cutoff, date, severity, resolved_date,
                   CASE WHEN lower(trim(category)) IN ({listed}) THEN lower(trim(category))
                        ELSE 'other' END AS category
            FROM known_complaints
        ), per_customer AS (
            SELECT customer_id, cutoff,
            {aggregates}
            FROM known
            GROUP BY customer_id, cutoff
        )
        SELECT p.customer_id, p.cutoff,
        {selected}
        FROM population p LEFT JOIN per_customer k USING (customer_id, cutoff)
        """
    )
    return ctx.align(frame)


def _within(days: int) -> str:
    return f"date > cutoff - INTERVAL {days} DAY"


def features(config: FeatureConfig) -> list[SqlFeature]:
    """The family's features, in column order.

    Parameters
    ----------
    config : FeatureConfig
        Supplies ``complaint_windows_days``.

    Returns
    -------
    list of SqlFeature
        Aggregates over the customer's known complaints at the cutoff.
    """
    windows = config.complaint_windows_days
    longest = max(windows)
    recent = _within(longest)
    out = [
        SqlFeature(
            f"complaints__count__{days}d",
            f"Number of complaints made in the last {days} days.",
            f"COUNT(*) FILTER (WHERE {_within(days)})",
            reason=Reason(f"{{value}} complaint{{s}} in the last {days} days", "count"),
        )
        for days in windows
    ]
    out += [
        SqlFeature(
            "complaints__unresolved",
            "Number of complaints not yet resolved at the cutoff, however old.",
            f"COUNT(*) FILTER (WHERE {_UNRESOLVED})",
            reason=Reason("{value} unresolved complaint{s}", "count"),
        ),
        SqlFeature(
            "complaints__has_unresolved",
            "1 when the customer has at least one unresolved complaint, else 0.",
            f"CAST(COUNT(*) FILTER (WHERE {_UNRESOLVED}) > 0 AS INTEGER)",
            reason=Reason("has an unresolved complaint: {value}", "yes_no"),
        ),
        SqlFeature(
            "complaints__days_since_last",
            "Days since the customer's most recent complaint (missing when they never complained).",
            "date_diff('day', MAX(date), cutoff)",
            count=False,
            reason=Reason("last complaint {value} day{s} ago", "days", missing="never complained"),
        ),
        SqlFeature(
            f"complaints__max_severity__{longest}d",
            f"Highest severity (1 to 3, 3 the most severe) of the complaints made in the last "
            f"{longest} days (missing when none, or none has a severity).",
            f"MAX(severity) FILTER (WHERE {recent})",
            count=False,
            reason=Reason(
                f"most severe complaint of the last {longest} days: level {{value}} of 3",
                "level",
                missing=f"no complaint with a severity in the last {longest} days",
            ),
        ),
    ]
    out += [
        SqlFeature(
            f"complaints__category_{category}__{longest}d",
            f"Number of complaints about {about} in the last {longest} days.",
            f"COUNT(*) FILTER (WHERE {recent} AND category = '{category}')",
            reason=Reason(
                f"{{value}} complaint{{s}} about {about.split(' (')[0]} in the last {longest} days",
                "count",
            ),
        )
        for category, about in CATEGORIES.items()
    ]
    out += [
        SqlFeature(
            f"complaints__mean_days_to_resolve__{longest}d",
            f"Average days taken to resolve the complaints made in the last {longest} days "
            "that are resolved (missing when none is).",
            f"AVG(date_diff('day', date, resolved_date)) "
            f"FILTER (WHERE {recent} AND resolved_date IS NOT NULL)",
            count=False,
            reason=Reason(
                f"complaints took {{value}} day{{s}} to resolve on average (last {longest} days)",
                "days",
                missing=f"no complaint resolved in the last {longest} days",
            ),
        ),
        SqlFeature(
            f"complaints__unresolved_over_{OVERDUE_DAYS}d",
            f"Number of complaints still unresolved {OVERDUE_DAYS} days or more after they "
            "were made.",
            f"COUNT(*) FILTER (WHERE {_UNRESOLVED} AND NOT {_within(OVERDUE_DAYS)})",
            reason=Reason(
                f"{{value}} complaint{{s}} unresolved for over {OVERDUE_DAYS} days", "count"
            ),
        ),
    ]
    return out
