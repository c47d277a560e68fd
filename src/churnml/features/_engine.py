"""The embedded feature engine: the population, the config and DuckDB views of what is known.

Every SQL feature family reads the ``known_*`` views defined here and nothing else of the
bank's tables, so the point-in-time rule of :mod:`churnml.timeline` is written for SQL in
this one place: rows dated on or before each cutoff, closures and resolutions dated after
it hidden. The views work for many cutoffs at once by joining on the small ``cutoffs``
table with a date range, so each row of a large table is visited once per cutoff whose
look-back window holds it, not once per cutoff.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import duckdb
import pandas as pd

from churnml.tables import Tables

__all__ = ["KEY", "FeatureConfig", "FeatureContext", "feature_context"]

KEY = ["customer_id", "cutoff"]


@dataclass(frozen=True)
class FeatureConfig:
    """Windows and thresholds of the feature families.

    Parameters
    ----------
    flow_windows_days : tuple of int
        Look-back windows of the money-flow features.
    complaint_windows_days : tuple of int
        Look-back windows of the complaint counts.
    product_closed_windows_days : tuple of int
        Windows for products closed by the customer.
    trend_months : tuple of int
        Spans of the balance slopes and "months ago" values.
    large_outflow_share : float
        An outflow larger than this share of the customer's current balance is large.
    fall_step : float
        A month-on-month fall larger than this share is a step down from the peak.
    """

    flow_windows_days: tuple[int, ...] = (30, 90, 180)
    complaint_windows_days: tuple[int, ...] = (30, 90, 365)
    product_closed_windows_days: tuple[int, ...] = (90, 180)
    trend_months: tuple[int, ...] = (3, 6, 12)
    large_outflow_share: float = 0.2
    fall_step: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the parameters (for MLflow params and config files)."""
        return asdict(self)


@dataclass
class FeatureContext:
    """What a feature family may read for a batch of cutoffs.

    Attributes
    ----------
    tables : Tables
        The bank's tables (only the balance family reads them directly, through the
        point-in-time helpers of :mod:`churnml.monthly`).
    population : pandas.DataFrame
        ``customer_id`` and ``cutoff`` of every row to produce, in output order.
    config : FeatureConfig
        Windows and thresholds.
    connection : duckdb.DuckDBPyConnection
        Holds the ``population``, ``cutoffs`` and ``known_*`` views.
    """

    tables: Tables
    population: pd.DataFrame
    config: FeatureConfig
    connection: duckdb.DuckDBPyConnection

    def has(self, table: str) -> bool:
        """Whether the bank provided this optional table."""
        return getattr(self.tables, table) is not None

    def sql(self, query: str) -> pd.DataFrame:
        """Run a query on the engine and return its result."""
        return self.connection.sql(query).df()

    def align(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Put a family's keyed result in population order, without the key columns."""
        aligned = self.population[KEY].merge(frame, on=KEY, how="left", sort=False)
        return aligned.drop(columns=KEY).reset_index(drop=True)


@contextmanager
def feature_context(
    tables: Tables, population: pd.DataFrame, config: FeatureConfig
) -> Iterator[FeatureContext]:
    """Open an engine with the point-in-time views for this population's cutoffs."""
    connection = duckdb.connect(":memory:")
    try:
        cutoffs = pd.DataFrame({"cutoff": population["cutoff"].drop_duplicates().sort_values()})
        connection.register("population", population[KEY])
        connection.register("cutoffs", cutoffs)
        for name, frame in tables.to_dict().items():
            connection.register(f"raw_{name}", frame)
        _create_known_views(connection, tables, config)
        yield FeatureContext(tables, population[KEY].reset_index(drop=True), config, connection)
    finally:
        connection.close()


def _create_known_views(
    connection: duckdb.DuckDBPyConnection, tables: Tables, config: FeatureConfig
) -> None:
    # Two windows back: the "change against the previous window" features need them.
    flow_lookback = 2 * max(config.flow_windows_days)
    connection.execute(
        """
        CREATE VIEW known_accounts AS
        SELECT c.cutoff, a.account_id, a.customer_id, a.product_type, a.open_date,
               CASE WHEN a.close_date <= c.cutoff THEN a.close_date END AS close_date,
               CASE WHEN a.close_date <= c.cutoff THEN a.close_reason END AS close_reason,
               a.risk_level, a.term_months
        FROM raw_accounts a JOIN cutoffs c ON a.open_date <= c.cutoff
        """
    )
    if tables.transactions is not None:
        connection.execute(
            f"""
            CREATE VIEW known_transactions AS
            SELECT c.cutoff, t.customer_id, t.date, t.amount, t.channel, t.counterparty
            FROM raw_transactions t JOIN cutoffs c
              ON t.date <= c.cutoff AND t.date > c.cutoff - INTERVAL {flow_lookback} DAY
            """
        )
        # The last activity may lie further back than any window: an as-of join finds it.
        connection.execute(
            """
            CREATE VIEW known_last_transaction AS
            SELECT p.customer_id, p.cutoff, t.date AS last_date
            FROM population p ASOF LEFT JOIN raw_transactions t
              ON p.customer_id = t.customer_id AND p.cutoff >= t.date
            """
        )
    if tables.complaints is not None:
        connection.execute(
            """
            CREATE VIEW known_complaints AS
            SELECT c.cutoff, k.customer_id, k.date, k.category, k.severity,
                   CASE WHEN k.resolved_date <= c.cutoff THEN k.resolved_date END
                       AS resolved_date
            FROM raw_complaints k JOIN cutoffs c ON k.date <= c.cutoff
            """
        )
