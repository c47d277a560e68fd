"""Berka (PKDD'99) mapped onto the contract: facts checked against the raw files."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import pandas as pd
import pytest

from churnml.datasets.berka import (
    BANK_POSTINGS,
    CARD_ID_OFFSET,
    LOAN_ID_OFFSET,
    REQUIRED_FILES,
    TRANSACTION_FILE,
    load_berka,
)
from churnml.features import build_features
from churnml.tables import Tables

BERKA_DIR = Path(
    os.environ.get(
        "CHURNML_BERKA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data" / "berka"
    )
)
if not BERKA_DIR.is_dir():
    pytest.skip(f"Berka data folder not found at {BERKA_DIR}", allow_module_level=True)

OVERDRAFT_MESSAGE = r"transaction rows have a negative running balance"


def _raw_rows(name: str) -> list[dict[str, str]]:
    delimiter = "," if name.endswith(".csv") else ";"
    with (BERKA_DIR / name).open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


@pytest.fixture(scope="module")
def loaded() -> tuple[Tables, list[warnings.WarningMessage]]:
    with pytest.warns(UserWarning, match=OVERDRAFT_MESSAGE) as record:
        tables = load_berka(BERKA_DIR, known_at=None)
    return tables, list(record)


@pytest.fixture(scope="module")
def tables(loaded: tuple[Tables, list[warnings.WarningMessage]]) -> Tables:
    return loaded[0]


def test_one_customer_per_owner_disposition(tables: Tables) -> None:
    owners = [row for row in _raw_rows("disp.asc") if row["type"] == "OWNER"]
    assert len(owners) == 4500
    assert len(tables.customers) == len(owners)
    assert set(tables.customers["customer_id"]) == {int(row["client_id"]) for row in owners}


def test_disponents_are_not_customers(tables: Tables) -> None:
    disponents = {int(r["client_id"]) for r in _raw_rows("disp.asc") if r["type"] != "OWNER"}
    assert len(disponents) == 869
    assert disponents.isdisjoint(tables.customers["customer_id"])


def test_womans_birth_number_decodes_to_gender_and_year(tables: Tables) -> None:
    # client 1 has birth_number 706213: born 13 Dec 1970, month 12 written as 62.
    client = next(row for row in _raw_rows("client.asc") if row["client_id"] == "1")
    assert client["birth_number"] == "706213"
    row = tables.customers.set_index("customer_id").loc[1]
    assert (row["gender"], row["birth_year"]) == ("female", 1970)
    # client 2, 450204: a man born in 1945.
    row = tables.customers.set_index("customer_id").loc[2]
    assert (row["gender"], row["birth_year"]) == ("male", 1945)


def test_join_date_is_the_owned_accounts_opening(tables: Tables) -> None:
    # client 2 owns account 2, opened 930226.
    assert tables.customers.set_index("customer_id").loc[2, "join_date"] == pd.Timestamp(
        "1993-02-26"
    )


def test_income_bands_are_district_salary_tertiles(tables: Tables) -> None:
    assert set(tables.customers["income_band"]) == {"low", "mid", "high"}
    # Prague has the highest average salary of the 77 districts.
    prague = tables.customers.loc[tables.customers["region"] == "Hl.m. Praha"]
    assert len(prague) > 0
    assert (prague["income_band"] == "high").all()


def test_every_customer_has_an_account(tables: Tables) -> None:
    assert set(tables.accounts["customer_id"]) == set(tables.customers["customer_id"])
    current = tables.accounts.loc[tables.accounts["product_type"] == "current"]
    assert len(current) == len(_raw_rows("account.asc"))


def test_loans_are_accounts_with_a_term(tables: Tables) -> None:
    raw = _raw_rows("loan.asc")
    loans = tables.accounts.loc[tables.accounts["product_type"] == "loan"]
    assert len(loans) == len(raw) == 682
    assert loans["term_months"].notna().all()
    assert (loans["account_id"] > LOAN_ID_OFFSET).all()
    finished = sum(row["status"] in ("A", "B") for row in raw)
    assert (loans["close_reason"] == "maturity").sum() == finished


def test_unpaid_finished_loan_closes_at_maturity_not_by_the_bank(tables: Tables) -> None:
    # loan 5314: status B (finished, not paid), 930705, 12 months.
    loan = tables.accounts.set_index("account_id").loc[LOAN_ID_OFFSET + 5314]
    assert loan["term_months"] == 12
    assert loan["close_date"] == pd.Timestamp("1994-07-05")
    assert loan["close_reason"] == "maturity"
    assert "bank" not in set(tables.accounts["close_reason"].dropna())


def test_cards_are_credit_card_accounts(tables: Tables) -> None:
    cards = tables.accounts.loc[tables.accounts["product_type"] == "credit_card"]
    assert len(cards) == len(_raw_rows("card.asc")) == 892
    assert (cards["account_id"] > CARD_ID_OFFSET).all()
    assert cards["close_date"].isna().all()


def test_bank_postings_are_not_transactions(tables: Tables) -> None:
    raw = _raw_rows(TRANSACTION_FILE)
    customer_rows = [row for row in raw if row["k_symbol"].strip() not in BANK_POSTINGS]
    assert len(customer_rows) == 34_074
    assert tables.transactions is not None
    assert len(tables.transactions) == len(customer_rows)
    credits = sum(row["type"] == "PRIJEM" for row in customer_rows)
    assert (tables.transactions["amount"] > 0).sum() == credits


def test_transaction_codes_map_to_channel_and_counterparty(tables: Tables) -> None:
    raw = _raw_rows(TRANSACTION_FILE)
    transactions = tables.transactions
    assert transactions is not None
    pensions = sum(row["k_symbol"] == "DUCHOD" for row in raw)
    loan_payments = sum(row["k_symbol"] == "UVER" for row in raw)
    card_withdrawals = sum(row["operation"] == "VYBER KARTOU" for row in raw)
    assert (transactions["counterparty"] == "salary").sum() == pensions
    assert (transactions["counterparty"] == "internal").sum() == loan_payments
    assert (transactions["channel"] == "atm").sum() == card_withdrawals
    assert transactions["channel"].notna().all()
    assert transactions["counterparty"].notna().all()


def test_overdraft_warning_counts_the_negative_rows(
    loaded: tuple[Tables, list[warnings.WarningMessage]],
) -> None:
    negative = sum(float(row["balance"]) < 0 for row in _raw_rows(TRANSACTION_FILE))
    assert negative == 88
    overdraft = [w for w in loaded[1] if "negative running balance" in str(w.message)]
    assert len(overdraft) == 1
    assert f"{negative} transaction rows" in str(overdraft[0].message)


def test_balances_are_month_end_assets_of_the_slice(tables: Tables) -> None:
    balances = tables.balances
    assert (balances["balance"] >= 0).all()
    assert balances["date"].dt.is_month_end.all()
    months = pd.date_range("1993-01-31", "1994-03-31", freq="ME")
    assert list(balances["date"].drop_duplicates().sort_values()) == list(months)


def test_month_end_balance_follows_the_balance_chain(tables: Tables) -> None:
    # Account 576 on 930531 posts interest (25664.5), a fee (25649.9) and a withdrawal
    # (24349.9), not in trans_id order; the month ends on the withdrawal's balance.
    owner = next(
        int(row["client_id"])
        for row in _raw_rows("disp.asc")
        if row["account_id"] == "576" and row["type"] == "OWNER"
    )
    balance = tables.balances.set_index(["customer_id", "date"])["balance"]
    assert balance.loc[(owner, pd.Timestamp("1993-05-31"))] == pytest.approx(24349.9)


def test_missing_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_berka(missing)


def test_missing_file_is_named(tmp_path: Path) -> None:
    for name in REQUIRED_FILES:
        if name != "loan.asc":
            (tmp_path / name).symlink_to(BERKA_DIR / name)
    with pytest.raises(FileNotFoundError, match=r"loan\.asc"):
        load_berka(tmp_path)


def test_default_is_the_bank_known_when_the_slice_ends() -> None:
    with pytest.warns(UserWarning, match="negative running balance"):
        known = load_berka(BERKA_DIR)
    # The data's README: all 1,229 accounts open in the slice's period.
    assert len(known.customers) == 1229
    assert known.observed_until == pd.Timestamp("1994-03-31")
    assert (known.accounts["open_date"] <= pd.Timestamp("1994-03-31")).all()


def test_features_on_the_real_bank_at_several_cutoffs() -> None:
    cutoffs = ["1993-09-30", "1993-12-31", "1994-03-31"]
    with pytest.warns(UserWarning, match="negative running balance"):
        known = load_berka(BERKA_DIR)
    features = build_features(known, cutoffs=cutoffs)
    sizes = features.groupby("cutoff").size()
    assert sizes.index.strftime("%Y-%m-%d").tolist() == cutoffs
    # The bank grows: more customers at every later cutoff.
    assert sizes.is_monotonic_increasing and sizes.iloc[-1] > 1000
    assert features["complaints__count__30d"].isna().all()  # Berka has no complaints
    assert (features["products__open_current"] >= 1).mean() > 0.99
    latest = features[features["cutoff"] == pd.Timestamp("1994-03-31")]
    assert latest["trend__balance__now"].notna().mean() > 0.99
    assert latest["flows__in_count__90d"].gt(0).mean() > 0.9
    assert latest["flows__in_salary_share__90d"].notna().any()
    assert latest["profile__region"].notna().all()
