"""The MLflow pyfunc of a :class:`~churnml.pipeline.ChurnModel`, logged as models-from-code.

:func:`churnml.tracking.log_training` logs this file itself (no pickle): MLflow runs it when
the model loads, :func:`mlflow.models.set_model` at its end hands MLflow the
:class:`ChurnPyfuncModel`, and its ``load_context`` reads the saved model's LightGBM text and
JSON files with :meth:`ChurnModel.load <churnml.pipeline.ChurnModel.load>`.

``predict`` takes one flat feature table of one cutoff: ``customer_id``, ``cutoff``, the
model's feature columns and, optionally, ``margin`` (the customer's monthly margin,
:func:`~churnml.margin.monthly_margin`) and ``value_tier`` (:func:`~churnml.tiers.value_tiers`).
It returns :meth:`ChurnModel.score_features <churnml.pipeline.ChurnModel.score_features>`'s
columns. Without ``margin``, ``clv`` and ``value_at_risk`` are missing; without ``margin`` or
``value_tier``, so is ``segment`` (and ``value_tier``): the bank's tables, which those come
from, do not travel with a feature table. Columns are checked by churnml, not MLflow (the
model is logged without an input schema, which MLflow would enforce by silently dropping
extra columns): a missing, extra or retyped column is an :class:`~churnml.errors.InputError`
naming it.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

with warnings.catch_warnings():
    # mlflow.pyfunc's import infers schemas of its own agent types and warns about their Any.
    warnings.filterwarnings("ignore", r".*Any type hint is inferred as AnyType", UserWarning)
    from mlflow.models import set_model
    from mlflow.pyfunc import PythonModel

from churnml.errors import InputError
from churnml.pipeline import ChurnModel
from churnml.tiers import TIER_NAMES

__all__ = ["KEY_COLUMNS", "VALUE_COLUMNS", "ChurnPyfuncModel", "score_frame", "split_input"]

KEY_COLUMNS = ("customer_id", "cutoff")
"""Columns every input row needs besides the features: they become the index."""
VALUE_COLUMNS = ("margin", "value_tier")
"""Optional input columns standing in for the tables that ``score_features`` reads."""


def split_input(
    model: ChurnModel, frame: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series | None, pd.Series | None]:
    """A flat input table as ``(X indexed by (customer_id, cutoff), margin, value_tier)``.

    Raises
    ------
    InputError
        When ``frame`` is not a DataFrame, lacks ``customer_id`` or ``cutoff``, its features
        differ from the model's (missing, extra or retyped columns, all named), or it holds
        an unknown ``value_tier``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"the churn model scores a DataFrame, got {type(frame).__name__}")
    keys = [c for c in KEY_COLUMNS if c not in frame.columns]
    if keys:
        raise InputError(
            f"the feature table's columns differ from the model's: missing {keys} "
            "(every row needs customer_id and cutoff)"
        )
    clash = [c for c in VALUE_COLUMNS if c in model.feature_names_]
    given = [c for c in VALUE_COLUMNS if c in frame.columns and c not in clash]
    X = frame.drop(columns=given)
    X = X.assign(cutoff=pd.to_datetime(X["cutoff"])).set_index(list(KEY_COLUMNS))
    margin = None
    if "margin" in given:
        values = frame["margin"]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise InputError(f"margin must hold numbers, got {values.dtype}")
        margin = pd.Series(values.to_numpy(dtype=float), index=X.index, name="margin")
    tier = None
    if "value_tier" in given:
        text = frame["value_tier"].astype("string")
        unknown = sorted(set(text.dropna()) - set(TIER_NAMES))
        if unknown:
            raise InputError(f"value_tier holds {unknown}; known tiers: {list(TIER_NAMES)}")
        categories = pd.Categorical(text.to_numpy(), categories=TIER_NAMES, ordered=True)
        tier = pd.Series(categories, index=X.index, name="value_tier")
    return X, margin, tier


def score_frame(
    model: ChurnModel,
    X: pd.DataFrame,
    *,
    margin: pd.Series | None = None,
    value_tier: pd.Series | None = None,
) -> pd.DataFrame:
    """:meth:`ChurnModel.score_frame <churnml.pipeline.ChurnModel.score_frame>` of ``model``."""
    return model.score_frame(X, margin=margin, value_tier=value_tier)


class ChurnPyfuncModel(PythonModel):
    """A saved :class:`~churnml.pipeline.ChurnModel` as an MLflow pyfunc.

    Attributes
    ----------
    model : ChurnModel
        Loaded by :meth:`load_context` from the ``churn_model`` artifact.
    """

    model: ChurnModel

    def load_context(self, context: Any) -> None:
        """Load the ChurnModel files of the ``churn_model`` artifact."""
        self.model = ChurnModel.load(context.artifacts["churn_model"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Score one cutoff's flat feature table (see the module's docstring).

        The DataFrame hint asks MLflow to pass the input on unvalidated: churnml checks it.
        """
        X, margin, tier = split_input(self.model, model_input)
        return score_frame(self.model, X, margin=margin, value_tier=tier)


set_model(ChurnPyfuncModel())
