"""`churnml score` on a saved model: the contract's file, whole or not at all."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnml.cli import app
from churnml.datasets import make_bank
from churnml.pipeline import SCORE_COLUMNS, ChurnModel, ChurnModelConfig
from churnml.tables import save_tables

CONFIG = ChurnModelConfig(cutoffs=9, classifier={"n_estimators": 60}, survival={"n_estimators": 40})


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("job")
    bank = make_bank(n_customers=1500, months=24, seed=8)
    save_tables(bank.tables, folder / "data")
    model = ChurnModel(CONFIG).fit(bank.tables, as_of="2023-09-30")
    model.save(folder / "model")
    return folder, model, bank


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_score_writes_the_contract_columns(saved):
    folder, model, bank = saved
    out = folder / "scores.parquet"
    result = run(
        "score",
        "--model",
        str(folder / "model"),
        "--data",
        str(folder / "data"),
        "--as-of",
        "2023-12-31",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    assert list(scores.columns[: len(SCORE_COLUMNS)]) == list(SCORE_COLUMNS)
    expected = model.score(bank.tables, as_of="2023-12-31")
    pd.testing.assert_frame_equal(
        scores[["customer_id", "churn_probability", "clv"]],
        expected[["customer_id", "churn_probability", "clv"]],
    )
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_score_writes_csv_and_the_early_warnings(saved):
    folder, _, _ = saved
    first, second = folder / "sep.csv", folder / "dec.csv"
    common = ["--model", str(folder / "model"), "--data", str(folder / "data")]
    assert run("score", *common, "--as-of", "2023-09-30", "--out", str(first)).exit_code == 0
    result = run(
        "score", *common, "--as-of", "2023-12-31", "--out", str(second), "--previous", str(first)
    )
    assert result.exit_code == 0, result.output
    warnings = pd.read_csv(folder / "dec.warnings.csv")
    assert {"customer_id", "entered_at_risk", "top_reasons", "value_at_risk"} <= set(warnings)
    assert (warnings["entered_at_risk"] | warnings["crossed_threshold"]).all()


def test_bad_input_exits_non_zero_and_writes_nothing(saved, tmp_path):
    folder, _, _ = saved
    out = tmp_path / "scores.parquet"
    broken = tmp_path / "data"
    broken.mkdir()
    result = run(
        "score",
        "--model",
        str(folder / "model"),
        "--data",
        str(broken),
        "--as-of",
        "2023-12-31",
        "--out",
        str(out),
    )
    assert result.exit_code == 2
    assert "error:" in result.output and "customers" in result.output
    late = run(
        "score",
        "--model",
        str(folder / "model"),
        "--data",
        str(folder / "data"),
        "--as-of",
        "2031-12-31",
        "--out",
        str(out),
    )
    assert late.exit_code == 2 and "after the end of the data" in late.output
    assert list(tmp_path.iterdir()) == [broken]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Any type hint is inferred:UserWarning")
def test_train_logs_registers_and_score_reads_the_registered_model(saved, tmp_path, monkeypatch):
    import json

    from mlflow import MlflowClient

    folder, _, _ = saved
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    result = run(
        "train",
        "--data",
        str(folder / "data"),
        "--as-of",
        "2023-09-30",
        "--horizon-months",
        "3",
        "--register",
        "churn",
        "--experiment",
        "jobs",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"run_id", "model_uri", "metrics"} <= set(summary)
    assert summary["model_uri"].startswith("models:/m-")
    assert 0.6 < summary["metrics"]["test_roc_auc"] <= 1
    client = MlflowClient()
    run_data = client.get_run(summary["run_id"]).data
    assert run_data.params["horizon_months"] == "3"
    review = {a.path for a in client.list_artifacts(summary["run_id"], "review")}
    assert {"review/model_card.md", "review/roc_pr.png", "review/calibration.png"} <= review
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "1"
    outs = []
    for uri in ("models:/churn@champion", summary["model_uri"]):
        out = tmp_path / f"scores-{len(outs)}.parquet"
        scored = run(
            "score",
            "--model",
            uri,
            "--data",
            str(folder / "data"),
            "--as-of",
            "2023-12-31",
            "--out",
            str(out),
        )
        assert scored.exit_code == 0, scored.output
        outs.append(pd.read_parquet(out))
    pd.testing.assert_frame_equal(outs[0], outs[1])
    assert list(outs[0].columns[: len(SCORE_COLUMNS)]) == list(SCORE_COLUMNS)
