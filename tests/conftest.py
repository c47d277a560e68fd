"""Shared fixtures: a small random bank that exercises every table and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

START = pd.Timestamp("2022-01-01")
END = pd.Timestamp("2024-06-30")
PRODUCTS = ["current", "savings", "time_deposit", "wealth_management", "fund", "loan"]
CHANNELS = ["branch", "atm", "mobile", "online", "phone"]
COUNTERPARTIES = ["internal", "other_bank", "third_party_payment", "cash", "merchant", "salary"]
CATEGORIES = ["service", "fees", "product", "staff", "system"]


def _days(rng: np.random.Generator, low: pd.Series, high: pd.Timestamp) -> pd.Series:
    span = (high - low).dt.days.clip(lower=0)
    return low + pd.to_timedelta(np.floor(rng.random(len(low)) * (span + 1)), unit="D")


def random_bank(seed: int, n_customers: int = 25) -> dict[str, pd.DataFrame]:
    """A small messy bank: random joins, products, closures, snapshots, flows, complaints."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n_customers + 1)
    join = _days(rng, pd.Series(START, index=ids), pd.Timestamp("2023-09-30"))
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "join_date": join.to_numpy(),
            "birth_year": rng.integers(1950, 2004, n_customers),
            "gender": rng.choice(["F", "M"], n_customers),
            "income_band": rng.choice(["low", "mid", "high"], n_customers),
            "region": rng.choice(["north", "south", "east"], n_customers),
        }
    )
    owners = np.concatenate([ids, rng.choice(ids, 2 * n_customers)])
    open_date = _days(rng, join.reindex(owners).reset_index(drop=True), END)
    open_date[:n_customers] = join.to_numpy()
    closes = rng.random(len(owners)) < 0.4
    close_date = _days(rng, open_date, END).where(closes)
    reason = pd.Series(rng.choice(["customer", "maturity", "bank"], len(owners), p=[0.7, 0.2, 0.1]))
    product = rng.choice(PRODUCTS, len(owners))
    wealth = np.isin(product, ["wealth_management", "fund"])
    accounts = pd.DataFrame(
        {
            "account_id": np.arange(100, 100 + len(owners)),
            "customer_id": owners,
            "product_type": product,
            "open_date": open_date.to_numpy(),
            "close_date": close_date.to_numpy(),
            "close_reason": reason.where(closes, None).to_numpy(),
            "risk_level": pd.array(
                np.where(wealth, rng.integers(1, 6, len(owners)), None), "Int64"
            ),
            "term_months": pd.array(
                np.where(product == "time_deposit", rng.choice([3, 6, 12, 36], len(owners)), None),
                "Int64",
            ),
        }
    )
    # Snapshots twice a month (15th and month end), so mid-month cutoffs see partial months.
    dates = pd.date_range(START, END, freq="SME")
    grid = pd.MultiIndex.from_product([ids, dates], names=["customer_id", "date"]).to_frame(
        index=False
    )
    grid = grid[grid["date"] >= join.reindex(grid["customer_id"]).to_numpy()]
    steps = rng.choice([1.0, 1.03, 0.97, 0.8, 0.3], len(grid), p=[0.5, 0.2, 0.2, 0.07, 0.03])
    level = pd.Series(steps, index=grid.index).groupby(grid["customer_id"]).cumprod()
    grid["balance"] = np.round(
        1000 * rng.lognormal(0, 1, n_customers)[grid["customer_id"] - 1] * level.to_numpy(), 2
    )
    n_tx = 30 * n_customers
    tx_owner = rng.choice(ids, n_tx)
    transactions = pd.DataFrame(
        {
            "customer_id": tx_owner,
            "ts": _days(rng, join.reindex(tx_owner).reset_index(drop=True), END)
            + pd.to_timedelta(rng.integers(0, 86_400, n_tx), unit="s"),
            "amount": np.round(rng.choice([-1, 1], n_tx) * rng.lognormal(4, 1.5, n_tx), 2) + 0.01,
            "channel": rng.choice(CHANNELS, n_tx),
            "counterparty": rng.choice(COUNTERPARTIES, n_tx),
        }
    )
    n_complaints = 2 * n_customers
    c_owner = rng.choice(ids, n_complaints)
    c_date = _days(rng, join.reindex(c_owner).reset_index(drop=True), END)
    resolved = _days(rng, c_date, END).where(rng.random(n_complaints) < 0.6)
    complaints = pd.DataFrame(
        {
            "customer_id": c_owner,
            "date": c_date.to_numpy(),
            "category": rng.choice(CATEGORIES, n_complaints),
            "severity": rng.integers(1, 4, n_complaints),
            "resolved_date": resolved.to_numpy(),
        }
    )
    return {
        "customers": customers,
        "accounts": accounts,
        "balances": grid.reset_index(drop=True),
        "transactions": transactions,
        "complaints": complaints,
    }


@pytest.fixture(scope="session")
def small_bank() -> dict[str, pd.DataFrame]:
    """A fixed random bank of 25 customers with every table."""
    return random_bank(seed=7)


@pytest.fixture(scope="session")
def synthetic_bank():
    """The synthetic bank of churnml.datasets, small enough for the suite."""
    from churnml.datasets import make_bank

    return make_bank(n_customers=3_000, months=24, seed=11)


@pytest.fixture(scope="session")
def synthetic_training(synthetic_bank):
    """Labels joined to features at four monthly cutoffs of the synthetic bank."""
    from churnml.features import build_features
    from churnml.labels import label_churn

    cutoffs = ["2023-03-31", "2023-05-31", "2023-07-31", "2023-09-30"]
    labels = label_churn(synthetic_bank.tables, cutoffs=cutoffs, horizon_days=90)
    features = build_features(synthetic_bank.tables, cutoffs=cutoffs)
    return labels.merge(features, on=["customer_id", "cutoff"], validate="one_to_one")
