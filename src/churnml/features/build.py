"""``build_features``: every feature family at many cutoffs, point-in-time."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from churnml.features import balances, complaints, flows, products, profile
from churnml.features._engine import KEY, FeatureConfig, feature_context
from churnml.features.catalogue import FeatureSpec
from churnml.labels import ChurnDefinition, population
from churnml.tables import TableSource, load_tables
from churnml.timeline import as_cutoffs

__all__ = ["FAMILY_MODULES", "build_features", "feature_specs"]

# Column order of the output: families in this order, then each family's features in the
# order of its ``features(config)``, the one list its catalogue entries and columns come from.
FAMILY_MODULES: tuple[ModuleType, ...] = (balances, flows, products, complaints, profile)


def feature_specs(config: FeatureConfig | None = None) -> list[FeatureSpec]:
    """Every feature's spec, in output column order."""
    config = config or FeatureConfig()
    return [spec for module in FAMILY_MODULES for spec in module.specs(config)]


def build_features(
    tables: TableSource,
    *,
    cutoffs: Any,
    definition: ChurnDefinition | None = None,
    config: FeatureConfig | None = None,
) -> pd.DataFrame:
    """Point-in-time features of every customer in the population at each cutoff.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables (a data directory, a dict of DataFrames or :class:`Tables`).
    cutoffs : date-like or list of date-like
        Cutoffs. Only rows dated on or before a cutoff reach its features.
    definition : ChurnDefinition, optional
        Decides the population (customers who have not churned by the cutoff); defaults
        to any churn.
    config : FeatureConfig, optional
        Windows and thresholds.

    Returns
    -------
    pandas.DataFrame
        One row per ``(customer_id, cutoff)``, sorted by that key; then one column per
        feature of :func:`~churnml.features.feature_catalogue`. Numeric features are
        float32 (NaN where a table or history is missing); category features are text.

    Examples
    --------
    >>> from churnml.datasets import make_bank
    >>> from churnml.features import build_features
    >>> bank = make_bank(n_customers=100, months=15, seed=0)
    >>> features = build_features(bank.tables, cutoffs=["2022-12-31", "2023-01-31"])
    >>> features.columns[:3].tolist()
    ['customer_id', 'cutoff', 'trend__balance__now']
    """
    tables = load_tables(tables)
    config = config or FeatureConfig()
    rows = population(tables, cutoffs=as_cutoffs(cutoffs), definition=definition)
    parts = [rows[KEY].reset_index(drop=True)]
    with feature_context(tables, rows, config) as ctx:
        for module in FAMILY_MODULES:
            part, specs = module.compute(ctx), module.specs(config)
            expected = [spec.name for spec in specs]
            if list(part.columns) != expected or len(part) != len(rows):
                raise RuntimeError(
                    f"feature family {module.__name__} broke its catalogue: "
                    f"{list(part.columns)} != {expected}"
                )
            parts.append(_as_output_types(part, specs))
    return pd.concat(parts, axis=1)


def _as_output_types(part: pd.DataFrame, specs: list[FeatureSpec]) -> pd.DataFrame:
    # Convert only what is not float32 yet: at a million rows a round trip through float64
    # costs gigabytes.
    numeric = [
        spec.name
        for spec in specs
        if spec.kind == "numeric" and part[spec.name].dtype != np.float32
    ]
    if not numeric:
        return part
    out = part.copy(deep=False)
    out[numeric] = part[numeric].astype("float64").astype(np.float32)
    return out
