"""The data contract: loading, validating and normalising the bank's five tables.

Every bad-input test starts from :func:`bank`, a valid minimal bank, breaks one thing and
checks that :func:`load_tables` raises one ``SchemaError`` that names the table, the column
and (where rows are involved) shows the offending value.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml import SchemaError, Tables, load_tables
from churnml.schemas import MAX_EXAMPLES, TABLE_SPECS
from churnml.tables import save_tables

CONTRACT_COLUMNS = {
    name: [c.name for c in spec.columns] + (["date"] if name == "transactions" else [])
    for name, spec in TABLE_SPECS.items()
}


def bank() -> dict[str, pd.DataFrame]:
    """A valid minimal bank: two customers, every table and every optional column."""
    return {
        "customers": pd.DataFrame(
            {
                "customer_id": [1, 2],
                "join_date": ["2024-01-05", "2024-02-01"],
                "birth_year": [1980, 1995],
                "gender": ["F", "M"],
                "income_band": ["mid", "low"],
                "region": ["north", "south"],
            }
        ),
        "accounts": pd.DataFrame(
            {
                "account_id": [10, 11, 12],
                "customer_id": [1, 1, 2],
                "product_type": ["current", "fund", "time_deposit"],
                "open_date": ["2024-01-05", "2024-02-10", "2024-02-01"],
                "close_date": [None, "2024-05-31", None],
                "close_reason": [None, "customer", None],
                "risk_level": [None, 3, None],
                "term_months": [None, None, 12],
            }
        ),
        "balances": pd.DataFrame(
            {
                "customer_id": [1, 1, 2],
                "date": ["2024-01-31", "2024-02-29", "2024-02-29"],
                "balance": [1200.0, 900.5, 5000.0],
            }
        ),
        "transactions": pd.DataFrame(
            {
                "customer_id": [1, 2, 1],
                "ts": ["2024-01-31 09:30:00", "2024-02-02 14:00:00", "2024-02-15 18:45:00"],
                "amount": [250.0, -40.0, -99.9],
                "channel": ["mobile", "atm", "online"],
                "counterparty": ["salary", "cash", "merchant"],
            }
        ),
        "complaints": pd.DataFrame(
            {
                "customer_id": [2],
                "date": ["2024-03-01"],
                "category": ["fees"],
                "severity": [2],
                "resolved_date": ["2024-03-04"],
            }
        ),
    }


def rejects(table: str, column: str | None = None) -> Any:
    """Expect a SchemaError whose message names ``table`` (and ``column``)."""
    where = f"table '{table}'" + (f", column '{column}'" if column else "")
    return pytest.raises(SchemaError, match=re.escape(where))


def shown_rows(error: SchemaError) -> list[str]:
    """The example rows of an error's message, without the header line."""
    return error.examples.splitlines()[1:]


# --- Missing or malformed tables -------------------------------------------------------


@pytest.mark.parametrize("table", ["customers", "accounts", "balances"])
def test_missing_required_table(table: str) -> None:
    tables = bank()
    del tables[table]
    with rejects(table) as caught:
        load_tables(tables)
    required = [c.name for c in TABLE_SPECS[table].columns if c.required]
    assert "required table is missing" in str(caught.value)
    assert all(column in str(caught.value) for column in required)  # says what to provide


def test_unknown_table_name() -> None:
    tables = bank()
    tables["transaction"] = tables.pop("transactions")  # a typo
    with rejects("transaction") as caught:
        load_tables(tables)
    assert "not a contract table" in str(caught.value)


def test_table_that_is_not_a_dataframe() -> None:
    tables: dict[str, object] = dict(bank())
    tables["accounts"] = [[10, 1, "current", "2024-01-05"]]
    with rejects("accounts", None) as caught:
        load_tables(tables)  # type: ignore[arg-type]
    assert "got list" in str(caught.value)


def test_source_that_is_not_a_mapping_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="mapping from table name"):
        load_tables(bank()["customers"])  # type: ignore[arg-type]


def test_data_directory_that_does_not_exist(tmp_path: Path) -> None:
    with rejects("customers") as caught:
        load_tables(tmp_path / "no-such-dir")
    assert "no-such-dir" in str(caught.value)
    assert "does not exist" in str(caught.value)


def test_unreadable_file(tmp_path: Path) -> None:
    write_csv(bank(), tmp_path)
    (tmp_path / "balances.csv").write_text("")
    with rejects("balances") as caught:
        load_tables(tmp_path)
    assert "balances.csv" in str(caught.value)


REQUIRED_COLUMNS = [
    (name, column.name)
    for name, spec in TABLE_SPECS.items()
    for column in spec.columns
    if column.required
]


@pytest.mark.parametrize(("table", "column"), REQUIRED_COLUMNS)
def test_missing_required_column(table: str, column: str) -> None:
    tables = bank()
    tables[table] = tables[table].drop(columns=column)
    with rejects(table, column) as caught:
        load_tables(tables)
    assert "required column is missing" in str(caught.value)


def test_repeated_column() -> None:
    tables = bank()
    customers = tables["customers"]
    tables["customers"] = pd.concat([customers, customers[["join_date"]]], axis=1)
    with rejects("customers", "join_date") as caught:
        load_tables(tables)
    assert "more than once" in str(caught.value)


# --- Keys ----------------------------------------------------------------------------


def test_null_customer_id() -> None:
    tables = bank()
    tables["customers"]["customer_id"] = [1, None]
    with rejects("customers", "customer_id") as caught:
        load_tables(tables)
    assert "empty" in str(caught.value)
    assert "2024-02-01" in str(caught.value)  # the join_date of the row without an id


def test_blank_text_customer_id() -> None:
    tables = bank()
    for frame in tables.values():
        frame["customer_id"] = frame["customer_id"].map({1: "C1", 2: "C2"})
    tables["complaints"]["customer_id"] = ["   "]
    with rejects("complaints", "customer_id") as caught:
        load_tables(tables)
    assert "empty" in str(caught.value)
    assert "fees" in str(caught.value)


def test_duplicate_customer_id() -> None:
    tables = bank()
    tables["customers"]["customer_id"] = [7, 7]
    for name in ("accounts", "balances", "transactions", "complaints"):
        tables[name]["customer_id"] = 7
    with rejects("customers", "customer_id") as caught:
        load_tables(tables)
    assert "2 row(s) share a key" in str(caught.value)
    assert len(shown_rows(caught.value)) == 2


def test_duplicate_account_id() -> None:
    tables = bank()
    tables["accounts"]["account_id"] = [10, 11, 10]
    with rejects("accounts", "account_id") as caught:
        load_tables(tables)
    assert "share a key" in str(caught.value)
    assert "time_deposit" in str(caught.value)


def test_fractional_account_id() -> None:
    tables = bank()
    tables["accounts"]["account_id"] = [10.0, 11.5, 12.0]
    with rejects("accounts", "account_id") as caught:
        load_tables(tables)
    assert "not whole numbers" in str(caught.value)
    assert "11.5" in str(caught.value)


def test_duplicate_balance_snapshot() -> None:
    tables = bank()
    tables["balances"].loc[1, "date"] = "2024-01-31"  # customer 1 twice on 2024-01-31
    with rejects("balances", "customer_id, date") as caught:
        load_tables(tables)
    assert "900.5" in str(caught.value)
    assert "product_type" not in caught.value.problem  # not given, so not part of the key


def test_duplicate_balance_snapshot_per_product() -> None:
    tables = bank()
    tables["balances"] = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "date": ["2024-01-31", "2024-01-31", "2024-01-31"],
            "balance": [100.0, 200.0, 300.0],
            "product_type": ["current", "fund", "fund"],
        }
    )
    with rejects("balances", "customer_id, date, product_type") as caught:
        load_tables(tables)
    assert len(shown_rows(caught.value)) == 2  # the two fund rows
    # The same customer and date with different products is fine.
    tables["balances"].loc[2, "product_type"] = "savings"
    assert len(load_tables(tables).balances) == 3


def test_account_of_unknown_customer() -> None:
    tables = bank()
    tables["accounts"].loc[2, "customer_id"] = 99
    with rejects("accounts", "customer_id") as caught:
        load_tables(tables)
    assert "missing from table 'customers'" in str(caught.value)
    assert "99" in str(caught.value)


@pytest.mark.parametrize("table", ["balances", "transactions", "complaints"])
def test_rows_of_unknown_customer(table: str) -> None:
    tables = bank()
    tables[table].loc[0, "customer_id"] = 99
    with rejects(table, "customer_id") as caught:
        load_tables(tables)
    assert "1 row(s) belong to customers missing" in str(caught.value)
    assert "99" in str(caught.value)


def test_customer_id_integer_in_one_table_and_text_in_another() -> None:
    tables = bank()
    tables["transactions"]["customer_id"] = ["1", "2", "1"]
    with rejects("transactions", "customer_id") as caught:
        load_tables(tables)
    assert "text here but integer in customers" in str(caught.value)


# --- Values --------------------------------------------------------------------------


def test_close_date_before_open_date() -> None:
    tables = bank()
    tables["accounts"].loc[1, "close_date"] = "2024-02-01"  # opened 2024-02-10
    with rejects("accounts", "close_date") as caught:
        load_tables(tables)
    assert "before open_date" in str(caught.value)
    assert "2024-02-01" in str(caught.value)


def test_close_reason_without_close_date() -> None:
    tables = bank()
    tables["accounts"].loc[0, "close_reason"] = "customer"
    with rejects("accounts", "close_reason") as caught:
        load_tables(tables)
    assert "no close_date" in str(caught.value)


def test_close_reason_outside_the_contract() -> None:
    tables = bank()
    tables["accounts"].loc[1, "close_reason"] = "fraud"
    with rejects("accounts", "close_reason") as caught:
        load_tables(tables)
    assert "fraud" in str(caught.value)
    assert "customer" in caught.value.problem  # says what is allowed


def test_negative_balance() -> None:
    tables = bank()
    tables["balances"].loc[2, "balance"] = -12.5
    with rejects("balances", "balance") as caught:
        load_tables(tables)
    assert ">= 0" in str(caught.value)
    assert "-12.5" in str(caught.value)


def test_nan_balance() -> None:
    tables = bank()
    tables["balances"].loc[1, "balance"] = np.nan
    with rejects("balances", "balance") as caught:
        load_tables(tables)
    assert "empty" in str(caught.value)
    assert "2024-02-29" in str(caught.value)


def test_infinite_balance() -> None:
    tables = bank()
    tables["balances"].loc[1, "balance"] = np.inf
    with rejects("balances", "balance") as caught:
        load_tables(tables)
    assert "not finite" in str(caught.value)
    assert "inf" in str(caught.value)


def test_boolean_balance() -> None:
    tables = bank()
    tables["balances"]["balance"] = [True, False, True]
    with rejects("balances", "balance") as caught:
        load_tables(tables)
    assert "booleans" in str(caught.value)


def test_zero_amount() -> None:
    tables = bank()
    tables["transactions"].loc[1, "amount"] = 0.0
    with rejects("transactions", "amount") as caught:
        load_tables(tables)
    assert "must not be 0" in str(caught.value)
    assert len(shown_rows(caught.value)) == 1


@pytest.mark.parametrize("level", [0, 6])
def test_risk_level_outside_1_to_5(level: int) -> None:
    tables = bank()
    tables["accounts"].loc[1, "risk_level"] = level
    with rejects("accounts", "risk_level") as caught:
        load_tables(tables)
    assert "from 1 to 5" in str(caught.value)
    assert f" {level} " in shown_rows(caught.value)[0]


def test_risk_level_not_a_whole_number() -> None:
    tables = bank()
    tables["accounts"].loc[1, "risk_level"] = 2.5
    with rejects("accounts", "risk_level") as caught:
        load_tables(tables)
    assert "2.5" in str(caught.value)


def test_term_months_not_positive() -> None:
    tables = bank()
    tables["accounts"].loc[2, "term_months"] = 0
    with rejects("accounts", "term_months") as caught:
        load_tables(tables)
    assert "positive" in str(caught.value)


def test_severity_above_3() -> None:
    tables = bank()
    tables["complaints"]["severity"] = [4]
    with rejects("complaints", "severity") as caught:
        load_tables(tables)
    assert "from 1 to 3" in str(caught.value)


def test_resolved_before_complaint() -> None:
    tables = bank()
    tables["complaints"]["resolved_date"] = ["2024-02-28"]
    with rejects("complaints", "resolved_date") as caught:
        load_tables(tables)
    assert "before the complaint's date" in str(caught.value)
    assert "2024-02-28" in str(caught.value)


def test_birth_year_out_of_range() -> None:
    tables = bank()
    tables["customers"].loc[0, "birth_year"] = 1850
    with rejects("customers", "birth_year") as caught:
        load_tables(tables)
    assert "1850" in str(caught.value)


def test_empty_product_type() -> None:
    tables = bank()
    tables["accounts"].loc[1, "product_type"] = "  "
    with rejects("accounts", "product_type") as caught:
        load_tables(tables)  # blank is missing, not 'other' (and no warning)
    assert "empty" in str(caught.value)
    assert "2024-02-10" in str(caught.value)


def test_missing_channel() -> None:
    tables = bank()
    tables["transactions"].loc[2, "channel"] = None
    with rejects("transactions", "channel") as caught:
        load_tables(tables)
    assert "-99.9" in str(caught.value)


@pytest.mark.parametrize(
    ("table", "column", "bad"),
    [
        ("customers", "join_date", "2024-13-45"),
        ("transactions", "ts", "yesterday"),
        ("accounts", "open_date", "31/01/2024"),  # not ISO: day-first or month-first?
        ("complaints", "resolved_date", "2024-02-30"),
    ],
)
def test_unparseable_date(table: str, column: str, bad: str) -> None:
    tables = bank()
    tables[table][column] = tables[table][column].astype(object)
    tables[table].loc[0, column] = bad
    with rejects(table, column) as caught:
        load_tables(tables)
    assert "not ISO dates" in str(caught.value)
    assert bad in str(caught.value)


def test_numbers_as_dates() -> None:
    tables = bank()
    tables["customers"]["join_date"] = [20240105, 20240201]  # would be nanoseconds in 1970
    with rejects("customers", "join_date") as caught:
        load_tables(tables)
    assert "not dates" in str(caught.value)
    assert "20240105" in str(caught.value)


def test_date_beyond_what_pandas_holds() -> None:
    tables = bank()
    tables["accounts"].loc[0, "close_date"] = "9999-12-31"  # a common 'still open' marker
    with rejects("accounts", "close_date") as caught:
        load_tables(tables)
    assert "9999-12-31" in str(caught.value)
    # The same from a typed column (parquet timestamps in seconds can hold it).
    tables = bank()
    far = np.array(["2024-05-31", "9999-12-31", "NaT"], dtype="datetime64[s]")
    tables["accounts"]["close_date"] = far
    with rejects("accounts", "close_date") as caught:
        load_tables(tables)
    assert "outside 1677-09-22..2262-04-11" in str(caught.value)


def test_non_numeric_balance_in_csv(tmp_path: Path) -> None:
    write_csv(bank(), tmp_path)
    path = tmp_path / "balances.csv"
    path.write_text(path.read_text().replace("900.5", '"1,200.00"'))
    with rejects("balances", "balance") as caught:
        load_tables(tmp_path)
    assert "not finite numbers" in str(caught.value)
    assert "1,200.00" in str(caught.value)


def test_at_most_five_examples_but_the_full_count() -> None:
    tables = bank()
    tables["transactions"] = pd.DataFrame(
        {
            "customer_id": [1] * 10,
            "ts": pd.date_range("2024-03-01", periods=10, freq="D"),
            "amount": [0.0] * 8 + [5.0, -5.0],
            "channel": "branch",
        }
    )
    with rejects("transactions", "amount") as caught:
        load_tables(tables)
    assert "8 row(s)" in str(caught.value)
    assert len(shown_rows(caught.value)) == MAX_EXAMPLES == 5


def test_a_failed_load_warns_about_nothing() -> None:
    tables = bank()
    tables["transactions"]["channel"] = ["pigeon", "atm", "online"]  # would warn
    tables["complaints"]["severity"] = [9]  # but this fails
    with rejects("complaints", "severity"):
        load_tables(tables)  # warnings are errors in the tests: none was emitted


# --- What a valid bank becomes ---------------------------------------------------------


def test_valid_bank_is_normalised() -> None:
    tables = load_tables(bank())
    for name, frame in tables.to_dict().items():
        assert list(frame.columns) == CONTRACT_COLUMNS[name], name
        assert isinstance(frame.index, pd.RangeIndex)
    accounts = tables.accounts
    assert accounts["customer_id"].dtype == "int64"
    assert accounts["open_date"].dtype == "datetime64[ns]"
    assert accounts["risk_level"].dtype == "Int64"
    assert list(accounts["product_type"].astype(str)) == ["current", "fund", "time_deposit"]
    assert "other" in accounts["product_type"].cat.categories
    transactions = tables.transactions
    assert transactions is not None
    assert transactions["ts"].iloc[0] == pd.Timestamp("2024-01-31 09:30")
    assert transactions["date"].iloc[0] == pd.Timestamp("2024-01-31")


def test_optional_tables_absent() -> None:
    tables = bank()
    del tables["transactions"]
    tables["complaints"] = None  # type: ignore[assignment]
    loaded = load_tables(tables)
    assert loaded.transactions is None
    assert loaded.complaints is None
    assert list(loaded.to_dict()) == ["customers", "accounts", "balances"]


def test_optional_columns_absent_are_present_and_empty() -> None:
    tables = bank()
    for name, spec in TABLE_SPECS.items():
        optional = [c.name for c in spec.columns if not c.required]
        tables[name] = tables[name].drop(columns=optional, errors="ignore")
    loaded = load_tables(tables)
    for name, spec in TABLE_SPECS.items():
        frame = loaded.to_dict()[name]
        assert list(frame.columns) == CONTRACT_COLUMNS[name]
        for column in (c.name for c in spec.columns if not c.required):
            assert frame[column].isna().all(), (name, column)
    assert loaded.accounts["close_date"].dtype == "datetime64[ns]"
    assert loaded.accounts["term_months"].dtype == "Int64"
    assert loaded.balances["product_type"].dtype == "category"


def test_empty_optional_table() -> None:
    tables = bank()
    tables["complaints"] = pd.DataFrame(columns=["customer_id", "date", "category"])
    loaded = load_tables(tables)
    assert loaded.complaints is not None
    assert len(loaded.complaints) == 0
    assert loaded.complaints["customer_id"].dtype == "int64"  # as in customers


def test_extra_columns_are_dropped() -> None:
    tables = bank()
    tables["customers"]["nickname"] = ["Ann", "Bo"]
    tables["transactions"]["date"] = "1999-01-01"  # derived from ts, never taken as given
    loaded = load_tables(tables)
    assert "nickname" not in loaded.customers.columns
    assert loaded.transactions is not None
    assert loaded.transactions["date"].min() == pd.Timestamp("2024-01-31")


def test_unknown_codes_become_other_with_one_warning_per_column() -> None:
    tables = bank()
    tables["accounts"]["product_type"] = ["current", "crypto", "Fund"]
    tables["transactions"]["channel"] = ["Mobile", " ATM ", "pigeon"]
    tables["transactions"]["counterparty"] = ["salary", "casino", "casino"]
    with pytest.warns(UserWarning) as caught:
        loaded = load_tables(tables)
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 3
    assert "table 'accounts', column 'product_type': 1 row(s)" in messages[0]
    assert "'crypto'" in messages[0]
    assert "table 'transactions', column 'channel': 1 row(s)" in messages[1]
    assert "table 'transactions', column 'counterparty': 2 row(s)" in messages[2]
    assert caught[0].filename == __file__  # points at the caller of load_tables
    assert list(loaded.accounts["product_type"].astype(str)) == ["current", "other", "fund"]
    transactions = loaded.transactions
    assert transactions is not None
    assert list(transactions["channel"].astype(str)) == ["mobile", "other", "atm"]
    assert list(transactions["counterparty"].astype(str)) == ["salary", "other", "other"]


def test_blank_text_is_missing() -> None:
    tables = bank()
    tables["customers"]["birth_year"] = ["", "1995"]
    tables["customers"]["region"] = ["  ", "south"]
    tables["accounts"]["close_date"] = ["", "2024-05-31", " "]
    loaded = load_tables(tables)
    assert loaded.customers["birth_year"].isna().tolist() == [True, False]
    assert loaded.customers["region"].tolist() == [None, "south"]
    assert loaded.accounts["close_date"].isna().tolist() == [True, False, True]


def test_close_reason_ignores_case_and_spaces() -> None:
    tables = bank()
    tables["accounts"].loc[1, "close_reason"] = " Customer"
    assert load_tables(tables).accounts.loc[1, "close_reason"] == "customer"


# --- Sources -------------------------------------------------------------------------


def write_csv(tables: dict[str, pd.DataFrame], directory: Path) -> None:
    for name, frame in tables.items():
        frame.to_csv(directory / f"{name}.csv", index=False)


def assert_same_tables(left: Tables, right: Tables) -> None:
    assert left.to_dict().keys() == right.to_dict().keys()
    for name, frame in left.to_dict().items():
        pd.testing.assert_frame_equal(frame, right.to_dict()[name], obj=name)


def test_dataframes_parquet_and_csv_give_the_same_tables(tmp_path: Path) -> None:
    expected = load_tables(bank())
    (tmp_path / "parquet").mkdir()
    (tmp_path / "csv").mkdir()
    for name, frame in bank().items():
        frame.to_parquet(tmp_path / "parquet" / f"{name}.parquet", index=False)
    write_csv(bank(), tmp_path / "csv")
    assert_same_tables(load_tables(tmp_path / "parquet"), expected)
    assert_same_tables(load_tables(str(tmp_path / "csv")), expected)


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_save_tables_round_trip(tmp_path: Path, file_format: str) -> None:
    tables = load_tables(bank())
    truth = pd.DataFrame({"customer_id": [1, 2], "churned": [False, True]})
    written = save_tables(tables, tmp_path, file_format=file_format, extra={"truth": truth})
    assert sorted(p.name for p in written) == sorted(
        f"{name}.{file_format}" for name in [*TABLE_SPECS, "truth"]
    )
    assert_same_tables(load_tables(tmp_path), tables)


def test_csv_with_excel_byte_order_mark(tmp_path: Path) -> None:
    write_csv(bank(), tmp_path)
    path = tmp_path / "customers.csv"
    path.write_text(path.read_text(), encoding="utf-8-sig")
    assert_same_tables(load_tables(tmp_path), load_tables(bank()))


def test_arrow_tables_are_accepted() -> None:
    tables: dict[str, object] = {
        name: pa.Table.from_pandas(frame, preserve_index=False) for name, frame in bank().items()
    }
    assert_same_tables(load_tables(tables), load_tables(bank()))  # type: ignore[arg-type]


def with_text_ids(tables: dict[str, pd.DataFrame], ids: dict[int, str]) -> None:
    for frame in tables.values():
        frame["customer_id"] = frame["customer_id"].map(ids)


def test_text_customer_ids_end_to_end(tmp_path: Path) -> None:
    tables = bank()
    with_text_ids(tables, {1: "C-001", 2: "C-002"})
    loaded = load_tables(tables)
    for frame in loaded.to_dict().values():
        assert frame["customer_id"].dtype == object
        assert set(frame["customer_id"]) <= {"C-001", "C-002"}
    write_csv(tables, tmp_path)
    assert_same_tables(load_tables(tmp_path), loaded)


def test_text_ids_that_look_like_numbers_stay_text(tmp_path: Path) -> None:
    tables = bank()
    with_text_ids(tables, {1: "007", 2: "7"})  # two customers, not one
    loaded = load_tables(tables)
    assert list(loaded.customers["customer_id"]) == ["007", "7"]
    write_csv(tables, tmp_path)
    assert_same_tables(load_tables(tmp_path), loaded)  # the same from CSV


def test_whole_float_ids_are_integers() -> None:
    tables = bank()
    tables["accounts"]["customer_id"] = [1.0, 1.0, 2.0]  # e.g. after a merge with NaN
    tables["accounts"]["account_id"] = [10.0, 11.0, 12.0]
    loaded = load_tables(tables)
    assert loaded.accounts["customer_id"].dtype == "int64"
    assert loaded.accounts["account_id"].tolist() == [10, 11, 12]


def test_date_inputs_of_every_kind_agree() -> None:
    expected = load_tables(bank())
    tables = bank()
    customers = tables["customers"]
    customers["join_date"] = [dt.date(2024, 1, 5), dt.datetime(2024, 2, 1, 16, 30)]
    tables["accounts"]["open_date"] = pd.to_datetime(tables["accounts"]["open_date"]).astype(
        "datetime64[s]"
    )
    tables["balances"]["date"] = [" 2024-01-31", "2024-02-29T23:59:59", "20240229"]
    assert_same_tables(load_tables(tables), expected)


def test_timezone_aware_ts_keeps_local_time() -> None:
    tables = bank()
    local = pd.to_datetime(tables["transactions"]["ts"]).dt.tz_localize("Asia/Shanghai")
    tables["transactions"]["ts"] = local
    loaded = load_tables(tables).transactions
    assert loaded is not None
    assert loaded["ts"].dtype == "datetime64[ns]"
    assert loaded["ts"].iloc[0] == pd.Timestamp("2024-01-31 09:30")


def test_ts_text_with_mixed_offsets_keeps_local_time() -> None:
    tables = bank()
    tables["transactions"]["ts"] = [
        "2024-01-31T23:30:00+08:00",  # a late payment in Shanghai: still 31 January there
        "2024-02-02T14:00:00Z",
        "2024-02-15 18:45:00",
    ]
    loaded = load_tables(tables).transactions
    assert loaded is not None
    assert list(loaded["ts"].dt.strftime("%Y-%m-%d %H:%M")) == [
        "2024-01-31 23:30",
        "2024-02-15 18:45",
        "2024-02-02 14:00",
    ]
    assert loaded["date"].iloc[0] == pd.Timestamp("2024-01-31")


def test_inputs_are_never_modified() -> None:
    tables = bank()
    tables["accounts"].index = [5, 3, 9]  # an index of its own
    tables["transactions"]["channel"] = ["Mobile", "atm", "online"]
    before = copy.deepcopy(tables)
    load_tables(tables)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, before[name], obj=name)


def test_tables_are_returned_as_they_are() -> None:
    tables = load_tables(bank())
    assert load_tables(tables) is tables
    other = load_tables(bank())
    assert tables != other  # by identity: comparing DataFrames has no single truth value
    assert len({tables, other}) == 2  # and hashable
    sizes = "customers=2, accounts=3, balances=3, transactions=3, complaints=1"
    assert repr(tables) == f"Tables({sizes})"


def test_rows_are_sorted_by_customer_then_key_or_time() -> None:
    tables = bank()
    tables["transactions"] = pd.DataFrame(
        {
            "customer_id": [2, 1, 1, 1],
            "ts": ["2024-03-01", "2024-03-02", "2024-03-01", "2024-03-01"],
            "amount": [1.0, 2.0, 3.0, 4.0],
            "channel": "atm",
        }
    )
    tables["customers"] = tables["customers"].iloc[::-1]
    loaded = load_tables(tables)
    assert list(loaded.customers["customer_id"]) == [1, 2]
    transactions = loaded.transactions
    assert transactions is not None
    assert list(transactions["amount"]) == [3.0, 4.0, 2.0, 1.0]  # ties keep their order


def test_observed_until() -> None:
    assert load_tables(bank()).observed_until == pd.Timestamp("2024-05-31")  # a close_date
    tables = bank()
    tables["complaints"]["resolved_date"] = ["2024-06-03"]
    assert load_tables(tables).observed_until == pd.Timestamp("2024-06-03")
    tables["transactions"].loc[0, "ts"] = "2024-07-01 18:00"
    assert load_tables(tables).observed_until == pd.Timestamp("2024-07-01")  # the day
    minimal = {name: bank()[name] for name in ("customers", "accounts", "balances")}
    minimal["accounts"] = (
        minimal["accounts"].drop(columns="close_date").drop(columns="close_reason")
    )
    assert load_tables(minimal).observed_until == pd.Timestamp("2024-02-29")


# --- Property: any valid bank loads ----------------------------------------------------

DAY = st.dates(dt.date(2020, 1, 1), dt.date(2024, 12, 31))
AMOUNT = st.floats(0.01, 1e6) | st.floats(-1e6, -0.01)
TIME = st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2024, 12, 31))


@st.composite
def valid_banks(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    """Small random valid banks, rows in random order, ids of either type."""
    n = draw(st.integers(1, 5))
    text_ids = draw(st.booleans())
    numbers = draw(st.lists(st.integers(-50, 10**12), min_size=n, max_size=n, unique=True))
    ids: list[object] = [f"c{k}" for k in numbers] if text_ids else numbers
    customer = st.sampled_from(ids)
    customers = pd.DataFrame({"customer_id": ids, "join_date": [draw(DAY) for _ in ids]})

    n_accounts = draw(st.integers(0, 6))
    opened = [draw(DAY) for _ in range(n_accounts)]
    closed = [draw(st.none() | st.dates(o, dt.date(2025, 6, 30))) for o in opened]
    accounts = pd.DataFrame(
        {
            "account_id": draw(
                st.lists(st.integers(0, 99), min_size=n_accounts, max_size=n_accounts, unique=True)
            ),
            "customer_id": [draw(customer) for _ in opened],
            "product_type": [draw(st.sampled_from(["fund", "Savings", "loan "])) for _ in opened],
            "open_date": opened,
            "close_date": closed,
            "close_reason": [None if c is None else "maturity" for c in closed],
        }
    )
    keys = draw(st.lists(st.tuples(customer, DAY), max_size=8, unique=True))
    balances = pd.DataFrame(
        {
            "customer_id": [k[0] for k in keys],
            "date": [k[1] for k in keys],
            "balance": [draw(st.floats(0, 1e9)) for _ in keys],
        },
        columns=["customer_id", "date", "balance"],
    )
    tables = {"customers": customers, "accounts": accounts, "balances": balances}
    if draw(st.booleans()):
        n_tx = draw(st.integers(0, 8))
        tables["transactions"] = pd.DataFrame(
            {
                "customer_id": [draw(customer) for _ in range(n_tx)],
                "ts": [draw(TIME) for _ in range(n_tx)],
                "amount": [draw(AMOUNT) for _ in range(n_tx)],
                "channel": [draw(st.sampled_from(["atm", "MOBILE"])) for _ in range(n_tx)],
            },
            columns=["customer_id", "ts", "amount", "channel"],
        )
    seed = draw(st.integers(0, 2**16))
    return {name: frame.sample(frac=1.0, random_state=seed) for name, frame in tables.items()}


@settings(max_examples=60, deadline=None)
@given(valid_banks())
def test_any_valid_bank_loads_sorted_in_contract_order(tables: dict[str, pd.DataFrame]) -> None:
    loaded = load_tables(tables).to_dict()
    assert loaded.keys() == tables.keys()
    for name, frame in loaded.items():
        assert list(frame.columns) == CONTRACT_COLUMNS[name]
        assert len(frame) == len(tables[name])
        order = list(TABLE_SPECS[name].order)
        resorted = frame.sort_values(order, kind="stable", ignore_index=True)
        pd.testing.assert_frame_equal(frame, resorted, obj=name)
