"""Profile features: who the customer is (age at the cutoff, gender, income band, region)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features._engine import FeatureConfig, FeatureContext
from churnml.features.catalogue import FeatureSpec

__all__ = ["compute", "specs"]

FAMILY = "profile"
_CATEGORIES = {
    "gender": "Gender as given in the customer file.",
    "income_band": "Income band as given in the customer file (e.g. low, mid, high).",
    "region": "Branch area or city.",
}


def specs(config: FeatureConfig) -> list[FeatureSpec]:
    """The family's features."""
    out = [
        FeatureSpec(
            "profile__age", FAMILY, "Age in years at the cutoff (cutoff year - birth year)."
        )
    ]
    out += [
        FeatureSpec(f"profile__{column}", FAMILY, meaning, kind="category")
        for column, meaning in _CATEGORIES.items()
    ]
    return out


def compute(ctx: FeatureContext) -> pd.DataFrame:
    """Profile features for every row of the population."""
    customers = ctx.tables.customers.set_index("customer_id")
    rows = customers.reindex(ctx.population["customer_id"])
    birth_year = rows["birth_year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    out = pd.DataFrame({"profile__age": ctx.population["cutoff"].dt.year.to_numpy() - birth_year})
    for column in _CATEGORIES:
        # Text, not a pandas categorical: the category list would depend on customers who
        # joined after the cutoff. Models learn their categories when they are fitted.
        values = rows[column].astype("object")
        out[f"profile__{column}"] = values.where(values.notna(), None).to_numpy()
    return out
