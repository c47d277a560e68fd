"""Column specs of the contract's tables and their rules (pandera for the values).

:mod:`churnml.tables` coerces types; this module states which columns, values, keys and
links between tables are allowed, and turns any failure (pandera's report included) into
one :class:`~churnml.errors.SchemaError` that names the table, the column and up to five
offending rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from churnml.errors import SchemaError

__all__ = [
    "CHANNELS",
    "CLOSE_REASONS",
    "COUNTERPARTIES",
    "PRODUCT_TYPES",
    "TABLE_SPECS",
    "VOCABULARIES",
    "ColumnSpec",
    "TableSpec",
    "check_across_tables",
    "check_columns",
    "check_values",
    "describe_contract",
    "example_rows",
    "reject",
]

MAX_EXAMPLES = 5
RISK_LEVELS = (1, 5)
SEVERITIES = (1, 3)
CLOSE_REASONS = ("customer", "bank", "maturity")
PRODUCT_TYPES = (
    "current",
    "savings",
    "time_deposit",
    "wealth_management",
    "fund",
    "insurance",
    "credit_card",
    "loan",
    "mortgage",
    "other",
)
CHANNELS = ("branch", "atm", "mobile", "online", "phone", "other")
COUNTERPARTIES = (
    "internal",
    "other_bank",
    "third_party_payment",
    "cash",
    "merchant",
    "salary",
    "other",
)

# Coded columns: values are matched without case or spacing; others count as 'other'.
VOCABULARIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("accounts", "product_type"): PRODUCT_TYPES,
    ("balances", "product_type"): PRODUCT_TYPES,
    ("transactions", "channel"): CHANNELS,
    ("transactions", "counterparty"): COUNTERPARTIES,
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table: its name, kind and whether it is required."""

    name: str
    kind: str  # id, date, float, int, code, text
    required: bool = True


@dataclass(frozen=True)
class TableSpec:
    """One contract table: its columns, the key that must be unique and the row order."""

    name: str
    required: bool
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...] = ()
    order: tuple[str, ...] = ("customer_id",)


TABLE_SPECS: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "customers",
            True,
            (
                ColumnSpec("customer_id", "id"),
                ColumnSpec("join_date", "date"),
                ColumnSpec("birth_year", "int", required=False),
                ColumnSpec("gender", "text", required=False),
                ColumnSpec("income_band", "text", required=False),
                ColumnSpec("region", "text", required=False),
            ),
            key=("customer_id",),
        ),
        TableSpec(
            "accounts",
            True,
            (
                ColumnSpec("account_id", "id"),
                ColumnSpec("customer_id", "id"),
                ColumnSpec("product_type", "code"),
                ColumnSpec("open_date", "date"),
                ColumnSpec("close_date", "date", required=False),
                ColumnSpec("close_reason", "text", required=False),
                ColumnSpec("risk_level", "int", required=False),
                ColumnSpec("term_months", "int", required=False),
            ),
            key=("account_id",),
            order=("customer_id", "account_id"),
        ),
        TableSpec(
            "balances",
            True,
            (
                ColumnSpec("customer_id", "id"),
                ColumnSpec("date", "date"),
                ColumnSpec("balance", "float"),
                ColumnSpec("product_type", "code", required=False),
            ),
            key=("customer_id", "date", "product_type"),
            order=("customer_id", "date", "product_type"),
        ),
        TableSpec(
            "transactions",
            False,
            (
                ColumnSpec("customer_id", "id"),
                ColumnSpec("ts", "date"),
                ColumnSpec("amount", "float"),
                ColumnSpec("channel", "code"),
                ColumnSpec("counterparty", "code", required=False),
            ),
            order=("customer_id", "ts"),
        ),
        TableSpec(
            "complaints",
            False,
            (
                ColumnSpec("customer_id", "id"),
                ColumnSpec("date", "date"),
                ColumnSpec("category", "text"),
                ColumnSpec("severity", "int", required=False),
                ColumnSpec("resolved_date", "date", required=False),
            ),
            order=("customer_id", "date"),
        ),
    )
}

# Checks beyond "required columns are never empty", keyed by (table, column).
_VALUE_CHECKS: dict[tuple[str, str], list[pa.Check]] = {
    ("customers", "birth_year"): [
        pa.Check.in_range(1900, 2100, error="birth_year must be a year between 1900 and 2100")
    ],
    ("accounts", "close_reason"): [
        pa.Check.isin(CLOSE_REASONS, error=f"close_reason must be one of {CLOSE_REASONS}")
    ],
    ("accounts", "risk_level"): [
        pa.Check.in_range(*RISK_LEVELS, error="risk_level must be an integer from 1 to 5")
    ],
    ("accounts", "term_months"): [pa.Check.gt(0, error="term_months must be positive")],
    ("balances", "balance"): [
        pa.Check.ge(0, error="balance must be >= 0 (assets; keep overdrafts elsewhere)")
    ],
    ("transactions", "amount"): [
        pa.Check.ne(0, error="amount must not be 0 (signed: > 0 in, < 0 out)")
    ],
    ("complaints", "severity"): [
        pa.Check.in_range(*SEVERITIES, error="severity must be an integer from 1 to 3")
    ],
}

# Row-level rules across columns: (table, column named in the error, rule, message).
_ROW_RULES = {
    "accounts": [
        (
            "close_date",
            lambda df: df["close_date"].isna() | (df["close_date"] >= df["open_date"]),
            "close_date is before open_date",
        ),
        (
            "close_reason",
            lambda df: df["close_reason"].isna() | df["close_date"].notna(),
            "close_reason is given for an account with no close_date",
        ),
    ],
    "complaints": [
        (
            "resolved_date",
            lambda df: df["resolved_date"].isna() | (df["resolved_date"] >= df["date"]),
            "resolved_date is before the complaint's date",
        ),
    ],
}


def _pandera_schema(spec: TableSpec) -> pa.DataFrameSchema:
    columns = {
        column.name: pa.Column(
            None,
            checks=_VALUE_CHECKS.get((spec.name, column.name), []),
            nullable=not column.required,
            required=True,
        )
        for column in spec.columns
    }
    return pa.DataFrameSchema(columns, strict=False, coerce=False)


_SCHEMAS = {name: _pandera_schema(spec) for name, spec in TABLE_SPECS.items()}


def check_values(frame: pd.DataFrame, spec: TableSpec) -> None:
    """Check the values of a coerced table; raise :class:`SchemaError` on the first problem.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table after type coercion, with every contract column present.
    spec : TableSpec
        The table's spec.
    """
    try:
        _SCHEMAS[spec.name].validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        first = cases.iloc[0]
        column = str(first["column"])
        failing = cases[(cases["column"] == column) & (cases["check"] == first["check"])]
        offending = frame.index.isin(failing["index"].dropna().astype("int64"))
        problem = str(first["check"])
        if problem == "not_nullable":
            problem = "required values are empty"
        raise SchemaError(
            spec.name,
            column,
            f"{int(offending.sum())} row(s) fail: {problem}",
            example_rows(frame, offending),
        ) from None
    for column, rule, message in _ROW_RULES.get(spec.name, []):
        bad = ~rule(frame)
        if bad.any():
            raise SchemaError(
                spec.name, column, f"{int(bad.sum())} row(s): {message}", example_rows(frame, bad)
            )
    _check_key(frame, spec)


def _check_key(frame: pd.DataFrame, spec: TableSpec) -> None:
    # An optional key column that the bank did not give (all empty) is not part of its key.
    key = [c for c in spec.key if c == spec.key[0] or frame[c].notna().any()]
    if not key:
        return
    duplicated = frame.duplicated(key, keep=False)
    if duplicated.any():
        raise SchemaError(
            spec.name,
            ", ".join(key),
            f"{int(duplicated.sum())} row(s) share a key that must be unique ({', '.join(key)})",
            example_rows(frame, duplicated),
        )


def example_rows(frame: pd.DataFrame, mask: pd.Series | object) -> str:
    """Render up to five rows of ``frame`` selected by a boolean ``mask``."""
    selected = frame.loc[pd.Series(mask, index=frame.index).to_numpy(dtype=bool)]
    return selected.head(MAX_EXAMPLES).to_string()


def reject(
    bad: object, rows: pd.Series | pd.DataFrame, table: str, column: str, problem: str
) -> None:
    """Raise :class:`SchemaError` when any row is bad.

    ``bad`` is a boolean mask over ``rows``, or one bool for all of them; the message gives
    the count of bad rows, then ``problem``, then up to five of them.
    """
    mask = np.broadcast_to(np.asarray(bad, dtype=bool), (len(rows),))
    if mask.any():
        frame = rows.to_frame() if isinstance(rows, pd.Series) else rows
        count = "" if isinstance(bad, bool | np.bool_) else f"{int(mask.sum())} "
        raise SchemaError(table, column, count + problem, example_rows(frame, mask))


def check_columns(frame: pd.DataFrame, spec: TableSpec) -> None:
    """Raise :class:`SchemaError` when a required column is missing or one is repeated."""
    names = pd.Index(frame.columns)
    contract = [c.name for c in spec.columns]
    repeated = [name for name in contract if (names == name).sum() > 1]
    if repeated:
        raise SchemaError(spec.name, repeated[0], "this column appears more than once; keep one")
    missing = [c.name for c in spec.columns if c.required and c.name not in names]
    if missing:
        also = f" (and {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise SchemaError(
            spec.name,
            missing[0],
            f"required column is missing{also}; the table has columns {list(names)[:20]}",
        )


def check_across_tables(tables: dict[str, pd.DataFrame]) -> None:
    """Check that every table's customers exist in ``customers``, with one id type.

    Empty tables take the id type of ``customers`` (they are modified in place).
    """
    ids = tables["customers"]["customer_id"]
    for name, frame in tables.items():
        if name == "customers":
            continue
        if frame.empty:
            frame["customer_id"] = frame["customer_id"].astype(ids.dtype)
            continue
        kind, expected = _key_kind(frame["customer_id"]), _key_kind(ids)
        problem = f"customer_id is {kind} here but {expected} in customers; use one type"
        reject(len(ids) > 0 and kind != expected, frame, name, "customer_id", problem)
        orphan = ~frame["customer_id"].isin(ids)
        problem = "row(s) belong to customers missing from table 'customers'"
        reject(orphan, frame, name, "customer_id", problem)


def _key_kind(values: pd.Series) -> str:
    return "integer" if pd.api.types.is_integer_dtype(values) else "text"


def describe_contract() -> dict[str, Any]:
    """Return the contract's tables and columns as a plain dict (for docs and checks)."""
    return {
        name: {c.name: {"kind": c.kind, "required": c.required} for c in spec.columns}
        for name, spec in TABLE_SPECS.items()
    }
