"""Complaint features on a tiny hand-written bank, every expectation computed by hand.

The cutoff is 2024-06-30 unless a test says otherwise, so with the default windows:
30d = 2024-06-01..06-30 (05-31 is exactly 30 days before: outside), 90d = 04-02..06-30,
365d = 2023-07-02..2024-06-30 (2023-07-01 is exactly 365 days before: outside).
"""

from __future__ import annotations

import pandas as pd
import pytest

from churnml.features import FeatureConfig, build_features
from churnml.features.complaints import specs

CUTOFF = pd.Timestamp("2024-06-30")
NAN = float("nan")

COMPLAINTS = [
    # customer, date, category, severity, resolved
    (1, "2024-06-30", "Fees ", 1, None),  # on the cutoff: counted
    (1, "2024-07-01", "service", 3, None),  # the day after: never
    (1, "2024-05-31", "service", 2, "2024-07-10"),  # 30 days before; resolved after: open
    (1, "2024-06-01", "STAFF", 1, "2024-06-05"),  # 29 days before; resolved in 4 days
    (1, "2024-02-10", "billing", None, "2024-03-01"),  # unknown category: other; 20 days
    (1, "2023-07-01", "product", 3, None),  # exactly 365 days before; still open
    (1, "2022-05-01", "system", 2, "2022-05-11"),  # long ago
    (2, "2023-01-15", "system", 3, "2023-01-20"),  # 532 days before
]


def _bank(complaints: bool = True) -> dict[str, pd.DataFrame]:
    # Customer 3 never complained.
    ids = [1, 2, 3]
    tables = {
        "customers": pd.DataFrame({"customer_id": ids, "join_date": "2020-01-01"}),
        "accounts": pd.DataFrame(
            {
                "account_id": [11, 12, 13],
                "customer_id": ids,
                "product_type": "current",
                "open_date": "2020-01-01",
            }
        ),
        "balances": pd.DataFrame({"customer_id": ids, "date": "2024-06-30", "balance": 100.0}),
    }
    if complaints:
        tables["complaints"] = pd.DataFrame(
            COMPLAINTS, columns=["customer_id", "date", "category", "severity", "resolved_date"]
        )
    return tables


def _complaints(tables, cutoffs=CUTOFF, config=None) -> pd.DataFrame:
    """The complaints columns, indexed by (customer_id, cutoff)."""
    features = build_features(tables, cutoffs=cutoffs, config=config)
    columns = [spec.name for spec in specs(config or FeatureConfig())]
    return features.set_index(["customer_id", "cutoff"])[columns]


def _row(frame: pd.DataFrame, customer: int, cutoff: pd.Timestamp = CUTOFF) -> dict:
    return frame.loc[(customer, cutoff)].to_dict()


def _no_complaints(**changes: float) -> dict[str, float]:
    """A customer with no complaint in any window: counts 0, the rest missing."""
    missing = ("days_since_last", "max_severity", "mean_days_to_resolve")
    out = {
        spec.name: NAN if any(m in spec.name for m in missing) else 0.0
        for spec in specs(FeatureConfig())
    }
    return {**out, **changes}


def test_names_follow_the_catalogue_rules():
    names = [spec.name for spec in specs(FeatureConfig())]
    assert len(names) == len(set(names)) == 15
    assert all(name.startswith("complaints__") for name in names)


def test_counts_over_windows():
    row = _row(_complaints(_bank()), 1)
    expected = {
        "complaints__count__30d": 2,  # 06-30, 06-01
        "complaints__count__90d": 3,  # + 05-31
        "complaints__count__365d": 4,  # + 02-10 (2023-07-01 is outside)
    }
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-5)


def test_unresolved_recency_and_severity():
    row = _row(_complaints(_bank()), 1)
    expected = {
        "complaints__unresolved": 3,  # 06-30, 05-31 (resolved after the cutoff), 2023-07-01
        "complaints__has_unresolved": 1,
        "complaints__days_since_last": 0,  # the complaint on the cutoff
        "complaints__max_severity__365d": 2,  # the 3s are after the cutoff or 365 days ago
        "complaints__unresolved_over_30d": 2,  # 05-31 (30 days), 2023-07-01
    }
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-5)


def test_categories_and_resolution_time():
    row = _row(_complaints(_bank()), 1)
    expected = {
        "complaints__category_service__365d": 1,  # 05-31
        "complaints__category_fees__365d": 1,  # "Fees " cleaned
        "complaints__category_product__365d": 0,  # 2023-07-01 is outside
        "complaints__category_staff__365d": 1,  # "STAFF" cleaned
        "complaints__category_system__365d": 0,
        "complaints__category_other__365d": 1,  # "billing"
        "complaints__mean_days_to_resolve__365d": (4 + 20) / 2,
    }
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-5)


def test_customer_with_only_old_complaints():
    row = _row(_complaints(_bank()), 2)
    expected = _no_complaints(complaints__days_since_last=532)
    assert row == pytest.approx(expected, rel=1e-5, nan_ok=True)


def test_customer_who_never_complained():
    row = _row(_complaints(_bank()), 3)
    assert row == pytest.approx(_no_complaints(), rel=1e-5, nan_ok=True)


def test_resolution_on_the_cutoff_counts_as_resolved():
    cutoff = pd.Timestamp("2024-07-10")
    row = _row(_complaints(_bank(), cutoffs=cutoff), 1, cutoff)
    expected = {
        # Window 2024-06-11..07-10: 06-30, 07-01.
        "complaints__count__30d": 2,
        # Open: 06-30, 07-01, 2023-07-01; 05-31 was resolved on the cutoff.
        "complaints__unresolved": 3,
        # 2023-07-01 is now 375 days old; the 365d window starts 2023-07-12.
        "complaints__unresolved_over_30d": 1,
        "complaints__max_severity__365d": 3,  # 07-01
        "complaints__mean_days_to_resolve__365d": (40 + 4 + 20) / 3,
        "complaints__days_since_last": 9,
    }
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-5)


def test_two_cutoffs_at_once_equal_each_alone():
    cutoffs = [pd.Timestamp("2024-03-31"), CUTOFF, pd.Timestamp("2024-07-10")]
    together = _complaints(_bank(), cutoffs=cutoffs)
    alone = pd.concat([_complaints(_bank(), cutoffs=c) for c in cutoffs]).sort_index()
    pd.testing.assert_frame_equal(together, alone)
    assert len(together) == 9


def test_without_a_complaints_table_every_feature_is_missing():
    frame = _complaints(_bank(complaints=False), cutoffs=[pd.Timestamp("2024-03-31"), CUTOFF])
    assert frame.shape == (6, 15)
    assert frame.isna().all().all()


def test_windows_come_from_the_config():
    config = FeatureConfig(complaint_windows_days=(7, 100))
    row = _row(_complaints(_bank(), config=config), 1)
    assert row["complaints__count__7d"] == 1  # 06-30 only
    assert row["complaints__count__100d"] == 3
    assert row["complaints__category_other__100d"] == 0  # 02-10 is 141 days before
    assert row["complaints__max_severity__100d"] == 2


def test_an_empty_complaints_table_gives_zero_counts():
    tables = _bank()
    tables["complaints"] = tables["complaints"].iloc[:0]
    frame = _complaints(tables)
    for customer in (1, 2, 3):
        assert _row(frame, customer) == pytest.approx(_no_complaints(), rel=1e-5, nan_ok=True)
