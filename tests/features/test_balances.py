"""Deposit-trend and peak-decline features, hand-computed on tiny banks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.features import FeatureConfig, build_features

MONTHS = pd.date_range("2023-01-31", "2024-01-31", freq="ME")
# Level until March, up to a peak of 150 from May to September, then steps down.
STEPS_DOWN = [100, 100, 100, 120, 150, 150, 150, 150, 150, 130, 100, 90, 60]


def bank(balances: pd.DataFrame) -> dict[str, pd.DataFrame]:
    ids = sorted(balances["customer_id"].unique())
    return {
        "customers": pd.DataFrame({"customer_id": ids, "join_date": "2023-01-01"}),
        "accounts": pd.DataFrame(
            {
                "account_id": ids,
                "customer_id": ids,
                "product_type": "current",
                "open_date": "2023-01-01",
            }
        ),
        "balances": balances,
    }


def features_at(balances: pd.DataFrame, cutoff: str, **config) -> pd.Series:
    frame = build_features(
        bank(balances), cutoffs=[cutoff], config=FeatureConfig(**config) if config else None
    )
    return frame.filter(regex="^(trend|peak)__").iloc[0]


@pytest.fixture
def steps_down() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": 1, "date": MONTHS, "balance": STEPS_DOWN})


def test_trend_at_month_end(steps_down):
    f = features_at(steps_down, "2024-01-31")
    assert f["trend__balance__now"] == 60
    assert f["trend__balance__3m_ago"] == 130  # October
    assert f["trend__balance__6m_ago"] == 150  # July
    assert f["trend__balance__12m_ago"] == 100  # January 2023
    # Last 3 months 100, 90, 60: slope -20 a month over a mean of 83.33.
    assert f["trend__slope__3m"] == pytest.approx(-20 / (250 / 3), rel=1e-5)
    assert f["trend__months_declining"] == 4  # Sep > Oct > Nov > Dec > Jan
    last_year = np.array(STEPS_DOWN[1:], dtype=float)
    assert f["trend__volatility__12m"] == pytest.approx(
        last_year.std() / last_year.mean(), rel=1e-5
    )


def test_peak_decline_at_month_end(steps_down):
    f = features_at(steps_down, "2024-01-31")
    assert f["peak__current_to_peak__3m"] == pytest.approx(0.6)  # 60 / 100
    assert f["peak__current_to_peak__6m"] == pytest.approx(0.4)  # 60 / 150
    assert f["peak__months_since_peak__12m"] == 4  # the latest 150 is September
    assert f["peak__largest_fall__12m"] == pytest.approx(1 / 3)  # 90 -> 60
    # Steps down of more than 10% since the peak: Oct (13%), Nov (23%), Jan (33%); Dec is 10%.
    assert f["peak__falls_since_peak__12m"] == 3


def test_fall_step_is_configurable(steps_down):
    f = features_at(steps_down, "2024-01-31", fall_step=0.2)
    assert f["peak__falls_since_peak__12m"] == 2


def test_mid_month_cutoff_carries_last_month_forward(steps_down):
    f = features_at(steps_down, "2024-01-15")
    # January's snapshot (31st) is not known on the 15th: December's 90 carries forward.
    assert f["trend__balance__now"] == 90
    assert f["trend__months_declining"] == 0
    assert f["peak__falls_since_peak__12m"] == 2


def test_partial_month_averages_only_known_snapshots():
    balances = pd.DataFrame(
        {
            "customer_id": 1,
            "date": pd.to_datetime(["2023-11-30", "2024-01-10", "2024-01-20", "2024-01-31"]),
            "balance": [10.0, 20.0, 40.0, 1000.0],
        }
    )
    assert features_at(balances, "2024-01-15")["trend__balance__now"] == 20
    assert features_at(balances, "2024-01-20")["trend__balance__now"] == 30
    # December has no snapshot: November carries into it.
    f = features_at(balances, "2024-01-20")
    assert f["trend__slope__3m"] == pytest.approx(10 / (50 / 3), rel=1e-5)


def test_product_rows_are_summed_per_date():
    balances = pd.DataFrame(
        {
            "customer_id": 1,
            "date": ["2023-12-31", "2023-12-31", "2024-01-31", "2024-01-31"],
            "product_type": ["savings", "fund", "savings", "fund"],
            "balance": [100.0, 50.0, 30.0, 30.0],
        }
    )
    f = features_at(balances, "2024-01-31")
    assert f["trend__balance__now"] == 60
    assert f["peak__current_to_peak__3m"] == pytest.approx(0.4)


def test_no_history_gives_nan_not_errors():
    balances = pd.DataFrame({"customer_id": [1], "date": ["2024-03-31"], "balance": [5.0]})
    f = features_at(balances, "2024-01-31")
    assert f.isna().all()


def test_zero_peak_gives_nan_ratios():
    balances = pd.DataFrame({"customer_id": 1, "date": MONTHS[-3:], "balance": 0.0})
    f = features_at(balances, "2024-01-31")
    assert f["trend__balance__now"] == 0
    assert np.isnan(f["peak__current_to_peak__3m"])
    assert np.isnan(f["trend__slope__3m"])
