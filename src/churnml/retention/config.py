"""The retention rules' settings and the scores frame they read.

One frozen dataclass, :class:`RetentionConfig`, holds every threshold, success rate and
offer cost (it round-trips to dict and TOML); the checks here validate a scores frame once,
naming the frame, the column and example rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from churnml.errors import InputError
from churnml.tiers import TIER_NAMES

__all__ = ["CONTACT_COLUMNS", "SCORE_COLUMNS", "SEGMENTS", "WARNING_COLUMNS", "RetentionConfig"]

SCORE_COLUMNS = ("customer_id", "churn_probability", "clv", "value_at_risk", "value_tier")
"""Columns every scores frame needs; ``segment`` is optional (assigned when absent)."""
SEGMENTS = ("at_risk", "high_value", "potential", "stable")
"""Retention segments, in the order their rules are tried."""
WARNING_COLUMNS = (
    "customer_id",
    "entered_at_risk",
    "crossed_threshold",
    "previous_probability",
    "churn_probability",
    "probability_change",
    "previous_segment",
    "segment",
    "value_tier",
    "clv",
    "value_at_risk",
    "expected_loss",
    "top_reasons",
)
"""Columns of :func:`early_warnings`."""
CONTACT_COLUMNS = (
    "rank",
    "success_rate",
    "offer_cost",
    "expected_saved_value",
    "cumulative_saved_value",
    "cumulative_cost",
)
"""Columns :func:`contact_list` adds after the scores' own."""
_NUMBERS = ("churn_probability", "clv", "value_at_risk")
_ESV = "expected_saved_value"


@dataclass(frozen=True)
class RetentionConfig:
    """Thresholds of the segments and early warnings, and the economics of an offer.

    Parameters
    ----------
    risk_threshold : float
        At-risk: churn probability at least this.
    at_risk_min_clv : float
        At-risk: CLV above this (a customer worth nothing is not worth an offer).
    high_value_tiers : tuple of str
        High-value: the value tiers that count.
    potential_quantile : float
        Potential: CLV at least this quantile of the scored customers' CLV.
    potential_clv : float, optional
        Potential: a fixed CLV edge instead of the quantile.
    warning_threshold : float
        Early warning: churn probability crossing this, from below, fires.
    success_at_risk, success_high_value, success_potential, success_stable : float
        Probability that an offer keeps a churner of the segment, in [0, 1].
    cost_at_risk, cost_high_value, cost_potential, cost_stable : float
        Cost of one contact and offer to a customer of the segment (balance units).
    empc_alpha, empc_beta : float
        Beta distribution of the acceptance rate in :func:`retention_empc`.

    Examples
    --------
    >>> config = RetentionConfig(risk_threshold=0.4, success_at_risk=0.5)
    >>> RetentionConfig.from_dict(config.to_dict()) == config
    True
    """

    risk_threshold: float = 0.3
    at_risk_min_clv: float = 0.0
    high_value_tiers: tuple[str, ...] = ("heavyweight", "super_heavyweight")
    potential_quantile: float = 0.8
    potential_clv: float | None = None
    warning_threshold: float = 0.5
    success_at_risk: float = 0.3
    success_high_value: float = 0.2
    success_potential: float = 0.15
    success_stable: float = 0.05
    cost_at_risk: float = 10.0
    cost_high_value: float = 10.0
    cost_potential: float = 10.0
    cost_stable: float = 10.0
    empc_alpha: float = 6.0
    empc_beta: float = 14.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "high_value_tiers", tuple(self.high_value_tiers))
        unknown = set(self.high_value_tiers) - set(TIER_NAMES)
        rates = [self.risk_threshold, self.warning_threshold, *self.success_rates().values()]
        problems = [
            (bool(unknown), f"high_value_tiers must be among {TIER_NAMES}, got {unknown}"),
            (not all(0 <= r <= 1 for r in rates), "thresholds and success rates lie in [0, 1]"),
            (min(self.offer_costs().values()) < 0, "offer costs must be >= 0"),
            (not 0 < self.potential_quantile < 1, "potential_quantile lies in (0, 1)"),
            (min(self.empc_alpha, self.empc_beta) <= 0, "empc_alpha and empc_beta must be > 0"),
        ]
        for failed, message in problems:
            if failed:
                raise InputError(f"RetentionConfig: {message}")

    def success_rates(self) -> dict[str, float]:
        """Success rate of an offer, by segment."""
        return {s: float(getattr(self, f"success_{s}")) for s in SEGMENTS}

    def offer_costs(self) -> dict[str, float]:
        """Cost of a contact and offer, by segment."""
        return {s: float(getattr(self, f"cost_{s}")) for s in SEGMENTS}

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the parameters (for MLflow params and config files)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RetentionConfig:
        """Build a config from :meth:`to_dict` output, also after a JSON or TOML round trip."""
        return cls(**values)


def _examples(frame: pd.DataFrame, rows: Any = None) -> str:
    shown = frame if rows is None else frame[rows]
    return shown.head(5).to_string()


def _checked(frame: Any, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """A copy of ``frame`` with ``customer_id`` as a column, checked; else InputError."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{name} must be a DataFrame, got {type(frame).__name__}")
    if "customer_id" not in frame.columns and "customer_id" in frame.index.names:
        frame = frame.reset_index()
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{name} lacks column(s) {missing}: it needs {list(columns)}; example rows:\n"
            f"{_examples(frame)}"
        )
    frame = frame.reset_index(drop=True)
    repeated = frame["customer_id"].duplicated(keep=False)
    if repeated.any():
        raise InputError(
            f"{name} has {int(repeated.sum())} rows repeating a customer_id; one row per "
            f"customer; example rows:\n{_examples(frame, repeated)}"
        )
    for column in _NUMBERS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
        bad = ~np.isfinite(frame[column])
        if column == "churn_probability":
            bad |= (frame[column] < 0) | (frame[column] > 1)
        if bad.any():
            raise InputError(
                f"{name}: column '{column}' has {int(bad.sum())} missing, non-numeric or "
                f"out-of-range values; example rows:\n{_examples(frame, bad)}"
            )
    _check_words(frame, name, "value_tier", TIER_NAMES, missing_ok=True)
    if "segment" in frame.columns:
        _check_words(frame, name, "segment", SEGMENTS, missing_ok=False)
    return frame


def _check_words(
    frame: pd.DataFrame, name: str, column: str, words: tuple[str, ...], *, missing_ok: bool
) -> None:
    values = frame[column].astype(object)
    bad = ~values.isin(words) & ~(values.isna() & missing_ok)
    if bad.any():
        raise InputError(
            f"{name}: column '{column}' must hold one of {words}, but {int(bad.sum())} rows "
            f"do not; example rows:\n{_examples(frame, bad)}"
        )


def _segmented(frame: pd.DataFrame, config: RetentionConfig) -> pd.DataFrame:
    p, clv = frame["churn_probability"], frame["clv"]
    if config.potential_clv is not None:
        edge = config.potential_clv
    else:
        edge = float(np.quantile(clv, config.potential_quantile)) if len(clv) else np.inf
    segment = np.select(
        [
            (p >= config.risk_threshold) & (clv > config.at_risk_min_clv),
            frame["value_tier"].astype(object).isin(config.high_value_tiers),
            clv >= edge,
        ],
        list(SEGMENTS[:3]),
        default=SEGMENTS[3],
    )
    return frame.assign(segment=segment.astype(object))


def _scores(
    scores: Any, name: str, config: RetentionConfig, extra: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Checked scores with a segment: the given one, else the config's rules."""
    frame = _checked(scores, name, SCORE_COLUMNS + extra)
    return frame if "segment" in frame.columns else _segmented(frame, config)
