"""Point-in-time proof: nothing dated after a cutoff reaches its features or its population.

Three properties, on random banks drawn by hypothesis:

1. appending rows dated after the cutoff, and altering every fact dated after it (amounts,
   channels, later closures and their reasons, later resolutions, later joiners), changes
   neither the features nor the population at the cutoff;
2. the batched engine (many cutoffs in one run) gives exactly what the reference rule
   :func:`churnml.timeline.as_of` gives one cutoff at a time;
3. so the fitted models' scores and survival curves at the cutoff do not move either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnml import load_tables
from churnml.features import _engine as engine
from churnml.features import build_features
from churnml.labels import population
from churnml.timeline import as_of
from conftest import CATEGORIES, CHANNELS, COUNTERPARTIES, END, PRODUCTS, random_bank

FIRST_CUTOFF = pd.Timestamp("2022-06-01")
LAST_CUTOFF = pd.Timestamp("2024-06-30")
PROPERTY_SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _later(rng: np.random.Generator, cutoff: pd.Timestamp, n: int) -> pd.Series:
    return pd.Series(cutoff + pd.to_timedelta(rng.integers(1, 400, n), unit="D"))


def change_after(
    tables: dict[str, pd.DataFrame], cutoff: pd.Timestamp, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """Alter every fact dated after the cutoff and append new rows dated after it."""
    out = {name: frame.copy() for name, frame in tables.items()}
    customers = out["customers"]
    late = customers["join_date"] > cutoff
    customers.loc[late, "region"] = "elsewhere"
    customers.loc[late, "birth_year"] = 1999
    new_ids = np.arange(1, 4) + customers["customer_id"].max()
    new_customers = pd.DataFrame(
        {"customer_id": new_ids, "join_date": _later(rng, cutoff, 3), "region": "new"}
    )
    out["customers"] = pd.concat([customers, new_customers], ignore_index=True)

    accounts = out["accounts"]
    opened_late = accounts["open_date"] > cutoff
    accounts.loc[opened_late, "product_type"] = rng.choice(PRODUCTS, opened_late.sum())
    closed_late = accounts["close_date"] > cutoff
    later = np.maximum(
        _later(rng, cutoff, closed_late.sum()).to_numpy(),
        accounts.loc[closed_late, "open_date"].to_numpy(),
    )
    accounts.loc[closed_late, "close_date"] = later
    accounts.loc[closed_late, "close_reason"] = rng.choice(["bank", "customer"], closed_late.sum())
    # An account open at the cutoff closes later, by the bank.
    still_open = accounts["close_date"].isna() & (accounts["open_date"] <= cutoff)
    first_open = still_open & ~still_open.duplicated()
    accounts.loc[first_open, "close_date"] = cutoff + pd.Timedelta(days=1)
    accounts.loc[first_open, "close_reason"] = "bank"
    owners = rng.choice(out["customers"]["customer_id"], 5)
    new_accounts = pd.DataFrame(
        {
            "account_id": accounts["account_id"].max() + np.arange(1, 6),
            "customer_id": owners,
            "product_type": "fund",
            "open_date": np.maximum(
                _later(rng, cutoff, 5).to_numpy(),
                out["customers"].set_index("customer_id").loc[owners, "join_date"].to_numpy(),
            ),
            "risk_level": 5,
        }
    )
    out["accounts"] = pd.concat([accounts, new_accounts], ignore_index=True)

    balances = out["balances"]
    late = balances["date"] > cutoff
    balances.loc[late, "balance"] = rng.random(late.sum()) * 1e6
    new_balances = pd.DataFrame(
        {"customer_id": owners, "date": END + pd.Timedelta(days=10), "balance": 1.0}
    ).drop_duplicates()
    out["balances"] = pd.concat([balances, new_balances], ignore_index=True)

    transactions = out["transactions"]
    late = transactions["ts"].dt.normalize() > cutoff
    transactions.loc[late, "amount"] = transactions.loc[late, "amount"] * 7
    transactions.loc[late, "channel"] = rng.choice(CHANNELS, late.sum())
    transactions.loc[late, "counterparty"] = rng.choice(COUNTERPARTIES, late.sum())
    new_transactions = pd.DataFrame(
        {
            "customer_id": owners,
            "ts": _later(rng, cutoff, 5) + pd.Timedelta(hours=1),
            "amount": -5000.0,
            "channel": "mobile",
            "counterparty": "other_bank",
        }
    )
    out["transactions"] = pd.concat([transactions, new_transactions], ignore_index=True)

    complaints = out["complaints"]
    late = complaints["date"] > cutoff
    complaints.loc[late, "category"] = rng.choice(CATEGORIES, late.sum())
    complaints.loc[late, "severity"] = 3
    resolved_late = complaints["resolved_date"] > cutoff
    complaints.loc[resolved_late, "resolved_date"] = pd.NaT
    new_complaints = pd.DataFrame(
        {"customer_id": owners, "date": _later(rng, cutoff, 5), "category": "fees", "severity": 3}
    )
    out["complaints"] = pd.concat([complaints, new_complaints], ignore_index=True)
    return out


cutoffs_strategy = st.integers(0, (LAST_CUTOFF - FIRST_CUTOFF).days).map(
    lambda days: FIRST_CUTOFF + pd.Timedelta(days=days)
)


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**16), cutoff=cutoffs_strategy)
def test_rows_after_the_cutoff_change_nothing(seed, cutoff):
    tables = random_bank(seed)
    changed = change_after(tables, cutoff, np.random.default_rng(seed))
    before = build_features(tables, cutoffs=[cutoff])
    after = build_features(changed, cutoffs=[cutoff])
    pd.testing.assert_frame_equal(before, after)
    pd.testing.assert_frame_equal(
        population(tables, cutoffs=[cutoff]), population(changed, cutoffs=[cutoff])
    )


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**16), cutoffs=st.lists(cutoffs_strategy, min_size=2, max_size=4))
def test_many_cutoffs_at_once_equal_the_reference_rule_one_at_a_time(seed, cutoffs):
    tables = load_tables(random_bank(seed))
    together = build_features(tables, cutoffs=cutoffs)
    one_at_a_time = pd.concat(
        [build_features(as_of(tables, c), cutoffs=[c]) for c in sorted(set(cutoffs))],
        ignore_index=True,
    )
    expected = one_at_a_time.sort_values(["customer_id", "cutoff"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(together, expected)


def test_the_property_catches_a_planted_leak(small_bank, monkeypatch):
    """The check has teeth: let the flows see past the cutoff and features do change."""
    create_views = engine._create_known_views

    def leaky_views(connection, tables, config):
        create_views(connection, tables, config)
        connection.execute(
            """
            CREATE OR REPLACE VIEW known_transactions AS
            SELECT c.cutoff, t.customer_id, t.date, t.amount, t.channel, t.counterparty
            FROM raw_transactions t JOIN cutoffs c ON t.date > c.cutoff - INTERVAL 360 DAY
            """
        )

    monkeypatch.setattr(engine, "_create_known_views", leaky_views)
    cutoff = pd.Timestamp("2023-06-30")
    changed = change_after(small_bank, cutoff, np.random.default_rng(0))
    before = build_features(small_bank, cutoffs=[cutoff]).filter(like="flows__")
    after = build_features(changed, cutoffs=[cutoff]).filter(like="flows__")
    assert not before.equals(after)


@pytest.fixture(scope="module")
def fitted_models(synthetic_training):
    """A classifier and a survival model fitted on the synthetic bank's features."""
    from churnml.classifier import ChurnClassifier
    from churnml.survival import ChurnSurvivalModel
    from churnml.timeline import Horizon
    from churnml.training import survival_target

    X = synthetic_training.set_index(["customer_id", "cutoff"]).filter(like="__")
    fast = {"n_estimators": 60, "learning_rate": 0.1}
    classifier = ChurnClassifier(**fast, horizon=Horizon(days=90)).fit(
        X, synthetic_training["event"].to_numpy()
    )
    target = survival_target(
        synthetic_training["observed"],
        synthetic_training["duration_days"].clip(lower=1),
        unit="days",
    )
    return classifier, ChurnSurvivalModel(**fast).fit(X, target)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**16), cutoff=cutoffs_strategy)
def test_rows_after_the_cutoff_change_no_score(fitted_models, seed, cutoff):
    classifier, survival = fitted_models
    tables = random_bank(seed)
    changed = change_after(tables, cutoff, np.random.default_rng(seed))
    scores = []
    for version in (tables, changed):
        X = build_features(version, cutoffs=cutoff).set_index(["customer_id", "cutoff"])
        scores.append(
            (
                classifier.predict_proba(X)[:, 1],
                survival.predict_survival_function(X, [1, 3, 12]).to_numpy(),
            )
        )
    assert np.array_equal(scores[0][0], scores[1][0])
    assert np.array_equal(scores[0][1], scores[1][1])
