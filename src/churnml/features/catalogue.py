"""The feature catalogue: every feature's name, family and meaning, generated from the code.

A feature is defined once, as a :class:`Feature`: its name and meaning stand beside its
computation, SQL (:class:`~churnml.features._sql.SqlFeature`) or numpy
(:class:`ArrayFeature`). Each family lists its features once; its catalogue entries and
its columns both come from that list, so a name cannot drift from what it computes.

``python -m churnml.features`` prints the catalogue as Markdown; ``docs/features.md`` is
that output, and a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import pandas as pd

from churnml.features._engine import FeatureConfig

__all__ = ["REASON_UNITS", "ArrayFeature", "Feature", "FeatureSpec", "Reason", "feature_catalogue"]

State = TypeVar("State")

# How a reason writes a feature's value (``{value}`` in its text) and the typical one.
REASON_UNITS = (
    "number",  # 0.123 (four significant digits)
    "count",  # 3
    "money",  # 12,500
    "share",  # 42%
    "shortfall",  # a ratio to a peak, written as the share below it: 0.36 -> 64%
    "change",  # a relative change: -0.5 -> -50%
    "rate",  # a relative change per month: -0.12 -> -12.0%
    "days",
    "months",
    "years",
    "level",  # a 1-5 scale
    "yes_no",  # a 0/1 flag
    "category",  # text as given; no typical value
)


@dataclass(frozen=True)
class Reason:
    """How a feature reads as a reason for a relationship manager.

    ``text`` is a phrase with ``{value}`` where the customer's value goes, written in
    ``unit`` (:data:`REASON_UNITS`), and optionally ``{s}`` after a noun that takes an
    "s" unless the value writes as 1 ("{value} step{s} down");
    :func:`churnml.explain.top_reasons` appends the
    typical customer's value. ``missing`` is the phrase when the customer has no value
    (e.g. "no payments out in the last 90 days"); empty means the family's default.
    """

    text: str
    unit: str
    missing: str = ""

    def __post_init__(self) -> None:
        if self.unit not in REASON_UNITS:
            raise ValueError(f"unknown reason unit {self.unit!r}; one of {REASON_UNITS}")
        if "{value}" not in self.text:
            raise ValueError(f"a reason's text needs a {{value}} placeholder: {self.text!r}")
        try:
            self.text.format(value="", s="")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"a reason's text may hold only {{value}} and {{s}}: {self.text!r}"
            ) from error

    def phrase(self, written: str) -> str:
        """The text with a written value in it (and the plural "s" unless it is 1)."""
        return self.text.format(value=written, s="" if written == "1" else "s")


@dataclass(frozen=True)
class FeatureSpec:
    """One feature: its column name, family, meaning and kind.

    Names read ``family__measure__window``, e.g. ``flows__out_other_bank_share__90d``.
    """

    name: str
    family: str
    description: str
    kind: str = "numeric"  # or "category"
    reason: Reason | None = None


@dataclass(frozen=True)
class Feature:
    """What every feature states, whatever computes it: its name, meaning and kind.

    The family is the name's first part, so a feature cannot be catalogued under another.
    """

    name: str
    description: str
    kind: str = field(default="numeric", kw_only=True)  # or "category"
    reason: Reason | None = field(default=None, kw_only=True)

    def spec(self) -> FeatureSpec:
        """The feature's catalogue entry."""
        family = self.name.split("__", 1)[0]
        return FeatureSpec(self.name, family, self.description, self.kind, self.reason)


@dataclass(frozen=True)
class ArrayFeature(Feature, Generic[State]):
    """A feature computed in numpy from its family's state of a batch of population rows.

    ``compute`` takes the state (e.g. the balance family's customers x months matrix) and
    returns one value per row of it.
    """

    compute: Callable[[State], np.ndarray]


def feature_catalogue(config: FeatureConfig | None = None) -> pd.DataFrame:
    """Every feature :func:`~churnml.features.build_features` makes, in column order.

    Parameters
    ----------
    config : FeatureConfig, optional
        Windows and thresholds; defaults to ``FeatureConfig()``.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``family``, ``kind``, ``description`` and ``reason`` (the phrase
        a reason is written with, ``{value}`` standing for the customer's value).

    Examples
    --------
    >>> catalogue = feature_catalogue()
    >>> catalogue["family"].unique().tolist()[:2]
    ['trend', 'peak']
    """
    from churnml.features.build import feature_specs

    specs = feature_specs(config)
    return pd.DataFrame(
        {
            "name": [s.name for s in specs],
            "family": [s.family for s in specs],
            "kind": [s.kind for s in specs],
            "description": [s.description for s in specs],
            "reason": [s.reason.text if s.reason else None for s in specs],
        }
    )


def catalogue_markdown() -> str:
    """The catalogue as the Markdown page ``docs/features.md``."""
    catalogue = feature_catalogue()
    lines = [
        "# Feature catalogue",
        "",
        "Generated by `python -m churnml.features > docs/features.md`; do not edit by hand.",
        "Every feature is computed at a cutoff from rows dated on or before it only.",
        "The last column is how `churnml.explain.top_reasons` writes the feature when it",
        "raised a customer's score (`{value}`: the customer's value; `{s}`: a plural s).",
        f"{len(catalogue)} features with the default `FeatureConfig`.",
        "",
    ]
    for family, group in catalogue.groupby("family", sort=False):
        lines += [
            f"## {family}",
            "",
            "| name | kind | meaning | as a reason |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{row.name}` | {row.kind} | {row.description} | {row.reason} |"
            for row in group.itertuples(index=False)
        ]
        lines.append("")
    return "\n".join(lines)
