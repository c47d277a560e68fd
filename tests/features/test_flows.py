"""Money-flow features on tiny hand-written banks, every expectation computed by hand.

The cutoff is 2024-06-30 unless a test says otherwise, so with the default windows:
30d = 2024-06-01..06-30 (previous: 05-02..05-31), 90d = 04-02..06-30 (previous:
01-03..04-01).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnml.features import FeatureConfig, build_features
from churnml.features import flows as flows_family
from churnml.features.flows import specs
from churnml.tables import load_tables
from conftest import random_bank

CUTOFF = pd.Timestamp("2024-06-30")
NAN = float("nan")

# Customer 1: balance 8,000 until May, 10,000 at the June month end (two products), 20,000
#   after the cutoff. Its transactions test windows, shares, changes and large outflows.
# Customer 2: balance 5,000, no transactions ever.
# Customer 3: no balance snapshots; one payment in the 30-day window.
# Customer 4: balance 5,000; one transaction long before every window.
TRANSACTIONS = [
    # customer, ts, amount, channel, counterparty
    (1, "2024-06-30 23:30", -3000.0, "online", "other_bank"),  # on the cutoff: counted, large
    (1, "2024-07-01 00:10", -9999.0, "online", "other_bank"),  # after the cutoff: never
    (1, "2024-06-25 10:00", -2000.0, "branch", "internal"),  # exactly 20% of 10,000: not large
    (1, "2024-06-20 12:00", -1500.0, "mobile", "third_party_payment"),
    (1, "2024-06-15 08:00", -500.0, "atm", "cash"),
    (1, "2024-06-01 09:00", 6000.0, "other", "salary"),  # w - 1 = 29 days before: in 30d
    (1, "2024-05-31 18:00", -2500.0, "online", "other_bank"),  # w = 30 days before: not in 30d
    (1, "2024-05-10 11:00", 1000.0, "mobile", "internal"),  # previous 30 days
    (1, "2024-03-01 11:00", -950.0, "online", "other_bank"),  # previous 90 days
    (3, "2024-06-10 14:00", -100.0, "phone", "merchant"),
    (4, "2023-01-15 09:00", 100.0, "branch", "salary"),
]


def _bank(transactions: bool = True, counterparty: bool = True) -> dict[str, pd.DataFrame]:
    ids = [1, 2, 3, 4]
    month_ends = pd.date_range("2023-01-31", "2024-05-31", freq="ME")
    snapshots = [
        (c, d, "current", 8000.0 if c == 1 else 5000.0) for c in (1, 2, 4) for d in month_ends
    ]
    snapshots += [
        (1, "2024-06-30", "current", 6000.0),
        (1, "2024-06-30", "savings", 4000.0),
        (2, "2024-06-30", "current", 5000.0),
        (4, "2024-06-30", "current", 5000.0),
        (1, "2024-07-31", "current", 20000.0),
    ]
    tables = {
        "customers": pd.DataFrame({"customer_id": ids, "join_date": "2020-01-01"}),
        "accounts": pd.DataFrame(
            {
                "account_id": [11, 12, 13, 14],
                "customer_id": ids,
                "product_type": "current",
                "open_date": "2020-01-01",
            }
        ),
        "balances": pd.DataFrame(
            snapshots, columns=["customer_id", "date", "product_type", "balance"]
        ),
    }
    if transactions:
        frame = pd.DataFrame(
            TRANSACTIONS, columns=["customer_id", "ts", "amount", "channel", "counterparty"]
        )
        tables["transactions"] = frame if counterparty else frame.drop(columns="counterparty")
    return tables


def _flows(tables, cutoffs=CUTOFF, config=None) -> pd.DataFrame:
    """The flows columns, indexed by (customer_id, cutoff)."""
    features = build_features(tables, cutoffs=cutoffs, config=config)
    columns = [c for c in features.columns if c.startswith("flows__")]
    return features.set_index(["customer_id", "cutoff"])[columns]


def _row(flows: pd.DataFrame, customer: int, cutoff=CUTOFF) -> pd.Series:
    return flows.loc[(customer, pd.Timestamp(cutoff))]


def _check(row: pd.Series, expected: dict[str, float]) -> None:
    for name, value in expected.items():
        if math.isnan(value):
            assert math.isnan(row[name]), name
        else:
            assert row[name] == pytest.approx(value, rel=1e-5), name


def test_specs_follow_the_config():
    config = FeatureConfig(flow_windows_days=(7, 30))
    names = [spec.name for spec in specs(config)]
    assert len(names) == len(set(names)) == 2 * 29 + 1
    assert names[-1] == "flows__days_since_last_transaction"
    assert all(spec.family == "flows" and spec.description for spec in specs(config))
    assert "20%" in next(s.description for s in specs(config) if "large" in s.name)


def test_output_is_float32_in_spec_order():
    flows = _flows(_bank())
    assert list(flows.columns) == [spec.name for spec in specs(FeatureConfig())]
    assert (flows.dtypes == np.float32).all()


def test_counts_and_amounts_respect_window_edges():
    row = _row(_flows(_bank()), 1)
    _check(
        row,
        {
            # In: the salary of 06-01 (29 days before the cutoff).
            "flows__in_count__30d": 1,
            "flows__in_amount__30d": 6000,
            # Out: 3000 on the cutoff day + 2000 + 1500 + 500; not 07-01, not 05-31.
            "flows__out_count__30d": 4,
            "flows__out_amount__30d": 7000,
            "flows__net_flow__30d": -1000,
            # 90d adds 05-31 (-2500) and 05-10 (+1000).
            "flows__in_count__90d": 2,
            "flows__in_amount__90d": 7000,
            "flows__out_count__90d": 5,
            "flows__out_amount__90d": 9500,
            "flows__net_flow__90d": -2500,
            # 180d adds 03-01 (-950).
            "flows__out_count__180d": 6,
            "flows__out_amount__180d": 10450,
        },
    )


def test_counterparty_and_channel_shares():
    row = _row(_flows(_bank()), 1)
    _check(
        row,
        {
            "flows__out_other_bank_share__30d": 3000 / 7000,
            "flows__out_internal_share__30d": 2000 / 7000,
            "flows__out_third_party_payment_share__30d": 1500 / 7000,
            "flows__out_cash_share__30d": 500 / 7000,
            "flows__out_merchant_share__30d": 0,
            "flows__out_other_share__30d": 0,
            "flows__in_salary_share__30d": 1,
            "flows__in_salary_share__90d": 6000 / 7000,
            "flows__out_online_channel_count__30d": 1,
            "flows__out_branch_channel_count__30d": 1,
            "flows__out_mobile_channel_count__30d": 1,
            "flows__out_atm_channel_count__30d": 1,
            "flows__out_phone_channel_count__30d": 0,
            "flows__out_other_channel_count__30d": 0,  # the salary came in via "other"
            "flows__out_online_channel_share__30d": 3000 / 7000,
            "flows__out_branch_channel_share__30d": 2000 / 7000,
            "flows__out_online_channel_count__90d": 2,
            "flows__out_online_channel_share__90d": 5500 / 9500,
        },
    )


def test_change_against_the_previous_window():
    row = _row(_flows(_bank()), 1)
    _check(
        row,
        {
            # Previous 30 days: one outflow of 2500 (05-31), one inflow of 1000 (05-10).
            "flows__out_amount_change__30d": (7000 - 2500) / 2500,
            "flows__out_count_change__30d": (4 - 1) / 1,
            "flows__in_amount_change__30d": (6000 - 1000) / 1000,
            # Previous 90 days: one outflow of 950, nothing in.
            "flows__out_amount_change__90d": (9500 - 950) / 950,
            "flows__out_count_change__90d": (5 - 1) / 1,
            "flows__in_amount_change__90d": NAN,
        },
    )


def test_balance_as_of_the_cutoff_and_large_outflows():
    row = _row(_flows(_bank()), 1)
    # Balance at 06-30: 6000 + 4000 over the two products (the 07-31 snapshot is unknown).
    _check(
        row,
        {
            "flows__net_flow_over_balance__30d": -1000 / 10000,
            "flows__net_flow_over_balance__90d": -2500 / 10000,
            # Larger than 2000: only 3000 in 30d (2000 itself is not larger); 2500 joins in 90d.
            "flows__large_out_count__30d": 1,
            "flows__large_out_count__90d": 2,
        },
    )


def test_mid_month_cutoff_uses_the_latest_snapshot_before_it():
    cutoff = "2024-06-20"
    row = _row(_flows(_bank(), cutoffs=cutoff), 1, cutoff)
    # Balance: the 05-31 snapshot, 8000. Window 05-22..06-20: in 6000; out 2500 + 500 + 1500.
    _check(
        row,
        {
            "flows__net_flow_over_balance__30d": (6000 - 4500) / 8000,
            "flows__large_out_count__30d": 1,  # larger than 1600: the 2500 of 05-31
            "flows__days_since_last_transaction": 0,  # the 1500 paid on the 20th
        },
    )


def test_days_since_last_transaction():
    flows = _flows(_bank())
    assert _row(flows, 1)["flows__days_since_last_transaction"] == 0  # 06-30 23:30, not 07-01
    assert _row(flows, 3)["flows__days_since_last_transaction"] == 20  # 06-10
    # 2023-01-15 lies beyond every window and still counts: 365 + 152 + 15 days.
    assert _row(flows, 4)["flows__days_since_last_transaction"] == 532
    assert math.isnan(_row(flows, 2)["flows__days_since_last_transaction"])


def test_customer_without_transactions_gets_zeros_and_nan():
    flows = _flows(_bank())
    for customer in (2, 4):  # 4 has only an old transaction
        row = _row(flows, customer)
        for name, value in row.items():
            if name == "flows__days_since_last_transaction":
                continue
            measure = str(name).split("__")[1]
            if measure.endswith(("_share", "_change")):
                assert math.isnan(value), name
            else:  # counts, amounts, net flow and its ratio to a known balance of 5000
                assert value == 0, name


def test_unknown_balance_gives_nan_ratio_and_large_count():
    row = _row(_flows(_bank()), 3)
    _check(
        row,
        {
            "flows__out_count__30d": 1,
            "flows__out_merchant_share__30d": 1,
            "flows__out_phone_channel_share__30d": 1,
            "flows__net_flow_over_balance__30d": NAN,
            "flows__large_out_count__30d": NAN,
        },
    )


def test_two_cutoffs_at_once_equal_each_alone():
    cutoffs = ["2024-05-31", "2024-06-30"]
    both = _flows(_bank(), cutoffs=cutoffs)
    alone = pd.concat([_flows(_bank(), cutoffs=c) for c in cutoffs]).loc[both.index]
    pd.testing.assert_frame_equal(both, alone, check_exact=False, rtol=1e-5)
    # The earlier cutoff really differs: 05-31 is on that cutoff, so in its 30d window.
    assert _row(both, 1, "2024-05-31")["flows__out_amount__30d"] == 2500


def test_partitions_of_customers_change_nothing(monkeypatch):
    bank = random_bank(seed=3, n_customers=60)
    cutoffs = ["2024-04-30", "2024-05-31", "2024-06-30"]
    whole = _flows(bank, cutoffs=cutoffs)
    monkeypatch.setattr(flows_family, "_PART_ROWS", 10)  # a query per about 10 rows
    pd.testing.assert_frame_equal(_flows(bank, cutoffs=cutoffs), whole)


def test_empty_population_gives_an_empty_frame():
    flows = _flows(_bank(), cutoffs="2019-12-31")  # before anyone joined
    assert flows.empty
    assert list(flows.columns) == [spec.name for spec in specs(FeatureConfig())]


def test_without_transactions_every_flow_is_nan():
    flows = _flows(_bank(transactions=False))
    assert list(flows.columns) == [spec.name for spec in specs(FeatureConfig())]
    assert len(flows) == 4
    assert flows.isna().all().all()


def test_without_counterparty_shares_are_nan():
    flows = _flows(_bank(counterparty=False))
    row = _row(flows, 1)
    counterparty_shares = [
        c
        for c in flows.columns
        if c.startswith("flows__out_") and c.endswith("_share__30d") and "_channel_" not in c
    ]
    assert len(counterparty_shares) == 6
    _check(row, dict.fromkeys([*counterparty_shares, "flows__in_salary_share__30d"], NAN))
    # Everything that does not need the counterparty is unchanged.
    _check(
        row,
        {
            "flows__out_amount__30d": 7000,
            "flows__out_online_channel_share__30d": 3000 / 7000,
            "flows__large_out_count__30d": 1,
        },
    )


def test_counterparty_shares_are_of_outflows_whose_counterparty_is_known():
    tables = _bank()
    partial = tables["transactions"].copy()
    partial.loc[partial["amount"] == -2000.0, "counterparty"] = None
    row = _row(_flows({**tables, "transactions": partial}), 1)
    # 2000 of 7000 has no counterparty: shares are of the other 5000 and still sum to 1.
    _check(
        row, {"flows__out_other_bank_share__30d": 3000 / 5000, "flows__out_cash_share__30d": 0.1}
    )


def test_config_windows_and_large_share():
    config = FeatureConfig(flow_windows_days=(10,), large_outflow_share=0.1)
    row = _row(_flows(_bank(), config=config), 1)
    # 06-21..06-30: 3000 and 2000 out; both larger than 10% of 10,000. Previous 10 days
    # (06-11..06-20): 1500 and 500.
    _check(
        row,
        {
            "flows__out_amount__10d": 5000,
            "flows__large_out_count__10d": 2,
            "flows__out_amount_change__10d": (5000 - 2000) / 2000,
        },
    )


def _reference(tables, rows: pd.DataFrame, w: int, large_share: float) -> pd.DataFrame:
    """A plain pandas version of some window-w features, one cutoff at a time."""
    tx, snaps = tables.transactions, tables.balances
    parts = []
    for cutoff, group in rows.groupby("cutoff"):
        ids = pd.Index(group["customer_id"])
        age = (cutoff - tx["date"]).dt.days
        now, before = tx[(age >= 0) & (age < w)], tx[(age >= w) & (age < 2 * w)]
        out = now[now["amount"] < 0].assign(money=lambda f: -f["amount"])
        by_customer = out.groupby("customer_id")["money"]
        n_out = by_customer.size().reindex(ids, fill_value=0)
        a_out = by_customer.sum().reindex(ids, fill_value=0.0)
        # The random bank always gives the counterparty: every outflow's is known.
        other_bank = out[out["counterparty"] == "other_bank"].groupby("customer_id")["money"]
        a_other_bank = other_bank.sum().reindex(ids, fill_value=0.0)
        a_out_before = -before[before["amount"] < 0].groupby("customer_id")["amount"].sum()
        a_out_before = a_out_before.reindex(ids)
        dated = snaps[snaps["date"] <= cutoff]
        latest = dated[dated.groupby("customer_id")["date"].transform("max") == dated["date"]]
        balance = latest.groupby("customer_id")["balance"].sum().reindex(ids)
        large = out["money"] > large_share * out["customer_id"].map(balance)
        n_large = large.groupby(out["customer_id"]).sum().reindex(ids, fill_value=0)
        net = now.groupby("customer_id")["amount"].sum().reindex(ids, fill_value=0.0)
        part = pd.DataFrame(
            {
                f"flows__out_count__{w}d": n_out,
                f"flows__out_amount__{w}d": a_out,
                f"flows__out_other_bank_share__{w}d": a_other_bank / a_out.replace(0, np.nan),
                f"flows__out_amount_change__{w}d": (a_out - a_out_before) / a_out_before,
                f"flows__net_flow_over_balance__{w}d": net / balance.replace(0, np.nan),
                f"flows__large_out_count__{w}d": n_large.where(balance.notna()),
            }
        )
        parts.append(part.set_index(group["cutoff"], append=True))
    return pd.concat(parts)


def test_agrees_with_a_plain_pandas_version():
    bank = random_bank(seed=11, n_customers=150)
    cutoffs = ["2023-12-31", "2024-03-15", "2024-06-30"]
    got = _flows(bank, cutoffs=cutoffs)
    tables = load_tables(bank)
    for w in (30, 90):
        expected = _reference(tables, got.index.to_frame(index=False), w, 0.2)
        assert len(expected) > 100
        assert (expected[f"flows__large_out_count__{w}d"] > 0).sum() > 10
        pd.testing.assert_frame_equal(
            got[expected.columns].astype(float), expected.loc[got.index].astype(float), rtol=1e-5
        )


@functools.cache
def _hand_written_flows() -> pd.DataFrame:
    return _flows(_bank())


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from([1, 2, 3, 4]),
            st.integers(1, 400),  # days after the cutoff
            st.floats(-1e5, 1e5).filter(lambda x: abs(x) > 0.01),
            st.sampled_from(["branch", "atm", "mobile", "online", "phone"]),
            st.sampled_from(["internal", "other_bank", "cash", "salary", None]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_rows_after_the_cutoff_change_nothing(later):
    tables = _bank()
    added = pd.DataFrame(
        [(c, CUTOFF + pd.Timedelta(days=d), a, ch, cp) for c, d, a, ch, cp in later],
        columns=tables["transactions"].columns,
    )
    more = pd.concat([tables["transactions"], added], ignore_index=True)
    after = _flows({**tables, "transactions": more})
    pd.testing.assert_frame_equal(_hand_written_flows(), after, check_exact=True)
