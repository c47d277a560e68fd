"""SHAP contributions of the classifier's scores: exact tree SHAP, computed in chunks.

A contribution is a feature's share of one row's log-odds of churn, the score the
calibrator turns into a probability: ``base + contributions.sum(axis=1)`` is that
log-odds exactly (``ChurnClassifier.decision_function(X) - score_shift_``). The engine is
LightGBM's own ``pred_contrib`` (the path-dependent tree SHAP of Lundberg et al. 2020,
which shap's ``TreeExplainer`` also calls for a LightGBM booster), on the booster that
scores, so an explanation never describes another model than the one whose scores are
shown. Platt scaling (the default calibration) is increasing in the log-odds, so it keeps
the order of scores and the sign of every contribution; isotonic calibration keeps the
order but may tie scores.

Rows are explained ``chunk_size`` at a time: 1M rows x 150 features of float64
contributions is 1.2 GB, a chunk of 50,000 is 60 MB.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from churnml.errors import InputError

__all__ = ["CHUNK_ROWS", "Contributions", "contributions", "iter_contributions"]

CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class Contributions:
    """Per-row SHAP contributions in log-odds, with the rows they explain.

    Attributes
    ----------
    values : pandas.DataFrame
        One column per model feature, indexed like ``X``.
    base : float
        The log-odds of a row with every contribution 0 (LightGBM's expected value, less
        the classifier's ``score_shift_``): ``base + values.sum(axis=1)`` is the log-odds
        the calibrator reads.
    X : pandas.DataFrame
        The model's view of the explained rows (learned columns, categories fixed).
    calibration_slope : float or None
        How the calibrator stretches the log-odds: the calibrated log-odds are
        ``calibration_slope x (base + sum of contributions) + intercept``, so a contribution
        ``c`` moves the calibrated log-odds by ``calibration_slope x c``. 1.0 without a
        calibrator; None for isotonic calibration, which is monotone but not linear.

    Examples
    --------
    >>> import pandas as pd
    >>> values = pd.DataFrame({"a": [0.5, -0.2], "b": [0.1, 0.0]})
    >>> Contributions(values, base=-3.0, X=values).log_odds().round(6).tolist()
    [-2.4, -3.2]
    """

    values: pd.DataFrame
    base: float
    X: pd.DataFrame
    calibration_slope: float | None = 1.0

    def log_odds(self) -> pd.Series:
        """The explained score of each row: ``base`` plus its contributions."""
        return pd.Series(
            self.base + self.values.to_numpy().sum(axis=1), index=self.values.index, name="log_odds"
        )

    def to_shap(self) -> Any:
        """The same numbers as a ``shap.Explanation`` (for shap's own plots)."""
        shap = import_shap()
        return shap.Explanation(
            values=self.values.to_numpy(),
            base_values=np.full(len(self.values), self.base),
            data=_plot_data(self.X),
            feature_names=[str(name) for name in self.values.columns],
        )


def import_shap() -> Any:
    """shap, imported without the matplotlib deprecation notice its 0.51 import raises."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"The set_\w+ function will be deprecated", category=Warning
        )
        import shap
    return shap


def _plot_data(X: pd.DataFrame) -> np.ndarray:
    """Feature values as floats for shap's colour scale (categories as their codes)."""
    columns = [
        X[name].cat.codes.astype("float64").where(X[name].notna()).to_numpy()
        if isinstance(X[name].dtype, pd.CategoricalDtype)
        else X[name].to_numpy(dtype="float64")
        for name in X.columns
    ]
    return np.column_stack(columns) if columns else np.empty((len(X), 0))


def _fitted_classifier(model: Any) -> Any:
    from churnml.classifier import ChurnClassifier

    if not isinstance(model, ChurnClassifier):
        raise InputError(
            f"explanations need a fitted ChurnClassifier (the model whose scores are shown), "
            f"got {type(model).__name__}"
        )
    check_is_fitted(model, "booster_")
    return model


def _check_chunk(chunk_size: int) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
        raise InputError(f"chunk_size must be a whole number of rows, got {chunk_size!r}")
    if chunk_size < 1:
        raise InputError(f"chunk_size must be at least 1, got {chunk_size}")
    return int(chunk_size)


def iter_contributions(
    model: Any, X: Any, *, chunk_size: int = CHUNK_ROWS
) -> Iterator[tuple[slice, pd.DataFrame, np.ndarray]]:
    """Contributions ``chunk_size`` rows at a time, for callers that keep only a summary.

    Yields
    ------
    rows : slice
        Positions of the chunk in ``X``.
    view : pandas.DataFrame
        The model's view of those rows.
    values : numpy.ndarray of shape (n_chunk_rows, n_features + 1)
        Contributions in log-odds; the last column is LightGBM's expected value.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from churnml.classifier import ChurnClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"falls": rng.normal(size=2000), "noise": rng.normal(size=2000)})
    >>> y = (X["falls"] + rng.normal(scale=0.5, size=2000) > 1.5).astype(int)
    >>> model = ChurnClassifier(n_estimators=30).fit(X, y)
    >>> chunks = iter_contributions(model, X, chunk_size=1500)
    >>> [(rows.start, values.shape) for rows, _, values in chunks]
    [(0, (1500, 3)), (1500, (500, 3))]
    """
    model = _fitted_classifier(model)
    chunk_size = _check_chunk(chunk_size)
    view = model.frame_.view(X)
    for start in range(0, len(view), chunk_size):
        rows = slice(start, min(start + chunk_size, len(view)))
        part = view.iloc[rows]
        values = model.booster_.predict(
            part, num_iteration=model.best_iteration_, pred_contrib=True
        )
        yield rows, part, np.asarray(values, dtype="float64")


def contributions(model: Any, X: Any, *, chunk_size: int = CHUNK_ROWS) -> Contributions:
    """Exact tree SHAP contributions of a fitted classifier's log-odds, for every row of X.

    Parameters
    ----------
    model : ChurnClassifier
        Fitted; its scoring booster (the refitted one, when it refitted) is explained.
    X : pandas.DataFrame
        Rows to explain, with the columns the model was fitted on.
    chunk_size : int, default 50,000
        Rows explained at a time.

    Returns
    -------
    Contributions
        ``values`` (one column per feature, indexed like ``X``), ``base`` and ``X``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from churnml.classifier import ChurnClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"falls": rng.normal(size=2000), "noise": rng.normal(size=2000)})
    >>> y = (X["falls"] + rng.normal(scale=0.5, size=2000) > 1.5).astype(int)
    >>> model = ChurnClassifier(n_estimators=50).fit(X, y)
    >>> shap = contributions(model, X.head(3))
    >>> bool(np.allclose(shap.log_odds(), model.decision_function(X.head(3)) - model.score_shift_))
    True
    >>> shap.values.abs().mean().idxmax()
    'falls'
    """
    model = _fitted_classifier(model)
    parts, views, base = [], [], 0.0
    for _, view, values in iter_contributions(model, X, chunk_size=chunk_size):
        parts.append(values[:, :-1])
        views.append(view)
        base = float(values[0, -1]) if len(values) else base
    columns = list(model.frame_.columns)
    index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(model.frame_.view(X)))
    matrix = np.vstack(parts) if parts else np.empty((0, len(columns)))
    if not parts:
        base = _expected_value(model)
    frame = pd.DataFrame(matrix, index=index, columns=columns)
    view = pd.concat(views) if views else model.frame_.view(X)
    return Contributions(frame, base - model.score_shift_, view, _calibration_slope(model))


def _calibration_slope(model: Any) -> float | None:
    from sklearn.linear_model import LogisticRegression

    calibrator = model.calibrator_
    if calibrator is None:
        return 1.0
    if isinstance(calibrator, LogisticRegression):
        return float(calibrator.coef_[0, 0])
    return None


def _expected_value(model: Any) -> float:
    """LightGBM's expected value without rows to explain: the contribution of no features."""
    empty = model.frame_.view(pd.DataFrame({c: [np.nan] for c in model.frame_.columns}))
    values = model.booster_.predict(empty, num_iteration=model.best_iteration_, pred_contrib=True)
    return float(np.asarray(values)[0, -1])
