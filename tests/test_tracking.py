"""churnml.tracking: a training run in MLflow, the pyfunc from code, the registry alias."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from churnml.datasets import make_bank
from churnml.errors import InputError
from churnml.features import build_features
from churnml.margin import monthly_margin
from churnml.pipeline import ChurnModel, ChurnModelConfig
from churnml.tiers import value_tiers
from churnml.timeline import as_of

mlflow = pytest.importorskip("mlflow")

from churnml import tracking  # noqa: E402

pytestmark = [
    # MLflow's SQLAlchemy store uses the deprecated ``noload`` strategy (SQLAlchemy 2.1).
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
    ),
    # mlflow.pyfunc's import warns about Any hints in its own agent types.
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]

AS_OF = "2023-09-30"
CONFIG = ChurnModelConfig(
    cutoffs=9, classifier={"n_estimators": 80}, survival={"n_estimators": 60}, seed=3
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("tracking")


@pytest.fixture(scope="module")
def env(folder):
    """A SQLite tracking database in a temporary folder, which is also the working one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder}/mlflow.db")
        patch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        patch.chdir(folder)
        yield folder
        mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def bank():
    return make_bank(n_customers=2000, months=24, seed=4)


@pytest.fixture(scope="module")
def fitted(bank):
    return ChurnModel(CONFIG).fit(bank.tables, as_of=AS_OF)


@pytest.fixture(scope="module")
def run(env, fitted):
    plot = env / "calibration.png"
    plot.write_bytes(b"\x89PNG not really")
    return tracking.log_training(
        fitted, register="churn", artifacts={"calibration": plot}, experiment="churn-tests"
    )


@pytest.fixture(scope="module")
def client(env):
    return mlflow.MlflowClient(tracking.tracking_uri())


@pytest.fixture(scope="module")
def pyfunc(run):
    return mlflow.pyfunc.load_model(run.model_uri)


@pytest.fixture(scope="module")
def inputs(bank, fitted):
    """One cutoff's flat feature table with margin and value tier, and the tables it came from."""
    when = pd.Timestamp(AS_OF)
    known = as_of(bank.tables, when)
    features = build_features(known, cutoffs=[when], definition=fitted.config.definition)
    margin = monthly_margin(known, cutoffs=[when], config=fitted.config.margin)
    tiers = value_tiers(known, cutoffs=[when], config=fitted.config.tiers)
    keys = ["customer_id", "cutoff"]
    flat = features.merge(margin[[*keys, "margin"]], on=keys, how="left").merge(
        tiers[[*keys, "value_tier"]], on=keys, how="left"
    )
    return SimpleNamespace(features=features, flat=flat, known=known)


def test_run_holds_params_metrics_and_artifacts(run, client, fitted):
    logged = client.get_run(run.run_id)
    params = logged.data.params
    assert params["cutoffs"] == "9"
    assert params["classifier.n_estimators"] == "80"
    assert params["survival.n_estimators"] == "60"
    assert params["evaluation_cutoff"] == "2023-06-30"
    assert any(key.startswith("margin.") for key in params)
    for name, value in fitted.metrics_.items():
        assert logged.data.metrics[name] == pytest.approx(value)
    assert run.metrics == pytest.approx(fitted.metrics_)
    history = client.get_metric_history(run.run_id, "training_churn_rate")
    assert [m.step for m in history] == list(range(9))
    np.testing.assert_allclose(
        [m.value for m in history], fitted.training_summary_["churn_rate"].to_numpy()
    )
    files = {a.path for a in client.list_artifacts(run.run_id)}
    assert {"training_summary.csv", "review"} <= files
    assert [a.path for a in client.list_artifacts(run.run_id, "review")] == [
        "review/calibration.png"
    ]
    summary = pd.read_csv(
        mlflow.artifacts.download_artifacts(run_id=run.run_id, artifact_path="training_summary.csv")
    )
    assert summary["rows"].tolist() == fitted.training_summary_["rows"].tolist()
    assert run.model_uri.startswith("models:/m-")


def test_artifacts_stay_beside_the_database(run, env, client):
    experiment = client.get_experiment_by_name("churn-tests")
    assert experiment.artifact_location == (env / "mlartifacts").as_uri()
    assert not (Path(tracking.__file__).parent / "mlruns").exists()


def test_the_alias_resolves_to_the_registered_version(run, client, bank, fitted):
    assert run.registered_version == 1
    version = client.get_model_version_by_alias("churn", "champion")
    assert int(version.version) == run.registered_version
    champion = tracking.load_model("models:/churn@champion")
    pd.testing.assert_frame_equal(
        champion.score(bank.tables, as_of=AS_OF), fitted.score(bank.tables, as_of=AS_OF)
    )


def test_no_pickle_in_the_logged_model(run):
    local = Path(mlflow.artifacts.download_artifacts(run.model_uri))
    names = [p.name for p in local.rglob("*") if p.is_file()]
    assert not [n for n in names if n.endswith((".pkl", ".pickle", ".cloudpickle"))]
    assert "_pyfunc_model.py" in names
    assert "churn_model.json" in names


def test_a_fresh_process_scores_as_the_model_in_memory(run, inputs, fitted, env):
    features_file = env / "features.parquet"
    scores_file = env / "scores.parquet"
    inputs.flat.to_parquet(features_file)
    code = (
        "import sys, mlflow, pandas as pd; "
        "model = mlflow.pyfunc.load_model(sys.argv[1]); "
        "model.predict(pd.read_parquet(sys.argv[2])).to_parquet(sys.argv[3])"
    )
    subprocess.run(
        [sys.executable, "-c", code, run.model_uri, str(features_file), str(scores_file)],
        check=True,
        env=dict(os.environ),
        capture_output=True,
        timeout=120,
    )
    X = inputs.features.set_index(["customer_id", "cutoff"])
    expected = fitted.score_features(X, tables=inputs.known)
    got = pd.read_parquet(scores_file)
    pd.testing.assert_frame_equal(
        got, expected, check_dtype=False, check_categorical=False, check_exact=True
    )
    assert (got["churn_probability"].to_numpy() == expected["churn_probability"].to_numpy()).all()
    assert got["top_reasons"].tolist() == expected["top_reasons"].tolist()


def test_without_margin_and_tier_the_value_is_missing(pyfunc, inputs, fitted):
    got = pyfunc.predict(inputs.features.head(50))
    X = inputs.features.set_index(["customer_id", "cutoff"])
    expected = fitted.score_features(X, tables=inputs.known)
    expected = expected[expected["customer_id"].isin(got["customer_id"])].reset_index(drop=True)
    np.testing.assert_array_equal(got["churn_probability"], expected["churn_probability"])
    np.testing.assert_array_equal(got["expected_months"], expected["expected_months"])
    assert got[["clv", "value_at_risk", "value_tier", "segment"]].isna().all().all()


def test_int_features_are_read_where_mlflow_would_reject_them(pyfunc, inputs, fitted):
    numeric = [c for c in fitted.feature_names_ if pd.api.types.is_float_dtype(inputs.flat[c])]
    frame = inputs.flat.head(20).copy()
    frame[numeric[0]] = frame[numeric[0]].fillna(0).round().astype("int64")
    assert len(pyfunc.predict(frame)) == 20


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f, c: f.drop(columns=[c[0]]), r"missing \['{0}'\]"),
        (lambda f, c: f.assign(surprise=1.0), r"extra \['surprise'\]"),
        (lambda f, c: f.assign(**{c[0]: f[c[0]].astype(str)}), r"retypes 1 .*'?{0} \(object"),
        (lambda f, c: f.drop(columns=["cutoff"]), r"missing \['cutoff'\]"),
        (lambda f, c: f.assign(value_tier="gold"), r"value_tier holds \['gold'\]"),
    ],
    ids=["missing", "extra", "retyped", "no-cutoff", "unknown-tier"],
)
def test_column_errors_name_the_columns(pyfunc, inputs, fitted, change, message):
    numeric = [c for c in fitted.feature_names_ if pd.api.types.is_float_dtype(inputs.flat[c])]
    frame = change(inputs.flat.head(10).copy(), numeric)
    with pytest.raises(InputError, match=message.format(numeric[0])):
        pyfunc.predict(frame)


def test_tuning_trials_are_logged(env, fitted, client):
    optuna = pytest.importorskip("optuna")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=3)
    tuned = copy.copy(fitted)
    tuned.tuning_ = SimpleNamespace(study=study, to_dict=lambda: {"best_value": study.best_value})
    run = tracking.log_training(tuned, experiment="churn-tests")
    assert run.registered_version is None
    trials = pd.read_csv(
        mlflow.artifacts.download_artifacts(run_id=run.run_id, artifact_path="tuning/trials.csv")
    )
    assert len(trials) == 3 and "params_x" in trials.columns
    assert "tuning.best_value" in client.get_run(run.run_id).data.params


def test_missing_review_file_is_an_error(env, fitted, folder):
    with pytest.raises(InputError, match="review artifacts not found"):
        tracking.log_training(fitted, artifacts={"plot": folder / "nope.png"})


def test_default_tracking_uri_is_the_working_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = tracking.tracking_uri()
    assert uri == f"sqlite:///{(tmp_path / 'mlflow.db').resolve().as_posix()}"
    assert str(Path(tracking.__file__).parent) not in uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert tracking.tracking_uri() == "http://mlflow.example:5000"
