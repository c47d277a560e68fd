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
``date``, the calendar day of ``ts``: the day on which the row becomes known. Rows are
sorted by customer and then by key or time (:attr:`~churnml.schemas.TableSpec.order`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from os import PathLike
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from churnml.coercion import coerce_column
from churnml.errors import InputError, SchemaError
from churnml.schemas import (
    CHANNELS,
    CLOSE_REASONS,
    COUNTERPARTIES,
    PRODUCT_TYPES,
    TABLE_SPECS,
    TableSpec,
    check_across_tables,
    check_columns,
    check_values,
)

__all__ = [
    "CHANNELS",
    "CLOSE_REASONS",
    "COUNTERPARTIES",
    "PRODUCT_TYPES",
    "TableSource",
    "Tables",
    "load_tables",
    "save_tables",
]

# Integers written as text that read back the same: "7", but not "007" or "+7".
_CANONICAL_INTEGER = r"-?(?:0|[1-9]\d{0,17})"


@dataclass(frozen=True, eq=False)
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
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    @property
    def observed_until(self) -> pd.Timestamp:
        """Latest date in any date column of any table: follow-up ends here (censoring).

        ``NaT`` when the tables hold no dates at all (no rows).
        """
        latest = [
            frame[column.name].max()
            for name, frame in self.to_dict().items()
            for column in TABLE_SPECS[name].columns
            if column.kind == "date"
        ]
        dates = [d for d in latest if pd.notna(d)]
        return pd.Timestamp(max(dates) if dates else "NaT").normalize()

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(df):,}" for name, df in self.to_dict().items())
        return f"Tables({sizes})"


TableSource: TypeAlias = "Tables | Mapping[str, pd.DataFrame] | str | Path"


def load_tables(source: TableSource) -> Tables:
    """Load, validate and normalise a bank's tables.

    Parameters
    ----------
    source : Tables, mapping of str to DataFrame, str or Path
        A :class:`Tables` (returned unchanged), a mapping from table name to DataFrame
        (or to an Arrow or Polars table), or a directory holding ``<table>.parquet`` or
        ``<table>.csv`` files. Text dates must be ISO 8601 (``2024-01-31``,
        ``2024-01-31 09:30:00+08:00``); timestamps with a time zone keep their local time.

    Returns
    -------
    Tables
        Validated and normalised tables. Inputs are never modified.

    Raises
    ------
    SchemaError
        When a table breaks the contract. The message names the table, the column and
        up to five offending rows. Nothing is returned in that case.
    TypeError
        When ``source`` is none of the above.

    Warns
    -----
    UserWarning
        Once per coded column (``product_type``, ``channel``, ``counterparty``) holding
        values outside the contract, with their count; they are mapped to ``other``.

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
    raw = _raw_tables(source)
    notes: list[str] = []
    normalised: dict[str, pd.DataFrame] = {}
    for name, spec in TABLE_SPECS.items():
        frame = raw.get(name)
        if frame is None:
            if spec.required:
                raise SchemaError(name, None, _missing_table(spec))
            continue
        normalised[name] = _normalise_table(_as_frame(name, frame), spec, notes)
    check_across_tables(normalised)
    # Warn only once everything is valid: a failed load reports its error alone.
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return Tables(
        **{name: _sorted_rows(frame, TABLE_SPECS[name].order) for name, frame in normalised.items()}
    )


def save_tables(
    tables: TableSource,
    directory: str | Path,
    *,
    file_format: str = "parquet",
    extra: Mapping[str, pd.DataFrame] | None = None,
) -> list[Path]:
    """Write tables as a data directory that :func:`load_tables` reads back.

    Parameters
    ----------
    tables : Tables, mapping of str to DataFrame, str or Path
        Anything :func:`load_tables` accepts; it is validated first.
    directory : str or Path
        Created if needed; existing files of the same names are replaced.
    file_format : {"parquet", "csv"}
        One file ``<table>.<file_format>`` per table present.
    extra : mapping of str to DataFrame, optional
        More frames to write alongside (e.g. a synthetic bank's truth); ``load_tables``
        ignores files that are not contract tables.

    Returns
    -------
    list of Path
        The files written.
    """
    if file_format not in ("parquet", "csv"):
        raise InputError(f"file_format must be 'parquet' or 'csv', got {file_format!r}")
    frames = {**load_tables(tables).to_dict(), **(extra or {})}
    # ``date`` is derived from ``ts`` on loading; it is not part of the contract's table.
    if "transactions" in frames:
        frames["transactions"] = frames["transactions"].drop(columns="date")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in frames.items():
        path = out / f"{name}.{file_format}"
        if file_format == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        written.append(path)
    return written


def _raw_tables(source: object) -> dict[str, Any]:
    if isinstance(source, str | PathLike):
        raw: dict[Any, Any] = _read_directory(Path(source))
    elif isinstance(source, Mapping):
        raw = dict(source)
    else:
        raise TypeError(
            "load_tables expects Tables, a mapping from table name to DataFrame or a data "
            f"directory, got {type(source).__name__}"
        )
    unknown = sorted(str(name) for name in raw if name not in TABLE_SPECS)
    if unknown:
        raise SchemaError(
            unknown[0], None, f"not a contract table; expected some of {sorted(TABLE_SPECS)}"
        )
    return raw


def _missing_table(spec: TableSpec) -> str:
    required = ", ".join(c.name for c in spec.columns if c.required)
    return (
        f"this required table is missing: pass a DataFrame named '{spec.name}' or put "
        f"{spec.name}.parquet or {spec.name}.csv in the data directory, with columns {required}"
    )


def _as_frame(name: str, table: object) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    to_pandas = getattr(table, "to_pandas", None)
    frame = to_pandas() if callable(to_pandas) else None
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(
            name,
            None,
            f"expected a DataFrame (pandas, Arrow or Polars), got {type(table).__name__}",
        )
    return frame


def _read_directory(directory: Path) -> dict[str, pd.DataFrame]:
    if not directory.is_dir():
        raise SchemaError(
            "customers",
            None,
            f"the data directory {directory} does not exist; it should hold customers, "
            "accounts and balances (and optionally transactions, complaints) as "
            "<table>.parquet or <table>.csv",
        )
    raw: dict[str, pd.DataFrame] = {}
    from_csv: list[str] = []
    for name in TABLE_SPECS:
        parquet, csv = directory / f"{name}.parquet", directory / f"{name}.csv"
        path = parquet if parquet.exists() else csv
        if not path.exists():
            continue
        try:
            if path == parquet:
                raw[name] = pd.read_parquet(path)
            else:
                # CSV has no types: read text, and let the contract decide (BOM from Excel ok).
                raw[name] = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
                from_csv.append(name)
        except (OSError, ValueError) as error:
            raise SchemaError(name, None, f"cannot read {path}: {error}") from None
    _integer_ids_from_text(raw, from_csv)
    return raw


def _integer_ids_from_text(raw: dict[str, pd.DataFrame], from_csv: list[str]) -> None:
    # Ids in CSV files that are all plain integers become int64. customer_id is decided
    # over all CSV tables at once, so that it keeps one type in every table.
    groups = {"customer_id": from_csv, "account_id": [n for n in from_csv if n == "accounts"]}
    for column, names in groups.items():
        parsed = {n: _integers(raw[n][column]) for n in names if column in raw[n].columns}
        if parsed and all(ints is not None for ints in parsed.values()):
            for name, ints in parsed.items():
                raw[name][column] = ints


def _integers(text: pd.Series) -> pd.Series | None:
    # Work on the distinct values only: ids repeat across many rows.
    codes, uniques = pd.factorize(text)
    stripped = pd.Index(uniques).astype(str).str.strip()
    if len(stripped) == 0 or not stripped.str.fullmatch(_CANONICAL_INTEGER).all():
        return None
    numbers = np.append(stripped.astype("int64").to_numpy(), 0)
    return pd.Series(pd.arrays.IntegerArray(numbers[codes], codes == -1), index=text.index)


def _normalise_table(frame: pd.DataFrame, spec: TableSpec, notes: list[str]) -> pd.DataFrame:
    check_columns(frame, spec)
    out = pd.DataFrame(
        {column.name: coerce_column(frame, spec.name, column, notes) for column in spec.columns}
    )
    if spec.name == "transactions":
        out["date"] = out["ts"].dt.normalize()
    check_values(out, spec)
    return out


def _sorted_rows(frame: pd.DataFrame, order: tuple[str, ...]) -> pd.DataFrame:
    keys = [_sort_key(frame[column]) for column in order]
    if _is_sorted(keys):
        return frame
    # np.lexsort is stable (ties keep their input order); its last key sorts first.
    return frame.take(np.lexsort(keys[::-1])).reset_index(drop=True)


def _sort_key(values: pd.Series) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype):
        # Missing sorts last, as in sort_values; its code -1 would sort first.
        codes = values.cat.codes.to_numpy()
        return np.where(codes == -1, len(values.cat.categories), codes)
    if pd.api.types.is_datetime64_dtype(values):
        return values.to_numpy().view("int64")
    if pd.api.types.is_integer_dtype(values):
        return values.to_numpy()
    return pd.factorize(values, sort=True)[0]


def _is_sorted(keys: list[np.ndarray]) -> bool:
    # Linear time, so that tables that arrive sorted (most do) skip the sort.
    ties = np.ones(max(len(keys[0]) - 1, 0), dtype=bool)
    for key in keys:
        earlier, later = key[:-1], key[1:]
        if (ties & (later < earlier)).any():
            return False
        ties &= later == earlier
        if not ties.any():
            break
    return True
