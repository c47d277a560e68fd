"""Survival metrics from scikit-survival, guarded against its censoring pitfall.

They take scikit-survival structured arrays (event, duration), risk scores (higher = sooner
churn) and survival curves (a DataFrame, one row per customer, one column per evaluation
time). :func:`usable_times` keeps evaluation times where the censoring distribution can be
estimated.

Units: a target built by :func:`~churnml.training.survival_target` names its unit
(``duration_days``), and the models' curves name theirs (a column index called ``month``).
Curves are read in the targets' unit, converted when both say their unit; when only one of
them says it, or the two targets disagree, that is an error, never a silently different
number. Plain scikit-survival targets and unnamed columns are taken to share one unit.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sksurv.metrics import (
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)
from sksurv.nonparametric import CensoringDistributionEstimator
from sksurv.util import check_y_survival

from churnml.errors import InputError
from churnml.units import axis_unit, convert, target_unit

__all__ = [
    "harrell_c",
    "integrated_brier",
    "survival_report",
    "time_dependent_auc",
    "uno_c",
    "usable_times",
]

Array = npt.NDArray[Any]


def _target(y: Any, name: str) -> tuple[Array, Array]:
    """Event indicator and duration of a scikit-survival target, checked."""
    try:
        return check_y_survival(y)
    except (TypeError, ValueError) as err:
        raise InputError(
            f"{name} must be a structured array (event: bool, duration: float) with an "
            f"event, e.g. from sksurv.util.Surv.from_arrays: {err}"
        ) from err


def _risk(risk: npt.ArrayLike, n: int) -> Array:
    r = np.asarray(risk, dtype=float)
    if r.shape != (n,) or not np.isfinite(r).all():
        raise InputError(f"risk must be {n} finite scores, one per test sample, got {r.shape}")
    return r


def _times(times: Any) -> Array:
    try:
        t = np.asarray(times, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"evaluation times must be durations (numbers): {err}") from err
    if t.ndim != 1 or len(t) == 0 or not np.isfinite(t).all() or (np.diff(t) <= 0).any():
        raise InputError(f"evaluation times must be finite and strictly increasing, got {t}")
    return t


def harrell_c(y: Any, risk: npt.ArrayLike) -> float:
    """Harrell's concordance index (scikit-survival's ``concordance_index_censored``).

    Parameters
    ----------
    y : structured array
        Survival targets (event, duration).
    risk : array-like of float
        Risk scores, higher = sooner churn.

    Returns
    -------
    float
        Share of comparable pairs ordered correctly, ties in risk counting half.

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> harrell_c(Surv.from_arrays([True, False, True], [1.0, 2.0, 3.0]), [3.0, 2.0, 1.0])
    1.0
    """
    event, time = _target(y, "y")
    return float(concordance_index_censored(event, time, _risk(risk, len(time)))[0])


def _censoring_bound(y_train: Any) -> float:
    """Duration from which the censoring Kaplan-Meier of ``y_train`` is 0 or undefined."""
    _, time = _target(y_train, "y_train")
    km = CensoringDistributionEstimator().fit(y_train)
    return float(min(time.max(), km.unique_time_[km.prob_ <= 0].min(initial=np.inf)))


def _select(
    y_train: Any, y_test: Any, times: Array, *, cases: bool, warn: bool = True
) -> tuple[Array, float]:
    """Mask of the usable ``times`` and the censoring bound; warns when some are dropped."""
    bound = _censoring_bound(y_train)
    event, time = _target(y_test, "y_test")
    low, high = (time[event] if cases else time).min(), min(bound, time.max())
    keep = (times >= low) & (times < high)
    why = (
        f"scikit-survival's IPCW metrics need times in [{low:g}, {high:g}), from the first "
        f"test {'event' if cases else 'duration'} to before the last test or training "
        "duration (the censoring Kaplan-Meier of y_train ends or drops to 0 there)"
    )
    if not keep.any():
        raise InputError(f"none of the evaluation times {times} is usable: {why}")
    if warn and not keep.all():
        # stacklevel 3: the user's call of the public function that called this helper.
        dropped = f"dropped {(~keep).sum()} of {len(times)} times {times[~keep][:5]}"
        warnings.warn(f"{dropped}: {why}", stacklevel=3)
    return keep, bound


def _truncate(y: Any, bound: float) -> Any:
    """Censor ``y`` at ``bound``; IPCW metrics at earlier times do not change."""
    event, time = check_y_survival(y)
    # Float durations: an integer field would round the bound down, below a kept time.
    out = np.empty(len(time), dtype=[(y.dtype.names[0], bool), (y.dtype.names[1], float)])
    out[y.dtype.names[0]] = event & (time < bound)
    out[y.dtype.names[1]] = np.minimum(time, bound)
    return out


def usable_times(y_train: Any, y_test: Any, times: npt.ArrayLike, *, warn: bool = True) -> Array:
    """Evaluation times at which scikit-survival's IPCW metrics are defined.

    scikit-survival estimates the censoring distribution from ``y_train`` by Kaplan-Meier:
    from the last training duration on it is zero when that duration is censored and
    undefined otherwise, and times must also lie within the test follow-up. At other times
    the metrics raise or silently drop weight, so only times in ``[first test duration,
    min(last test duration, last training duration))`` are kept.

    Parameters
    ----------
    y_train, y_test : structured array
        Survival targets (event, duration).
    times : array-like of float
        Strictly increasing evaluation times.
    warn : bool, default True
        Warn when times are dropped; False when the call is meant to filter them.

    Returns
    -------
    numpy.ndarray
        The usable times; raises InputError if none remain.

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([True, True, False], [1.0, 2.0, 3.0])
    >>> usable_times(y, y, [1.0, 2.0])
    array([1., 2.])
    """
    t = _in_target_unit(times, _unit(y_train, y_test), "evaluation")
    return t[_select(y_train, y_test, t, cases=False, warn=warn)[0]]


def uno_c(y_train: Any, y_test: Any, risk: npt.ArrayLike, *, tau: float | None = None) -> float:
    """Uno's IPCW concordance index up to ``tau`` (``concordance_index_ipcw``).

    Parameters
    ----------
    y_train, y_test : structured array
        Survival targets (event, duration); ``y_train`` gives the censoring distribution.
    risk : array-like of float
        Test risk scores, higher = sooner churn.
    tau : float, optional
        Pairs whose earlier duration is at or after ``tau`` are ignored. Defaults to, and
        is capped (with a warning) at, the last training duration (see :func:`usable_times`).

    Returns
    -------
    float
        The concordance index.

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([True, True, False], [1.0, 2.0, 3.0])
    >>> uno_c(y, y, [3.0, 2.0, 1.0])
    1.0
    """
    bound = _censoring_bound(y_train)
    _, time = _target(y_test, "y_test")
    if tau is not None and tau > bound:
        message = f"tau={tau:g} capped at {bound:g}, where the censoring Kaplan-Meier ends"
        warnings.warn(message, stacklevel=2)
    tau = bound if tau is None else min(tau, bound)
    return float(concordance_index_ipcw(y_train, y_test, _risk(risk, len(time)), tau=tau)[0])


def _unit(y_train: Any, y_test: Any) -> str | None:
    """The unit both targets declare (None when neither does); a disagreement raises."""
    train, test = target_unit(y_train, name="y_train"), target_unit(y_test, name="y_test")
    if train != test:
        raise InputError(
            f"y_train's durations are in {train or 'an unnamed unit'} but y_test's in "
            f"{test or 'an unnamed unit'}: build both with the same unit"
        )
    return train


def _in_target_unit(times: Any, unit: str | None, what: str) -> Array:
    """Evaluation times in the targets' unit: converted from the unit their index names."""
    t = _times(times)
    axis = axis_unit(times)
    if axis is not None and unit is not None:
        return convert(t, axis, unit)
    if axis is not None or (unit is not None and what == "survival"):
        raise InputError(
            f"the {what} times are in {axis or 'an unnamed unit'} but the targets' durations "
            f"in {unit or 'an unnamed unit'}: build the targets with "
            "churnml.training.survival_target(..., unit=...) and pass the model's curves as "
            "predict_survival_function returns them (columns named 'month')"
        )
    return t


def _curves(survival: pd.DataFrame, n: int, unit: str | None) -> tuple[Array, Array]:
    if not isinstance(survival, pd.DataFrame) or len(survival) != n:
        raise InputError(f"survival must be a DataFrame with one row per test sample ({n})")
    values = survival.to_numpy(dtype=float)
    if not ((values >= 0) & (values <= 1)).all():
        raise InputError("survival probabilities must be in [0, 1], without NaN")
    return _in_target_unit(survival.columns, unit, "survival"), values


def _ibs(y_train: Any, y_test: Any, values: Array, times: Array, bound: float) -> float:
    if len(times) < 2:
        raise InputError(f"the integrated Brier score needs two usable times, got {times}")
    return float(integrated_brier_score(y_train, _truncate(y_test, bound), values, times))


def integrated_brier(y_train: Any, y_test: Any, survival: pd.DataFrame) -> float:
    """Integrated Brier score (scikit-survival) over the DataFrame's time columns.

    Times outside :func:`usable_times` are dropped with a warning, and ``y_test`` is censored
    at the last training duration: the Brier scores at the kept times do not change, but
    later test durations no longer make scikit-survival raise.

    Parameters
    ----------
    y_train, y_test : structured array
        Survival targets (event, duration).
    survival : pandas.DataFrame
        Predicted S(t), one row per test sample, one column per time (increasing), e.g.
        a model's ``predict_survival_function`` (columns in months, converted to the
        targets' unit).

    Returns
    -------
    float
        The IBS; lower is better, 0.25 for a constant S = 0.5.

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([True, True, False], [1.0, 2.0, 3.0])
    >>> integrated_brier(y, y, pd.DataFrame({1.0: [0.5] * 3, 2.0: [0.5] * 3}))
    0.25
    """
    _, time = _target(y_test, "y_test")
    times, values = _curves(survival, len(time), _unit(y_train, y_test))
    keep, bound = _select(y_train, y_test, times, cases=False)
    return _ibs(y_train, y_test, values[:, keep], times[keep], bound)


def _auc(
    y_train: Any, y_test: Any, r: Array, times: Array, bound: float
) -> tuple[pd.Series, float]:
    auc, mean_auc = cumulative_dynamic_auc(y_train, _truncate(y_test, bound), r, times)
    return pd.Series(auc, index=pd.Index(times, name="time"), name="auc"), float(mean_auc)


def time_dependent_auc(
    y_train: Any, y_test: Any, risk: npt.ArrayLike, times: npt.ArrayLike
) -> tuple[pd.Series, float]:
    """Cumulative/dynamic AUC by time and its mean (``cumulative_dynamic_auc``).

    Times before the first test event (no churner yet) or outside :func:`usable_times` are
    dropped with a warning; ``y_test`` is censored as in :func:`integrated_brier`.

    Parameters
    ----------
    y_train, y_test : structured array
        Survival targets (event, duration).
    risk : array-like of float
        Test risk scores, higher = sooner churn.
    times : array-like of float
        Strictly increasing evaluation times, in the targets' unit (an index named
        ``month``, ``day`` or ``year`` is converted).

    Returns
    -------
    auc : pandas.Series
        AUC indexed by the times kept.
    mean_auc : float
        Their mean, weighted by the test Kaplan-Meier.

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([True, True, False], [1.0, 2.0, 3.0])
    >>> time_dependent_auc(y, y, [3.0, 2.0, 1.0], [1.0, 2.0])[1]
    1.0
    """
    _, time = _target(y_test, "y_test")
    r, t = _risk(risk, len(time)), _in_target_unit(times, _unit(y_train, y_test), "evaluation")
    keep, bound = _select(y_train, y_test, t, cases=True)
    return _auc(y_train, y_test, r, t[keep], bound)


def survival_report(
    y_train: Any, y_test: Any, risk: npt.ArrayLike, survival: pd.DataFrame
) -> dict[str, float]:
    """Every survival metric of a churn model, in one dict.

    Parameters
    ----------
    y_train, y_test : structured array
        Survival targets (event, duration); ``y_train`` gives the censoring distribution.
    risk : array-like of float
        Test risk scores, higher = sooner churn.
    survival : pandas.DataFrame
        Predicted S(t) of the test samples, one column per time (increasing).

    Returns
    -------
    dict of str to float
        ``harrell_c``, ``uno_c`` (up to ``tau``), ``ibs``, ``mean_auc``, ``tau`` and the
        times kept for IBS and AUC (as in :func:`time_dependent_auc`): ``t_first``,
        ``t_last``, ``n_times``.

    Examples
    --------
    >>> from sksurv.util import Surv
    >>> y = Surv.from_arrays([True, True, False], [1.0, 2.0, 3.0])
    >>> curves = pd.DataFrame({1.0: [0.5, 0.8, 0.9], 2.0: [0.2, 0.5, 0.8]})
    >>> report = survival_report(y, y, [3.0, 2.0, 1.0], curves)
    >>> report["harrell_c"], report["mean_auc"], report["n_times"]
    (1.0, 1.0, 2.0)
    """
    _, time = _target(y_test, "y_test")
    r = _risk(risk, len(time))
    times, values = _curves(survival, len(time), _unit(y_train, y_test))
    keep, bound = _select(y_train, y_test, times, cases=True)
    kept = times[keep]
    return {
        "harrell_c": harrell_c(y_test, r),
        "uno_c": uno_c(y_train, y_test, r),
        "ibs": _ibs(y_train, y_test, values[:, keep], kept, bound),
        "mean_auc": _auc(y_train, y_test, r, kept, bound)[1],
        "tau": bound,
        "t_first": float(kept[0]),
        "t_last": float(kept[-1]),
        "n_times": float(len(kept)),
    }
