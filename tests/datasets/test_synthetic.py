"""The synthetic bank: determinism, the contract, the oracle and the planted behaviours."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churnml.datasets import SyntheticBank, SyntheticConfig, make_bank
from churnml.errors import InputError

N_CUSTOMERS, MONTHS, SEED = 3_000, 24, 7
PARTIAL_DROP = 0.7
LOOKBACK_MONTHS = 12
HORIZON = pd.Timedelta(days=90)
ACTIVE_CHURN = ["complete", "partial"]
LEAVING = ["complete", "passive"]
WALLET_OR_OTHER_BANK = ["other_bank", "third_party_payment"]
PRE_CHURN = pd.Timedelta(days=91)


@pytest.fixture(scope="module")
def bank() -> SyntheticBank:
    return make_bank(N_CUSTOMERS, MONTHS, seed=SEED)


@pytest.fixture(scope="module")
def window_end(bank: SyntheticBank) -> pd.Timestamp:
    return pd.Timestamp(bank.tables.balances["date"].max())


def _kind(bank: SyntheticBank, customer_id: pd.Series) -> pd.Series:
    return customer_id.map(bank.truth.set_index("customer_id")["churn_kind"])


def _churn_date(bank: SyntheticBank, customer_id: pd.Series) -> pd.Series:
    return customer_id.map(bank.truth.set_index("customer_id")["churn_date"])


def _stayers(bank: SyntheticBank, *, never_disengaged: bool = False) -> pd.Series:
    """Customers who never churned (and, if asked, were never even disengaged)."""
    truth = bank.truth
    chosen = truth["churn_kind"].isna()
    if never_disengaged:
        chosen &= truth["months_disengaged"] == 0
    return truth.loc[chosen, "customer_id"]


# --- determinism and the contract -------------------------------------------------------


def test_same_seed_gives_identical_tables() -> None:
    first, second = make_bank(300, 12, seed=3), make_bank(300, 12, seed=3)
    for name, table in first.tables.to_dict().items():
        pd.testing.assert_frame_equal(table, second.tables.to_dict()[name])
    pd.testing.assert_frame_equal(first.truth, second.truth)


def test_another_seed_gives_another_bank() -> None:
    first, second = make_bank(300, 12, seed=3), make_bank(300, 12, seed=4)
    assert not first.tables.balances["balance"].equals(second.tables.balances["balance"])


def test_tables_have_the_contract_types(bank: SyntheticBank) -> None:
    tables = bank.tables
    for table in tables.to_dict().values():
        assert table["customer_id"].dtype == np.int64
    assert tables.accounts["account_id"].is_unique
    assert tables.accounts["account_id"].dtype == np.int64
    assert tables.balances["product_type"].isna().all()
    assert (tables.balances["balance"] >= 0).all()
    assert (tables.transactions["amount"] != 0).all()
    assert set(tables.customers["income_band"]) == {"low", "mid", "high"}
    assert tables.customers["birth_year"].between(1920, 2010).all()


def test_truth_has_one_row_per_customer(bank: SyntheticBank) -> None:
    truth = bank.truth
    assert truth["customer_id"].tolist() == bank.tables.customers["customer_id"].tolist()
    assert set(truth["churn_kind"].dropna()) == {"complete", "partial", "passive"}
    assert truth["churn_kind"].isna().equals(truth["churn_date"].isna())
    assert truth["churn_date"].dtype == "datetime64[ns]"


def test_every_customer_opens_an_account_on_the_join_date(bank: SyntheticBank) -> None:
    accounts = bank.tables.accounts.merge(bank.tables.customers, on="customer_id")
    opened_on_join = accounts.loc[accounts["open_date"] == accounts["join_date"], "customer_id"]
    assert opened_on_join.nunique() == len(bank.tables.customers)


def test_nothing_happens_after_complete_or_passive_churn(bank: SyntheticBank) -> None:
    tables = bank.tables
    dated = [
        (tables.transactions, "date"),
        (tables.complaints, "date"),
        (tables.complaints, "resolved_date"),
        (tables.accounts, "open_date"),
        (tables.accounts, "close_date"),
        (tables.balances, "date"),
    ]
    for table, column in dated:
        leaving = _kind(bank, table["customer_id"]).isin(LEAVING)
        churn_date = _churn_date(bank, table["customer_id"])[leaving]
        when = table.loc[leaving, column]
        if column == "date" and table is tables.balances:
            # The month-end snapshot of the churn month is the last one.
            churn_date = churn_date + pd.offsets.MonthEnd(0)
        assert (when.isna() | (when <= churn_date)).all(), (column, when[when > churn_date])


def test_balances_cover_exactly_the_months_with_an_account(
    bank: SyntheticBank, window_end: pd.Timestamp
) -> None:
    balances = bank.tables.balances
    first_month = pd.Timestamp(balances["date"].min())
    by_customer = balances.groupby("customer_id")["date"].agg(["min", "max", "size"])
    truth = bank.truth.set_index("customer_id")
    join_month_end = truth["join_date"] + pd.offsets.MonthEnd(0)
    expected_first = join_month_end.clip(lower=first_month)
    gone = truth["churn_kind"].isin(LEAVING)
    expected_last = (truth["churn_date"] + pd.offsets.MonthEnd(0)).where(gone, window_end)
    assert by_customer["min"].equals(expected_first.rename("min"))
    assert by_customer["max"].equals(expected_last.rename("max"))
    months = (by_customer["max"].dt.to_period("M") - by_customer["min"].dt.to_period("M")).map(
        lambda offset: offset.n
    )
    assert (by_customer["size"] == months + 1).all()


def contract_churn(bank: SyntheticBank) -> pd.DataFrame:
    """The contract's churn definitions, computed from the tables alone."""
    accounts = bank.tables.accounts
    per_customer = accounts.groupby("customer_id")
    all_closed = per_customer["close_date"].count() == per_customer.size()
    last_close = per_customer["close_date"].max()
    by_bank = (accounts["close_reason"] == "bank").groupby(accounts["customer_id"]).any()
    balances = bank.tables.balances
    monthly = (
        balances.assign(month=balances["date"].dt.to_period("M"))
        .groupby(["customer_id", "month"])["balance"]
        .mean()
        .unstack()
    )
    peak = monthly.T.shift(1).rolling(LOOKBACK_MONTHS, min_periods=1).max().T
    meets_rule = monthly.le((1 - PARTIAL_DROP) * peak)
    first_month = meets_rule.idxmax(axis=1)[meets_rule.any(axis=1)]
    events = pd.DataFrame(
        {
            "complete": last_close.where(all_closed & ~by_bank),
            "passive": last_close.where(all_closed & by_bank),
            "partial": first_month.map(lambda month: month.to_timestamp(how="end").normalize()),
        }
    ).reindex(bank.truth["customer_id"])
    events = events.apply(pd.to_datetime)
    churn_date = events.min(axis=1)
    first_kind = events.fillna(pd.Timestamp.max).idxmin(axis=1)
    return pd.DataFrame(
        {"churn_date": churn_date, "churn_kind": first_kind.where(churn_date.notna())}
    )


def test_contract_definitions_reproduce_the_truth(bank: SyntheticBank) -> None:
    derived = contract_churn(bank)
    truth = bank.truth.set_index("customer_id")
    same_kind = derived["churn_kind"].fillna("none") == truth["churn_kind"].fillna("none")
    same_date = (derived["churn_date"] == truth["churn_date"]) | (
        derived["churn_date"].isna() & truth["churn_date"].isna()
    )
    assert (same_kind & same_date).mean() >= 0.95


# --- the oracle ---------------------------------------------------------------------------


def _realised(bank: SyntheticBank, oracle: pd.DataFrame) -> pd.Series:
    churn_date = _churn_date(bank, oracle["customer_id"])
    active = _kind(bank, oracle["customer_id"]).isin(ACTIVE_CHURN)
    return active & (churn_date > oracle["cutoff"]) & (churn_date <= oracle["cutoff"] + HORIZON)


def test_oracle_ranks_well_and_matches_the_realised_rate(bank: SyntheticBank) -> None:
    month_ends = pd.date_range("2022-01-31", periods=MONTHS, freq="ME")
    oracle = bank.oracle_probability(month_ends[[5, 8, 11, 14, 17, 20]], horizon_days=90)
    realised = _realised(bank, oracle)
    assert roc_auc_score(realised, oracle["probability"]) > 0.8
    assert abs(oracle["probability"].mean() - realised.mean()) < 0.01


def test_oracle_without_frailty_knows_less_and_is_the_same_without_frailty(
    bank: SyntheticBank,
) -> None:
    month_ends = pd.date_range("2022-01-31", periods=MONTHS, freq="ME")[[8, 14, 20]]
    full = bank.oracle_probability(month_ends)
    visible = bank.oracle_probability(month_ends, knows_frailty=False)
    assert visible[["customer_id", "cutoff"]].equals(full[["customer_id", "cutoff"]])
    realised = _realised(bank, full)
    assert roc_auc_score(realised, visible["probability"]) < roc_auc_score(
        realised, full["probability"]
    )
    assert visible["probability"].between(0, 1).all()
    plain = make_bank(n_customers=300, months=12, seed=2, config=SyntheticConfig(frailty_sigma=0.0))
    cutoffs = ["2022-06-30", "2022-09-30"]
    assert np.allclose(
        plain.oracle_probability(cutoffs)["probability"],
        plain.oracle_probability(cutoffs, knows_frailty=False)["probability"],
    )


def test_oracle_rows_are_the_population_at_each_cutoff(bank: SyntheticBank) -> None:
    cutoff = pd.Timestamp("2022-09-30")
    oracle = bank.oracle_probability("2022-09-30")
    truth = bank.truth
    followed = (truth["join_date"] <= cutoff) & ~(truth["churn_date"] <= cutoff)
    assert oracle["customer_id"].tolist() == truth.loc[followed, "customer_id"].tolist()
    assert (oracle["cutoff"] == cutoff).all()
    assert oracle["probability"].between(0, 1).all()
    assert list(oracle.columns) == ["customer_id", "cutoff", "probability"]


def test_oracle_grows_with_the_horizon(bank: SyntheticBank) -> None:
    short = bank.oracle_probability(["2022-09-30"], horizon_days=30)["probability"]
    long = bank.oracle_probability(["2022-09-30"], horizon_days=180)["probability"]
    assert (long.to_numpy() >= short.to_numpy() - 1e-12).all()


@pytest.mark.parametrize("cutoff", ["2022-09-15", "2021-12-31", "2030-01-31"])
def test_oracle_rejects_cutoffs_that_are_not_month_ends_of_the_window(
    bank: SyntheticBank, cutoff: str
) -> None:
    with pytest.raises(InputError, match="month-ends"):
        bank.oracle_probability([cutoff])


# --- planted behaviours --------------------------------------------------------------------


def test_churners_send_money_to_other_banks_and_wallets_before_leaving(
    bank: SyntheticBank, window_end: pd.Timestamp
) -> None:
    outflows = bank.tables.transactions.query("amount < 0")
    kind = _kind(bank, outflows["customer_id"])
    churn_date = _churn_date(bank, outflows["customer_id"])
    before_churn = (
        kind.isin(ACTIVE_CHURN)
        & (outflows["date"] > churn_date - PRE_CHURN)
        & (outflows["date"] <= churn_date)
    )
    stayer_recent = kind.isna() & (outflows["date"] > window_end - PRE_CHURN)

    def away_share(rows: pd.DataFrame) -> float:
        away = rows["counterparty"].isin(WALLET_OR_OTHER_BANK)
        return float(rows.loc[away, "amount"].sum() / rows["amount"].sum())

    assert away_share(outflows[before_churn]) > away_share(outflows[stayer_recent]) + 0.2


def test_churners_complain_more_and_stay_unresolved(bank: SyntheticBank) -> None:
    complaints = bank.tables.complaints
    churner = _kind(bank, complaints["customer_id"]).isin(ACTIVE_CHURN)
    n_churners = bank.truth["churn_kind"].isin(ACTIVE_CHURN).sum()
    n_stayers = bank.truth["churn_kind"].isna().sum()
    assert churner.sum() / n_churners > 2 * (~churner).sum() / n_stayers
    unresolved = complaints["resolved_date"].isna()
    assert unresolved[churner].mean() > unresolved[~churner].mean() + 0.2


def test_churners_assets_fall_from_their_peak_before_churn(
    bank: SyntheticBank, window_end: pd.Timestamp
) -> None:
    balances = bank.tables.balances
    rolling = balances.groupby("customer_id")["balance"].rolling(LOOKBACK_MONTHS, min_periods=1)
    ratio = balances["balance"] / rolling.max().reset_index(level=0, drop=True)
    kind = _kind(bank, balances["customer_id"])
    churn_date = _churn_date(bank, balances["customer_id"])
    month_before = (balances["date"] < churn_date) & (
        balances["date"] >= churn_date - pd.Timedelta(days=31)
    )
    before_churn = ratio[kind.isin(ACTIVE_CHURN) & month_before]
    stayers_now = ratio[kind.isna() & (balances["date"] == window_end)]
    assert before_churn.median() < stayers_now.median() - 0.15


def test_stable_balances_wiggle_but_never_collapse(bank: SyntheticBank) -> None:
    balances = bank.tables.balances
    balances = balances[balances["customer_id"].isin(_stayers(bank, never_disengaged=True))]
    by_customer = balances.groupby("customer_id")["balance"]
    change = by_customer.pct_change().abs()
    assert 0.01 < change.mean() < 0.06
    drawdown = balances["balance"] / by_customer.cummax()
    assert drawdown.min() > 1 - PARTIAL_DROP


def test_disengaging_customers_close_products(bank: SyntheticBank) -> None:
    accounts = bank.tables.accounts
    kind = _kind(bank, accounts["customer_id"])
    closed_by_customer = accounts["close_reason"].eq("customer")
    # Customers who did not churn completely closed these while disengaging.
    closers = accounts.loc[closed_by_customer & kind.ne("complete"), "customer_id"].unique()
    disengaged = bank.truth.set_index("customer_id").loc[closers, "months_disengaged"]
    assert len(closers) > 50
    assert (disengaged > 0).all()


def test_passive_churners_are_closed_by_the_bank(bank: SyntheticBank) -> None:
    passive = bank.truth.loc[bank.truth["churn_kind"] == "passive", "customer_id"]
    assert len(passive) > 20
    accounts = bank.tables.accounts
    closed_by_bank = accounts.loc[accounts["close_reason"] == "bank", "customer_id"]
    assert set(closed_by_bank) == set(passive)


def test_recoverers_decline_then_come_back(bank: SyntheticBank) -> None:
    truth = bank.truth
    recoverers = truth.loc[truth["recovered"] & truth["churn_kind"].isna(), "customer_id"]
    assert len(recoverers) > 50
    balances = bank.tables.balances
    balances = balances[balances["customer_id"].isin(recoverers)].copy()
    balances["ratio"] = balances["balance"] / balances.groupby("customer_id")["balance"].cummax()
    trough = balances.loc[balances.groupby("customer_id")["ratio"].idxmin()]
    later = balances.merge(
        trough[["customer_id", "date"]], on="customer_id", suffixes=("", "_trough")
    )
    rebound = later[later["date"] > later["date_trough"]].groupby("customer_id")["balance"].max()
    low = trough.set_index("customer_id")["balance"]
    came_back = (rebound / low.reindex(rebound.index)) > 1.25
    assert (trough["ratio"] < 0.8).mean() > 0.5
    assert came_back.sum() > 25


def test_term_products_mature_and_are_renewed(bank: SyntheticBank) -> None:
    accounts = bank.tables.accounts
    matured = accounts[accounts["close_reason"] == "maturity"]
    assert len(matured) > 100
    assert matured["term_months"].notna().all()
    renewed = matured.merge(
        accounts,
        left_on=["customer_id", "product_type", "close_date"],
        right_on=["customer_id", "product_type", "open_date"],
        suffixes=("", "_next"),
    )
    assert len(renewed) > 50


def test_customers_join_before_and_during_the_window(bank: SyntheticBank) -> None:
    join = bank.tables.customers["join_date"]
    window_start = pd.Timestamp("2022-01-01")
    assert 0.2 < (join >= window_start).mean() < 0.5
    assert join.min() < window_start - pd.DateOffset(years=5)
    assert join.dt.to_period("M").nunique() > MONTHS


def test_young_customers_use_mobile_and_old_ones_the_branch(bank: SyntheticBank) -> None:
    customers = bank.tables.customers.set_index("customer_id")
    age = 2022 - bank.tables.transactions["customer_id"].map(customers["birth_year"])
    channel = bank.tables.transactions["channel"]
    digital = channel.isin(["mobile", "online"])
    in_person = channel.isin(["branch", "atm"])
    assert digital[age < 35].mean() > 0.6 > digital[age >= 60].mean()
    assert in_person[age >= 60].mean() > 0.6 > in_person[age < 35].mean()


def test_investments_carry_risk_levels_and_terms(bank: SyntheticBank) -> None:
    accounts = bank.tables.accounts
    invested = accounts[accounts["product_type"].isin(["wealth_management", "fund"])]
    assert invested["risk_level"].notna().all()
    assert set(invested["risk_level"]) == {1, 2, 3, 4, 5}
    wealth = accounts[accounts["product_type"] == "wealth_management"]
    assert wealth["term_months"].isna().any() and wealth["term_months"].notna().any()
    demand = accounts[accounts["product_type"].isin(["current", "savings", "fund"])]
    assert demand["term_months"].isna().all()


def test_stable_customers_transact_a_few_times_a_month(bank: SyntheticBank) -> None:
    stayers = _stayers(bank, never_disengaged=True)
    n_transactions = bank.tables.transactions["customer_id"].isin(stayers).sum()
    n_months = bank.tables.balances["customer_id"].isin(stayers).sum()
    assert 2 <= n_transactions / n_months <= 4


# --- the config --------------------------------------------------------------------------


def test_config_round_trips_through_a_dict() -> None:
    config = SyntheticConfig(churn_rate=0.3)
    as_lists = {k: list(v) if isinstance(v, tuple) else v for k, v in config.to_dict().items()}
    assert SyntheticConfig.from_dict(as_lists) == config


@pytest.mark.parametrize(
    "change",
    [
        {"churn_rate": 1.5},
        {"decline_floor": 0.25},
        {"partial_residual_max": 0.35},
        {"region_effects": (0.0,)},
    ],
)
def test_invalid_config_is_rejected(change: dict[str, object]) -> None:
    with pytest.raises(InputError, match="invalid SyntheticConfig"):
        dataclasses.replace(SyntheticConfig(), **change)


def test_config_changes_the_bank() -> None:
    calm = make_bank(500, 12, seed=1, config=SyntheticConfig(disengage_rate=0.001))
    restless = make_bank(500, 12, seed=1, config=SyntheticConfig(disengage_rate=0.05))
    assert calm.truth["churn_kind"].notna().sum() < restless.truth["churn_kind"].notna().sum()
