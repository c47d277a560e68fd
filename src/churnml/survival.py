"""ChurnSurvivalModel: when will this customer churn? A discrete-time hazard on LightGBM.

LightGBM has no survival objective, so the model learns the monthly hazard instead: every
training row becomes one row per month it was followed ("person-period" rows), with the
month since the cutoff as a feature and churn in that month as a binary target. A row
followed for ``d`` months contributes ``floor(d)`` survived months, plus the month of
churn if it churned, or, if it was censored inside a month, that month weighted by the share
of it observed (the actuarial rule). The survival curve is the product of one minus the hazards,
``S(k) = prod_{j <= k} (1 - h_j)``, so it starts at 1 and never rises; between whole months
it is linear (churn spread evenly over the month), and beyond ``max_months_`` the last
month's hazard carries on.

When ``X`` is indexed by ``(customer_id, cutoff)``, the early-stopping holdout is the latest
cutoff; the trees first learn on the earlier cutoffs with their follow-up cut at the latest
one, so early stopping never sees what happened after it. With the number of trees chosen,
the model is grown again on every row with its whole follow-up (``refit``).

Durations carry their unit (:mod:`churnml.units`): the target's duration field says it
(``duration_days`` from a bank training set), or ``duration_unit`` does. The curves are
always in months after the cutoff, their column index named ``month``.

Passive churn (the bank closing the accounts) is censored, never an event, so
``S(m)`` is the probability of no churn, by the churn definition the labels used, within
``m`` months: the contract's ``survival_12m`` is ``S(12)``.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from churnml._boosting import (
    BOOSTER_DEFAULTS,
    FeatureFrame,
    Holdout,
    booster_params,
    choose_holdout,
    grow_booster,
)
from churnml.errors import InputError
from churnml.metrics.survival import harrell_c
from churnml.splitting import row_cutoffs
from churnml.units import TIME_UNITS, in_months, survival_arrays

__all__ = ["ChurnSurvivalModel"]

MONTH_FEATURE = "survival__month"
SMALL_DATA_CHURNERS = 100
"""Fewer distinct churning customers than this and the trees switch to small-data settings.

Measured (docs/models.md): on the Berka bank (18 churners) they lift the C-index from 0.77 to
0.86; on synthetic banks of 232 and 471 churners they change it by 0.002 but
shift the 90-day churn probability up by 15%, so they stay off there."""
SMALL_DATA_FEATURE_FRACTION = 0.2
# Text columns with up to this many levels split one level against the rest.
SMALL_DATA_ONE_HOT_LEVELS = 256


class ChurnSurvivalModel(BaseEstimator):
    """Time to churn from a monthly hazard learned by LightGBM.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, max_depth, min_child_samples, subsample, \
subsample_freq, colsample_bytree, reg_alpha, reg_lambda, min_split_gain, cat_smooth
        LightGBM's tree parameters, as in :class:`~churnml.classifier.ChurnClassifier`.
    duration_unit : {"days", "months", "years"}, optional
        What the target's durations count. By default the target says it (its duration
        field, e.g. ``duration_days``); a target that does not needs it, and one that says
        another unit is an error.
    max_months : int, optional
        Months of hazard learned; follow-up beyond is censored there. By default the
        longest follow-up of the training rows (``max_months_``), so a tenure of ten years
        is not cut at two.
    horizon_months : float, default 12
        Horizon of the restricted mean (``predict_expected_months``) and of ``predict``.
    early_stopping_rounds : int or None, default 100
    metric : str, optional
        LightGBM metric on the holdout's person-month rows: by default
        ``"binary_logloss"``, or ``"auc"`` with ``small_data_`` (with few churners the log
        loss mostly follows the holdout period's base rate and can stop at one tree; the
        ranking is the steadier signal). ``"auc"`` when tuning for the
        C-index).
    holdout_fraction : float, default 0.2
        Without cutoffs: a random holdout of this share of rows, stratified by event.
    refit : bool, default True
        Once early stopping has chosen the number of trees, grow them again on every row
        with its full follow-up (the holdout's cut only keeps early stopping honest).
    small_data : bool, optional
        Trees for few churners: randomised split points (LightGBM's ``extra_trees``), at
        most a fifth of the features per tree, and a text column split one level against
        the rest. By default on when the training rows hold fewer than
        :data:`SMALL_DATA_CHURNERS` distinct churning customers (``small_data_``). On a
        panel one churner repeats at every cutoff before the churn, and the usual grouped
        split of a many-level text column (a branch region) then memorises the few
        churners' levels: on the Berka bank (18 churning customers) it cost 0.09 C-index.
    random_state : int, default 0
    n_jobs : int, default 1

    Examples
    --------
    >>> from churnml.training import survival_target
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"risk": rng.normal(size=600)})
    >>> months = rng.exponential(12 / np.exp(X["risk"]))
    >>> y = survival_target(months < 18, np.minimum(months, 18), unit="months")
    >>> model = ChurnSurvivalModel(n_estimators=50).fit(X, y)
    >>> curves = model.predict_survival_function(X.head(2), months=[1, 6, 12])
    >>> bool((curves.diff(axis=1).iloc[:, 1:] <= 0).all().all())
    True
    """

    def __init__(
        self,
        *,
        n_estimators: int = BOOSTER_DEFAULTS["n_estimators"],
        learning_rate: float = BOOSTER_DEFAULTS["learning_rate"],
        num_leaves: int = BOOSTER_DEFAULTS["num_leaves"],
        max_depth: int = BOOSTER_DEFAULTS["max_depth"],
        min_child_samples: int = BOOSTER_DEFAULTS["min_child_samples"],
        subsample: float = BOOSTER_DEFAULTS["subsample"],
        subsample_freq: int = BOOSTER_DEFAULTS["subsample_freq"],
        colsample_bytree: float = BOOSTER_DEFAULTS["colsample_bytree"],
        reg_alpha: float = BOOSTER_DEFAULTS["reg_alpha"],
        reg_lambda: float = BOOSTER_DEFAULTS["reg_lambda"],
        min_split_gain: float = BOOSTER_DEFAULTS["min_split_gain"],
        cat_smooth: float = BOOSTER_DEFAULTS["cat_smooth"],
        duration_unit: str | None = None,
        max_months: int | None = None,
        horizon_months: float = 12.0,
        early_stopping_rounds: int | None = 100,
        metric: str | None = None,
        holdout_fraction: float = 0.2,
        refit: bool = True,
        small_data: bool | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.min_split_gain = min_split_gain
        self.cat_smooth = cat_smooth
        self.duration_unit = duration_unit
        self.max_months = max_months
        self.horizon_months = horizon_months
        self.early_stopping_rounds = early_stopping_rounds
        self.metric = metric
        self.holdout_fraction = holdout_fraction
        self.refit = refit
        self.small_data = small_data
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        X_holdout: Any = None,
        y_holdout: Any = None,
        callbacks: list[Any] | None = None,
    ) -> ChurnSurvivalModel:
        """Learn the monthly hazard from person-month rows.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
        y : structured array of (event, duration)
            As :func:`~churnml.training.survival_target` makes it; any two-field
            structured array (event first) with ``duration_unit`` given.
        X_holdout, y_holdout : optional
            An explicit early-stopping holdout instead of the automatic one.
        callbacks : list, optional
            Extra LightGBM callbacks (the holdout is named ``"holdout"``).

        Returns
        -------
        ChurnSurvivalModel
        """
        self._check_parameters()
        frame, view = FeatureFrame.learn(X, owner=type(self).__name__)
        event, duration = self._target(y, len(view), "y", unit=self.duration_unit)
        self.max_months_ = self._months_learned(duration)
        if X_holdout is not None:
            hold_view = frame.view(X_holdout, table="X_holdout")
            hold_event, hold_duration = self._target(
                y_holdout, len(hold_view), "y_holdout", unit=self.duration_unit_
            )
            learn_rows = (view, event, duration)
            hold_rows = (hold_view, hold_event, hold_duration)
            everything = np.ones(len(view), dtype=bool)
            self.holdout_ = Holdout("given", everything, ~everything, "given: X_holdout")
        else:
            learn_rows, hold_rows = self._split(X, view, event, duration)
        learn = self._person_months(*learn_rows)
        holdout = self._person_months(*hold_rows) if len(hold_rows[0]) else None
        params = self._booster_params(X, event)
        self.booster_ = grow_booster(
            params,
            learn,
            n_estimators=self.n_estimators,
            holdout=holdout,
            early_stopping_rounds=self.early_stopping_rounds,
            callbacks=callbacks,
        )
        self.best_iteration_ = int(self.booster_.best_iteration or self.booster_.num_trees())
        if self.refit and X_holdout is None and holdout is not None:
            # The holdout only chose the number of trees; the hazard learns from every row
            # and all of its follow-up (a short history would otherwise starve it).
            self.booster_ = grow_booster(
                params,
                self._person_months(view, event, duration),
                n_estimators=self.best_iteration_,
                holdout=None,
                early_stopping_rounds=None,
                callbacks=None,
            )
        self.refitted_ = bool(self.refit and X_holdout is None and holdout is not None)
        frame.fitted_on(self)
        return self

    def score(self, X: Any, y: Any) -> float:
        """Harrell's C-index of :meth:`predict` against the survival target ``y``."""
        check_is_fitted(self, "booster_")
        survival_arrays(y, len(X), unit=self.duration_unit_, owner=type(self).__name__)
        return harrell_c(y, self.predict(X))

    def predict_hazard(self, X: Any, months: int) -> pd.DataFrame:
        """Monthly hazards ``h_1 .. h_months``: P(churn in month k | no churn before)."""
        check_is_fitted(self, "booster_")
        view = self.frame_.view(X)
        view = pd.concat(
            [view, pd.DataFrame({MONTH_FEATURE: np.float32(0)}, index=view.index)], axis=1
        )
        learned = min(int(months), self.max_months_)
        hazards = np.empty((len(view), int(months)), dtype="float64")
        for month in range(1, learned + 1):
            view[MONTH_FEATURE] = np.float32(month)
            hazards[:, month - 1] = self.booster_.predict(view, num_iteration=self.best_iteration_)
        if months > learned:
            hazards[:, learned:] = hazards[:, [learned - 1]]
        return pd.DataFrame(hazards, index=_index_of(X), columns=range(1, int(months) + 1))

    def predict_survival_function(self, X: Any, months: Any) -> pd.DataFrame:
        """P(still a customer ``m`` months after the cutoff), one column per ``m``.

        Parameters
        ----------
        X : DataFrame or array
        months : float or sequence of float
            Months after the cutoff (fractions allowed, e.g. ``90 / DAYS_PER_MONTH``).

        Returns
        -------
        pandas.DataFrame
            Indexed like ``X``; values in [0, 1], never rising along the columns.
        """
        wanted = np.atleast_1d(np.asarray(months, dtype="float64"))
        if wanted.size == 0 or np.isnan(wanted).any() or (wanted < 0).any():
            raise InputError(f"months must be one or more non-negative numbers, got {months!r}")
        grid = self._grid_survival(X, int(np.ceil(wanted.max())))
        values = np.stack([_interpolate(grid, m) for m in wanted], axis=1)
        return pd.DataFrame(values, index=_index_of(X), columns=pd.Index(wanted, name="month"))

    def predict_expected_months(self, X: Any, horizon_months: float | None = None) -> pd.Series:
        """Restricted mean months as a customer within ``horizon_months`` of the cutoff."""
        horizon = float(self.horizon_months if horizon_months is None else horizon_months)
        if not horizon > 0:
            raise InputError(f"horizon_months must be positive, got {horizon}")
        whole = int(np.floor(horizon))
        grid = self._grid_survival(X, int(np.ceil(horizon)))
        area = (grid[:, :whole] + grid[:, 1 : whole + 1]).sum(axis=1) / 2.0
        rest = horizon - whole
        if rest > 0:
            end = _interpolate(grid, horizon)
            area += rest * (grid[:, whole] + end) / 2.0
        return pd.Series(area, index=_index_of(X), name="expected_months")

    def predict(self, X: Any) -> np.ndarray:
        """Risk score, higher = sooner churn: months lost within ``horizon_months``."""
        expected = self.predict_expected_months(X)
        return np.asarray(float(self.horizon_months) - expected.to_numpy())

    # -- fitting steps ---------------------------------------------------------------

    def _target(
        self, y: Any, n_rows: int, name: str, *, unit: str | None
    ) -> tuple[np.ndarray, np.ndarray]:
        event, duration, found = survival_arrays(
            y, n_rows, unit=unit, name=name, owner=type(self).__name__
        )
        self.duration_unit_ = found
        return event, duration

    def _booster_params(self, X: Any, event: np.ndarray) -> dict[str, Any]:
        churners = _distinct_churners(X, event)
        self.small_data_ = bool(
            churners < SMALL_DATA_CHURNERS if self.small_data is None else self.small_data
        )
        metric = self.metric or ("auc" if self.small_data_ else "binary_logloss")
        params = booster_params(self, objective="binary", metric=metric)
        if self.small_data_:
            params.update(
                extra_trees=True,
                feature_fraction=min(params["feature_fraction"], SMALL_DATA_FEATURE_FRACTION),
                max_cat_to_onehot=SMALL_DATA_ONE_HOT_LEVELS,
            )
        return params

    def _months_learned(self, duration: np.ndarray) -> int:
        if self.max_months is not None:
            return int(self.max_months)
        longest = float(in_months(duration, self.duration_unit_).max(initial=0.0))
        return max(1, int(np.ceil(longest - 1e-9)))

    def _check_parameters(self) -> None:
        if (self.max_months is not None and self.max_months < 1) or not self.horizon_months > 0:
            raise InputError(
                "horizon_months must be positive and max_months at least 1; got "
                f"{self.horizon_months}, {self.max_months}"
            )
        if not 0 < self.holdout_fraction < 1:
            raise InputError(f"holdout_fraction must be in (0, 1), got {self.holdout_fraction}")

    def _split(
        self, X: Any, view: pd.DataFrame, event: np.ndarray, duration: np.ndarray
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        self.holdout_ = choose_holdout(
            X,
            event,
            horizon=None,
            fraction=self.holdout_fraction,
            seed=self.random_state,
            owner=type(self).__name__,
            both_classes=False,
        )
        learn, hold = self.holdout_.learn, self.holdout_.rows
        event_learn, duration_learn = event[learn], duration[learn]
        if self.holdout_.kind == "cutoff":
            # Learning rows may only know what was known at the holdout's cutoff.
            cutoffs = row_cutoffs(X)
            start = cutoffs[hold].min()
            known_days = np.asarray((start - cutoffs[learn]).days, dtype="float64")
            known = known_days * TIME_UNITS["days"] / TIME_UNITS[self.duration_unit_]
            event_learn = event_learn & (duration_learn <= known)
            duration_learn = np.minimum(duration_learn, known)
        return (
            (view.loc[learn], event_learn, duration_learn),
            (view.loc[hold], event[hold], duration[hold]),
        )

    def _person_months(
        self, view: pd.DataFrame, event: np.ndarray, duration: np.ndarray
    ) -> lgb.Dataset:
        months = duration * TIME_UNITS[self.duration_unit_]
        churn_month = np.maximum(1, np.ceil(months - 1e-9)).astype("int64")
        churned = event & (churn_month <= self.max_months_)
        whole = np.minimum(np.floor(months + 1e-9).astype("int64"), self.max_months_)
        # A row censored inside a month was at risk for part of it: that month enters with
        # the observed share as its weight (dropping it would overstate the hazard).
        part = np.where(whole < self.max_months_, np.clip(months - whole, 0.0, 1.0), 0.0)
        partial = ~churned & (part > 1e-9)
        count = np.where(churned, churn_month, whole + partial)
        rows = np.repeat(np.arange(len(view)), count)
        starts = np.repeat(np.cumsum(count) - count, count)
        month = np.arange(len(rows)) - starts + 1
        last = month == count[rows]
        target = last & churned[rows]
        weight = np.where(last & partial[rows], part[rows], 1.0)
        expanded = view.iloc[rows].reset_index(drop=True)
        expanded[MONTH_FEATURE] = month.astype("float32")
        return lgb.Dataset(expanded, target.astype("float64"), weight=weight, free_raw_data=True)

    def _grid_survival(self, X: Any, months: int) -> np.ndarray:
        """Survival at whole months 0..months, shape (n_rows, months + 1)."""
        hazards = self.predict_hazard(X, max(months, 1)).to_numpy()
        survival = np.cumprod(1.0 - np.clip(hazards, 0.0, 1.0), axis=1)
        return np.hstack([np.ones((len(survival), 1)), survival])


def _interpolate(grid: np.ndarray, month: float) -> np.ndarray:
    """Survival at a fractional month, linear between whole months."""
    low = int(np.floor(month))
    if low >= grid.shape[1] - 1:
        return grid[:, -1]
    weight = month - low
    return (1.0 - weight) * grid[:, low] + weight * grid[:, low + 1]


def _index_of(X: Any) -> pd.Index:
    return X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(X))


def _distinct_churners(X: Any, event: np.ndarray) -> int:
    """Churning customers: on a panel, each customer once however many cutoffs show them."""
    if isinstance(X, pd.DataFrame) and "customer_id" in X.index.names:
        customers = X.index.get_level_values("customer_id")
        return int(pd.Index(customers[event]).nunique())
    return int(event.sum())
