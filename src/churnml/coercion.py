"""Coercion of a bank's raw columns to the contract's types.

Each column of the contract has a kind (id, date, float, int, code, text). This module
turns whatever arrived (text from CSV, Arrow or numpy types, timezone-aware timestamps)
into one normalised type per kind, or raises a :class:`~churnml.errors.SchemaError`
naming the table, the column and offending rows. Value rules (ranges, keys) are in
:mod:`churnml.schemas`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from churnml.schemas import VOCABULARIES, ColumnSpec, reject

__all__ = ["coerce_column"]

# Coded columns whose case and spacing carry no meaning, but where unknown values are errors.
_CASE_FOLDED = {("accounts", "close_reason")}
# A trailing UTC offset; dropping it keeps a timestamp's local wall-clock time.
_UTC_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"
_DATE_RANGE = "1677-09-22..2262-04-11"  # what datetime64[ns] can hold


def coerce_column(
    frame: pd.DataFrame, table: str, column: ColumnSpec, notes: list[str]
) -> pd.Series:
    """One column of ``frame`` as the contract's type for its kind.

    A missing optional column comes back empty; notes about values mapped to ``other``
    are appended to ``notes`` (warned about only once the whole load has succeeded).
    """
    vocabulary = VOCABULARIES.get((table, column.name), ())
    if column.name not in frame.columns:
        return _empty(column.kind, len(frame), vocabulary)
    values = frame[column.name].reset_index(drop=True)
    if column.kind == "code":
        coded, note = _to_vocabulary(values, vocabulary, table, column.name)
        if note:
            notes.append(note)
        return coded
    if column.kind == "id":
        return _coerce_id(values, table, column.name)
    if column.kind == "date":
        return _coerce_dates(values, table, column.name)
    if column.kind in ("float", "int"):
        return _coerce_numbers(values, table, column.name, column.kind)
    return _clean_text(values, fold_case=(table, column.name) in _CASE_FOLDED)


def _empty(kind: str, n_rows: int, vocabulary: tuple[str, ...]) -> pd.Series:
    if kind == "date":
        return pd.Series(np.full(n_rows, np.datetime64("NaT", "ns")))
    if kind == "float":
        return pd.Series(np.full(n_rows, np.nan))
    if kind == "int":
        return pd.Series(np.full(n_rows, np.nan)).astype("Int64")
    if kind == "code":
        codes = np.full(n_rows, -1, dtype=np.int64)
        return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(vocabulary)))
    return pd.Series(np.full(n_rows, None, dtype=object))


def _coerce_id(values: pd.Series, table: str, column: str) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if values.isna().any():
        # Left for the value checks, which report the empty keys with examples.
        return values.astype(object).where(values.notna(), None)
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred == "integer":
        return values.astype("int64")
    if inferred in ("floating", "mixed-integer-float", "decimal"):
        return _whole_numbers(_finite_numbers(values, table, column), table, column).astype("int64")
    reject(
        inferred == "boolean", values, table, column, "ids must be integers or text, not booleans"
    )
    # Text ids keep their type, even when they look like numbers: "007" is not 7.
    return _clean_text(values, fold_case=False)


def _coerce_dates(values: pd.Series, table: str, column: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = _without_timezone(values)
        too_far = (parsed < pd.Timestamp.min) | (parsed > pd.Timestamp.max)
        reject(too_far, values, table, column, f"date(s) outside {_DATE_RANGE}")
    elif pd.api.types.is_numeric_dtype(values):
        problem = f"value(s) are numbers ({values.dtype}), not dates; give ISO text or datetimes"
        reject(values.notna(), values, table, column, problem)
        parsed = pd.Series(np.full(len(values), np.datetime64("NaT", "ns")))
    else:
        parsed = _parse_dates(values, table, column)
    parsed = parsed.astype("datetime64[ns]")
    return parsed if column == "ts" else parsed.dt.normalize()


def _parse_dates(values: pd.Series, table: str, column: str) -> pd.Series:
    parsed = _iso_datetimes(values)
    failed = parsed.isna() & values.notna()
    if failed.any():
        # Second chance for the few rows that failed: surrounding spaces, or blanks (missing).
        text = values[failed].astype(str).str.strip()
        retried = _iso_datetimes(text[text != ""])
        parsed[retried.index] = retried
        bad = values.index.isin(retried.index[retried.isna()])
        problem = f"value(s) are not ISO dates such as 2024-01-31 (or are outside {_DATE_RANGE})"
        reject(bad, values, table, column, problem)
    return parsed


def _iso_datetimes(values: pd.Series) -> pd.Series:
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*mixed time zones", FutureWarning)
        try:
            parsed = pd.to_datetime(values, format="ISO8601", errors="coerce")
        except FutureWarning:
            # Offsets differ between rows: keep each row's local wall-clock time, as for
            # a column in one time zone.
            local = values.astype(str).str.replace(_UTC_OFFSET, "", regex=True)
            parsed = pd.to_datetime(local, format="ISO8601", errors="coerce")
    return _without_timezone(parsed)


def _without_timezone(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_localize(None)
    return values


def _coerce_numbers(values: pd.Series, table: str, column: str, kind: str) -> pd.Series:
    reject(
        pd.api.types.is_bool_dtype(values),
        values,
        table,
        column,
        "the values are booleans, not numbers",
    )
    numbers = _finite_numbers(values, table, column)
    return numbers if kind == "float" else _whole_numbers(numbers, table, column).astype("Int64")


def _finite_numbers(values: pd.Series, table: str, column: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = values.notna().to_numpy() & ~np.isfinite(numbers.to_numpy())
    if bad.any():  # blank text is a missing number, not a bad one
        bad[bad] = values[bad].astype(str).str.strip().to_numpy() != ""
    reject(bad, values, table, column, "value(s) are not finite numbers")
    return numbers


def _whole_numbers(numbers: pd.Series, table: str, column: str) -> pd.Series:
    fractional = numbers.notna() & (numbers != np.floor(numbers))
    reject(fractional, numbers, table, column, "value(s) are not whole numbers")
    return numbers


def _clean_text(values: pd.Series, *, fold_case: bool) -> pd.Series:
    # Clean the distinct values only, then spread them back over the rows.
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = pd.Index(uniques).astype(str).str.strip()
    if fold_case:
        text = text.str.lower()
    labels = np.concatenate([text.to_numpy(dtype=object), np.array([None])])
    labels[np.flatnonzero(text == "")] = None  # blank text is missing text
    return pd.Series(labels[codes], index=values.index, dtype=object)


def _to_vocabulary(
    values: pd.Series, vocabulary: tuple[str, ...], table: str, column: str
) -> tuple[pd.Series, str | None]:
    # Factorise first so that mapping costs one pass over the distinct values only.
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    cleaned = pd.Index(uniques).astype(str).str.strip().str.lower()
    blank = np.asarray(cleaned == "")
    known = np.asarray(cleaned.isin(vocabulary))
    unknown = ~known & ~blank
    note = None
    if unknown.any():
        n_unknown = int(np.append(unknown, False)[codes].sum())
        shown = ", ".join(repr(v) for v in np.asarray(uniques, dtype=object)[unknown][:5])
        note = (
            f"table '{table}', column '{column}': {n_unknown} row(s) with values outside "
            f"the contract ({shown}) are counted as 'other'"
        )
    category_codes = pd.Index(vocabulary).get_indexer(pd.Index(np.where(known, cleaned, "other")))
    category_codes[blank] = -1  # blank is missing, not 'other'
    # code -1 (missing) indexes the appended -1, so missing stays missing.
    out_codes = np.append(category_codes, -1)[codes].astype(np.int64)
    categorical = pd.Categorical.from_codes(out_codes, categories=pd.Index(vocabulary))
    return pd.Series(categorical, index=values.index), note
