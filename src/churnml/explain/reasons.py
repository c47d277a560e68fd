"""Reasons a relationship manager reads: the features that most raised a customer's score.

Each reason is a feature with a positive SHAP contribution (:mod:`.contributions`), the
largest first, written with the phrase its catalogue entry carries
(:class:`~churnml.features.catalogue.Reason`), the customer's own value and the typical
customer's: "assets 64% below their 12-month peak, typical customer 8%". The typical
value is the median of a reference population (the mode for a category), by default the
rows being explained; a scoring job passes the one it stored at training
(:func:`typical_values` of the training rows), so a customer's reasons do not depend on
who else is scored that day.

Features with no positive contribution give no reason: a customer whose score is below
the base rate may have fewer than ``k``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from churnml.errors import InputError, ReasonWarning
from churnml.explain.contributions import CHUNK_ROWS, _fitted_classifier, iter_contributions
from churnml.features.catalogue import Reason

__all__ = ["REASONS_SEPARATOR", "catalogue_reasons", "top_reasons", "typical_values", "write"]

REASONS_SEPARATOR = "; "
# The phrase of a missing value when the feature's reason does not give one.
_FAMILY_MISSING = {
    "trend": "no balance history for this measure",
    "peak": "no balance history for this measure",
    "flows": "no payments recorded for this measure",
    "products": "no accounts recorded for this measure",
    "complaints": "no complaint record for this measure",
    "profile": "not in the customer file",
}
# A few customers' medians are a poor "typical customer".
_FEW_REFERENCE_ROWS = 30


def catalogue_reasons() -> dict[str, Reason]:
    """The reason phrase of every catalogue feature, by feature name.

    Examples
    --------
    >>> catalogue_reasons()["peak__current_to_peak__12m"].text
    'assets {value} below their 12-month peak'
    """
    from churnml.features.build import feature_specs

    return {spec.name: spec.reason for spec in feature_specs(None) if spec.reason is not None}


def write(values: Any, unit: str) -> np.ndarray:
    """Values as a reason writes them, one string per value ("" for a missing one).

    Parameters
    ----------
    values : array-like
        Feature values (numbers, or text for ``"category"``).
    unit : str
        One of :data:`~churnml.features.catalogue.REASON_UNITS`.

    Returns
    -------
    numpy.ndarray of str

    Examples
    --------
    >>> write([0.36, 1.0], "shortfall").tolist()
    ['64%', '0%']
    >>> write([-0.5, 2.0], "change").tolist()
    ['-50%', '+200%']
    >>> write([12500.4, float("nan")], "money").tolist()
    ['12,500', '']
    """
    series = pd.Series(values, dtype=object if unit == "category" else "float64")
    present = series.notna().to_numpy()
    out = np.full(len(series), "", dtype=object)
    if unit == "category":
        out[present] = series[present].astype(str).to_numpy()
        return out
    number = series.to_numpy(dtype="float64")[present]
    out[present] = [_FORMATS[unit](v) for v in number]
    return out


_FORMATS = {
    "number": lambda v: f"{v:,.4g}",
    "count": lambda v: f"{v:,.0f}",
    "money": lambda v: f"{v:,.0f}",
    "share": lambda v: f"{v:.0%}",
    "shortfall": lambda v: f"{max(1.0 - v, 0.0):.0%}",
    "change": lambda v: f"{v:+.0%}",
    "rate": lambda v: f"{v:+.1%}",
    "days": lambda v: f"{v:,.0f}",
    "months": lambda v: f"{v:,.0f}",
    "years": lambda v: f"{v:,.0f}",
    "level": lambda v: f"{v:.0f}",
    "yes_no": lambda v: "yes" if v >= 0.5 else "no",
}


def typical_values(X: pd.DataFrame) -> pd.Series:
    """The typical customer: each feature's median (a category's most common value).

    Parameters
    ----------
    X : pandas.DataFrame
        Reference rows, e.g. the training rows of the latest cutoff.

    Returns
    -------
    pandas.Series
        One value per column of ``X`` (object dtype); missing when a column has no values.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [30.0, 40.0, 70.0], "region": ["north", "south", "south"]})
    >>> typical_values(X).to_dict()
    {'age': 40.0, 'region': 'south'}
    """
    if not isinstance(X, pd.DataFrame):
        raise InputError(f"typical_values needs a DataFrame of features, got {type(X).__name__}")
    out: dict[Any, Any] = {}
    for name in X.columns:
        column = X[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            out[name] = float(column.astype("float64").median()) if column.notna().any() else None
        else:
            counts = column.astype("string").value_counts(sort=False)
            # Most common first; ties go to the first in sorted order, so the result is stable.
            out[name] = str(counts.sort_index().idxmax()) if len(counts) else None
    return pd.Series(out, dtype=object, name="typical")


def top_reasons(
    model: Any,
    X: pd.DataFrame,
    *,
    k: int = 3,
    typical: pd.Series | None = None,
    reasons: Mapping[str, Reason] | None = None,
    chunk_size: int = CHUNK_ROWS,
) -> pd.DataFrame:
    """The ``k`` features that most raised each customer's score, in words and numbers.

    Parameters
    ----------
    model : ChurnClassifier
        The fitted classifier whose scores are shown.
    X : pandas.DataFrame
        The customers' features (e.g. a ``build_features`` table), indexed by customer.
    k : int, default 3
        Reasons per customer.
    typical : pandas.Series, optional
        The typical customer (:func:`typical_values` of reference rows); by default the
        rows of ``X``, with a :class:`~churnml.errors.ReasonWarning` when they are few.
    reasons : mapping of str to Reason, optional
        Phrases for features outside the catalogue (a flat table's own columns), or to
        replace catalogue ones. Features with none are written ``name: value``, with a
        :class:`~churnml.errors.ReasonWarning`.
    chunk_size : int, default 50,000
        Rows explained at a time; memory is about ``chunk_size x features x 8`` bytes.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``X``: ``top_reasons`` (the reasons joined by ``"; "``, most
        important first; empty when no feature raised the score), then for each
        ``i = 1 .. k`` the text ``reason_i``, the feature ``reason_i_feature`` and its
        contribution to the log-odds ``reason_i_contribution`` (missing past the last
        reason).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from churnml.classifier import ChurnClassifier
    >>> from churnml.features.catalogue import Reason
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"complaints": rng.poisson(0.5, 3000).astype(float),
    ...                   "noise": rng.normal(size=3000)})
    >>> y = (X["complaints"] + rng.normal(scale=0.5, size=3000) > 1.5).astype(int)
    >>> model = ChurnClassifier(n_estimators=40).fit(X, y)
    >>> phrases = {"complaints": Reason("{value} open complaints", "count"),
    ...            "noise": Reason("noise at {value}", "money")}
    >>> out = top_reasons(model, X.head(2000), k=1, reasons=phrases)
    >>> out.loc[X["complaints"].head(2000).idxmax(), "top_reasons"]
    '3 open complaints, typical customer 0'
    """
    model = _fitted_classifier(model)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"k must be a whole number of reasons, at least 1, got {k!r}")
    if not isinstance(X, pd.DataFrame):
        raise InputError(f"top_reasons needs a DataFrame of features, got {type(X).__name__}")
    model.frame_.view(X.head(0))  # the model's columns are there, or a clear error
    columns = list(model.frame_.columns)
    k = min(int(k), len(columns))
    phrases = _phrases(columns, reasons, set(model.frame_.categories))
    typical_text = _typical_text(columns, phrases, _typical(X, typical, columns))
    parts = []
    for _, view, values in iter_contributions(model, X, chunk_size=chunk_size):
        parts.append(_chunk_reasons(view, values[:, :-1], k, columns, phrases, typical_text))
        del values
    frame = (
        pd.concat(parts, ignore_index=True)
        if parts
        else _chunk_reasons(
            model.frame_.view(X), np.empty((0, len(columns))), k, columns, phrases, typical_text
        )
    )
    frame.index = X.index
    return frame


def _typical(X: pd.DataFrame, typical: pd.Series | None, columns: list[Any]) -> pd.Series:
    if typical is None:
        if len(X) < _FEW_REFERENCE_ROWS:
            warnings.warn(
                f"the typical customer is taken from the {len(X)} rows being explained; pass "
                "typical=typical_values(reference_rows) (e.g. the training rows) for reasons "
                "that compare with a stable population",
                ReasonWarning,
                stacklevel=3,
            )
        return typical_values(X[columns])
    if not isinstance(typical, pd.Series):
        raise InputError(f"typical must be a Series (typical_values(...)), got {type(typical)}")
    missing = [name for name in columns if name not in typical.index]
    if missing:
        raise InputError(
            f"typical has no value for {len(missing)} of the model's features, e.g. "
            f"{missing[:5]}; make it with typical_values() of rows with the model's columns"
        )
    return typical


def _phrases(
    columns: list[Any], reasons: Mapping[str, Reason] | None, categories: set[Any]
) -> list[Reason]:
    known = catalogue_reasons() | dict(reasons or {})
    unknown = [name for name in columns if str(name) not in known]
    if unknown:
        warnings.warn(
            f"{len(unknown)} of the model's {len(columns)} features have no reason phrase in "
            f"the catalogue and are written 'name: value', e.g. {unknown[:5]}; pass "
            "reasons={name: Reason(...)} to phrase them",
            ReasonWarning,
            stacklevel=3,
        )
    return [
        known.get(str(name))
        or Reason(
            f"{name}: {{value}}",
            "category" if name in categories else "number",
            missing=f"{name}: unknown",
        )
        for name in columns
    ]


def _typical_text(columns: list[Any], phrases: list[Reason], typical: pd.Series) -> list[str]:
    """Each feature's ", typical customer ..." suffix (empty for categories)."""
    out = []
    for name, phrase in zip(columns, phrases, strict=True):
        value = typical.get(name)
        written = (
            "" if value is None or phrase.unit == "category" else write([value], phrase.unit)[0]
        )
        out.append(f", typical customer {written}" if written else "")
    return out


def _missing_text(name: Any, phrase: Reason) -> str:
    if phrase.missing:
        return phrase.missing
    return _FAMILY_MISSING.get(str(name).split("__", 1)[0], f"{name}: unknown")


def _chunk_reasons(
    view: pd.DataFrame,
    contributions: np.ndarray,
    k: int,
    columns: list[Any],
    phrases: list[Reason],
    typical_text: list[str],
) -> pd.DataFrame:
    n = len(contributions)
    # The k largest contributions of each row, largest first; only positive ones count.
    if n:
        top = np.argpartition(-contributions, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(contributions, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
    else:
        top = np.empty((0, k), dtype=int)
    size = np.take_along_axis(contributions, top, axis=1) if n else np.empty((0, k))
    raised = size > 0
    texts = np.full((n, k), "", dtype=object)
    for position in range(k):
        chosen = top[:, position]
        for feature in np.unique(chosen[raised[:, position]]):
            rows = np.flatnonzero((chosen == feature) & raised[:, position])
            texts[rows, position] = _sentences(
                view.iloc[rows, feature], phrases[feature], columns[feature], typical_text[feature]
            )
    out: dict[str, Any] = {
        "top_reasons": [REASONS_SEPARATOR.join(t for t in row if t) for row in texts]
    }
    names = np.asarray([str(c) for c in columns], dtype=object)
    for position in range(k):
        shown = raised[:, position]
        text = texts[:, position].copy()
        text[~shown] = None
        feature = names[top[:, position]]
        feature[~shown] = None
        out[f"reason_{position + 1}"] = text
        out[f"reason_{position + 1}_feature"] = feature
        out[f"reason_{position + 1}_contribution"] = np.where(shown, size[:, position], np.nan)
    return pd.DataFrame(out)


def _sentences(values: pd.Series, phrase: Reason, name: Any, typical: str) -> np.ndarray:
    written = write(values.to_numpy(dtype=object), phrase.unit)
    present = values.notna().to_numpy()
    out = np.empty(len(values), dtype=object)
    out[present] = [phrase.phrase(v) + typical for v in written[present]]
    out[~present] = _missing_text(name, phrase)
    return out
