"""The model review pack: every artifact renders, tables and the model card hold the facts."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from churnml.datasets import make_bank
from churnml.errors import InputError
from churnml.explain import pre_churn_signature
from churnml.features import build_features
from churnml.pipeline import ChurnModel, ChurnModelConfig
from churnml.review import (
    ReviewPack,
    calibration_table,
    clv_figure,
    gains_table,
    review_pack,
    roc_pr_figure,
)
from churnml.timeline import as_of

AS_OF = "2023-09-30"
CONFIG = ChurnModelConfig(
    cutoffs=9, classifier={"n_estimators": 40}, survival={"n_estimators": 30}, seed=3
)


@pytest.fixture(scope="module")
def bank():
    return make_bank(n_customers=2000, months=24, seed=4)


@pytest.fixture(scope="module")
def fitted(bank):
    return ChurnModel(CONFIG).fit(bank.tables, as_of=AS_OF)


def _features(tables, cutoff):
    features = build_features(tables, cutoffs=[cutoff], definition=CONFIG.definition)
    return features.set_index(["customer_id", "cutoff"])


@pytest.fixture(scope="module")
def pack(fitted, bank):
    known = as_of(bank.tables, pd.Timestamp(AS_OF))
    X_score = _features(known, pd.Timestamp(AS_OF))
    scores = fitted.score_features(X_score, tables=known)
    X_eval = _features(known, fitted.evaluation_cutoff_)
    signature = pre_churn_signature(
        known, churned_between=("2023-04-01", "2023-07-31"), months_before=2
    )
    return review_pack(fitted, scores, X_eval=X_eval, X_score=X_score, signature=signature)


FIGURES = [
    "roc_pr",
    "calibration",
    "gains",
    "shap_summary",
    "pre_churn_signature",
    "survival_by_tier",
    "clv",
]
TABLES = {
    "metrics": ["metric", "value"],
    "training_summary": ["cutoff", "rows", "customers", "churners", "churn_rate"],
    "calibration": ["bin", "lower", "upper", "n", "churners", "mean_predicted", "observed_rate"],
    "gains": [
        "group",
        "n",
        "churners",
        "churn_rate",
        "lift",
        "share_targeted",
        "capture",
        "cumulative_lift",
    ],
    "feature_catalogue": ["name", "family", "kind", "description", "reason", "in_model"],
    "survival_by_tier": ["value_tier", "month", "customers", "mean_survival"],
}


def test_every_artifact_is_written_and_loadable(pack, tmp_path):
    assert list(pack.figures) == FIGURES
    assert all(isinstance(figure, Figure) for figure in pack.figures.values())
    written = pack.write(tmp_path / "review")
    names = [path.name for path in written]
    assert names == [f"{n}.png" for n in FIGURES] + [f"{n}.csv" for n in TABLES] + ["model_card.md"]
    for path in written:
        assert path.stat().st_size > 0
        if path.suffix == ".png":
            image = matplotlib.image.imread(path)
            assert image.ndim == 3 and min(image.shape[:2]) > 100
        elif path.suffix == ".csv":
            assert list(pd.read_csv(path).columns) == TABLES[path.stem]


def test_tables_hold_what_the_figures_show(pack, fitted):
    for name, columns in TABLES.items():
        assert list(pack.tables[name].columns) == columns
    evaluation = fitted.evaluation_
    calibration = pack.tables["calibration"]
    assert calibration["n"].sum() == len(evaluation)
    assert calibration["churners"].sum() == evaluation["churned"].sum()
    gains = pack.tables["gains"]
    assert len(gains) == 10 and gains["capture"].iloc[-1] == pytest.approx(1.0)
    assert gains["lift"].iloc[0] == pytest.approx(fitted.metrics_["test_lift_top_decile"], rel=0.1)
    survival = pack.tables["survival_by_tier"]
    assert set(survival["month"]) == set(range(1, CONFIG.clv_horizon_months + 1))
    assert survival["mean_survival"].between(0, 1).all()
    for _, line in survival.groupby("value_tier"):
        assert line["mean_survival"].is_monotonic_decreasing
    catalogue = pack.tables["feature_catalogue"]
    assert catalogue["in_model"].sum() >= 0.9 * len(fitted.feature_names_)


def test_model_card_states_the_window_label_and_metrics(pack, fitted):
    card = pack.model_card
    assert card.startswith("# Churn model card")
    assert "2023-09-30" in card and str(fitted.evaluation_cutoff_.date()) in card
    assert str(fitted.cutoffs_[0].date()) in card
    assert "`any`" in card and "90 days" in card
    for name, value in fitted.metrics_.items():
        assert f"| {name} | {value:.4f} |" in card
    assert "## Known limits" in card and card.count("\n- ") >= 8


def test_small_tables_match_hand_counts():
    y = [0, 0, 0, 1, 0, 1, 1, 1]
    p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    calibration = calibration_table(y, p, bins=4)
    assert calibration["n"].tolist() == [2, 2, 2, 2]
    assert calibration["observed_rate"].tolist() == [0.0, 0.5, 0.5, 1.0]
    gains = gains_table(y, p, groups=4)
    assert gains["churners"].tolist() == [2, 1, 1, 0]
    assert gains["lift"].tolist() == [2.0, 1.0, 1.0, 0.0]
    assert gains["capture"].tolist() == [0.5, 0.75, 1.0, 1.0]


def test_clv_scale_and_bad_inputs():
    assert clv_figure(pd.DataFrame({"clv": [100.0, 150.0, 200.0]})).axes[0].get_xscale() == "linear"
    wide = clv_figure(pd.DataFrame({"clv": [-5.0, 1.0, 10.0, 1e4]}))
    assert "1 at 0 or below not shown" in wide.axes[0].get_title()
    with pytest.raises(InputError, match="one class only"):
        roc_pr_figure([0, 0], [0.1, 0.2])
    with pytest.raises(InputError, match="probabilities in"):
        roc_pr_figure([0, 1], [0.1, np.nan])
    with pytest.raises(InputError, match="no clv column"):
        clv_figure(pd.DataFrame({"x": [1.0]}))


def test_pack_without_optional_inputs(fitted, tmp_path):
    pack = review_pack(fitted)
    assert list(pack.figures) == ["roc_pr", "calibration", "gains"]
    assert isinstance(pack, ReviewPack) and "survival_by_tier" not in pack.tables
    assert (tmp_path / "model_card.md") in pack.write(tmp_path)
