"""What an experiment hands back: result rows with their targets, setup, notes and timings.

Every experiment fills one :class:`Outcome`; the runner adds provenance (time, commit,
warnings) and the report renders it. Rows follow one shape, ``(experiment, model, metric,
value, target, note)``, so the JSON and the markdown tables are the same data.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from churnml.errors import HoldoutWarning


class MissingData(Exception):
    """The data an experiment reads is absent: it is skipped, and the report says so."""


@dataclass(frozen=True)
class Target:
    """A bound a metric should meet, and where the bound comes from."""

    bound: float
    at_least: bool
    source: str = ""

    def met(self, value: float) -> bool | None:
        if math.isnan(value) or math.isnan(self.bound):
            return None
        return value >= self.bound if self.at_least else value <= self.bound

    def __str__(self) -> str:
        sign = "≥" if self.at_least else "≤"
        return f"{sign} {self.bound:.4g}" + (f" ({self.source})" if self.source else "")


@dataclass(frozen=True)
class Expected:
    """A check that is not a bound (e.g. which features get flagged), decided by the caller."""

    description: str
    ok: bool

    def met(self, value: float) -> bool | None:
        return self.ok

    def __str__(self) -> str:
        return self.description


def at_least(bound: float, source: str = "") -> Target:
    return Target(float(bound), True, source)


def at_most(bound: float, source: str = "") -> Target:
    return Target(float(bound), False, source)


@dataclass(frozen=True)
class Row:
    experiment: str
    model: str
    metric: str
    value: float
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Outcome:
    """Rows, a description of the data, notes and step timings of one experiment."""

    experiment: str
    rows: list[Row] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)

    def add(
        self,
        model: str,
        metric: str,
        value: float,
        *,
        target: Target | Expected | None = None,
        note: str = "",
    ) -> float:
        value = float(value)
        met = None if target is None else target.met(value)
        text = "" if target is None else str(target)
        self.rows.append(Row(self.experiment, model, metric, value, text, met, note))
        return value

    def value(self, model: str, metric: str) -> float:
        """A value added earlier (NaN if none), for targets relative to another model."""
        found = [row.value for row in self.rows if row.model == model and row.metric == metric]
        return found[-1] if found else math.nan

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a step (printed, for the log of a long run); steps of the same name add up.

        A model's HoldoutWarning (a holdout pooled over the latest cutoffs, or none) is
        what the report must say, so it becomes a note instead of an error.
        """
        started = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("error")
                warnings.simplefilter("always", HoldoutWarning)
                yield
            self.notes += [f"{name}: {w.message}" for w in caught]
        finally:
            seconds = time.perf_counter() - started
            self.steps[name] = self.steps.get(name, 0.0) + seconds
            print(f"  {self.experiment}: {name} {seconds:.1f} s", flush=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
