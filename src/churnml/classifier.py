"""ChurnClassifier: will this customer churn within the horizon? Calibrated LightGBM.

Fitting takes three steps. The booster learns on the cutoffs whose horizon ended by the
latest cutoff and is stopped early on that latest cutoff, the holdout; the calibrator
learns on the holdout's scores, a period those trees never saw, as a scoring job meets it.
Then (``refit``) the chosen number of trees is grown again on every labelled row, the
cutoffs between the learning rows and the holdout and the holdout itself included, so the
model a scoring job uses has seen the most recent behaviour; the calibrator stays the one
fitted on rows its trees had not learned from. Class weights only shape the trees; the
calibrator learns on unweighted holdout rows, so the probabilities stay probabilities.
"""

from __future__ import annotations

from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils import Tags
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from churnml._boosting import (
    BOOSTER_DEFAULTS,
    FeatureFrame,
    Holdout,
    booster_params,
    choose_holdout,
    grow_booster,
)
from churnml.errors import InputError
from churnml.splitting import horizon_of
from churnml.timeline import Horizon

__all__ = ["ChurnClassifier"]

Calibration = Literal["isotonic", "sigmoid"] | None


class ChurnClassifier(ClassifierMixin, BaseEstimator):
    """Calibrated LightGBM classifier of churn within a horizon.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, max_depth, min_child_samples, subsample, \
subsample_freq, colsample_bytree, reg_alpha, reg_lambda, min_split_gain, cat_smooth
        LightGBM's tree parameters (scikit-learn names); ``n_estimators`` is the most
        trees, early stopping picks fewer.
    class_weight : "balanced", dict or None
        Weights of the classes while growing trees; calibration undoes their effect on
        the probabilities.
    calibration : "isotonic", "sigmoid" or None, default "sigmoid"
        Calibrator fitted on the holdout: isotonic regression, Platt scaling of the
        booster's log-odds, or none.
    early_stopping_rounds : int or None, default 100
        Stop when the holdout metric has not improved for this many trees.
    metric : str, default "binary_logloss"
        LightGBM metric watched on the holdout (``"auc"`` when tuning for AUC).
    horizon : Horizon, optional
        The labels' horizon. When ``X`` is indexed by cutoff, the holdout is the latest
        cutoff and the trees first learn on the rows whose horizon ends by then. By default
        it is read from ``y`` (:meth:`~churnml.training.TrainingSet.classification` gives
        its labels their horizon); a different one given here is an error.
    holdout_fraction : float, default 0.2
        For rows without cutoffs (a flat table), a stratified random holdout of this size.
    refit : bool, default True
        With a holdout taken from the rows, grow the chosen number of trees again on every
        row; the calibrator stays the one fitted on the holdout.
    random_state : int, default 0
    n_jobs : int, default 1
        LightGBM threads; results do not depend on it.

    Attributes
    ----------
    booster_ : lightgbm.Booster
    best_iteration_ : int
    calibrator_ : fitted calibrator or None
    holdout_ : Holdout
        How the holdout was chosen (``holdout_.kind``; ``holdout_.description`` for the
        review pack).
    refitted_ : bool
        Whether the final trees grew on every row.
    score_shift_ : float
        Mean log-odds of the refitted trees on the holdout minus the first trees': taken
        off the scores before the calibrator, which learned on the first trees' scale.
    classes_, n_features_in_, feature_names_in_

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=1000, weights=[0.8], random_state=0)
    >>> model = ChurnClassifier(n_estimators=50).fit(X, y)
    >>> model.predict_proba(X[:2]).shape
    (2, 2)
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
        class_weight: str | dict[Any, float] | None = None,
        calibration: Calibration = "sigmoid",
        early_stopping_rounds: int | None = 100,
        metric: str = "binary_logloss",
        horizon: Horizon | None = None,
        holdout_fraction: float = 0.2,
        refit: bool = True,
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
        self.class_weight = class_weight
        self.calibration = calibration
        self.early_stopping_rounds = early_stopping_rounds
        self.metric = metric
        self.horizon = horizon
        self.holdout_fraction = holdout_fraction
        self.refit = refit
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        X_holdout: Any = None,
        y_holdout: Any = None,
        callbacks: list[Any] | None = None,
    ) -> ChurnClassifier:
        """Grow the trees on the earlier rows; stop early and calibrate on the holdout.

        Parameters
        ----------
        X : DataFrame or array of shape (n_rows, n_features)
            Features; indexed by ``(customer_id, cutoff)`` for a temporal holdout.
        y : array-like of shape (n_rows,)
            Two classes; the larger (``True``, 1) is churn.
        X_holdout, y_holdout : optional
            An explicit holdout (e.g. a later cutoff) instead of the automatic one.
        callbacks : list, optional
            Extra LightGBM callbacks, e.g. Optuna's pruning callback; the holdout's
            validation set is named ``"holdout"``.

        Returns
        -------
        ChurnClassifier
        """
        self._check_parameters()
        frame, learned = FeatureFrame.learn(X, owner=type(self).__name__)
        target = self._encode_target(y, len(learned))
        self.holdout_ = self._holdout(X, y, target, X_holdout)
        if X_holdout is not None:
            learn_X, learn_y = learned, target
            hold_X = frame.view(X_holdout, table="X_holdout")
            hold_y = self._encode_known(y_holdout, len(hold_X))
        else:
            rows = self.holdout_
            learn_X, learn_y = learned.loc[rows.learn], target[rows.learn]
            hold_X, hold_y = learned.loc[rows.rows], target[rows.rows]
        self.booster_ = self._grow(learn_X, learn_y, (hold_X, hold_y), callbacks, self.n_estimators)
        self.best_iteration_ = int(self.booster_.best_iteration or self.booster_.num_trees())
        self.calibrator_ = self._calibrate(hold_X, hold_y)
        self.refitted_ = bool(self.refit and self.holdout_.kind in ("cutoff", "random"))
        self.score_shift_ = 0.0
        if self.refitted_:
            # The holdout chose the trees and calibrated them; the final trees learn from
            # every labelled row, the latest behaviour included. They score the holdout
            # higher or lower than the first trees did (they learned its period's churn),
            # and the calibrator already corrects that period's drift: map the new scores
            # onto the first trees' scale on the holdout before calibrating, or the drift
            # is counted twice.
            first = self._raw(hold_X)
            self.booster_ = self._grow(learned, target, None, None, self.best_iteration_)
            self.score_shift_ = float(self._raw(hold_X).mean() - first.mean())
        frame.fitted_on(self)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities, columns ordered like ``classes_`` (churn second)."""
        churn = self._calibrated(self.decision_function(X) - self.score_shift_)
        return np.column_stack([1.0 - churn, churn])

    def predict(self, X: Any) -> np.ndarray:
        """The more likely class."""
        churn = self.predict_proba(X)[:, 1] >= 0.5
        return np.asarray(self.classes_[churn.astype(int)])

    def decision_function(self, X: Any) -> np.ndarray:
        """The booster's log-odds of churn, before calibration."""
        check_is_fitted(self, "booster_")
        view = self.frame_.view(X)
        return self._raw(view)

    def _raw(self, view: pd.DataFrame) -> np.ndarray:
        raw = self.booster_.predict(view, num_iteration=self.best_iteration_, raw_score=True)
        return np.asarray(raw, dtype="float64")

    # -- fitting steps ---------------------------------------------------------------

    def _check_parameters(self) -> None:
        if self.calibration not in ("isotonic", "sigmoid", None):
            raise InputError(
                f"calibration must be 'isotonic', 'sigmoid' or None, got {self.calibration!r}"
            )
        if not 0 < self.holdout_fraction < 1:
            raise InputError(f"holdout_fraction must be in (0, 1), got {self.holdout_fraction}")
        if self.n_estimators < 1:
            raise InputError(f"n_estimators must be at least 1, got {self.n_estimators}")

    def _encode_target(self, y: Any, n_rows: int) -> np.ndarray:
        if y is None:
            raise InputError("ChurnClassifier requires y to be passed, but the target y is None")
        values = column_or_1d(check_array(y, ensure_2d=False, dtype=None), warn=True)
        if len(values) != n_rows:
            raise InputError(f"y has {len(values)} labels but X has {n_rows} rows")
        check_classification_targets(values)
        self.classes_ = np.unique(values)
        if len(self.classes_) > 2:
            raise InputError(
                "Only binary classification is supported: ChurnClassifier needs two classes "
                f"in y (churned or not), got {len(self.classes_)}: {self.classes_[:5].tolist()}"
            )
        if len(self.classes_) < 2:
            raise InputError(
                f"y has one class ({self.classes_.tolist()}); ChurnClassifier needs both "
                "churners and stayers"
            )
        return (values == self.classes_[1]).astype("float64")

    def _encode_known(self, y: Any, n_rows: int) -> np.ndarray:
        values = np.asarray(y)
        if values.ndim != 1 or len(values) != n_rows:
            raise InputError(f"y_holdout must be one label per row of X_holdout ({n_rows})")
        unknown = ~np.isin(values, self.classes_)
        if unknown.any():
            raise InputError(f"y_holdout has classes unseen in y: {values[unknown][:5]}")
        return (values == self.classes_[1]).astype("float64")

    def _holdout(self, X: Any, y: Any, target: np.ndarray, X_holdout: Any) -> Holdout:
        if X_holdout is not None:
            everything = np.ones(len(target), dtype=bool)
            return Holdout("given", everything, ~everything, "given: X_holdout")
        return choose_holdout(
            X,
            target.astype(bool),
            horizon=self._horizon(X, y),
            fraction=self.holdout_fraction,
            seed=self.random_state,
            owner=type(self).__name__,
            both_classes=True,
        )

    def _horizon(self, X: Any, y: Any) -> Horizon | None:
        """The labels' horizon: the one ``y`` carries or the one given; never two."""
        carried = horizon_of(y)
        if carried is not None and self.horizon is not None and carried != self.horizon:
            raise InputError(
                f"ChurnClassifier was given horizon={self.horizon} but y's labels were made "
                f"with a horizon of {carried}"
            )
        horizon = carried or self.horizon
        if horizon is None and isinstance(X, pd.DataFrame) and "cutoff" in X.index.names:
            raise InputError(
                "X is indexed by cutoff but the labels' horizon is unknown, so the holdout "
                "cannot keep training labels before it: pass y from "
                "TrainingSet.classification() (it carries the horizon) or set horizon="
            )
        return horizon

    def _grow(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        holdout_rows: tuple[pd.DataFrame, np.ndarray] | None,
        callbacks: list[Any] | None,
        n_estimators: int,
    ) -> lgb.Booster:
        weight = None if self.class_weight is None else compute_sample_weight(self.class_weight, y)
        learn = lgb.Dataset(X, y, weight=weight, free_raw_data=True)
        holdout = None
        if holdout_rows is not None and len(holdout_rows[1]):
            holdout = lgb.Dataset(*holdout_rows, reference=learn)
        params = booster_params(self, objective="binary", metric=self.metric)
        return grow_booster(
            params,
            learn,
            n_estimators=n_estimators,
            holdout=holdout,
            early_stopping_rounds=self.early_stopping_rounds,
            callbacks=callbacks,
        )

    def _calibrate(self, X: pd.DataFrame, y: np.ndarray) -> Any:
        if self.calibration is None or len(y) == 0 or not 0 < y.sum() < len(y):
            return None
        raw = self._raw(X)
        if self.calibration == "isotonic":
            isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            return isotonic.fit(raw, y)
        return LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        calibrator = self.calibrator_
        if calibrator is None:
            churn = 1.0 / (1.0 + np.exp(-raw))
        elif isinstance(calibrator, IsotonicRegression):
            churn = calibrator.predict(raw)
        else:
            churn = calibrator.predict_proba(raw.reshape(-1, 1))[:, 1]
        return np.clip(np.asarray(churn, dtype="float64"), 0.0, 1.0)
