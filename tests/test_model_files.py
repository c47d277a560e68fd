"""Fitted models as text and JSON: loading predicts exactly what the saved model did."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churnml.classifier import ChurnClassifier
from churnml.errors import InputError
from churnml.model_files import load_estimator, save_estimator
from churnml.survival import ChurnSurvivalModel
from churnml.timeline import Horizon
from churnml.training import survival_target


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        {
            "falls": rng.normal(size=1500),
            "region": rng.choice(["north", "south", "east"], 1500),
            "gaps": np.where(rng.random(1500) < 0.2, np.nan, rng.normal(size=1500)),
        }
    )
    y = (X["falls"] + rng.normal(size=1500) > 1.2).astype(int)
    return X, y


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic", None])
def test_classifiers_round_trip_exactly(frame, tmp_path, calibration):
    X, y = frame
    model = ChurnClassifier(n_estimators=40, calibration=calibration, horizon=Horizon(days=90))
    model.fit(X, y)
    save_estimator(model, tmp_path, "classifier")
    again = load_estimator(tmp_path, "classifier")
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert again.get_params() == model.get_params()
    # Text files only: the booster in LightGBM's format, the rest JSON.
    assert (tmp_path / "classifier.lgb.txt").read_text().startswith("tree")
    json.loads((tmp_path / "classifier.json").read_text())


def test_survival_model_round_trips_exactly(frame, tmp_path):
    X, _ = frame
    rng = np.random.default_rng(2)
    months = rng.exponential(12 / np.exp(X["falls"]))
    y = survival_target(months < 18, np.minimum(months, 18), unit="months")
    model = ChurnSurvivalModel(n_estimators=40).fit(X, y)
    save_estimator(model, tmp_path, "survival")
    again = load_estimator(tmp_path, "survival")
    pd.testing.assert_frame_equal(
        again.predict_survival_function(X, [1, 6, 12, 24]),
        model.predict_survival_function(X, [1, 6, 12, 24]),
        check_exact=True,
    )


def test_missing_files_and_other_formats_are_errors(frame, tmp_path):
    X, y = frame
    with pytest.raises(InputError, match="is missing"):
        load_estimator(tmp_path, "classifier")
    save_estimator(ChurnClassifier(n_estimators=10).fit(X, y), tmp_path, "classifier")
    state = json.loads((tmp_path / "classifier.json").read_text())
    state["format_version"] = 99
    (tmp_path / "classifier.json").write_text(json.dumps(state))
    with pytest.raises(InputError, match="format 99"):
        load_estimator(tmp_path, "classifier")
    with pytest.raises(InputError, match="needs a fitted"):
        save_estimator(ChurnClassifier(), tmp_path, "unfitted")
