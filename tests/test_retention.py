"""Retention segments, early warnings and targeting on tiny hand-written score frames."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from churnml.errors import InputError
from churnml.metrics import empc, empc_target_fraction
from churnml.retention import (
    SEGMENTS,
    WARNING_COLUMNS,
    RetentionConfig,
    assign_segments,
    contact_list,
    early_warnings,
    expected_saved_value,
    plot_gains,
    retention_empc,
)

# potential_clv fixed so the segments do not depend on the frame's CLV quantile.
CONFIG = RetentionConfig(potential_clv=1000.0)


def scores(rows=None):
    """Six customers; the comments give segment and expected saved value under CONFIG."""
    rows = rows or [
        (1, 0.8, 2000.0, 1000.0, "heavyweight"),  # at_risk: 0.8 * 1000 * 0.3 - 10 = 230
        (2, 0.5, 500.0, 400.0, "lightweight"),  # at_risk: 0.5 * 400 * 0.3 - 10 = 50
        (3, 0.2, 3000.0, 2000.0, "super_heavyweight"),  # high_value: 0.2 * 2000 * 0.2 - 10 = 70
        (4, 0.1, 1500.0, 300.0, "sub_heavyweight"),  # potential: 0.1 * 300 * 0.15 - 10 = -5.5
        (5, 0.4, -50.0, 100.0, "lightweight"),  # stable (worth nothing): 0.4 * 100 * 0.05 - 10
        (6, 0.25, 200.0, 800.0, "heavyweight"),  # high_value: 0.25 * 800 * 0.2 - 10 = 30
    ]
    columns = ["customer_id", "churn_probability", "clv", "value_at_risk", "value_tier"]
    return pd.DataFrame(rows, columns=columns)


def test_config_round_trips_and_rejects_bad_values():
    config = RetentionConfig(high_value_tiers=("super_heavyweight",), cost_stable=1.0)
    assert RetentionConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.offer_costs()["stable"] == 1.0 and config.success_rates()["at_risk"] == 0.3
    for bad in ({"risk_threshold": 1.5}, {"cost_at_risk": -1.0}, {"high_value_tiers": ("gold",)}):
        with pytest.raises(InputError, match="RetentionConfig"):
            RetentionConfig(**bad)


def test_segments_by_hand_and_each_customer_gets_one():
    out = assign_segments(scores().iloc[::-1], config=CONFIG)
    assert out["customer_id"].tolist() == [1, 2, 3, 4, 5, 6]
    assert out["segment"].tolist() == [
        "at_risk",
        "at_risk",
        "high_value",
        "potential",
        "stable",
        "high_value",
    ]
    assert out["segment"].isin(SEGMENTS).all()


def test_potential_by_default_is_the_top_clv_quantile():
    out = assign_segments(scores(), config=RetentionConfig(potential_quantile=0.8))
    # The 0.8 quantile of the six CLVs is 2000: only customer 1 reaches it, but is at risk.
    assert (out["segment"] == "potential").sum() == 0
    low = assign_segments(scores(), config=RetentionConfig(potential_quantile=0.5))
    assert low.set_index("customer_id").loc[4, "segment"] == "potential"


def test_expected_saved_value_by_hand():
    frame = scores().set_index("customer_id")
    out = expected_saved_value(frame, config=CONFIG).set_index("customer_id")
    pd.testing.assert_frame_equal(frame, scores().set_index("customer_id"))  # not mutated
    assert out["expected_saved_value"].round(6).tolist() == [230.0, 50.0, 70.0, -5.5, -8.0, 30.0]
    assert out.loc[3, ["success_rate", "offer_cost"]].tolist() == [0.2, 10.0]


def test_contact_list_under_a_contact_budget():
    plan = contact_list(scores(), budget_contacts=2, config=CONFIG)
    assert plan.contacts["customer_id"].tolist() == [1, 3]
    assert plan.expected_saved_value == pytest.approx(300.0) and plan.cost == 20.0
    assert plan.contacts["rank"].tolist() == [1, 2]
    assert plan.contacts["cumulative_saved_value"].tolist() == pytest.approx([230.0, 300.0])
    assert plan.contacts.columns[-6:].tolist() == [
        "rank",
        "success_rate",
        "offer_cost",
        "expected_saved_value",
        "cumulative_saved_value",
        "cumulative_cost",
    ]


def test_contact_list_budget_zero_none_and_larger_than_the_positives():
    assert contact_list(scores(), budget_contacts=0, config=CONFIG).contacts.empty
    everyone = contact_list(scores(), config=CONFIG)
    assert everyone.contacts["customer_id"].tolist() == [1, 3, 2, 6]  # only positive value
    assert everyone.expected_saved_value == pytest.approx(380.0)
    big = contact_list(scores(), budget_contacts=100, budget_money=1e9, config=CONFIG)
    assert big.contacts["customer_id"].tolist() == [1, 3, 2, 6]
    broke = contact_list(scores(), budget_money=0, config=CONFIG)
    assert broke.contacts.empty and broke.expected_saved_value == 0.0 and broke.cost == 0.0


MONEY = RetentionConfig(
    potential_clv=1000.0, cost_at_risk=50.0, cost_high_value=20.0, cost_stable=1.0
)
# Under MONEY: saved values 190, 10, 60, -5.5, 1, 20 and costs 50, 50, 20, 10, 1, 20, so by
# value per cost: 1 (3.8), 3 (3.0), 6 (1.0, more value), 5 (1.0), 2 (0.2).


@pytest.mark.parametrize(
    ("budget", "expected", "saved", "cost"),
    [
        (65.0, [1, 5], 191.0, 51.0),  # 3 and 6 no longer fit after 1, but 5 does
        (80.0, [1, 3, 5], 251.0, 71.0),
        (100.0, [1, 3, 6, 5], 271.0, 91.0),
        (45.0, [3, 6, 5], 81.0, 41.0),  # 1 alone costs more than the budget
    ],
)
def test_contact_list_under_a_money_budget_by_hand(budget, expected, saved, cost):
    plan = contact_list(scores(), budget_money=budget, config=MONEY)
    assert sorted(plan.contacts["customer_id"]) == sorted(expected)
    assert plan.expected_saved_value == pytest.approx(saved) and plan.cost == pytest.approx(cost)
    assert plan.contacts["expected_saved_value"].is_monotonic_decreasing


def test_money_and_contact_budgets_together_stop_at_the_first_that_binds():
    plan = contact_list(scores(), budget_money=100.0, budget_contacts=2, config=MONEY)
    assert plan.contacts["customer_id"].tolist() == [1, 3]


def test_one_valuable_expensive_customer_beats_the_greedy():
    frame = scores(
        [(1, 0.5, 10.0, 440.0, "lightweight"), (2, 0.5, 10.0, 800.0, "lightweight")]
    ).assign(segment=["stable", "at_risk"])
    config = RetentionConfig(success_at_risk=0.5, cost_at_risk=100.0, cost_stable=1.0)
    # 1 saves 10 for 1 (ratio 10), 2 saves 100 for 100 (ratio 1): greedy takes only 1.
    plan = contact_list(frame, budget_money=100.0, config=config)
    assert plan.contacts["customer_id"].tolist() == [2] and plan.expected_saved_value == 100.0


def _best_subset(value, cost, budget):
    best = 0.0
    for size in range(len(value) + 1):
        for subset in itertools.combinations(range(len(value)), size):
            if cost[list(subset)].sum() <= budget:
                best = max(best, value[list(subset)].sum())
    return best


@pytest.mark.parametrize("seed", range(6))
def test_money_budget_is_feasible_and_near_the_exact_knapsack(seed):
    rng = np.random.default_rng(seed)
    n = 7
    frame = scores(
        [(i, rng.uniform(0.3, 1), 10.0, rng.uniform(100, 1000), "lightweight") for i in range(n)]
    ).assign(segment=rng.choice(["at_risk", "stable"], n))
    config = RetentionConfig(
        success_at_risk=0.5,
        success_stable=0.5,
        cost_at_risk=rng.uniform(5, 80),
        cost_stable=rng.uniform(5, 80),
    )
    budget = float(rng.uniform(50, 250))
    plan = contact_list(frame, budget_money=budget, config=config)
    valued = expected_saved_value(frame, config=config)
    positive = valued[valued["expected_saved_value"] > 0]
    exact = _best_subset(
        positive["expected_saved_value"].to_numpy(), positive["offer_cost"].to_numpy(), budget
    )
    assert plan.cost <= budget + 1e-9
    assert exact / 2 - 1e-9 <= plan.expected_saved_value <= exact + 1e-9
    same_cost = RetentionConfig(
        success_at_risk=0.5, success_stable=0.5, cost_at_risk=30.0, cost_stable=30.0
    )
    equal = contact_list(frame, budget_money=budget, config=same_cost)
    valued = expected_saved_value(frame, config=same_cost)
    positive = valued[valued["expected_saved_value"] > 0]
    exact = _best_subset(
        positive["expected_saved_value"].to_numpy(), positive["offer_cost"].to_numpy(), budget
    )
    assert equal.expected_saved_value == pytest.approx(exact)


def test_ties_break_by_customer_id():
    frame = scores([(c, 0.5, 100.0, 400.0, "lightweight") for c in (3, 1, 2)])
    plan = contact_list(frame, budget_contacts=2, config=CONFIG)
    assert plan.contacts["customer_id"].tolist() == [1, 2]


def test_bad_budgets_are_rejected():
    for kwargs in ({"budget_contacts": -1}, {"budget_contacts": 1.5}, {"budget_money": -5.0}):
        with pytest.raises(InputError, match="budget"):
            contact_list(scores(), config=CONFIG, **kwargs)


def test_customer_id_as_index_behaves_like_a_column():
    as_index = contact_list(scores().set_index("customer_id"), config=CONFIG)
    as_column = contact_list(scores(), config=CONFIG)
    pd.testing.assert_frame_equal(as_index.contacts, as_column.contacts)


def test_empty_scores_give_empty_results():
    empty = scores().iloc[:0]
    assert assign_segments(empty)["segment"].empty
    plan = contact_list(empty, budget_money=100.0)
    assert plan.contacts.empty and plan.expected_saved_value == 0.0
    warnings = early_warnings(empty, empty.assign(top_reasons=[]))
    assert warnings.empty and warnings.columns.tolist() == list(WARNING_COLUMNS)
    assert len(plot_gains(empty).axes) == 1


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            lambda f: f.drop(columns="value_at_risk"),
            r"scores lacks column\(s\) \['value_at_risk'\]",
        ),
        (
            lambda f: f.assign(churn_probability=[np.nan, 0.1, 0.1, 0.1, 0.1, 0.1]),
            "'churn_probability' has 1 missing",
        ),
        (lambda f: f.assign(churn_probability=[1.2, 0.1, 0.1, 0.1, 0.1, 0.1]), "out-of-range"),
        (lambda f: f.assign(clv="a lot"), "'clv' has 6 missing, non-numeric"),
        (lambda f: f.assign(customer_id=1), "repeating a customer_id"),
        (lambda f: f.assign(value_tier="gold"), "'value_tier' must hold one of"),
        (lambda f: f.assign(segment="loyal"), "'segment' must hold one of"),
    ],
)
def test_bad_scores_raise_clear_errors(change, match):
    with pytest.raises(InputError, match=match) as error:
        expected_saved_value(change(scores()))
    assert "example rows" in str(error.value)


def warning_frames():
    columns = ["customer_id", "churn_probability", "clv", "value_at_risk", "value_tier"]
    previous = pd.DataFrame(
        [
            (1, 0.2, 500.0, 500.0, "lightweight"),  # stays calm
            (2, 0.4, 100.0, 300.0, "lightweight"),  # at risk, stays below 0.5
            (3, 0.45, 100.0, 1000.0, "lightweight"),  # at risk already, crosses 0.5
            (4, 0.1, 900.0, 2000.0, "heavyweight"),  # high value, enters at risk
            (6, 0.9, 100.0, 100.0, "lightweight"),  # left before the current scoring
            (7, 0.6, 100.0, 100.0, "lightweight"),  # above the threshold at both
        ],
        columns=columns,
    )
    current = pd.DataFrame(
        [
            (1, 0.2, 500.0, 500.0, "lightweight", ""),
            (2, 0.45, 100.0, 300.0, "lightweight", "complaint unresolved"),
            (3, 0.7, 100.0, 1000.0, "lightweight", "transfers to other banks"),
            (4, 0.35, 900.0, 2000.0, "heavyweight", "assets fell 40% from peak"),
            (5, 0.6, 50.0, 100.0, "lightweight", "new, withdrawing cash"),  # new customer
            (7, 0.8, 100.0, 100.0, "lightweight", "still leaving"),
        ],
        columns=[*columns, "top_reasons"],
    )
    return previous, current


def test_early_warnings_by_hand():
    previous, current = warning_frames()
    config = RetentionConfig(potential_clv=10_000.0)
    out = early_warnings(previous, current, config=config)
    assert out.columns.tolist() == list(WARNING_COLUMNS)
    # Expected losses 0.35 * 2000 = 700 (4), 0.7 * 1000 = 700 (3: less at risk), 60 (5).
    assert out["customer_id"].tolist() == [4, 3, 5]
    assert out["entered_at_risk"].tolist() == [True, False, True]
    assert out["crossed_threshold"].tolist() == [False, True, True]
    assert out["previous_segment"].tolist()[:2] == ["high_value", "at_risk"]
    assert out["expected_loss"].tolist() == pytest.approx([700.0, 700.0, 60.0])
    assert out["probability_change"].tolist()[:2] == pytest.approx([0.25, 0.25])
    assert np.isnan(out["previous_probability"].iloc[2])
    assert out["top_reasons"].iloc[0] == "assets fell 40% from peak"


def test_early_warnings_use_given_segments_and_the_index():
    previous, current = warning_frames()
    given = current.assign(segment=["at_risk", "at_risk", "stable", "stable", "stable", "stable"])
    out = early_warnings(
        previous.set_index("customer_id"), given, config=RetentionConfig(warning_threshold=0.95)
    )
    assert out["customer_id"].tolist() == [1]


def test_early_warnings_name_the_frame_and_column():
    previous, current = warning_frames()
    with pytest.raises(InputError, match=r"current lacks column\(s\) \['top_reasons'\]"):
        early_warnings(previous, current.drop(columns="top_reasons"))
    with pytest.raises(InputError, match="previous: column 'churn_probability'"):
        early_warnings(previous.assign(churn_probability=np.nan), current)


def test_retention_empc_reuses_the_metrics_module():
    frame = scores()
    churned = pd.Series([1, 0, 0, 0, 1, 0], index=[6, 5, 4, 3, 2, 1])  # any order
    result = retention_empc(churned, frame, config=CONFIG)
    costs = {"clv": 4600.0 / 6, "incentive": 0.0, "contact": 10.0}
    y, p = [0, 1, 0, 0, 0, 1], frame["churn_probability"]
    assert result["empc"] == pytest.approx(empc(y, p, **costs))
    assert result["target_fraction"] == pytest.approx(empc_target_fraction(y, p, **costs))
    assert result["clv"] == pytest.approx(4600.0 / 6) and result["contact"] == 10.0
    with pytest.raises(InputError, match="no label for 1 scored customers"):
        retention_empc(churned.drop(3), frame)
    with pytest.raises(InputError, match="indexed by customer_id"):
        retention_empc([1, 0, 0, 0, 1, 0], frame)


def test_plot_gains_curves():
    figure = plot_gains(scores(), config=CONFIG)
    (panel,) = figure.axes
    curve = panel.get_lines()[0].get_ydata()
    assert np.round(curve, 6).tolist() == [0.0, 230.0, 300.0, 350.0, 380.0, 374.5, 366.5]
    assert panel.get_lines()[1].get_xdata().tolist() == [4]
    churned = pd.Series([1, 0, 0, 0, 0, 0], index=range(1, 7))
    two = plot_gains(scores(), config=CONFIG, y_true=churned)
    captured = two.axes[1].get_lines()[0].get_ydata()
    assert captured.tolist() == [0.0] + [1.0] * 6  # customer 1 has the highest probability
    with pytest.raises(InputError, match="no churner"):
        plot_gains(scores(), y_true=churned * 0)
