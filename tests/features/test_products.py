"""Product features on a tiny hand-written bank, every expectation computed by hand.

The cutoff is 2024-06-30 unless a test says otherwise, so with the default windows:
90d = 2024-04-02..06-30 and 180d = 2024-01-03..06-30 (2024-01-02 is exactly 180 days
before: outside). Months are days / 30.4375.
"""

from __future__ import annotations

import pandas as pd
import pytest

from churnml.features import FeatureConfig, build_features
from churnml.features.products import specs

CUTOFF = pd.Timestamp("2024-06-30")
NAN = float("nan")
MONTH = 30.4375

ACCOUNTS = [
    # id, customer, product, open, close, reason, risk, term
    (101, 1, "current", "2020-01-01", None, None, None, None),  # oldest open account
    (102, 1, "savings", "2021-03-01", "2024-07-15", "customer", None, None),  # closed later: open
    (103, 1, "savings", "2022-01-01", "2024-06-30", "customer", None, None),  # closed on cutoff
    (104, 1, "time_deposit", "2023-10-15", None, None, None, 12),  # matures 2024-10-15
    (105, 1, "time_deposit", "2021-06-10", "2024-06-10", "maturity", None, 36),  # matured
    (106, 1, "wealth_management", "2024-05-01", None, None, 1, None),  # demand, opened in 90d
    (107, 1, "wealth_management", "2024-02-01", None, None, 4, 6),  # matures 2024-08-01: next
    (108, 1, "fund", "2023-01-01", None, None, 5, 48),  # over 3 years
    (109, 1, "fund", "2024-03-20", None, None, 2, 3),  # matured 2024-06-20, still open: ignored
    (110, 1, "credit_card", "2024-07-01", None, None, None, None),  # opened after the cutoff
    (111, 1, "fund", "2020-05-01", "2024-01-02", "customer", 3, None),  # exactly 180 days ago
    (112, 1, "loan", "2021-01-01", "2024-01-03", "customer", None, None),  # 179 days ago
    (113, 1, "other", "2022-02-02", None, None, None, None),
    (114, 1, "insurance", "2022-02-02", "2024-05-01", "bank", None, None),  # bank: not counted
    (115, 1, "wealth_management", "2022-09-01", None, None, 3, 36),  # 36 months: 6m to 3y
    (301, 3, "current", "2024-06-30", None, None, None, None),  # opened on the cutoff
]

ZERO_COUNTS = {spec.name: 0.0 for spec in specs(FeatureConfig())}


def _bank() -> dict[str, pd.DataFrame]:
    accounts = pd.DataFrame(
        ACCOUNTS,
        columns=[
            "account_id",
            "customer_id",
            "product_type",
            "open_date",
            "close_date",
            "close_reason",
            "risk_level",
            "term_months",
        ],
    )
    return {
        # Customer 2 has no accounts at all; customer 3 joined on the cutoff.
        "customers": pd.DataFrame(
            {"customer_id": [1, 2, 3], "join_date": ["2019-12-01", "2024-03-01", "2024-06-30"]}
        ),
        "accounts": accounts,
        "balances": pd.DataFrame(
            {"customer_id": [1, 3], "date": ["2024-06-30", "2024-06-30"], "balance": [5e4, 10.0]}
        ),
    }


def _products(tables, cutoffs=CUTOFF, config=None) -> pd.DataFrame:
    """The products columns, indexed by (customer_id, cutoff)."""
    features = build_features(tables, cutoffs=cutoffs, config=config)
    columns = [spec.name for spec in specs(config or FeatureConfig())]
    return features.set_index(["customer_id", "cutoff"])[columns]


def _row(frame: pd.DataFrame, customer: int, cutoff: pd.Timestamp = CUTOFF) -> dict:
    return frame.loc[(customer, cutoff)].to_dict()


def test_names_follow_the_catalogue_rules():
    names = [spec.name for spec in specs(FeatureConfig())]
    assert len(names) == len(set(names)) == 31
    assert all(name.startswith("products__") for name in names)
    assert all(spec.description.endswith(".") for spec in specs(FeatureConfig()))


def test_holdings_by_product_type():
    row = _row(_products(_bank()), 1)
    expected = {
        "products__open_current": 1,
        "products__open_savings": 1,  # 102 closes later (open); 103 closed on the cutoff
        "products__open_time_deposit": 1,
        "products__open_wealth_management": 3,
        "products__open_fund": 2,
        "products__open_insurance": 0,  # closed by the bank
        "products__open_credit_card": 0,  # opened the day after the cutoff
        "products__open_loan": 0,
        "products__open_mortgage": 0,
        "products__open_other": 1,
        "products__open_product_types": 6,
        "products__open_accounts": 9,
    }
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-5)


def test_wealth_holdings_by_risk_and_term():
    row = _row(_products(_bank()), 1)
    expected = {
        "products__wealth_risk_conservative": 1,  # 106
        "products__wealth_risk_steady": 1,  # 109
        "products__wealth_risk_balanced": 1,  # 115 (111 is closed)
        "products__wealth_risk_active": 1,  # 107
        "products__wealth_risk_aggressive": 1,  # 108
        "products__wealth_term_demand": 1,  # 106
        "products__wealth_term_under_6m": 1,  # 109: 3 months
        "products__wealth_term_6m_to_3y": 2,  # 107: 6 months, 115: 36 months
        "products__wealth_term_over_3y": 1,  # 108: 48 months
        "products__wealth_max_risk_level": 5,
    }
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-5)


def test_closed_matured_and_opened_windows():
    row = _row(_products(_bank()), 1)
    expected = {
        "products__closed_by_customer__90d": 1,  # 103 on the cutoff
        "products__closed_by_customer__180d": 2,  # 103, 112 (111 is exactly 180 days ago)
        "products__matured__90d": 1,  # 105
        "products__matured__180d": 1,
        "products__opened__90d": 1,  # 106
        "products__opened__180d": 3,  # 106, 107, 109 (110 is after the cutoff)
    }
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-5)


def test_an_account_closed_the_day_after_the_cutoff_was_open():
    row = _row(_products(_bank(), cutoffs="2024-06-29"), 1, pd.Timestamp("2024-06-29"))
    expected = {
        "products__open_savings": 2,  # 103 closes on 06-30
        "products__open_accounts": 10,
        "products__closed_by_customer__90d": 0,
        "products__closed_by_customer__180d": 2,  # 111 (179 days ago now) and 112
    }
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-5)


def test_maturity_and_tenure():
    row = _row(_products(_bank()), 1)
    expected = {
        # Open term products mature 2024-10-15, 2024-08-01, 2027-01-01, 2025-09-01; 109's
        # maturity (2024-06-20) is already past. Next: 2024-08-01, 32 days away.
        "products__months_to_next_maturity": 32 / MONTH,
        "products__tenure_months": 1673 / MONTH,  # joined 2019-12-01
        "products__oldest_open_account_months": 1642 / MONTH,  # 101 opened 2020-01-01
    }
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-5)


def test_customer_without_accounts_has_zero_counts_and_missing_dates():
    row = _row(_products(_bank()), 2)
    missing = {
        "products__wealth_max_risk_level",
        "products__months_to_next_maturity",
        "products__oldest_open_account_months",
    }
    expected = {name: NAN if name in missing else 0.0 for name in ZERO_COUNTS}
    expected["products__tenure_months"] = 121 / MONTH  # joined 2024-03-01
    assert row == pytest.approx(expected, rel=1e-5, nan_ok=True)


def test_account_opened_on_the_cutoff_counts():
    row = _row(_products(_bank()), 3)
    assert row["products__open_current"] == 1
    assert row["products__opened__90d"] == 1
    assert row["products__tenure_months"] == 0
    assert row["products__oldest_open_account_months"] == 0


def test_two_cutoffs_at_once_equal_each_alone():
    cutoffs = [pd.Timestamp("2024-03-31"), CUTOFF]
    together = _products(_bank(), cutoffs=cutoffs)
    alone = pd.concat([_products(_bank(), cutoffs=c) for c in cutoffs]).sort_index()
    pd.testing.assert_frame_equal(together, alone)
    assert len(together) == 5  # customers 1 and 2 twice; 3 joins on 2024-06-30


def test_windows_come_from_the_config():
    config = FeatureConfig(product_closed_windows_days=(1,))
    frame = _products(_bank(), config=config)
    assert "products__closed_by_customer__1d" in frame.columns
    assert "products__closed_by_customer__90d" not in frame.columns
    assert frame.loc[(1, CUTOFF), "products__closed_by_customer__1d"] == 1  # 103
    assert frame.loc[(3, CUTOFF), "products__opened__1d"] == 1  # 301


def test_text_customer_ids_give_the_same_features():
    tables = _bank()
    for frame in tables.values():
        frame["customer_id"] = "c" + frame["customer_id"].astype(str)
    by_text = _products(tables).rename(index=lambda c: int(c[1:]), level="customer_id")
    pd.testing.assert_frame_equal(by_text, _products(_bank()), check_index_type=False)
