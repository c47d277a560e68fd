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
