"""Smoke test of experiments/run.py: quick mode writes the tables, with finite numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
DATA = ROOT.parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder absent: {DATA}")
ON_DATA = ["churn_modelling", "customer_churn_records", "berka"]
CONFIGS = sorted(path.stem for path in EXPERIMENTS.glob("*.toml"))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One quick run of every experiment whose data is here; ``-W error`` as in pytest."""
    out = tmp_path_factory.mktemp("experiments") / "experiments.md"
    names = ["synthetic_bank", *(ON_DATA if DATA.is_dir() else [])]
    command = [sys.executable, "-W", "error", str(EXPERIMENTS / "run.py"), "--quick"]
    result = subprocess.run(
        [*command, "--only", *names, "--out", str(out), "--data", str(DATA)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run = json.loads(out.with_suffix(".json").read_text())
    return out.read_text(), {entry["name"]: entry for entry in run["experiments"]}


def _section(markdown: str, title: str) -> str:
    start = markdown.index(f"## {title}")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end > 0 else None]


def _check_experiment(quick_run, name: str, models: list[str]) -> dict:
    markdown, entries = quick_run
    entry = entries[name]
    assert entry["status"] == "done", entry.get("reason")
    assert entry["warnings"] == []
    assert entry["rows"], "no result rows"
    for row in entry["rows"]:
        assert row["value"] is not None and math.isfinite(row["value"]), row
    section = _section(markdown, entry["title"])
    assert "| model | metric | value | target | met | note |" in section
    assert "Runtime" in section
    for model in models:
        assert f"| {model}" in section, f"{model} missing from the {name} table"
    return entry


def test_synthetic_bank_tables(quick_run):
    entry = _check_experiment(
        quick_run,
        "synthetic_bank",
        ["oracle", "classifier, fixed params", "classifier, tuned", "Cox (lifelines) @"],
    )
    metrics = {(row["model"], row["metric"]) for row in entry["rows"]}
    assert ("oracle", "roc_auc") in metrics
    assert ("classifier, tuned", "roc_auc gap to oracle") in metrics
    assert any(metric.startswith("mean P(churn") for _, metric in metrics)
    met = [row["met"] for row in entry["rows"] if row["target"]]
    assert met and all(isinstance(value, bool) for value in met)


def test_header_and_summary(quick_run):
    markdown, entries = quick_run
    assert "- Command: `" in markdown and "--quick" in markdown
    assert "- Machine: " in markdown and "- Commit `" in markdown
    for entry in entries.values():
        assert f"[{entry['title']}]" in _section(markdown, "Summary")


@needs_data
def test_churn_modelling_tables(quick_run):
    entry = _check_experiment(
        quick_run,
        "churn_modelling",
        [
            "ChurnClassifier defaults",
            "ChurnClassifier tuned",
            "CoxBaseline (Tenure)",
            "sksurv GradientBoostingSurvivalAnalysis (Tenure)",
        ],
    )
    assert any("roc_auc" in row["metric"] and row["target"] for row in entry["rows"])


@needs_data
def test_customer_churn_records_flags_complain(quick_run):
    entry = _check_experiment(quick_run, "customer_churn_records", ["leakage_report"])
    flagged = next(row for row in entry["rows"] if row["metric"] == "features flagged")
    assert flagged["met"] is True and flagged["note"] == "flagged: Complain"


@needs_data
def test_berka_counts_events(quick_run):
    entry = _check_experiment(quick_run, "berka", ["data"])
    assert any(row["metric"] == "classifier test churns" for row in entry["rows"])


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_has_a_quick_table(name):
    with (EXPERIMENTS / f"{name}.toml").open("rb") as file:
        config = tomllib.load(file)
    assert config["title"] and config["quick"]


def test_quick_needs_an_explicit_out():
    result = subprocess.run(
        [sys.executable, str(EXPERIMENTS / "run.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "--quick needs --out" in result.stderr
