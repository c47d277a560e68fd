"""From the bank's tables to scored customers: one object for notebooks, the CLI and MLflow.

``ChurnModel(config).fit(tables, as_of=...)`` sees the tables as they were known at
``as_of`` (:func:`~churnml.timeline.as_of`: later rows, closures and resolutions hidden),
picks the last ``config.cutoffs`` month ends whose horizon ended by then, builds the
training set, evaluates a classifier and a survival model trained before the latest of
those cutoffs on that cutoff, then fits both on every labelled cutoff for scoring.
``.score(tables, as_of=...)`` returns one row per customer in the population at ``as_of``
with the contract's columns (``customer_id``, ``churn_probability``, ``survival_12m``,
``clv``, ``risk_tier``, ``top_reasons``) and what a relationship manager acts on besides.

Because both steps read only what was known at ``as_of``, the scores for a date are the
same whether or not the tables also hold later rows (tested); same data, config and seed
give bit-identical scores.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnml.errors import InputError
from churnml.labels import ChurnDefinition
from churnml.margin import MarginConfig, monthly_margin
from churnml.retention import RetentionConfig, assign_segments
from churnml.tables import Tables, TableSource, load_tables
from churnml.tiers import TierConfig, value_tiers
from churnml.timeline import Horizon, as_cutoffs, as_of, month_end_cutoffs

__all__ = ["RISK_TIERS", "SCORE_COLUMNS", "ChurnModel", "ChurnModelConfig", "training_cutoffs"]

SCORE_COLUMNS = (
    "customer_id",
    "churn_probability",
    "survival_12m",
    "clv",
    "risk_tier",
    "top_reasons",
    "value_at_risk",
    "expected_months",
    "value_tier",
    "segment",
)
"""The first columns of :meth:`ChurnModel.score`: the contract's six, then the rest."""
RISK_TIERS = ("low", "medium", "high")
SCORING_TREES = {"max_depth": 3, "num_leaves": 7}
"""The scoring model's tree shape: top-3 reasons for 1M customers in about 40 s on 2 cores
(exact tree SHAP costs trees x leaves x depth^2 a row), 13x faster than unbounded trees of
31 leaves, at -0.0010 AUC [-0.0066, +0.0043] (benchmarks/explain.py, docs/benchmarks.md)."""
SURVIVAL_MONTHS = 12  # the contract's survival_12m


@dataclass(frozen=True)
class ChurnModelConfig:
    """Everything a training run decides, in one place that round-trips to dict and TOML.

    Parameters
    ----------
    churn : {"any", "complete", "partial"}
        The churn that counts (:class:`~churnml.labels.ChurnDefinition`).
    horizon_days, horizon_months : int, optional
        The classifier's horizon, one of the two; neither: 90 days.
    cutoffs : int, default 12
        Monthly cutoffs to train on: the last month ends whose horizon ended by ``as_of``.
    trials : int, default 0
        Optuna trials tuning the classifier (0: its defaults).
    seed : int, default 0
        Seed of every model and of the tuner.
    classifier, survival : mapping
        Parameters over :class:`~churnml.classifier.ChurnClassifier`'s and
        :class:`~churnml.survival.ChurnSurvivalModel`'s defaults; the classifier's default
        is :data:`SCORING_TREES` (shallow trees, so reasons for every customer are cheap).
    reasons : int, default 3
        Reasons per customer.
    risk_edges : (float, float), default (0.1, 0.3)
        Churn probability from which a customer's ``risk_tier`` is medium, then high.
    clv_horizon_months : int, default 36
    annual_discount_rate : float, default 0.10
    churn_horizon_months : int, default 12
        The value at risk counts churn within this many months.
    margin, tiers, retention : configs
        :class:`~churnml.margin.MarginConfig`, :class:`~churnml.tiers.TierConfig`,
        :class:`~churnml.retention.RetentionConfig`.

    Examples
    --------
    >>> config = ChurnModelConfig(horizon_months=3, trials=5)
    >>> ChurnModelConfig.from_toml(config.to_toml()) == config
    True
    >>> str(config.horizon), config.definition.kind
    ('3 months', 'any')
    """

    churn: str = "any"
    horizon_days: int | None = None
    horizon_months: int | None = None
    cutoffs: int = 12
    trials: int = 0
    seed: int = 0
    classifier: Mapping[str, Any] = field(default_factory=lambda: dict(SCORING_TREES))
    survival: Mapping[str, Any] = field(default_factory=dict)
    reasons: int = 3
    risk_edges: tuple[float, float] = (0.1, 0.3)
    clv_horizon_months: int = 36
    annual_discount_rate: float = 0.10
    churn_horizon_months: int = 12
    margin: MarginConfig = field(default_factory=MarginConfig)
    tiers: TierConfig = field(default_factory=TierConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)

    def __post_init__(self) -> None:
        Horizon.of(self.horizon_days, self.horizon_months)  # exactly one, whole, positive
        ChurnDefinition(kind=self.churn)
        for name in ("cutoffs", "reasons", "clv_horizon_months", "churn_horizon_months"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a whole number of at least 1, got {value!r}")
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 0:
            raise InputError(f"trials must be a whole number of at least 0, got {self.trials!r}")
        low, high = (float(v) for v in self.risk_edges)
        if not 0 < low < high < 1:
            raise InputError(
                f"risk_edges must be two increasing probabilities, got {self.risk_edges}"
            )
        object.__setattr__(self, "risk_edges", (low, high))
        object.__setattr__(self, "classifier", dict(self.classifier))
        object.__setattr__(self, "survival", dict(self.survival))

    @property
    def horizon(self) -> Horizon:
        """The classifier's horizon."""
        return Horizon.of(self.horizon_days, self.horizon_months)

    @property
    def definition(self) -> ChurnDefinition:
        """The churn definition (its partial-churn rule at its defaults)."""
        return ChurnDefinition(kind=self.churn)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON- and TOML-ready dict; :meth:`from_dict` rebuilds the config."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in ("margin", "tiers", "retention"):
                value = value.to_dict()
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[item.name] = value
        return _drop_none(out)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ChurnModelConfig:
        """The config of :meth:`to_dict`'s output; unknown settings are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown ChurnModelConfig settings {unknown}; known: {sorted(known)}")
        given = dict(values)
        nested: dict[str, Any] = {
            "margin": MarginConfig,
            "tiers": TierConfig,
            "retention": RetentionConfig,
        }
        for name, kind in nested.items():
            if name in given and isinstance(given[name], Mapping):
                given[name] = kind.from_dict(dict(given[name]))
        if "risk_edges" in given:
            given["risk_edges"] = tuple(given["risk_edges"])
        return cls(**given)

    def to_toml(self) -> str:
        """The config as TOML text (``churnml train --config FILE`` reads it)."""
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text: str) -> ChurnModelConfig:
        """The config of :meth:`to_toml`'s text."""
        return cls.from_dict(tomllib.loads(text))


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    """TOML has no null: leave unset options out (their default is None)."""
    return {
        key: _drop_none(value) if isinstance(value, dict) else value
        for key, value in values.items()
        if value is not None
    }


def training_cutoffs(
    tables: Tables, *, as_of: Any, horizon: Horizon, count: int
) -> pd.DatetimeIndex:
    """The last ``count`` month ends whose horizon ended by ``as_of`` and the data's end.

    Raises
    ------
    InputError
        When fewer than two such month ends exist (nothing to evaluate on).

    Examples
    --------
    >>> from churnml.datasets import make_bank
    >>> bank = make_bank(n_customers=50, months=18, seed=0)
    >>> cutoffs = training_cutoffs(
    ...     bank.tables, as_of="2023-06-30", horizon=Horizon(months=3), count=3
    ... )
    >>> cutoffs.strftime("%Y-%m-%d").tolist()
    ['2023-01-31', '2023-02-28', '2023-03-31']
    """
    (end,) = as_cutoffs(as_of)
    known_until = min(end, tables.observed_until)
    start = tables.balances["date"].min()  # no cutoff before the first balance snapshot
    month_ends = month_end_cutoffs(start, known_until) if pd.notna(start) else pd.DatetimeIndex([])
    labelled = month_ends[horizon.end(month_ends) <= known_until]
    if len(labelled) < 2:
        raise InputError(
            f"as_of {end.date()} leaves {len(labelled)} month-end cutoff(s) whose {horizon} "
            f"horizon ended by then (the data runs to {tables.observed_until.date()}); "
            "training needs at least two: choose a later as_of or a shorter horizon"
        )
    return labelled[-count:]


class ChurnModel:
    """Classifier, survival model, value and reasons, trained and scored from the tables.

    Parameters
    ----------
    config : ChurnModelConfig, optional

    Attributes
    ----------
    classifier_, survival_ : fitted estimators
        Fitted on every labelled cutoff; they score.
    metrics_ : dict
        Metrics at the evaluation cutoff of models trained before it.
    training_summary_ : pandas.DataFrame
        Rows, customers and churn rate per training cutoff.
    typical_ : pandas.Series
        The typical customer of the latest training cutoff (reasons compare with it).
    as_of_, cutoffs_, evaluation_cutoff_, feature_names_

    Examples
    --------
    >>> from churnml.datasets import make_bank
    >>> bank = make_bank(n_customers=2000, months=24, seed=0)
    >>> config = ChurnModelConfig(cutoffs=9, classifier={"n_estimators": 60},
    ...                           survival={"n_estimators": 40})
    >>> model = ChurnModel(config).fit(bank.tables, as_of="2023-09-30")
    >>> scores = model.score(bank.tables, as_of="2023-12-31")
    >>> list(scores.columns[:6])
    ['customer_id', 'churn_probability', 'survival_12m', 'clv', 'risk_tier', 'top_reasons']
    """

    def __init__(self, config: ChurnModelConfig | None = None) -> None:
        self.config = config or ChurnModelConfig()

    # -- training ----------------------------------------------------------------------

    def fit(self, tables: TableSource, *, as_of: Any) -> ChurnModel:
        """Train on the cutoffs whose horizon ended by ``as_of``; evaluate on the latest."""
        from churnml.training import training_set

        config = self.config
        (when,) = as_cutoffs(as_of)
        known = _known_at(tables, when)
        cutoffs = training_cutoffs(known, as_of=when, horizon=config.horizon, count=config.cutoffs)
        data = training_set(
            known,
            cutoffs=cutoffs,
            horizon_days=config.horizon.days,
            horizon_months=config.horizon.months,
            definition=config.definition,
        )
        self.as_of_ = when
        self.cutoffs_ = cutoffs
        self.evaluation_cutoff_ = cutoffs[-1]
        self.training_summary_ = _summary(data)
        self.tuning_ = None
        classifier_params = dict(config.classifier)
        if config.trials:
            from churnml.tuning import tune_classifier

            self.tuning_ = tune_classifier(
                data.until(self.evaluation_cutoff_),
                n_trials=config.trials,
                seed=config.seed,
                base_params=classifier_params,
            )
            classifier_params = dict(self.tuning_.best_params)
        self.classifier_params_ = {"random_state": config.seed, **classifier_params}
        self.survival_params_ = {
            "random_state": config.seed,
            "horizon_months": float(SURVIVAL_MONTHS),
            **config.survival,
        }
        self.metrics_, self.evaluation_ = self._evaluate(data)
        X, y = data.classification()
        self.classifier_ = self._classifier().fit(X, y)
        self.survival_ = self._survival().fit(*data.survival())
        latest = data.at(self.evaluation_cutoff_).X
        from churnml.explain import typical_values

        self.typical_ = typical_values(latest)
        self.feature_names_ = [str(c) for c in X.columns]
        return self

    def _classifier(self) -> Any:
        from churnml.classifier import ChurnClassifier

        return ChurnClassifier(**self.classifier_params_)

    def _survival(self) -> Any:
        from churnml.survival import ChurnSurvivalModel

        return ChurnSurvivalModel(**self.survival_params_)

    def _evaluate(self, data: Any) -> tuple[dict[str, float], pd.DataFrame]:
        """Models trained on what was known at the latest cutoff, scored on its rows."""
        from churnml.metrics import classification_report

        test_cutoff = self.evaluation_cutoff_
        past = data.until(test_cutoff)
        now = data.at(test_cutoff)
        X_past, y_past = past.classification()
        X_now, y_now = now.classification()
        if y_past.nunique() < 2 or y_now.nunique() < 2:
            raise InputError(
                f"the evaluation cutoff {test_cutoff.date()} or the cutoffs before it hold "
                f"one class only ({int(y_past.sum())} churners learned from, "
                f"{int(y_now.sum())} to evaluate on): train on more cutoffs"
            )
        classifier = self._classifier().fit(X_past, y_past)
        probability = classifier.predict_proba(X_now)[:, 1]
        metrics = {
            f"test_{k}": float(v)
            for k, v in classification_report(y_now.to_numpy(), probability).items()
        }
        survival = self._survival().fit(*past.survival())
        metrics.update(_survival_metrics(survival, past.survival()[1], *now.survival()))
        metrics["test_rows"] = float(len(y_now))
        metrics["test_churners"] = float(y_now.sum())
        evaluation = pd.DataFrame(
            {"churned": y_now.to_numpy(), "churn_probability": probability}, index=X_now.index
        )
        return metrics, evaluation

    # -- scoring -----------------------------------------------------------------------

    def score(self, tables: TableSource, *, as_of: Any) -> pd.DataFrame:
        """One row per customer in the population at ``as_of``, with the score columns.

        Returns
        -------
        pandas.DataFrame
            :data:`SCORE_COLUMNS`, then ``reason_i`` / ``reason_i_feature`` /
            ``reason_i_contribution`` for ``i = 1 .. config.reasons``, sorted by customer.
        """
        from churnml.features import build_features

        self._check_fitted()
        (when,) = as_cutoffs(as_of)
        known = _known_at(tables, when)
        features = build_features(known, cutoffs=[when], definition=self.config.definition)
        X = features.set_index(["customer_id", "cutoff"])
        return self.score_features(X, tables=known)

    def score_features(self, X: pd.DataFrame, *, tables: Tables) -> pd.DataFrame:
        """Score a feature table indexed by ``(customer_id, cutoff)`` of one cutoff.

        The margin and value tier come from ``tables`` as known at the cutoff; a customer
        with no balance known then holds no assets and is in the lightest tier.
        """
        self._check_columns(X)
        cutoffs = X.index.unique("cutoff")
        margin = monthly_margin(tables, cutoffs=cutoffs, config=self.config.margin)
        tiers = value_tiers(tables, cutoffs=cutoffs, config=self.config.tiers)
        tier = (
            tiers.set_index(["customer_id", "cutoff"])["value_tier"]
            .reindex(X.index)
            .astype("string")
            .fillna("lightweight")
        )
        return self.score_frame(
            X, margin=margin.set_index(["customer_id", "cutoff"])["margin"], value_tier=tier
        )

    def score_frame(
        self,
        X: pd.DataFrame,
        *,
        margin: pd.Series | None = None,
        value_tier: pd.Series | None = None,
    ) -> pd.DataFrame:
        """Score features indexed by ``(customer_id, cutoff)`` given margin and value tier.

        :meth:`score_features` computes both from the tables; an MLflow scoring job that
        has only the feature table passes them as columns. ``margin`` is indexed like ``X``
        (extra rows ignored), ``value_tier`` aligned with ``X``. Without ``margin``,
        ``clv``, ``value_at_risk`` and ``segment`` are missing; without ``value_tier``,
        ``value_tier`` is missing and the segment treats the customer as lightest tier.

        Returns
        -------
        pandas.DataFrame
            :data:`SCORE_COLUMNS`, then ``reason_i`` / ``reason_i_feature`` /
            ``reason_i_contribution`` for ``i = 1 .. config.reasons``, sorted by customer.
        """
        from churnml.explain import top_reasons
        from churnml.value import customer_lifetime_value

        config = self.config
        self._check_columns(X)
        cutoffs = X.index.unique("cutoff")
        if len(cutoffs) > 1:
            raise InputError(f"score one cutoff at a time; X holds {len(cutoffs)}")
        probability = self.classifier_.predict_proba(X)[:, 1]
        months = list(range(1, config.clv_horizon_months + 1))
        curves = self.survival_.predict_survival_function(X, months)
        value = customer_lifetime_value(
            curves,
            margin if margin is not None else pd.Series(0.0, index=X.index),
            horizon_months=config.clv_horizon_months,
            annual_discount_rate=config.annual_discount_rate,
            churn_horizon_months=config.churn_horizon_months,
        )
        if margin is None:
            value[["clv", "value_at_risk"]] = np.nan
        tier = (
            np.full(len(X), np.nan, dtype=object) if value_tier is None else value_tier.to_numpy()
        )
        low, high = config.risk_edges
        risk = np.where(probability >= high, "high", np.where(probability >= low, "medium", "low"))
        scores = pd.DataFrame(
            {
                "customer_id": X.index.get_level_values("customer_id"),
                "churn_probability": probability,
                "survival_12m": curves.iloc[:, SURVIVAL_MONTHS - 1].to_numpy(),  # months 1, 2..
                "clv": value["clv"].to_numpy(),
                "risk_tier": pd.Categorical(risk, categories=RISK_TIERS, ordered=True),
                "value_at_risk": value["value_at_risk"].to_numpy(),
                "expected_months": value["expected_months"].to_numpy(),
                "value_tier": tier,
            }
        )
        scores["segment"] = self._segments(scores) if margin is not None else None
        reasons = top_reasons(self.classifier_, X, k=config.reasons, typical=self.typical_)
        scores = pd.concat([scores, reasons.reset_index(drop=True)], axis=1)
        ordered = [*SCORE_COLUMNS, *[c for c in scores.columns if c not in SCORE_COLUMNS]]
        return scores[ordered].sort_values("customer_id", kind="stable").reset_index(drop=True)

    def _segments(self, scores: pd.DataFrame) -> np.ndarray:
        """Each customer's retention segment (no tier known: the lightest)."""
        tiered = scores.assign(
            value_tier=scores["value_tier"].astype("string").fillna("lightweight")
        )
        segments = assign_segments(tiered, config=self.config.retention)
        return np.asarray(
            segments.set_index("customer_id")["segment"].reindex(scores["customer_id"])
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "classifier_"):
            raise InputError("this ChurnModel is not fitted: call fit(tables, as_of=...) first")

    def _check_columns(self, X: pd.DataFrame) -> None:
        self._check_fitted()
        if not isinstance(X, pd.DataFrame) or list(X.index.names) != ["customer_id", "cutoff"]:
            raise InputError("score_features needs a DataFrame indexed by (customer_id, cutoff)")
        missing = [c for c in self.feature_names_ if c not in X.columns]
        extra = [str(c) for c in X.columns if str(c) not in self.feature_names_]
        if missing or extra:
            parts = [
                f"{word} {_listed(names)}"
                for word, names in (("missing", missing), ("extra", extra))
                if names
            ]
            raise InputError(
                "the feature table's columns differ from the model's: " + "; ".join(parts)
            )
        categories = set(self.classifier_.frame_.categories)
        numeric = pd.api.types.is_numeric_dtype
        retyped = [
            f"{name} ({X[name].dtype}, the model reads "
            + ("text" if name in categories else "numbers")
            + ")"
            for name in self.feature_names_
            if (name in categories) == (numeric(X[name]) or pd.api.types.is_bool_dtype(X[name]))
        ]
        if retyped:
            raise InputError(
                f"the feature table retypes {len(retyped)} of the model's columns: "
                + _listed(retyped)
            )

    # -- files -------------------------------------------------------------------------

    def save(self, directory: str | Path) -> list[Path]:
        """Write the fitted model as text and JSON files (no pickle); :meth:`load` reads them."""
        from churnml.model_files import save_estimator

        self._check_fitted()
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        written = [
            *save_estimator(self.classifier_, folder, "classifier"),
            *save_estimator(self.survival_, folder, "survival"),
        ]
        state = {
            "config": self.config.to_dict(),
            "as_of": str(self.as_of_.date()),
            "cutoffs": [str(c.date()) for c in self.cutoffs_],
            "evaluation_cutoff": str(self.evaluation_cutoff_.date()),
            "feature_names": self.feature_names_,
            "typical": {k: _plain(v) for k, v in self.typical_.items()},
            "metrics": self.metrics_,
            "training_summary": json.loads(
                self.training_summary_.to_json(orient="records", date_format="iso")
            ),
        }
        (folder / "churn_model.json").write_text(json.dumps(state, indent=1), encoding="utf-8")
        return [*written, folder / "churn_model.json"]

    @classmethod
    def load(cls, directory: str | Path) -> ChurnModel:
        """A model written by :meth:`save`, scoring exactly as the saved one did."""
        from churnml.model_files import load_estimator

        folder = Path(directory)
        path = folder / "churn_model.json"
        if not path.is_file():
            raise InputError(f"{folder} holds no churn_model.json: not a saved ChurnModel")
        state = json.loads(path.read_text(encoding="utf-8"))
        model = cls(ChurnModelConfig.from_dict(state["config"]))
        model.classifier_ = load_estimator(folder, "classifier")
        model.survival_ = load_estimator(folder, "survival")
        model.as_of_ = pd.Timestamp(state["as_of"])
        model.cutoffs_ = as_cutoffs(state["cutoffs"])
        model.evaluation_cutoff_ = pd.Timestamp(state["evaluation_cutoff"])
        model.feature_names_ = list(state["feature_names"])
        model.typical_ = pd.Series(state["typical"], dtype=object, name="typical")
        model.metrics_ = dict(state["metrics"])
        model.training_summary_ = pd.DataFrame(state["training_summary"])
        return model


def _survival_metrics(
    model: Any, y_train: np.ndarray, X_test: pd.DataFrame, y_test: np.ndarray
) -> dict[str, float]:
    """C-index, IBS and AUC at the month ends the evaluation cutoff's follow-up covers."""
    import warnings

    from churnml.metrics import survival_report, usable_times
    from churnml.units import convert, target_unit

    grid = pd.Index(np.arange(1, SURVIVAL_MONTHS + 1, dtype=float))
    unit = target_unit(y_train) or "months"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # months past the follow-up are dropped on purpose
        usable = usable_times(y_train, y_test, convert(grid.to_numpy(), "months", unit))
    months = np.round(convert(np.asarray(usable), unit, "months"), 9)
    if len(months) == 0 or not y_test["event"].any():
        return {}
    curves = model.predict_survival_function(X_test, months)
    report = survival_report(y_train, y_test, model.predict(X_test), curves)
    return {f"test_survival_{k}": float(v) for k, v in report.items()}


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"{names[:5]}{more}"


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    number = float(value)
    return None if np.isnan(number) else number


def _known_at(tables: TableSource, when: pd.Timestamp) -> Tables:
    loaded = load_tables(tables)
    if pd.isna(loaded.observed_until) or when > loaded.observed_until:
        raise InputError(
            f"as_of {when.date()} lies after the end of the data "
            f"({loaded.observed_until.date() if pd.notna(loaded.observed_until) else 'no dates'})"
        )
    return as_of(loaded, when)


def _summary(data: Any) -> pd.DataFrame:
    labels = data.labels.reset_index()
    known = labels[labels["horizon_observed"].astype(bool)]
    out = known.groupby("cutoff").agg(
        rows=("customer_id", "size"),
        customers=("customer_id", "nunique"),
        churners=("event", "sum"),
    )
    out["churn_rate"] = out["churners"] / out["rows"]
    return out.reset_index()
