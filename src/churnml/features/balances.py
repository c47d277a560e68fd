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

from collections.abc import Iterator
from functools import partial

import numpy as np
import pandas as pd

from churnml.features._engine import FeatureConfig, FeatureContext
from churnml.features.catalogue import ArrayFeature, FeatureSpec, Reason
from churnml.monthly import balance_window, monthly_balances, row_mean

__all__ = ["compute", "features", "specs"]

PEAK_MONTHS = 12

# A balance feature computes from windows of monthly averages, one customer a row, the
# last column the cutoff's month.
BalanceFeature = ArrayFeature[np.ndarray]


def features(config: FeatureConfig) -> list[BalanceFeature]:
    """The ``trend`` and ``peak`` families' features, in column order.

    Parameters
    ----------
    config : FeatureConfig
        ``trend_months`` sets the spans, ``fall_step`` the size of a step down.

    Returns
    -------
    list of ArrayFeature
        Each computes from a customers x months matrix of carried-forward monthly
        averages whose last column is the cutoff's month.

    Examples
    --------
    >>> import numpy as np
    >>> from churnml.features import FeatureConfig
    >>> now = features(FeatureConfig())[0]
    >>> now.name, now.compute(np.array([[100.0, 80.0, 60.0]])).tolist()
    ('trend__balance__now', [60.0])
    """
    return [*_trend_features(config.trend_months), *_peak_features(config)]


def specs(config: FeatureConfig) -> list[FeatureSpec]:
    """The ``trend`` and ``peak`` families' catalogue entries, in column order."""
    return [feature.spec() for feature in features(config)]


def compute(ctx: FeatureContext) -> pd.DataFrame:
    """Trend and peak features for every row of the population."""
    family = features(ctx.config)
    out = np.full((len(ctx.population), len(family)), np.nan)
    for positions, window in _windows(ctx):
        out[positions] = np.column_stack([feature.compute(window) for feature in family])
    return pd.DataFrame(out, columns=[feature.name for feature in family])


def _windows(ctx: FeatureContext) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Population positions of each cutoff, with their carried-forward monthly windows."""
    length = max(max(ctx.config.trend_months), PEAK_MONTHS) + 1
    monthly = monthly_balances(ctx.tables.balances)
    customers = ctx.population["customer_id"].to_numpy()
    for cutoff, rows in ctx.population.groupby("cutoff", sort=True).groups.items():
        positions = np.asarray(rows)
        window = balance_window(
            ctx.tables.balances, monthly, customers[positions], pd.Timestamp(str(cutoff)), length
        )
        yield positions, _carry_forward(window)


def _trend_features(months: tuple[int, ...]) -> list[BalanceFeature]:
    out = [
        BalanceFeature(
            "trend__balance__now",
            "Average balance of the cutoff's month.",
            _now,
            reason=Reason("average balance this month {value}", "money"),
        )
    ]
    out += [
        BalanceFeature(
            f"trend__balance__{k}m_ago",
            f"Average balance {k} months before the cutoff's.",
            partial(_months_ago, k=k),
            reason=Reason(
                f"average balance {k} months ago {{value}}",
                "money",
                missing=f"no balance {k} months ago (a recent customer)",
            ),
        )
        for k in months
    ]
    out += [
        BalanceFeature(
            f"trend__slope__{k}m",
            f"Least-squares slope of the last {k} monthly averages, over their mean: the "
            "relative change per month (-0.1 = falling 10% of the level a month).",
            partial(_slope, k=k),
            reason=Reason(f"balance trend over {k} months {{value}} a month", "rate"),
        )
        for k in months
    ]
    out += [
        BalanceFeature(
            f"trend__volatility__{PEAK_MONTHS}m",
            f"Standard deviation over mean of the last {PEAK_MONTHS} monthly averages.",
            _volatility,
            reason=Reason(
                f"balance swings by {{value}} of its level over {PEAK_MONTHS} months", "share"
            ),
        ),
        BalanceFeature(
            "trend__months_declining",
            "Consecutive months, up to the cutoff's, in which the average balance fell.",
            _months_declining,
            reason=Reason("balance fell {value} month{s} in a row", "count"),
        ),
    ]
    return out


def _peak_features(config: FeatureConfig) -> list[BalanceFeature]:
    out = [
        BalanceFeature(
            f"peak__current_to_peak__{k}m",
            f"Current monthly average over the highest of the last {k} months (1 = at the peak).",
            partial(_current_to_peak, k=k),
            reason=Reason(f"assets {{value}} below their {k}-month peak", "shortfall"),
        )
        for k in config.trend_months
    ]
    out += [
        BalanceFeature(
            f"peak__months_since_peak__{PEAK_MONTHS}m",
            f"Months since the highest monthly average of the last {PEAK_MONTHS} months.",
            _months_since_peak,
            reason=Reason(
                f"{{value}} month{{s}} since the {PEAK_MONTHS}-month balance peak", "months"
            ),
        ),
        BalanceFeature(
            f"peak__largest_fall__{PEAK_MONTHS}m",
            f"Largest single-month fall of the last {PEAK_MONTHS} months, as a share of the "
            "month before.",
            _largest_fall,
            reason=Reason(
                f"balance fell by {{value}} in a single month within {PEAK_MONTHS} months", "share"
            ),
        ),
        BalanceFeature(
            f"peak__falls_since_peak__{PEAK_MONTHS}m",
            f"Steps down since the {PEAK_MONTHS}-month peak: month-on-month falls larger than "
            f"{config.fall_step:.0%}.",
            partial(_falls_since_peak, step=config.fall_step),
            reason=Reason(
                f"{{value}} step{{s}} down of over {config.fall_step:.0%} since the "
                f"{PEAK_MONTHS}-month peak",
                "count",
            ),
        ),
    ]
    return out


# The computations, each over a window of monthly averages whose last column is now.
def _now(window: np.ndarray) -> np.ndarray:
    return window[:, -1]


def _months_ago(window: np.ndarray, k: int) -> np.ndarray:
    return window[:, -1 - k]


def _slope(window: np.ndarray, k: int) -> np.ndarray:
    return _relative_slope(window[:, -k:])


def _volatility(window: np.ndarray) -> np.ndarray:
    return _coefficient_of_variation(window[:, -PEAK_MONTHS:])


def _current_to_peak(window: np.ndarray, k: int) -> np.ndarray:
    return _ratio(window[:, -1], _row_max(window[:, -k:]))


def _peak_window(window: np.ndarray) -> np.ndarray:
    """The cutoff's month and the ``PEAK_MONTHS`` before it: that many month-on-month falls."""
    return window[:, -(PEAK_MONTHS + 1) :]


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
    window = _peak_window(window)
    since = (window.shape[1] - 1 - _peak_position(window)).astype(float)
    return np.where(np.isnan(window).all(axis=1), np.nan, since)


def _month_on_month_falls(window: np.ndarray) -> np.ndarray:
    """Fall of each month against the month before, as a share of it (0 when rising)."""
    before, after = window[:, :-1], window[:, 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        fall = np.where(before > 0, (before - after) / before, np.nan)
    return np.clip(fall, 0.0, None)


def _largest_fall(window: np.ndarray) -> np.ndarray:
    falls = _month_on_month_falls(_peak_window(window))
    present = ~np.isnan(falls)
    largest = np.where(present, falls, -np.inf).max(axis=1)
    return np.where(present.any(axis=1), largest, np.nan)


def _falls_since_peak(window: np.ndarray, step: float) -> np.ndarray:
    window = _peak_window(window)
    falls = _month_on_month_falls(window)
    peak = _peak_position(window)
    # Fall j compares month j+1 with month j: it is after the peak when j >= peak.
    after_peak = np.arange(falls.shape[1])[None, :] >= peak[:, None]
    with np.errstate(invalid="ignore"):
        steps = (after_peak & (falls > step)).sum(axis=1).astype(float)
    return np.where(np.isnan(window).all(axis=1), np.nan, steps)
