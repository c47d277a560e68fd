"""ChurnModel: tables to a trained model to scored customers, point-in-time at as_of."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.datasets import make_bank
from churnml.errors import InputError
from churnml.pipeline import SCORE_COLUMNS, ChurnModel, ChurnModelConfig, training_cutoffs
from churnml.timeline import Horizon, as_of

AS_OF = "2023-09-30"
CONFIG = ChurnModelConfig(
    cutoffs=9, classifier={"n_estimators": 80}, survival={"n_estimators": 60}, seed=3
)


@pytest.fixture(scope="module")
def bank():
    return make_bank(n_customers=2000, months=24, seed=4)


@pytest.fixture(scope="module")
def fitted(bank):
    return ChurnModel(CONFIG).fit(bank.tables, as_of=AS_OF)


@pytest.fixture(scope="module")
def scores(fitted, bank):
    return fitted.score(bank.tables, as_of=AS_OF)


def test_config_round_trips_through_dict_and_toml():
    config = ChurnModelConfig(churn="complete", horizon_months=3, trials=4, risk_edges=(0.05, 0.2))
    assert ChurnModelConfig.from_dict(config.to_dict()) == config
    assert ChurnModelConfig.from_toml(config.to_toml()) == config
    assert 'churn = "complete"' in config.to_toml()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"horizon_days": 90, "horizon_months": 3}, "exactly one of them"),
        ({"churn": "quiet"}, "churn kind must be one of"),
        ({"cutoffs": 0}, "cutoffs must be a whole number"),
        ({"trials": -1}, "trials must be a whole number of at least 0"),
        ({"risk_edges": (0.3, 0.1)}, "risk_edges must be two increasing"),
    ],
)
def test_bad_settings_are_errors(settings, message):
    with pytest.raises(InputError, match=message):
        ChurnModelConfig(**settings)
    with pytest.raises(InputError, match="unknown ChurnModelConfig settings"):
        ChurnModelConfig.from_dict({"cutoff": 3})


def test_training_cutoffs_end_where_the_horizon_ends(bank):
    cutoffs = training_cutoffs(bank.tables, as_of=AS_OF, horizon=Horizon(days=90), count=9)
    assert len(cutoffs) == 9
    assert cutoffs[-1] == pd.Timestamp("2023-06-30")  # 2023-06-30 + 90 days <= 2023-09-30
    with pytest.raises(InputError, match="training needs at least two"):
        training_cutoffs(bank.tables, as_of="2022-04-30", horizon=Horizon(days=90), count=9)


def test_fit_uses_the_labelled_cutoffs_and_evaluates_on_the_latest(fitted):
    assert fitted.evaluation_cutoff_ == pd.Timestamp("2023-06-30")
    assert len(fitted.cutoffs_) == 9
    summary = fitted.training_summary_
    assert list(summary.columns) == ["cutoff", "rows", "customers", "churners", "churn_rate"]
    assert len(summary) == 9 and (summary["churn_rate"] < 0.2).all()
    assert 0.7 < fitted.metrics_["test_roc_auc"] <= 1.0
    assert fitted.metrics_["test_churners"] >= 20
    assert 0.6 < fitted.metrics_["test_survival_harrell_c"] <= 1.0


def test_scores_have_the_contract_columns_one_row_per_customer(scores, bank):
    assert list(scores.columns[: len(SCORE_COLUMNS)]) == list(SCORE_COLUMNS)
    assert scores["customer_id"].is_unique and scores["customer_id"].is_monotonic_increasing
    joined = bank.tables.customers.loc[
        bank.tables.customers["join_date"] <= pd.Timestamp(AS_OF), "customer_id"
    ]
    assert set(scores["customer_id"]) <= set(joined)
    assert scores["churn_probability"].between(0, 1).all()
    assert scores["survival_12m"].between(0, 1).all()
    assert (scores["clv"].notna()).all() and (scores["expected_months"] <= 36).all()
    assert set(scores["risk_tier"].astype(str)) <= {"low", "medium", "high"}
    assert set(scores["segment"]) <= {"at_risk", "high_value", "potential", "stable"}
    high = scores["churn_probability"] >= CONFIG.risk_edges[1]
    assert (scores.loc[high, "risk_tier"] == "high").all()
    risky = scores.nlargest(20, "churn_probability")
    assert (risky["top_reasons"].str.len() > 0).all()
    assert risky["reason_1_feature"].notna().all()


def test_scores_do_not_depend_on_rows_after_as_of(bank, scores):
    known = as_of(bank.tables, AS_OF)
    again = ChurnModel(CONFIG).fit(known, as_of=AS_OF).score(known, as_of=AS_OF)
    pd.testing.assert_frame_equal(again, scores, check_exact=True)


def test_save_and_load_score_exactly_alike(fitted, bank, scores, tmp_path):
    written = fitted.save(tmp_path / "model")
    assert {p.name for p in written} == {
        "classifier.lgb.txt",
        "classifier.json",
        "survival.lgb.txt",
        "survival.json",
        "churn_model.json",
    }
    loaded = ChurnModel.load(tmp_path / "model")
    assert loaded.config == fitted.config
    pd.testing.assert_frame_equal(loaded.score(bank.tables, as_of=AS_OF), scores, check_exact=True)
    with pytest.raises(InputError, match="not a saved ChurnModel"):
        ChurnModel.load(tmp_path)


def test_feature_tables_that_differ_from_the_model_are_errors(fitted, bank):
    from churnml.features import build_features

    X = build_features(as_of(bank.tables, AS_OF), cutoffs=[AS_OF]).set_index(
        ["customer_id", "cutoff"]
    )
    tables = as_of(bank.tables, AS_OF)
    with pytest.raises(InputError, match=r"missing \['trend__balance__now'\]"):
        fitted.score_features(X.drop(columns="trend__balance__now"), tables=tables)
    with pytest.raises(InputError, match=r"extra \['surprise'\]"):
        fitted.score_features(X.assign(surprise=1.0), tables=tables)
    with pytest.raises(InputError, match="indexed by \\(customer_id, cutoff\\)"):
        fitted.score_features(X.reset_index(), tables=tables)
    retyped = X.assign(profile__region=np.arange(len(X)))
    with pytest.raises(InputError):
        fitted.score_features(retyped.assign(trend__balance__now="high"), tables=tables)


def test_as_of_outside_the_data_and_unfitted_models_are_errors(bank):
    with pytest.raises(InputError, match="lies after the end of the data"):
        ChurnModel(CONFIG).fit(bank.tables, as_of="2031-01-31")
    with pytest.raises(InputError, match="not fitted"):
        ChurnModel(CONFIG).score(bank.tables, as_of=AS_OF)
