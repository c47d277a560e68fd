"""A feature defined as SQL: the shape shared by the SQL-built families."""

from __future__ import annotations

from dataclasses import dataclass

from churnml.features.catalogue import Feature

__all__ = ["SqlFeature"]


@dataclass(frozen=True)
class SqlFeature(Feature):
    """One feature: its name, its meaning and the SQL that computes it.

    ``sql`` is an aggregate over one customer's known rows at one cutoff (it may use
    ``cutoff``), or, when not ``aggregate``, an expression over the row the family's query
    selects from (the population row ``p`` and whatever the family joins to it). ``count``
    features are 0, not missing, for a customer with no rows.
    """

    sql: str
    count: bool = True
    aggregate: bool = True

    def output_sql(self, aggregates: str) -> str:
        """The select-list item giving the feature, reading aggregates from ``aggregates``."""
        if not self.aggregate:
            value = f"COALESCE({self.sql}, 0)" if self.count else self.sql
        elif self.count:
            value = f'COALESCE({aggregates}."{self.name}", 0)'
        else:
            value = f'{aggregates}."{self.name}"'
        # float32 is the output type; fetching it from the engine halves the memory moved.
        return f'CAST({value} AS FLOAT) AS "{self.name}"'
