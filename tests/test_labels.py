"""Churn labels: every rule of the contract on tiny hand-written banks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.errors import ChurnMLError
from churnml.labels import ChurnDefinition, churn_events, label_churn, population
from churnml.tiers import TierConfig, value_tiers


def bank(accounts, balances=None, customers=None, transactions=None):
    """A bank from short lists: accounts as (customer, open, close, reason) tuples."""
    ids = sorted({a[0] for a in accounts})
    customers = customers or {c: "2023-01-01" for c in ids}
    tables = {
        "customers": pd.DataFrame(
            {"customer_id": list(customers), "join_date": list(customers.values())}
        ),
        "accounts": pd.DataFrame(
            {
                "account_id": range(1, len(accounts) + 1),
                "customer_id": [a[0] for a in accounts],
                "product_type": "savings",
                "open_date": [a[1] for a in accounts],
                "close_date": [a[2] for a in accounts],
                "close_reason": [a[3] for a in accounts],
            }
        ),
        "balances": balances
        if balances is not None
        else pd.DataFrame({"customer_id": ids, "date": "2023-01-31", "balance": 100.0}),
    }
    if transactions is not None:
        tables["transactions"] = transactions
    return tables


def monthly(customer, values, start="2023-01-31"):
    """Month-end snapshots for one customer."""
    dates = pd.date_range(start, periods=len(values), freq="ME")
    return pd.DataFrame({"customer_id": customer, "date": dates, "balance": values})


def event_of(tables, customer, **kwargs):
    events = churn_events(tables, **kwargs).set_index("customer_id")
    return events.loc[customer]


def test_complete_churn_when_last_account_closes():
    tables = bank(
        [(1, "2023-01-01", "2023-05-10", "customer"), (1, "2023-01-01", "2023-07-20", "maturity")]
    )
    row = event_of(tables, 1)
    assert row["churn_kind"] == "complete"
    assert row["churn_date"] == pd.Timestamp("2023-07-20")


def test_same_day_closures_are_one_complete_churn():
    tables = bank(
        [(1, "2023-01-01", "2023-05-10", "customer"), (1, "2023-02-01", "2023-05-10", "customer")]
    )
    assert event_of(tables, 1)["churn_date"] == pd.Timestamp("2023-05-10")


def test_bank_closure_after_customer_closures_is_passive_and_censors():
    tables = bank(
        [(1, "2023-01-01", "2023-03-01", "customer"), (1, "2023-01-01", "2023-04-01", "bank")]
    )
    row = event_of(tables, 1)
    assert pd.isna(row["churn_date"]) and row["churn_kind"] is None
    assert row["censor_reason"] == "passive"
    assert row["censor_date"] == pd.Timestamp("2023-04-01")
    pop = population(tables, cutoffs=["2023-03-31", "2023-04-01"])
    assert pop["cutoff"].tolist() == [pd.Timestamp("2023-03-31")]


def test_early_bank_closure_makes_the_final_closure_passive():
    tables = bank(
        [(1, "2023-01-01", "2023-02-01", "bank"), (1, "2023-01-01", "2023-06-01", "customer")]
    )
    assert event_of(tables, 1)["censor_reason"] == "passive"


def test_churn_is_the_first_time_all_accounts_are_closed_even_if_reopened():
    tables = bank([(1, "2023-01-01", "2023-03-01", "customer"), (1, "2023-06-01", None, None)])
    assert event_of(tables, 1)["churn_date"] == pd.Timestamp("2023-03-01")


def test_account_opened_and_closed_the_same_day_with_nothing_else_open():
    tables = bank([(1, "2023-01-01", "2023-01-01", "customer")])
    assert event_of(tables, 1)["churn_date"] == pd.Timestamp("2023-01-01")


def test_partial_churn_dated_month_end_of_first_month_below_rule():
    values = [1000.0] * 6 + [400.0, 300.0, 250.0, 900.0]
    tables = bank([(1, "2023-01-01", None, None)], balances=monthly(1, values))
    row = event_of(tables, 1)
    assert row["churn_kind"] == "partial"
    # 300 <= 0.3 * 1000 in August (400 in July is not).
    assert row["churn_date"] == pd.Timestamp("2023-08-31")


def test_recovering_customer_is_a_churner_once_and_stays_out():
    values = [1000.0] * 3 + [200.0, 1000.0, 1000.0, 100.0]
    tables = bank([(1, "2023-01-01", None, None)], balances=monthly(1, values))
    assert event_of(tables, 1)["churn_date"] == pd.Timestamp("2023-04-30")
    pop = population(tables, cutoffs=["2023-03-31", "2023-05-31", "2023-07-31"])
    assert pop["cutoff"].tolist() == [pd.Timestamp("2023-03-31")]


def test_dip_that_stays_above_the_rule_is_no_churn():
    values = [1000.0] * 3 + [310.0, 1000.0]
    tables = bank([(1, "2023-01-01", None, None)], balances=monthly(1, values))
    assert pd.isna(event_of(tables, 1)["churn_date"])


def test_peak_below_min_peak_is_no_partial_churn():
    values = [100.0] * 3 + [10.0]
    tables = bank([(1, "2023-01-01", None, None)], balances=monthly(1, values))
    assert pd.isna(event_of(tables, 1, definition=ChurnDefinition(min_peak=500))["churn_date"])
    assert event_of(tables, 1)["churn_kind"] == "partial"


def test_peak_only_looks_back_twelve_months():
    values = [1000.0] + [250.0] * 13
    tables = bank([(1, "2023-01-01", None, None)], balances=monthly(1, values))
    # February is the first month below 0.3 x the January peak.
    assert event_of(tables, 1)["churn_date"] == pd.Timestamp("2023-02-28")
    values = [1000.0] + [350.0] * 12 + [100.0]
    tables = bank([(1, "2023-01-01", None, None)], balances=monthly(1, values))
    # By February 2024 the January 2023 peak is 13 months back: 100 <= 0.3 x 350.
    assert event_of(tables, 1)["churn_date"] == pd.Timestamp("2024-02-29")


def test_zero_balances_are_no_churn():
    tables = bank([(1, "2023-01-01", None, None)], balances=monthly(1, [0.0, 0.0, 0.0]))
    assert pd.isna(event_of(tables, 1)["churn_date"])


def test_any_takes_whichever_comes_first():
    values = [1000.0] * 3 + [100.0] * 3
    tables = bank([(1, "2023-01-01", "2023-06-15", "customer")], balances=monthly(1, values))
    assert event_of(tables, 1)["churn_kind"] == "partial"
    assert event_of(tables, 1, definition=ChurnDefinition(kind="complete"))[
        "churn_date"
    ] == pd.Timestamp("2023-06-15")


def test_partial_definition_censors_complete_churn():
    tables = bank([(1, "2023-01-01", "2023-03-15", "customer")], balances=monthly(1, [1.0] * 3))
    row = event_of(tables, 1, definition=ChurnDefinition(kind="partial"))
    assert pd.isna(row["churn_date"])
    assert row["censor_reason"] == "complete"


def test_complete_definition_keeps_partial_churners_at_risk():
    values = [1000.0] * 3 + [100.0] * 3
    tables = bank([(1, "2023-01-01", None, None)], balances=monthly(1, values))
    definition = ChurnDefinition(kind="complete")
    assert len(population(tables, cutoffs=["2023-06-30"], definition=definition)) == 1
    assert population(tables, cutoffs=["2023-06-30"]).empty


def test_customer_who_joined_after_the_cutoff_is_not_in_the_population():
    tables = bank(
        [(1, "2023-01-01", None, None), (2, "2023-05-01", None, None)],
        customers={1: "2023-01-01", 2: "2023-05-01"},
    )
    pop = population(tables, cutoffs=["2023-04-30", "2023-05-01"])
    assert pop[["customer_id", "cutoff"]].values.tolist() == [
        [1, pd.Timestamp("2023-04-30")],
        [1, pd.Timestamp("2023-05-01")],
        [2, pd.Timestamp("2023-05-01")],
    ]


def test_churn_on_the_cutoff_is_known_and_leaves_the_population():
    tables = bank([(1, "2023-01-01", "2023-03-31", "customer"), (2, "2023-01-01", None, None)])
    assert population(tables, cutoffs=["2023-03-31"])["customer_id"].tolist() == [2]


@pytest.mark.parametrize(("close", "event"), [("2023-04-30", True), ("2023-05-01", False)])
def test_churn_exactly_at_cutoff_plus_horizon_is_inside(close, event):
    tables = bank(
        [(1, "2023-01-01", close, "customer"), (2, "2023-01-01", None, None)],
        balances=pd.concat([monthly(1, [5.0] * 6), monthly(2, [5.0] * 6)]),
    )
    labels = label_churn(tables, cutoffs=["2023-03-31"], horizon_days=30).set_index("customer_id")
    assert bool(labels.loc[1, "event"]) is event
    assert labels.loc[1, "duration_days"] == (pd.Timestamp(close) - pd.Timestamp("2023-03-31")).days


def test_survival_target_and_horizon_observed():
    tables = bank(
        [
            (1, "2023-01-01", "2023-03-15", "customer"),
            (2, "2023-01-01", None, None),
            (3, "2023-01-01", "2023-02-10", "bank"),
        ],
        balances=pd.concat([monthly(c, [5.0] * 4) for c in (1, 2, 3)]),
    )
    labels = label_churn(tables, cutoffs=["2023-01-31"], horizon_days=60).set_index("customer_id")
    # Data end (observed_until) is the last snapshot, 2023-04-30.
    assert labels.loc[1, ["event", "observed", "duration_days"]].tolist() == [True, True, 43]
    assert labels.loc[2, ["event", "observed", "duration_days"]].tolist() == [False, False, 89]
    assert bool(labels.loc[2, "horizon_observed"])
    assert labels.loc[3, ["event", "observed", "duration_days"]].tolist() == [False, False, 10]
    assert not labels.loc[3, "horizon_observed"]
    assert labels.loc[3, "censor_reason"] == "passive"


def test_money_destinations_of_churners():
    transactions = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 2],
            "ts": ["2022-12-10", "2023-03-01", "2023-03-10", "2023-03-14", "2023-03-10"],
            "amount": [-999.0, -300.0, -100.0, 50.0, -10.0],
            "channel": "mobile",
            "counterparty": ["cash", "other_bank", "third_party_payment", "salary", "cash"],
        }
    )
    tables = bank(
        [(1, "2023-01-01", "2023-03-15", "customer"), (2, "2023-01-01", None, None)],
        balances=pd.concat([monthly(1, [5.0] * 4), monthly(2, [5.0] * 4)]),
        transactions=transactions,
    )
    labels = label_churn(tables, cutoffs=["2023-02-28"], horizon_days=30).set_index("customer_id")
    # The December cash withdrawal is 95 days before churn: not counted.
    assert labels.loc[1, "dest_other_bank_share"] == pytest.approx(0.75)
    assert labels.loc[1, "dest_third_party_payment_share"] == pytest.approx(0.25)
    assert labels.loc[1, "dest_cash_share"] == 0.0
    assert labels.loc[2].filter(like="dest_").isna().all()


def test_value_tiers_by_quantile_and_fixed_edges():
    balances = pd.concat([monthly(c, [float(c * 100)] * 3) for c in range(1, 21)])
    tables = bank([(c, "2023-01-01", None, None) for c in range(1, 21)], balances=balances)
    tiers = value_tiers(tables, cutoffs=["2023-03-31"]).set_index("customer_id")["value_tier"]
    counts = tiers.value_counts()
    assert counts["lightweight"] == 10 and counts["super_heavyweight"] == 1
    assert tiers.loc[20] == "super_heavyweight" and tiers.loc[1] == "lightweight"
    fixed = value_tiers(
        tables, cutoffs=["2023-03-31"], config=TierConfig(edges=(500, 1000, 1500))
    ).set_index("customer_id")["value_tier"]
    assert fixed.loc[5] == "lightweight" and fixed.loc[6] == "sub_heavyweight"
    assert fixed.loc[16] == "super_heavyweight"


def test_value_uses_only_snapshots_known_at_a_mid_month_cutoff():
    balances = pd.DataFrame(
        {
            "customer_id": 1,
            "date": pd.to_datetime(["2023-01-31", "2023-02-10", "2023-02-20"]),
            "balance": [100.0, 200.0, 9_999.0],
        }
    )
    tables = bank([(1, "2023-01-01", None, None)], balances=balances)
    value = value_tiers(tables, cutoffs=["2023-02-15"])["avg_balance_3m"]
    assert value.tolist() == [150.0]


def test_labels_many_cutoffs_equal_each_alone():
    values = [1000.0] * 5 + [100.0] * 3
    tables = bank(
        [(1, "2023-01-01", None, None), (2, "2023-01-01", "2023-07-01", "customer")],
        balances=pd.concat([monthly(1, values), monthly(2, [50.0] * 7)]),
    )
    cutoffs = ["2023-02-28", "2023-04-30", "2023-05-31"]
    together = label_churn(tables, cutoffs=cutoffs, horizon_days=60)
    alone = [
        label_churn(tables, cutoffs=[c], horizon_days=60).drop(columns="value_tier")
        for c in cutoffs
    ]
    expected = pd.concat(alone).sort_values(["customer_id", "cutoff"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(together.drop(columns="value_tier"), expected)


def test_bad_definitions_are_clear_errors():
    with pytest.raises(ChurnMLError, match="churn kind"):
        ChurnDefinition(kind="soft")
    with pytest.raises(ChurnMLError, match="drop"):
        ChurnDefinition(drop=1.5)
    tables = bank([(1, "2023-01-01", None, None)])
    with pytest.raises(ChurnMLError, match="horizon"):
        label_churn(tables, cutoffs=["2023-02-01"], horizon_days=0)


def test_definition_round_trips_to_dict():
    definition = ChurnDefinition(kind="partial", drop=0.5)
    assert ChurnDefinition(**definition.to_dict()) == definition
    assert np.isclose(TierConfig(**TierConfig().to_dict()).quantiles[0], 0.5)


def test_a_horizon_the_data_cuts_short_is_unknown_for_churners_and_stayers_alike():
    # Data ends 2023-04-30; a 60-day horizon after 2023-03-31 ends 2023-05-30.
    tables = bank(
        [(1, "2023-01-01", "2023-04-15", "customer"), (2, "2023-01-01", None, None)],
        balances=pd.concat([monthly(1, [5.0] * 4), monthly(2, [5.0] * 4)]),
    )
    labels = label_churn(tables, cutoffs=["2023-03-31"], horizon_days=60).set_index("customer_id")
    assert bool(labels.loc[1, "event"]) and not labels.loc[1, "horizon_observed"]
    assert not labels.loc[2, "horizon_observed"]
    # A 30-day horizon ends on the data's last day: known for both.
    labels = label_churn(tables, cutoffs=["2023-03-31"], horizon_days=30)
    assert labels["horizon_observed"].all()


@pytest.mark.parametrize(
    ("cutoff", "close", "event"),
    [
        ("2023-01-31", "2023-04-30", True),  # three month ends after a month-end cutoff
        ("2023-01-31", "2023-05-01", False),
        ("2023-01-15", "2023-04-30", True),  # the cutoff's month counts as month 0
        ("2022-11-30", "2023-02-28", True),  # February ends the window, not day 90
    ],
)
def test_month_horizon_ends_at_the_month_end_n_months_later(cutoff, close, event):
    tables = bank(
        [(1, "2022-01-01", close, "customer"), (2, "2022-01-01", None, None)],
        balances=pd.concat(
            [monthly(1, [5.0] * 8, start="2022-10-31"), monthly(2, [5.0] * 8, start="2022-10-31")]
        ),
        customers={1: "2022-01-01", 2: "2022-01-01"},
    )
    labels = label_churn(tables, cutoffs=[cutoff], horizon_months=3).set_index("customer_id")
    assert bool(labels.loc[1, "event"]) is event


def test_a_month_horizon_holds_the_same_number_of_partial_churn_dates_at_every_cutoff():
    from churnml.timeline import Horizon, month_end_cutoffs

    cutoffs = month_end_cutoffs("2023-01-31", "2023-12-31")
    month_ends = pd.date_range("2023-01-31", "2025-01-31", freq="ME")
    by_days = [
        ((month_ends > c) & (month_ends <= c + pd.Timedelta(days=90))).sum() for c in cutoffs
    ]
    by_months = [
        ((month_ends > c) & (month_ends <= Horizon(months=3).end([c])[0])).sum() for c in cutoffs
    ]
    assert set(by_days) == {2, 3}  # the calendar decides under 90 days ...
    assert set(by_months) == {3}  # ... not under 3 months


def test_cutoffs_after_the_end_of_the_data_are_an_error():
    tables = bank([(1, "2023-01-01", None, None)], balances=monthly(1, [5.0] * 4))
    with pytest.raises(ChurnMLError, match=r"2023-06-30 lie after the end of the data .2023-04-30"):
        label_churn(tables, cutoffs=["2023-03-31", "2023-06-30"])
    # The data's last day itself is fine: features known, labels not yet.
    labels = label_churn(tables, cutoffs=["2023-04-30"])
    assert not labels["horizon_observed"].any() and (labels["duration_days"] >= 0).all()


def test_horizon_in_days_or_months_exactly_one():
    tables = bank([(1, "2023-01-01", None, None)])
    with pytest.raises(ChurnMLError, match="exactly one"):
        label_churn(tables, cutoffs=["2023-02-01"], horizon_days=90, horizon_months=3)
    with pytest.raises(ChurnMLError, match="whole number of at least 1"):
        label_churn(tables, cutoffs=["2023-02-01"], horizon_months=0)


def test_outcome_and_known_columns_partition_the_labels():
    from churnml.labels import KNOWN_AT_CUTOFF, OUTCOME_COLUMNS

    tables = bank([(1, "2023-01-01", None, None)], balances=monthly(1, [5.0] * 4))
    labels = label_churn(tables, cutoffs=["2023-02-28"], horizon_days=30)
    assert list(labels.columns) == ["customer_id", "cutoff", *KNOWN_AT_CUTOFF, *OUTCOME_COLUMNS]
    assert "duration" not in labels.columns
