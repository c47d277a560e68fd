"""The data contract: load a bank's five tables, validate them, normalise them.

A bank hands churnml ``customers``, ``accounts`` and ``balances`` (required) and
``transactions`` and ``complaints`` (optional), as DataFrames or as files
``<table>.parquet`` / ``<table>.csv`` in one directory. :func:`load_tables` turns any of
those into a validated, normalised :class:`Tables`; every public data function accepts a
directory, a mapping of DataFrames or a :class:`Tables` interchangeably.

Normalised means: exactly the contract's columns in the contract's order (optional columns
that were absent are present and empty, extra columns are dropped), dates as
``datetime64[ns]`` at midnight, ``customer_id`` of one type in every table, and the coded
columns (``product_type``, ``channel``, ``counterparty``) as categoricals over the
contract's vocabulary, with unknown values mapped to ``other``. Transactions also carry
``date``, the calendar day of ``ts``: the day on which the row becomes known.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from churnml.errors import SchemaError
from churnml.schemas import TABLE_SPECS, TableSpec, check_values, example_rows

__all__ = [
    "CHANNELS",
    "CLOSE_REASONS",
    "COUNTERPARTIES",
    "PRODUCT_TYPES",
    "TableSource",
    "Tables",
    "load_tables",
]

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
from churnml.schemas import CLOSE_REASONS  # noqa: E402

_VOCABULARIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("accounts", "product_type"): PRODUCT_TYPES,
    ("balances", "product_type"): PRODUCT_TYPES,
    ("transactions", "channel"): CHANNELS,
    ("transactions", "counterparty"): COUNTERPARTIES,
}


@dataclass(frozen=True)
class Tables:
    """A bank's validated, normalised tables.

    Build it with :func:`load_tables`; the constructor trusts its input.

    Attributes
    ----------
    customers, accounts, balances : pandas.DataFrame
        Required tables.
    transactions, complaints : pandas.DataFrame or None
        Optional tables; ``None`` when the bank did not provide them.
    """

    customers: pd.DataFrame
    accounts: pd.DataFrame
    balances: pd.DataFrame
    transactions: pd.DataFrame | None = None
    complaints: pd.DataFrame | None = None

    def to_dict(self) -> dict[str, pd.DataFrame]:
        """Return the tables that are present, keyed by contract name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    @property
    def observed_until(self) -> pd.Timestamp:
        """Latest date present in any table: follow-up ends here (censoring)."""
        latest = [self.balances["date"].max(), self.accounts["open_date"].max()]
        latest.append(self.accounts["close_date"].max())
        if self.transactions is not None:
            latest.append(self.transactions["date"].max())
        if self.complaints is not None:
            latest.append(self.complaints["date"].max())
        return pd.Timestamp(max(d for d in latest if pd.notna(d)))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(df):,}" for name, df in self.to_dict().items())
        return f"Tables({sizes})"


TableSource: TypeAlias = "Tables | Mapping[str, pd.DataFrame] | str | Path"


def load_tables(source: TableSource) -> Tables:
    """Load, validate and normalise a bank's tables.

    Parameters
    ----------
    source : Tables, mapping of str to DataFrame, str or Path
        A :class:`Tables` (returned unchanged), a mapping from table name to DataFrame,
        or a directory holding ``<table>.parquet`` or ``<table>.csv`` files.

    Returns
    -------
    Tables
        Validated and normalised tables. Inputs are never modified.

    Raises
    ------
    SchemaError
        When a table breaks the contract. The message names the table, the column and
        up to five offending rows. Nothing is returned in that case.

    Examples
    --------
    >>> import pandas as pd
    >>> from churnml import load_tables
    >>> tables = load_tables({
    ...     "customers": pd.DataFrame({"customer_id": [1], "join_date": ["2024-01-05"]}),
    ...     "accounts": pd.DataFrame({"account_id": [10], "customer_id": [1],
    ...                               "product_type": ["savings"],
    ...                               "open_date": ["2024-01-05"]}),
    ...     "balances": pd.DataFrame({"customer_id": [1], "date": ["2024-01-31"],
    ...                               "balance": [1200.0]}),
    ... })
    >>> tables
    Tables(customers=1, accounts=1, balances=1)
    >>> str(tables.accounts["open_date"].dtype)
    'datetime64[ns]'
    """
    if isinstance(source, Tables):
        return source
    raw = _read_directory(Path(source)) if isinstance(source, str | Path) else dict(source)
    unknown = sorted(set(raw) - set(TABLE_SPECS))
    if unknown:
        raise SchemaError(
            unknown[0],
            None,
            f"not a contract table; expected some of {sorted(TABLE_SPECS)}",
        )
    normalised: dict[str, pd.DataFrame] = {}
    for name, spec in TABLE_SPECS.items():
        frame = raw.get(name)
        if frame is None:
            if spec.required:
                raise SchemaError(name, None, "this required table is missing")
            continue
        if not isinstance(frame, pd.DataFrame):
            raise SchemaError(name, None, f"expected a pandas DataFrame, got {type(frame)}")
        normalised[name] = _normalise_table(frame, spec)
    _check_across_tables(normalised)
    return Tables(**normalised)


def _read_directory(directory: Path) -> dict[str, pd.DataFrame]:
    if not directory.is_dir():
        raise SchemaError("customers", None, f"data directory {directory} does not exist")
    raw: dict[str, pd.DataFrame] = {}
    for name in TABLE_SPECS:
        parquet, csv = directory / f"{name}.parquet", directory / f"{name}.csv"
        if parquet.exists():
            raw[name] = pd.read_parquet(parquet)
        elif csv.exists():
            # Read ids and codes as text; types are decided by the contract, not the CSV.
            raw[name] = pd.read_csv(csv, dtype=str, keep_default_na=True)
    return raw


def _normalise_table(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    missing = [c.name for c in spec.columns if c.required and c.name not in frame.columns]
    if missing:
        raise SchemaError(
            spec.name,
            missing[0],
            f"required column is missing; the table has columns {list(frame.columns)}",
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for column in spec.columns:
        values = frame[column.name].reset_index(drop=True) if column.name in frame else None
        out[column.name] = _coerce(values, len(frame), spec.name, column.name, column.kind)
    for column_name, vocabulary in _VOCABULARIES.items():
        if column_name[0] == spec.name:
            out[column_name[1]] = _to_vocabulary(out[column_name[1]], vocabulary, *column_name)
    if spec.name == "transactions":
        out["date"] = out["ts"].dt.normalize()
    check_values(out, spec)
    return out


def _coerce(
    values: pd.Series | None, n_rows: int, table: str, column: str, kind: str
) -> pd.Series:
    if values is None:
        empty_dtype = {"date": "datetime64[ns]", "float": "float64", "int": "Int64"}
        return pd.Series(pd.array([None] * n_rows, dtype=empty_dtype.get(kind, "object")))
    if kind == "id":
        return _coerce_id(values, table, column)
    if kind == "date":
        return _coerce_dates(values, table, column)
    if kind in ("float", "int"):
        return _coerce_numbers(values, table, column, kind)
    return values.astype("object").where(values.notna(), None)


def _coerce_id(values: pd.Series, table: str, column: str) -> pd.Series:
    if pd.api.types.is_integer_dtype(values) and not values.isna().any():
        return values.astype("int64")
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            return values.astype("Int64").astype("object").where(values.notna(), None)
    if values.isna().any():
        return values.astype("object").where(values.notna(), None)
    text = values.astype(str).str.strip()
    as_int = pd.to_numeric(text, errors="coerce")
    looks_integer = text.str.fullmatch(r"-?\d{1,18}")
    if looks_integer.all():
        return as_int.astype("int64")
    return text.astype("object")


def _coerce_dates(values: pd.Series, table: str, column: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        present = values.notna() & (values.astype(str).str.strip() != "")
        parsed = pd.to_datetime(values.where(present), errors="coerce", format="mixed")
        bad = present & parsed.isna()
        if bad.any():
            raise SchemaError(
                table,
                column,
                f"{int(bad.sum())} value(s) are not dates (use ISO dates such as 2024-01-31)",
                example_rows(pd.DataFrame({column: values}), bad),
            )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    if column == "ts":
        return parsed.astype("datetime64[ns]")
    return parsed.dt.normalize().astype("datetime64[ns]")


def _coerce_numbers(values: pd.Series, table: str, column: str, kind: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        raise SchemaError(table, column, "expected numbers, found booleans")
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & numbers.isna()
    if bad.any():
        raise SchemaError(
            table,
            column,
            f"{int(bad.sum())} value(s) are not numbers",
            example_rows(pd.DataFrame({column: values}), bad),
        )
    if kind == "float":
        return numbers.astype("float64")
    fractional = numbers.notna() & (numbers != np.floor(numbers))
    if fractional.any():
        raise SchemaError(
            table,
            column,
            f"{int(fractional.sum())} value(s) are not whole numbers",
            example_rows(pd.DataFrame({column: values}), fractional),
        )
    return numbers.astype("Int64")


def _to_vocabulary(
    values: pd.Series, vocabulary: tuple[str, ...], table: str, column: str
) -> pd.Series:
    # Factorise first so that mapping costs one pass over the distinct values only.
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    cleaned = pd.Index(uniques).astype(str).str.strip().str.lower()
    known = cleaned.isin(vocabulary)
    mapped = np.where(known, cleaned, "other")
    if (~known).any():
        unknown_codes = np.flatnonzero(~known)
        n_unknown = int(np.isin(codes, unknown_codes).sum())
        shown = ", ".join(repr(v) for v in list(uniques[~known])[:5])
        warnings.warn(
            f"table '{table}', column '{column}': {n_unknown} row(s) with values outside "
            f"the contract ({shown}) are counted as 'other'",
            UserWarning,
            stacklevel=4,
        )
    category_codes = np.append(pd.Index(vocabulary).get_indexer(mapped), -1)
    # code -1 (missing) indexes the appended -1, so missing stays missing.
    out_codes = category_codes[codes]
    return pd.Series(
        pd.Categorical.from_codes(out_codes, categories=list(vocabulary)), index=values.index
    )


def _check_across_tables(tables: dict[str, pd.DataFrame]) -> None:
    customers = tables["customers"]
    key_kind = _key_kind(customers["customer_id"])
    for name, frame in tables.items():
        if _key_kind(frame["customer_id"]) != key_kind:
            raise SchemaError(
                name,
                "customer_id",
                f"customer_id is {_key_kind(frame['customer_id'])} here but {key_kind} in "
                "customers; use one type in every table",
                example_rows(frame, pd.Series(True, index=frame.index)),
            )
    known = pd.Index(customers["customer_id"])
    for name, frame in tables.items():
        if name == "customers":
            continue
        orphan = ~frame["customer_id"].isin(known)
        if orphan.any():
            raise SchemaError(
                name,
                "customer_id",
                f"{int(orphan.sum())} row(s) belong to customers missing from table "
                "'customers'",
                example_rows(frame, orphan),
            )


def _key_kind(values: pd.Series) -> str:
    return "integer" if pd.api.types.is_integer_dtype(values) else "text"



def describe_contract() -> dict[str, Any]:
    """Return the contract's tables and columns as a plain dict (for docs and checks)."""
    return {
        name: {c.name: {"kind": c.kind, "required": c.required} for c in spec.columns}
        for name, spec in TABLE_SPECS.items()
    }
