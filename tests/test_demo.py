"""The demo runs the data layer and the models end to end on a small bank."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

import churnml
from churnml.demo import run_demo


def test_demo_trains_scores_and_writes(tmp_path):
    summary = run_demo(n_customers=1_500, months=20, seed=3, out=tmp_path)
    assert "classifier: ROC AUC" in summary and "survival: C-index" in summary
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert scores.index.names == ["customer_id", "cutoff"]
    for column in ["churn_probability", "survival_12m"]:
        assert scores[column].between(0, 1).all()
    assert scores["expected_months_12m"].between(0, 12).all()


def test_public_api_loads_the_model_layer_lazily():
    code = "import sys, churnml; print('lightgbm' in sys.modules)"
    light = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert light.stdout.strip() == "False"
    assert churnml.ChurnClassifier.__name__ == "ChurnClassifier"
    assert set(churnml.__all__) <= set(dir(churnml)) | {"ChurnClassifier"} | set(churnml._LAZY)
