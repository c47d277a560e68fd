"""Classification metrics: ranking, calibration, lift and capture, expected profit.

They take churn labels (0/1 or bool, 1 = churn) and churn probabilities. The standard metrics
come from scikit-learn and empulse; churnml adds input checks, lift and capture, and ECE on
quantile bins.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from churnml.errors import InputError

__all__ = [
    "TOP_DECILE",
    "capture_rate_at",
    "classification_report",
    "empc",
    "empc_target_fraction",
    "expected_calibration_error",
    "lift_at",
]

TOP_DECILE = 0.1
# fraction * n is rounded to this many decimals before ceil, so 0.1 * 30 targets 3 rows, not 4.
_FRACTION_DECIMALS = 9
Array = npt.NDArray[Any]


def _binary(y_true: npt.ArrayLike, score: npt.ArrayLike, *, proba: bool) -> tuple[Array, Array]:
    """Labels as 0/1 ints and scores as floats, checked."""
    y, s = np.asarray(y_true), np.asarray(score, dtype=float)
    if y.ndim != 1 or s.shape != y.shape or len(y) == 0:
        raise InputError(
            f"y_true and scores must be non-empty 1-D arrays of one length, got shapes "
            f"{y.shape} and {s.shape}"
        )
    if not np.isin(y, [0, 1]).all():
        raise InputError(f"y_true must hold 0/1 or bool (1 = churn), got {np.unique(y)[:5]}")
    bad = ~np.isfinite(s) | (proba & ((s < 0) | (s > 1)))
    if bad.any():
        what = "probabilities are NaN or outside [0, 1]" if proba else "scores are not finite"
        raise InputError(f"{bad.sum()} {what}, e.g. at rows {np.flatnonzero(bad)[:5].tolist()}")
    return y.astype(int), s


def _check_classes(y: Array, *, negatives: bool) -> None:
    """Raise unless y has a churner (and, when ``negatives``, a non-churner)."""
    if y.sum() == 0 or (negatives and y.sum() == len(y)):
        needs = "churners and non-churners" if negatives else "at least one churner"
        raise InputError(f"y_true has a single class (all {y[0]}): the metric needs {needs}")


def expected_calibration_error(
    y_true: npt.ArrayLike, proba: npt.ArrayLike, *, n_bins: int = 10
) -> float:
    """Expected calibration error over equal-frequency bins.

    The mean over bins of ``|mean probability - churn rate|``, weighted by the bins' shares
    of rows. Bins are quantiles of ``proba``, with edges and assignment as in
    ``sklearn.calibration.calibration_curve(strategy="quantile")`` (tied probabilities stay
    in one bin). Churn is rare: equal-width bins would put nearly everyone into one bin.

    Parameters
    ----------
    y_true, proba : array-like
        Observed churn (0/1 or bool) and predicted churn probabilities.
    n_bins : int
        Number of quantile bins.

    Returns
    -------
    float
        ECE in probability units, 0 for perfect calibration.

    Examples
    --------
    >>> round(expected_calibration_error([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], n_bins=2), 4)
    0.4
    """
    y, p = _binary(y_true, proba, proba=True)
    if n_bins < 1:
        raise InputError(f"n_bins must be at least 1, got {n_bins}")
    bins = np.searchsorted(np.percentile(p, np.linspace(0, 100, n_bins + 1))[1:-1], p)
    gaps = np.bincount(bins, weights=p - y, minlength=n_bins)
    return float(np.abs(gaps).sum() / len(p))


def _top(y_true: npt.ArrayLike, score: npt.ArrayLike, fraction: float) -> tuple[Array, Array]:
    """All labels, and the labels of the ``ceil(fraction * n)`` highest scores."""
    y, s = _binary(y_true, score, proba=False)
    if not 0 < fraction <= 1:
        raise InputError(f"fraction must be in (0, 1], got {fraction}")
    _check_classes(y, negatives=False)
    k = math.ceil(round(fraction * len(y), _FRACTION_DECIMALS))
    return y, y[np.argsort(-s, kind="stable")[:k]]


def lift_at(y_true: npt.ArrayLike, score: npt.ArrayLike, *, fraction: float = TOP_DECILE) -> float:
    """Churn rate among the top-scored ``fraction`` over the overall churn rate.

    The top is exactly ``ceil(fraction * n)`` rows by a stable sort on ``-score``: among
    scores tied at the threshold the earlier rows are taken, so for a given row order the
    result is deterministic.

    Parameters
    ----------
    y_true, score : array-like
        Observed churn (0/1 or bool, with a churner) and scores, higher = likelier churn.
    fraction : float
        Share of customers targeted, in (0, 1].

    Returns
    -------
    float
        1 for a random ranking, at most ``1 / churn rate``.

    Examples
    --------
    >>> lift_at([1, 0, 0, 0, 1, 0, 0, 0, 0, 0], [0.9, 0.8, 0.1, 0.2, 0.3, 0, 0, 0, 0, 0])
    5.0
    """
    y, top = _top(y_true, score, fraction)
    return float(top.mean() / y.mean())


def capture_rate_at(
    y_true: npt.ArrayLike, score: npt.ArrayLike, *, fraction: float = TOP_DECILE
) -> float:
    """Share of all churners among the top-scored ``fraction`` (ties as in :func:`lift_at`).

    Parameters
    ----------
    y_true, score : array-like
        Observed churn (0/1 or bool, with a churner) and scores, higher = likelier churn.
    fraction : float
        Share of customers targeted, in (0, 1].

    Returns
    -------
    float
        In [0, 1]; about ``fraction`` for a random ranking.

    Examples
    --------
    >>> capture_rate_at([1, 0, 0, 1], [0.9, 0.8, 0.1, 0.2], fraction=0.5)
    0.5
    """
    y, top = _top(y_true, score, fraction)
    return float(top.sum() / y.sum())


def _empc(
    y_true: npt.ArrayLike, proba: npt.ArrayLike, costs: dict[str, float], *, fraction: bool
) -> float:
    """EMPC (or its targeted fraction) by empulse, with churnml's checks and cost names."""
    # empulse builds its metrics with sympy (about a second to import): loaded on first use.
    from empulse.metrics import empc_score

    y, p = _binary(y_true, proba, proba=True)
    _check_classes(y, negatives=True)
    if min(costs["clv"], costs["alpha"], costs["beta"]) <= 0:
        raise InputError(f"clv, alpha and beta must be positive, got {costs}")
    if min(costs["incentive"], costs["contact"]) < 0:
        raise InputError(f"incentive and contact costs must be >= 0, got {costs}")
    names = {"incentive": "incentive_cost", "contact": "contact_cost"}
    params: dict[str, Any] = {names.get(k, k): v for k, v in costs.items()}
    metric = empc_score.optimal_rate if fraction else empc_score
    return float(metric(y, p, **params))


def empc(
    y_true: npt.ArrayLike,
    proba: npt.ArrayLike,
    *,
    clv: float = 200.0,
    incentive: float = 10.0,
    contact: float = 1.0,
    alpha: float = 6.0,
    beta: float = 14.0,
) -> float:
    """Expected maximum profit measure for customer churn (EMPC), per customer.

    Verbraken, Verbeke and Baesens (2013), IEEE TKDE 25(5): targeted customers are offered
    an incentive; a targeted churner accepts with probability ``gamma ~ Beta(alpha,
    beta)`` and stays (worth ``clv - incentive``), every target costs ``contact`` and a
    targeted non-churner takes the incentive. For each ``gamma`` the most profitable
    cut-off on the ROC convex hull is taken; EMPC is that profit's expectation over
    ``gamma``. Computed by ``empulse.metrics.empc_score``.

    Parameters
    ----------
    y_true, proba : array-like
        Observed churn (0/1 or bool, both classes) and churn probabilities (only their
        ranking matters).
    clv, incentive, contact : float
        Value of a retained churner, incentive cost per acceptance, cost per contact.
    alpha, beta : float
        Parameters of the acceptance rate's Beta distribution.

    Returns
    -------
    float
        Expected profit per customer, in the units of ``clv``. See also
        :func:`empc_target_fraction`.

    Examples
    --------
    >>> round(empc([0, 0, 0, 1], [0.1, 0.2, 0.3, 0.9]), 4)  # 1/4 * (6/20 * (200 - 10) - 1)
    14.0
    """
    costs = {"clv": clv, "incentive": incentive, "contact": contact}
    return _empc(y_true, proba, costs | {"alpha": alpha, "beta": beta}, fraction=False)


def empc_target_fraction(
    y_true: npt.ArrayLike,
    proba: npt.ArrayLike,
    *,
    clv: float = 200.0,
    incentive: float = 10.0,
    contact: float = 1.0,
    alpha: float = 6.0,
    beta: float = 14.0,
) -> float:
    """Expected share of customers above the EMPC-optimal cut-off (the paper's eta).

    The parameters are those of :func:`empc`; computed by empulse's
    ``empc_score.optimal_rate``.

    Returns
    -------
    float
        The targeted fraction, averaged over the acceptance rate's distribution.

    Examples
    --------
    >>> round(empc_target_fraction([0, 0, 0, 1], [0.1, 0.2, 0.3, 0.9]), 4)
    0.25
    """
    costs = {"clv": clv, "incentive": incentive, "contact": contact}
    return _empc(y_true, proba, costs | {"alpha": alpha, "beta": beta}, fraction=True)


def classification_report(
    y_true: npt.ArrayLike, proba: npt.ArrayLike, *, fraction: float = TOP_DECILE
) -> dict[str, float]:
    """Every classification metric of a churn model, in one dict.

    Parameters
    ----------
    y_true, proba : array-like
        Observed churn (0/1 or bool, both classes) and churn probabilities in [0, 1].
    fraction : float
        Targeted share for lift and capture (the keys name the default, a decile).

    Returns
    -------
    dict of str to float
        ``roc_auc``, ``pr_auc`` (average precision), ``brier``, ``log_loss``, ``ece``,
        ``lift_top_decile``, ``capture_top_decile``, ``empc`` (default costs),
        ``event_rate`` and ``n``.

    Examples
    --------
    >>> report = classification_report([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.9], fraction=0.5)
    >>> report["roc_auc"], report["lift_top_decile"], report["n"]
    (1.0, 2.0, 4.0)
    """
    y, p = _binary(y_true, proba, proba=True)
    _check_classes(y, negatives=True)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "lift_top_decile": lift_at(y, p, fraction=fraction),
        "capture_top_decile": capture_rate_at(y, p, fraction=fraction),
        "empc": empc(y, p),
        "event_rate": float(y.mean()),
        "n": float(len(y)),
    }
