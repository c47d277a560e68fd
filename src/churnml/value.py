"""What a customer is worth: monthly margin, lifetime value and value at risk.

Three steps, each a plain function:

- :func:`~churnml.margin.monthly_margin` (:mod:`churnml.margin`, re-exported here) is the
  margin a customer earns the bank in the month of a cutoff, from what is known at the
  cutoff only: the spread on the balance held in each product type, plus fees on the open
  accounts, minus the cost to serve. :class:`~churnml.margin.MarginConfig` holds every
  rate; :func:`~churnml.margin.realised_margin` applies the same definition to each month
  after a cutoff, to check a valuation against what was actually earned.
- :func:`customer_lifetime_value` discounts that margin over the months a customer is
  expected to stay, from survival curves ``S(m)`` (the probability of no churn within ``m``
  months): ``CLV = sum_{m=1..H} margin * S(m) * v**m``, ``v = (1 + r) ** (-1 / 12)``.
  :func:`predict_lifetime_value` takes a fitted
  :class:`~churnml.survival.ChurnSurvivalModel` and its feature table instead of curves.
- **Value at risk** is the part of the value the customer takes away by churning within
  the churn horizon ``R`` (12 months by default): every discounted month of the CLV horizon
  that is lost when churn comes within ``R``,
  ``sum_{m=1..H} margin * (1 - S(min(m, R))) * v**m``.

The margin is held flat over the horizon: the valuation says what today's relationship is
worth if it lasts, not how balances will grow. See ``docs/value.md``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from churnml.errors import InputError
from churnml.margin import (
    MARGIN_COLUMNS,
    MONTHS_PER_YEAR,
    MarginConfig,
    _whole,
    monthly_margin,
    realised_margin,
)

__all__ = [
    "DEFAULT_ANNUAL_DISCOUNT_RATE",
    "MARGIN_COLUMNS",
    "VALUE_COLUMNS",
    "MarginConfig",
    "customer_lifetime_value",
    "discount_factors",
    "monthly_margin",
    "predict_lifetime_value",
    "realised_margin",
]

DEFAULT_ANNUAL_DISCOUNT_RATE = 0.10
"""Annual discount rate of the CLV: roughly a European retail bank's cost of equity."""
DEFAULT_HORIZON_MONTHS = 36
DEFAULT_CHURN_HORIZON_MONTHS = 12
# Survival curves may carry float noise of this size above 1 or along the months.
_CURVE_TOLERANCE = 1e-9
_SHOWN = 5

VALUE_COLUMNS = (
    "margin",
    "churn_probability",
    "expected_months",
    "clv_if_stays",
    "clv",
    "value_at_risk",
)
"""Columns of :func:`customer_lifetime_value`."""


def discount_factors(months: int, *, annual_discount_rate: float) -> np.ndarray:
    """Present value of one unit received at the end of each month ``1 .. months``.

    ``v**m`` with ``v = (1 + annual_discount_rate) ** (-1 / 12)``: monthly compounding
    equivalent to the annual rate.

    Parameters
    ----------
    months : int
        Number of months, at least 1.
    annual_discount_rate : float
        Greater than -1.

    Returns
    -------
    numpy.ndarray
        Shape ``(months,)``.

    Examples
    --------
    >>> discount_factors(12, annual_discount_rate=0.1)[[0, 11]].round(4).tolist()
    [0.9921, 0.9091]
    """
    horizon = _whole(months, "months")
    rate = float(annual_discount_rate)
    if not math.isfinite(rate) or rate <= -1:
        raise InputError(
            f"annual_discount_rate must be a finite number above -1, got {annual_discount_rate!r}"
        )
    steps = np.arange(1, horizon + 1, dtype=float)
    return np.asarray((1.0 + rate) ** (-steps / MONTHS_PER_YEAR))


def customer_lifetime_value(
    curves: pd.DataFrame,
    margin: pd.Series | pd.DataFrame,
    *,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE,
    churn_horizon_months: int = DEFAULT_CHURN_HORIZON_MONTHS,
) -> pd.DataFrame:
    """Lifetime value and value at risk from survival curves and a monthly margin.

    With ``S(m)`` the probability of no churn within ``m`` months, ``v**m`` the discount
    factor of month ``m`` (:func:`discount_factors`), ``H`` the horizon and ``R`` the churn
    horizon:

    - ``clv = margin * sum_{m=1..H} S(m) v**m``: a month's margin counts if the customer
      has not churned by its end;
    - ``clv_if_stays = margin * sum_{m=1..H} v**m``: the value if the customer never churns;
    - ``value_at_risk = margin * sum_{m=1..H} (1 - S(min(m, R))) v**m``: what churn within
      the next ``R`` months takes away, every month of the horizon from the churn on. With
      ``R >= H`` it is ``clv_if_stays - clv``;
    - ``churn_probability = 1 - S(min(R, H))``;
    - ``expected_months``: the area under ``S`` from 0 to ``H`` (``S(0) = 1``, linear in
      between, as :meth:`~churnml.survival.ChurnSurvivalModel.predict_expected_months`).

    A negative margin gives a negative value (and value at risk: churn would save money).

    Parameters
    ----------
    curves : pandas.DataFrame
        Rows = customers (any index, e.g. ``(customer_id, cutoff)``), columns = months
        after the cutoff holding ``S(m)`` for at least every whole month ``1 .. H``, as
        ``ChurnSurvivalModel.predict_survival_function(X, range(1, H + 1))`` returns; other
        month columns are ignored.
    margin : pandas.Series or pandas.DataFrame
        Monthly margin of every row of ``curves``: a Series indexed like ``curves``, or a
        frame with a ``margin`` column either indexed like ``curves`` or holding the index
        levels as columns (the output of :func:`monthly_margin`). Extra rows are ignored.
    horizon_months : int, default 36
        ``H``, at least 1.
    annual_discount_rate : float, default 0.10
        Above -1.
    churn_horizon_months : int, default 12
        ``R``, at least 1.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``curves``, columns :data:`VALUE_COLUMNS`.

    Raises
    ------
    InputError
        On a bad horizon or rate, curves that are not probabilities never rising along the
        months, missing months, or margins that do not cover the curves' rows.

    Examples
    --------
    >>> curves = pd.DataFrame([[0.9, 0.8], [1.0, 1.0]], index=pd.Index([7, 8], name="customer_id"),
    ...                       columns=[1, 2])
    >>> margin = pd.Series([10.0, 10.0], index=curves.index)
    >>> value = customer_lifetime_value(curves, margin, horizon_months=2, annual_discount_rate=0.0)
    >>> value[["clv", "clv_if_stays", "value_at_risk", "expected_months"]].round(2).values.tolist()
    [[17.0, 20.0, 3.0, 1.8], [20.0, 20.0, 0.0, 2.0]]
    """
    horizon = _whole(horizon_months, "horizon_months")
    risk_months = min(_whole(churn_horizon_months, "churn_horizon_months"), horizon)
    factors = discount_factors(horizon, annual_discount_rate=annual_discount_rate)
    survival = _curve_values(curves, horizon)
    money = _aligned_margin(margin, curves.index)
    months = np.arange(1, horizon + 1)
    lost = 1.0 - survival[:, np.minimum(months, risk_months) - 1]
    grid = np.hstack([np.ones((len(survival), 1)), survival])
    out = pd.DataFrame(
        {
            "margin": money,
            "churn_probability": lost[:, risk_months - 1],
            "expected_months": (grid[:, :-1] + grid[:, 1:]).sum(axis=1) / 2.0,
            "clv_if_stays": money * factors.sum(),
            "clv": money * (survival @ factors),
            "value_at_risk": money * (lost @ factors),
        },
        index=curves.index,
    )
    return out[list(VALUE_COLUMNS)]


def predict_lifetime_value(
    model: Any,
    X: Any,
    margin: pd.Series | pd.DataFrame,
    *,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE,
    churn_horizon_months: int = DEFAULT_CHURN_HORIZON_MONTHS,
) -> pd.DataFrame:
    """:func:`customer_lifetime_value` with the curves of a fitted survival model.

    The curves are ``model.predict_survival_function(X, range(1, H + 1))``. A
    :class:`~churnml.survival.ChurnSurvivalModel` learned the monthly hazard for
    ``max_months_`` months (the longest follow-up it was trained on); for later months of
    the horizon it carries the last learned hazard flat, so ``S`` falls geometrically
    there. A horizon far beyond ``max_months_`` rests on that assumption.

    Parameters
    ----------
    model : fitted ChurnSurvivalModel
        Or anything with ``predict_survival_function(X, months)``.
    X : pandas.DataFrame
        The model's features, indexed like ``margin`` (e.g. ``(customer_id, cutoff)``).
    margin, horizon_months, annual_discount_rate, churn_horizon_months
        As in :func:`customer_lifetime_value`.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``X``, columns :data:`VALUE_COLUMNS`.

    Examples
    --------
    >>> from churnml.survival import ChurnSurvivalModel
    >>> from churnml.training import survival_target
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"risk": rng.normal(size=300)})
    >>> months = rng.exponential(12 / np.exp(X["risk"]))
    >>> y = survival_target(months < 12, np.minimum(months, 12), unit="months")
    >>> model = ChurnSurvivalModel(n_estimators=20).fit(X, y)
    >>> value = predict_lifetime_value(model, X.head(3), pd.Series(50.0, index=X.index[:3]))
    >>> bool((value["clv"] <= value["clv_if_stays"]).all())
    True
    """
    horizon = _whole(horizon_months, "horizon_months")
    curves = model.predict_survival_function(X, np.arange(1, horizon + 1))
    return customer_lifetime_value(
        curves,
        margin,
        horizon_months=horizon,
        annual_discount_rate=annual_discount_rate,
        churn_horizon_months=churn_horizon_months,
    )


def _curve_values(curves: Any, horizon: int) -> np.ndarray:
    """``S(1) .. S(horizon)`` of each row, checked to be probabilities never rising."""
    if not isinstance(curves, pd.DataFrame):
        raise InputError(
            f"curves must be a DataFrame of S(m), one column per month; got {type(curves).__name__}"
        )
    numbers = pd.to_numeric(pd.Series(curves.columns, dtype="object"), errors="coerce")
    if numbers.isna().any():
        odd = [c for c, n in zip(curves.columns, numbers, strict=True) if pd.isna(n)]
        raise InputError(
            f"curves has columns {odd[:_SHOWN]} that are not months; keys such as "
            "customer_id belong in the index: curves.set_index([...])"
        )
    positions = pd.Index(numbers.to_numpy(dtype=float)).get_indexer(np.arange(1.0, horizon + 1))
    if (positions < 0).any():
        missing = (np.flatnonzero(positions < 0) + 1).tolist()
        raise InputError(
            f"curves lack months {missing[:_SHOWN]} of the horizon 1..{horizon}; ask the model "
            f"for them: predict_survival_function(X, range(1, {horizon + 1}))"
        )
    values = curves.iloc[:, positions].to_numpy(dtype=float)
    bad = ~np.isfinite(values).all(axis=1) | (values < 0).any(axis=1)
    bad |= (values > 1 + _CURVE_TOLERANCE).any(axis=1)
    bad |= (np.diff(values, axis=1) > _CURVE_TOLERANCE).any(axis=1)
    if bad.any():
        raise InputError(
            f"curves: {int(bad.sum())} rows are not survival probabilities in [0, 1] that never "
            f"rise along the months, e.g. rows {curves.index[bad][:_SHOWN].tolist()}"
        )
    return np.clip(values, 0.0, 1.0)


def _aligned_margin(margin: Any, index: pd.Index) -> np.ndarray:
    """The margin of each row of ``index``; every row needs exactly one."""
    names = list(index.names)
    if isinstance(margin, pd.DataFrame):
        if "margin" not in margin.columns:
            raise InputError(f"margin frame needs a 'margin' column, got {list(margin.columns)}")
        as_columns = all(n is not None for n in names) and set(names) <= set(margin.columns)
        margin = margin.set_index(names)["margin"] if as_columns else margin["margin"]
    if not isinstance(margin, pd.Series):
        raise InputError(f"margin must be a Series or a DataFrame, got {type(margin).__name__}")
    if list(margin.index.names) != names:
        raise InputError(
            f"margin is indexed by {list(margin.index.names)} but the curves by {names}; "
            "index both by the same keys (e.g. customer_id and cutoff)"
        )
    if margin.index.has_duplicates:
        twice = margin.index[margin.index.duplicated()].unique()
        raise InputError(f"margin has more than one row for {twice[:_SHOWN].tolist()}")
    positions = margin.index.get_indexer(index)
    if (positions < 0).any():
        absent = index[positions < 0]
        raise InputError(
            f"margin has no row for {len(absent)} of the curves' {len(index)} rows, e.g. "
            f"{absent[:_SHOWN].tolist()}"
        )
    values = pd.to_numeric(margin, errors="coerce").to_numpy(dtype=float)[positions]
    if not np.isfinite(values).all():
        raise InputError(
            f"margin must be finite numbers; rows {index[~np.isfinite(values)][:_SHOWN].tolist()}"
        )
    return values
