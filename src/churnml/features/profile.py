"""Profile features: who the customer is (age at the cutoff, gender, income band, region)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from churnml.features._engine import FeatureConfig, FeatureContext
from churnml.features.catalogue import ArrayFeature, FeatureSpec, Reason

__all__ = ["compute", "features", "specs"]

# Column -> (meaning, how a reason names it).
_CATEGORIES = {
    "gender": ("Gender as given in the customer file.", "gender"),
    "income_band": (
        "Income band as given in the customer file (e.g. low, mid, high).",
        "income band",
    ),
    "region": ("Branch area or city.", "region"),
}


@dataclass(frozen=True)
class _Rows:
    """The customer file's row of each population row, and that row's cutoff year."""

    customers: pd.DataFrame
    cutoff_year: np.ndarray


def features(config: FeatureConfig) -> list[ArrayFeature[_Rows]]:
    """The family's features, in column order.

    Parameters
    ----------
    config : FeatureConfig
        Unused: the profile has no windows.

    Returns
    -------
    list of ArrayFeature
        Age, then the customer file's category columns as text.
    """
    out = [
        ArrayFeature(
            "profile__age",
            "Age in years at the cutoff (cutoff year - birth year).",
            _age,
            reason=Reason("aged {value}", "years", missing="age not in the customer file"),
        )
    ]
    out += [
        ArrayFeature(
            f"profile__{column}",
            meaning,
            partial(_text, column=column),
            kind="category",
            reason=Reason(
                f"{words}: {{value}}", "category", missing=f"{words} not in the customer file"
            ),
        )
        for column, (meaning, words) in _CATEGORIES.items()
    ]
    return out


def specs(config: FeatureConfig) -> list[FeatureSpec]:
    """The catalogue entries of the family's :func:`features`, in column order."""
    return [feature.spec() for feature in features(config)]


def compute(ctx: FeatureContext) -> pd.DataFrame:
    """Profile features for every row of the population."""
    customers = ctx.tables.customers.set_index("customer_id")
    rows = _Rows(
        customers.reindex(ctx.population["customer_id"]),
        ctx.population["cutoff"].dt.year.to_numpy(),
    )
    return pd.DataFrame({feature.name: feature.compute(rows) for feature in features(ctx.config)})


def _age(rows: _Rows) -> np.ndarray:
    birth_year = rows.customers["birth_year"].astype("Float64")
    return rows.cutoff_year - birth_year.to_numpy(dtype=float, na_value=np.nan)


def _text(rows: _Rows, column: str) -> np.ndarray:
    # Text, not a pandas categorical: the category list would depend on customers who
    # joined after the cutoff. Models learn their categories when they are fitted.
    values = rows.customers[column].astype("object")
    return values.where(values.notna(), None).to_numpy()
