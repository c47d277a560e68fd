"""Value tiers by assets or CLV, and tier moves between cutoffs, on tiny hand-written banks."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from churnml.errors import InputError
from churnml.tiers import (
    TIER_NAMES,
    TierConfig,
    count_tier_moves,
    plot_tier_moves,
    tier_edges,
    tier_moves,
    value_tiers,
)


def bank(balances, closed=None, joins=None):
    """One savings account per customer; ``balances`` maps customer to month-end values."""
    ids = sorted(balances)
    joins = joins or {}
    closed = closed or {}
    rows = [
        pd.DataFrame(
            {
                "customer_id": c,
                "date": pd.date_range(joins.get(c, "2023-01-31"), periods=len(v), freq="ME"),
                "balance": v,
            }
        )
        for c, v in balances.items()
    ]
    return {
        "customers": pd.DataFrame(
            {"customer_id": ids, "join_date": [joins.get(c, "2023-01-01") for c in ids]}
        ),
        "accounts": pd.DataFrame(
            {
                "account_id": [100 + c for c in ids],
                "customer_id": ids,
                "product_type": "savings",
                "open_date": [joins.get(c, "2023-01-01") for c in ids],
                "close_date": [closed.get(c) for c in ids],
                "close_reason": ["customer" if c in closed else None for c in ids],
            }
        ),
        "balances": pd.concat(rows, ignore_index=True),
    }


EDGES = TierConfig(edges=(100.0, 500.0, 1000.0))


def test_config_round_trips_through_json_and_rejects_bad_by():
    config = TierConfig(quantiles=(0.4, 0.7, 0.9), by="clv")
    assert TierConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert TierConfig().by == "assets" and TierConfig().value_column == "avg_balance_3m"
    with pytest.raises(InputError, match="by='aum'"):
        TierConfig(by="aum")


def test_tiers_by_clv_use_the_clv_not_the_balance():
    tables = bank({1: [50.0] * 3, 2: [2000.0] * 3, 3: [300.0] * 3})
    clv = pd.Series([5000.0, 20.0, 700.0], index=pd.Index([1, 2, 3], name="customer_id"))
    config = TierConfig(edges=(100.0, 500.0, 1000.0), by="clv")
    out = value_tiers(tables, cutoffs="2023-03-31", config=config, clv=clv)
    assert out.columns.tolist() == [
        "customer_id",
        "cutoff",
        "avg_balance_3m",
        "clv",
        "value_tier",
    ]
    assert out["value_tier"].tolist() == ["super_heavyweight", "lightweight", "heavyweight"]
    by_assets = value_tiers(tables, cutoffs="2023-03-31", config=EDGES)
    assert by_assets.columns.tolist() == ["customer_id", "cutoff", "avg_balance_3m", "value_tier"]
    assert by_assets["value_tier"].tolist() == [
        "lightweight",
        "super_heavyweight",
        "sub_heavyweight",
    ]


def test_clv_frame_with_cutoffs_and_missing_customers():
    tables = bank({1: [50.0] * 4, 2: [2000.0] * 4})
    clv = pd.DataFrame(
        {
            "customer_id": [1, 2, 1],
            "cutoff": ["2023-03-31", "2023-03-31", "2023-04-30"],
            "clv": [5000.0, 20.0, 30.0],
        }
    )
    config = TierConfig(edges=(100.0, 500.0, 1000.0), by="clv")
    out = value_tiers(tables, cutoffs=["2023-03-31", "2023-04-30"], config=config, clv=clv)
    tiers = out.set_index(["customer_id", out["cutoff"].dt.strftime("%m")])["value_tier"]
    assert tiers[(1, "03")] == "super_heavyweight" and tiers[(1, "04")] == "lightweight"
    assert tiers[(2, "03")] == "lightweight" and pd.isna(tiers[(2, "04")])


def test_clv_errors_are_clear():
    tables = bank({1: [50.0] * 3})
    config = TierConfig(by="clv")
    with pytest.raises(InputError, match="needs clv"):
        value_tiers(tables, cutoffs="2023-03-31", config=config)
    with pytest.raises(InputError, match=r"lacks column\(s\) \['clv'\]"):
        value_tiers(
            tables, cutoffs="2023-03-31", config=config, clv=pd.DataFrame({"customer_id": [1]})
        )
    with pytest.raises(InputError, match="add a cutoff column"):
        value_tiers(
            tables, cutoffs=["2023-02-28", "2023-03-31"], config=config, clv=pd.Series({1: 1.0})
        )
    twice = pd.DataFrame({"customer_id": [1, 1], "clv": [1.0, 2.0]})
    with pytest.raises(InputError, match="repeating"):
        value_tiers(tables, cutoffs="2023-03-31", config=config, clv=twice)


def test_tier_edges_from_quantiles_or_fixed():
    assert tier_edges(
        [1.0, 2.0, 3.0, 4.0, 5.0, float("nan")], config=TierConfig(quantiles=(0.25, 0.5, 0.75))
    ) == (2.0, 3.0, 4.0)
    assert tier_edges([], config=EDGES) == (100.0, 500.0, 1000.0)
    with pytest.raises(InputError, match="no known value"):
        tier_edges([float("nan")])


def test_count_tier_moves_by_hand():
    before = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "value_tier": ["super_heavyweight", "heavyweight", "lightweight", "lightweight"],
            "avg_balance_3m": [2000.0, 800.0, 50.0, 60.0],
        }
    )
    after = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 5],
            "value_tier": ["heavyweight", "heavyweight", "sub_heavyweight", "lightweight"],
            "avg_balance_3m": [900.0, 850.0, 200.0, 10.0],
        }
    ).set_index("customer_id")  # the index works as well as a column
    moves = count_tier_moves(before, after).set_index(["tier_before", "tier_after"])
    assert len(moves) == 4 * 4 + 4 + 4
    assert moves.loc[("super_heavyweight", "heavyweight")].to_dict() == {
        "move": "down",
        "customers": 1,
        "share": 1.0,
        "assets_before": 2000.0,
        "assets_after": 900.0,
        "assets_change": -1100.0,
    }
    assert moves.loc[("heavyweight", "heavyweight"), "move"] == "stay"
    assert moves.loc[("lightweight", "sub_heavyweight"), ["move", "share"]].tolist() == ["up", 0.5]
    assert moves.loc[("lightweight", "left"), ["customers", "share", "assets_after"]].tolist() == [
        1,
        0.5,
        0.0,
    ]
    assert moves.loc[("new", "lightweight"), ["move", "customers", "assets_before"]].tolist() == [
        "new",
        1,
        0.0,
    ]
    assert moves["customers"].sum() == 5
    # Nobody was sub-heavyweight before: that row's shares are undefined.
    assert moves.loc["sub_heavyweight", "share"].isna().all()
    assert moves.groupby(level="tier_before")["share"].sum().drop("sub_heavyweight").eq(1.0).all()


def test_count_tier_moves_untiered_and_bad_input():
    before = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "value_tier": ["heavyweight", None],
            "avg_balance_3m": [800.0, None],
        }
    )
    moves = count_tier_moves(before, before)
    assert moves.loc[
        moves["customers"] > 0, ["tier_before", "tier_after", "move"]
    ].values.tolist() == [
        ["heavyweight", "heavyweight", "stay"],
        ["untiered", "untiered", "unknown"],
    ]
    with pytest.raises(InputError, match=r"after lacks column\(s\) \['avg_balance_3m'\]"):
        count_tier_moves(before, before.drop(columns="avg_balance_3m"))
    with pytest.raises(InputError, match="repeats customer_id"):
        count_tier_moves(pd.concat([before, before]), before)
    with pytest.raises(InputError, match="outside"):
        count_tier_moves(before.assign(value_tier="gold"), before)
    empty = count_tier_moves(before.iloc[:0], before.iloc[:0])
    assert len(empty) == 24 and empty["customers"].sum() == 0


def test_tier_moves_fixed_edges_from_start_show_a_bank_wide_fall():
    # Everyone loses 90%: with quantile edges re-taken at the end nobody would move.
    values = {c: [100.0 * c] * 3 + [10.0 * c] * 3 for c in range(1, 11)}
    values[11] = [5000.0] * 3  # closes everything in April: left
    tables = bank(values, closed={11: "2023-04-10"}, joins={12: "2023-05-01"})
    tables["balances"] = pd.concat(
        [
            tables["balances"],
            pd.DataFrame({"customer_id": [12], "date": ["2023-05-31"], "balance": [10.0]}),
        ]
    )
    tables["customers"] = pd.concat(
        [tables["customers"], pd.DataFrame({"customer_id": [12], "join_date": ["2023-05-01"]})]
    )
    tables["accounts"] = pd.concat(
        [
            tables["accounts"],
            pd.DataFrame(
                {
                    "account_id": [999],
                    "customer_id": [12],
                    "product_type": "savings",
                    "open_date": ["2023-05-01"],
                }
            ),
        ]
    )
    config = TierConfig(quantiles=(0.5, 0.8, 0.9))
    moves = tier_moves(tables, start="2023-03-31", end="2023-06-30", config=config)
    by_move = moves.groupby("move")["customers"].sum()
    assert by_move["left"] == 1 and by_move["new"] == 1
    # Edges at the start are quantiles of 100, 200, ..., 1000, 5000: 600, 900 and 1000. At
    # the end everyone holds at most 100: customers 1-6 stay lightweight, 7-10 fall to it.
    assert by_move["stay"] == 6 and by_move["down"] == 4
    assert moves.loc[moves["move"] == "down", "assets_change"].sum() == pytest.approx(-3060.0)
    left = moves.set_index(["tier_before", "tier_after"]).loc[("super_heavyweight", "left")]
    assert left["customers"] == 1 and left["assets_before"] == 5000.0
    with pytest.raises(InputError, match="start must be before end"):
        tier_moves(tables, start="2023-06-30", end="2023-03-31")


def test_plot_tier_moves_returns_a_figure():
    before = pd.DataFrame(
        {"customer_id": [1], "value_tier": ["heavyweight"], "avg_balance_3m": [900.0]}
    )
    figure = plot_tier_moves(count_tier_moves(before, before))
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_yticklabels()] == [*TIER_NAMES, "new"]
    with pytest.raises(InputError, match="tier_before"):
        plot_tier_moves(pd.DataFrame({"x": [1]}))


def test_tier_moves_by_clv_keep_the_start_edges():
    tables = bank({1: [100.0] * 6, 2: [100.0] * 6, 3: [100.0] * 6, 4: [100.0] * 6})
    clv = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4] * 2,
            "cutoff": ["2023-03-31"] * 4 + ["2023-06-30"] * 4,
            "clv": [10.0, 20.0, 30.0, 40.0, 10.0, 20.0, 5.0, 400.0],
        }
    )
    config = TierConfig(quantiles=(0.25, 0.5, 0.75), by="clv")  # start edges 17.5, 25, 32.5
    moves = tier_moves(tables, start="2023-03-31", end="2023-06-30", config=config, clv=clv)
    moved = moves[moves["customers"] > 0].set_index(["tier_before", "tier_after"])["move"]
    assert moved.to_dict() == {
        ("lightweight", "lightweight"): "stay",
        ("sub_heavyweight", "sub_heavyweight"): "stay",
        ("heavyweight", "lightweight"): "down",  # CLV 30 -> 5, below the start's 17.5
        ("super_heavyweight", "super_heavyweight"): "stay",
    }
    assert moves["assets_change"].sum() == 0.0
