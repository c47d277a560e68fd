"""Balance features: the deposit trend and the steps down from the peak.

Both families read monthly average balances (:mod:`churnml.monthly`) of the months up to
the cutoff's, as known at the cutoff: earlier months are complete, the cutoff's own month
counts only snapshots on or before the cutoff. A month without a snapshot carries the
previous month's average forward (a balance persists until it is seen to change); months
before the customer's first snapshot stay missing. "k months ago" is the monthly average k
calendar months before the cutoff's month.

The work is numpy over a customers x months matrix, vectorised over customers, one pass
per cutoff: a batch of cutoffs shares the matrix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features._engine import FeatureConfig, FeatureContext
from churnml.features.catalogue import FeatureSpec
from churnml.monthly import balance_window, monthly_balances, row_mean

__all__ = ["compute", "specs"]

PEAK_MONTHS = 12


def specs(config: FeatureConfig) -> list[FeatureSpec]:
    """The ``trend`` and ``peak`` families' features."""
    months = config.trend_months
    out = [FeatureSpec("trend__balance__now", "trend", "Average balance of the cutoff's month.")]
    out += [
        FeatureSpec(
            f"trend__balance__{k}m_ago", "trend", f"Average balance {k} months before the cutoff's."
        )
        for k in months
    ]
    out += [
        FeatureSpec(
            f"trend__slope__{k}m",
            "trend",
            f"Least-squares slope of the last {k} monthly averages, over their mean: the "
            "relative change per month (-0.1 = falling 10% of the level a month).",
        )
        for k in months
    ]
    out += [
        FeatureSpec(
            f"trend__volatility__{PEAK_MONTHS}m",
            "trend",
            f"Standard deviation over mean of the last {PEAK_MONTHS} monthly averages.",
        ),
        FeatureSpec(
            "trend__months_declining",
            "trend",
            "Consecutive months, up to the cutoff's, in which the average balance fell.",
        ),
    ]
    out += [
        FeatureSpec(
            f"peak__current_to_peak__{k}m",
            "peak",
            f"Current monthly average over the highest of the last {k} months (1 = at the peak).",
        )
        for k in months
    ]
    out += [
        FeatureSpec(
            f"peak__months_since_peak__{PEAK_MONTHS}m",
            "peak",
            f"Months since the highest monthly average of the last {PEAK_MONTHS} months.",
        ),
        FeatureSpec(
            f"peak__largest_fall__{PEAK_MONTHS}m",
            "peak",
            f"Largest single-month fall of the last {PEAK_MONTHS} months, as a share of the "
            "month before.",
        ),
        FeatureSpec(
            f"peak__falls_since_peak__{PEAK_MONTHS}m",
            "peak",
            f"Steps down since the {PEAK_MONTHS}-month peak: month-on-month falls larger than "
            f"{config.fall_step:.0%}.",
        ),
    ]
    return out


def compute(ctx: FeatureContext) -> pd.DataFrame:
    """Trend and peak features for every row of the population."""
    names = [spec.name for spec in specs(ctx.config)]
    length = max(max(ctx.config.trend_months), PEAK_MONTHS) + 1
    monthly = monthly_balances(ctx.tables.balances)
    out = np.full((len(ctx.population), len(names)), np.nan)
    for cutoff, rows in ctx.population.groupby("cutoff", sort=True).groups.items():
        positions = np.asarray(rows)
        window = balance_window(
            ctx.tables.balances,
            monthly,
            ctx.population["customer_id"].to_numpy()[positions],
            pd.Timestamp(str(cutoff)),
            length,
        )
        out[positions] = _features(_carry_forward(window), ctx.config)
    return pd.DataFrame(out, columns=names)


def _features(window: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """All trend and peak features of windows of monthly averages (last column = now)."""
    now = window[:, -1]
    columns = [now]
    columns += [window[:, -1 - k] for k in config.trend_months]
    columns += [_relative_slope(window[:, -k:]) for k in config.trend_months]
    last_year = window[:, -PEAK_MONTHS:]
    columns += [_coefficient_of_variation(last_year), _months_declining(window)]
    columns += [_ratio(now, _row_max(window[:, -k:])) for k in config.trend_months]
    peak_window = window[:, -(PEAK_MONTHS + 1) :]
    columns += [
        _months_since_peak(peak_window),
        _largest_fall(peak_window),
        _falls_since_peak(peak_window, config.fall_step),
    ]
    return np.column_stack(columns)


def _carry_forward(window: np.ndarray) -> np.ndarray:
    """Fill each missing month with the last seen month before it (vectorised ffill)."""
    seen = ~np.isnan(window)
    last_seen = np.where(seen, np.arange(window.shape[1]), 0)
    np.maximum.accumulate(last_seen, axis=1, out=last_seen)
    filled = window[np.arange(window.shape[0])[:, None], last_seen]
    ever_seen = np.maximum.accumulate(seen, axis=1)
    return np.where(ever_seen, filled, np.nan)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def _row_max(values: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    filled = np.where(present, values, -np.inf).max(axis=1)
    return np.where(present.any(axis=1), filled, np.nan)


def _relative_slope(values: np.ndarray) -> np.ndarray:
    """Least-squares slope per month over missing-aware points, divided by their mean."""
    present = ~np.isnan(values)
    n = present.sum(axis=1)
    x = np.broadcast_to(np.arange(values.shape[1], dtype=float), values.shape)
    y = np.where(present, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_mean = np.where(present, x, 0.0).sum(axis=1) / n
        y_mean = y.sum(axis=1) / n
        dx = np.where(present, x - x_mean[:, None], 0.0)
        slope = (dx * (y - y_mean[:, None])).sum(axis=1) / (dx**2).sum(axis=1)
    return np.where((n >= 2) & (y_mean > 0), _ratio(slope, y_mean), np.nan)


def _coefficient_of_variation(values: np.ndarray) -> np.ndarray:
    mean = row_mean(values)
    present = ~np.isnan(values)
    squares = np.where(present, (values - mean[:, None]) ** 2, 0.0).sum(axis=1)
    n = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(squares / n)
    return np.where(n >= 2, _ratio(std, mean), np.nan)


def _months_declining(window: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        fell = window[:, 1:] < window[:, :-1]
    # Count the run of falls that ends at the cutoff's month.
    run = np.cumprod(fell[:, ::-1], axis=1).sum(axis=1).astype(float)
    return np.where(np.isnan(window[:, -1]), np.nan, run)


def _peak_position(window: np.ndarray) -> np.ndarray:
    """Column of the latest highest month (ties: the most recent one)."""
    reversed_window = np.where(np.isnan(window), -np.inf, window)[:, ::-1]
    return window.shape[1] - 1 - np.argmax(reversed_window, axis=1)


def _months_since_peak(window: np.ndarray) -> np.ndarray:
    since = (window.shape[1] - 1 - _peak_position(window)).astype(float)
    return np.where(np.isnan(window).all(axis=1), np.nan, since)


def _month_on_month_falls(window: np.ndarray) -> np.ndarray:
    """Fall of each month against the month before, as a share of it (0 when rising)."""
    before, after = window[:, :-1], window[:, 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        fall = np.where(before > 0, (before - after) / before, np.nan)
    return np.clip(fall, 0.0, None)


def _largest_fall(window: np.ndarray) -> np.ndarray:
    falls = _month_on_month_falls(window)
    present = ~np.isnan(falls)
    largest = np.where(present, falls, -np.inf).max(axis=1)
    return np.where(present.any(axis=1), largest, np.nan)


def _falls_since_peak(window: np.ndarray, step: float) -> np.ndarray:
    falls = _month_on_month_falls(window)
    peak = _peak_position(window)
    # Fall j compares month j+1 with month j: it is after the peak when j >= peak.
    after_peak = np.arange(falls.shape[1])[None, :] >= peak[:, None]
    with np.errstate(invalid="ignore"):
        steps = (after_peak & (falls > step)).sum(axis=1).astype(float)
    return np.where(np.isnan(window).all(axis=1), np.nan, steps)
