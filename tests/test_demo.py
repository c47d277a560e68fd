"""The demo runs the data layer and the models end to end on a small bank."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd

import churnml
from churnml.demo import run_demo


def test_demo_trains_scores_and_writes(tmp_path):
    summary = run_demo(n_customers=1_500, months=20, seed=3, out=tmp_path)
    auc, _oracle, visible = map(
        float,
        re.search(
            r"ROC AUC ([\d.]+) \(generator's oracle ([\d.]+);.* shows ([\d.]+)\)", summary
        ).groups(),
    )
    # A model that learned nothing scores 0.5; this one comes near what the tables reveal.
    assert auc > 0.75 and auc >= visible - 0.1, summary
    c_index = float(re.search(r"survival: C-index ([\d.]+)", summary).group(1))
    assert c_index > 0.75, summary
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
    assert set(churnml.__all__) <= set(dir(churnml))


def test_dir_lists_the_lazy_names_before_they_load():
    code = "import churnml; print(sorted(set(churnml._LAZY) - set(dir(churnml))))"
    listed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert listed.stdout.strip() == "[]"
