"""SHAP explanations: contributions of the scoring booster, reasons in words, rankings."""

from __future__ import annotations

import re
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from churnml.classifier import ChurnClassifier
from churnml.errors import InputError, ReasonWarning
from churnml.explain import (
    contributions,
    feature_importance,
    plot_beeswarm,
    plot_importance,
    top_reasons,
    typical_values,
)
from churnml.explain.contributions import import_shap
from churnml.explain.reasons import catalogue_reasons, write
from churnml.features import feature_catalogue
from churnml.features.catalogue import REASON_UNITS, Reason
from churnml.timeline import month_end_cutoffs
from churnml.training import training_set

SCORING_CUTOFF = "2023-12-31"


@pytest.fixture(scope="module")
def fitted(synthetic_bank):
    """A classifier on the synthetic bank's labelled cutoffs, and the rows of a later one."""
    data = training_set(
        synthetic_bank.tables,
        cutoffs=[*month_end_cutoffs("2022-12-31", "2023-09-30"), SCORING_CUTOFF],
        check=False,
    )
    X, y = data.classification()
    model = ChurnClassifier(n_estimators=300, learning_rate=0.08, random_state=0).fit(X, y)
    later = data.X.xs(pd.Timestamp(SCORING_CUTOFF), level="cutoff", drop_level=False)
    return model, X, later


@pytest.fixture(scope="module")
def reasons(fitted):
    model, X, later = fitted
    return top_reasons(model, later, k=3, typical=typical_values(X))


# --- the catalogue's phrases -------------------------------------------------------------


def test_every_catalogue_feature_has_a_reason_phrase():
    catalogue = feature_catalogue()
    lacking = catalogue.loc[catalogue["reason"].isna(), "name"].tolist()
    assert lacking == []
    phrases = catalogue_reasons()
    assert set(phrases) == set(catalogue["name"])
    for name, phrase in phrases.items():
        assert phrase.unit in REASON_UNITS, name
        assert phrase.text.count("{value}") == 1, name
        assert phrase.text == phrase.text.strip() and "  " not in phrase.text, name
    categories = set(catalogue.loc[catalogue["kind"] == "category", "name"])
    assert {n for n, p in phrases.items() if p.unit == "category"} == categories


def test_counts_of_one_read_in_the_singular():
    phrase = catalogue_reasons()["peak__falls_since_peak__12m"]
    assert phrase.phrase("1") == "1 step down of over 10% since the 12-month peak"
    assert phrase.phrase("3") == "3 steps down of over 10% since the 12-month peak"


def test_a_reason_needs_a_known_unit_and_a_value_placeholder():
    with pytest.raises(ValueError, match="unknown reason unit 'percent'"):
        Reason("{value} of outflows", "percent")
    with pytest.raises(ValueError, match="needs a \\{value\\} placeholder"):
        Reason("outflows went elsewhere", "share")
    with pytest.raises(ValueError, match="may hold only"):
        Reason("{value} of {flows}", "share")


@pytest.mark.parametrize(
    ("unit", "value", "written"),
    [
        ("count", 2.0, "2"),
        ("money", -12345.6, "-12,346"),
        ("share", 0.424, "42%"),
        ("shortfall", 0.36, "64%"),
        ("shortfall", 1.0, "0%"),
        ("change", -0.5, "-50%"),
        ("rate", -0.123, "-12.3%"),
        ("days", 45.0, "45"),
        ("months", 13.4, "13"),
        ("level", 3.0, "3"),
        ("yes_no", 1.0, "yes"),
        ("yes_no", 0.0, "no"),
        ("number", 0.012345, "0.01235"),
    ],
)
def test_values_are_written_in_their_unit(unit, value, written):
    assert write([value], unit).tolist() == [written]


def test_missing_values_are_written_empty():
    assert write([np.nan, 1.0], "share").tolist() == ["", "100%"]
    assert write([None, "north"], "category").tolist() == ["", "north"]


# --- contributions -----------------------------------------------------------------------


def test_contributions_add_up_to_the_log_odds_the_calibrator_reads(fitted):
    model, _, later = fitted
    shap = contributions(model, later)
    assert shap.values.index.equals(later.index)
    assert list(shap.values.columns) == list(later.columns)
    expected = model.decision_function(later) - model.score_shift_
    np.testing.assert_allclose(shap.log_odds().to_numpy(), expected, rtol=0, atol=1e-9)


def test_contributions_are_shaps_own_tree_explainer(fitted):
    model, _, later = fitted
    rows = later.head(300)
    ours = contributions(model, rows).values.to_numpy()
    explainer = import_shap().TreeExplainer(model.booster_)
    theirs = explainer(model.frame_.view(rows)).values
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=0, atol=1e-9)


def test_chunking_changes_nothing(fitted):
    model, _, later = fitted
    rows = later.head(500)
    whole = contributions(model, rows)
    chunked = contributions(model, rows, chunk_size=37)
    pd.testing.assert_frame_equal(whole.values, chunked.values)
    assert whole.base == chunked.base
    pd.testing.assert_frame_equal(
        top_reasons(model, rows, typical=typical_values(rows)),
        top_reasons(model, rows, typical=typical_values(rows), chunk_size=37),
    )


def test_platt_calibration_keeps_the_order_of_the_explained_scores(fitted):
    model, _, later = fitted
    log_odds = contributions(model, later).log_odds().to_numpy()
    probability = model.predict_proba(later)[:, 1]
    order = np.argsort(log_odds, kind="stable")
    assert np.all(np.diff(probability[order]) >= 0)
    # The calibrated log-odds are a straight line of the explained ones.
    slope = contributions(model, later).calibration_slope
    calibrated = np.log(probability / (1 - probability))
    fitted_slope = np.polyfit(log_odds, calibrated, 1)[0]
    assert slope > 0 and fitted_slope == pytest.approx(slope, rel=1e-6)


def test_only_a_churn_classifier_is_explained(fitted):
    _, X, _ = fitted
    with pytest.raises(InputError, match="need a fitted ChurnClassifier"):
        contributions(object(), X)
    with pytest.raises(InputError, match="chunk_size must be at least 1"):
        contributions(fitted[0], X, chunk_size=0)


def test_missing_feature_columns_are_an_error(fitted):
    model, _, later = fitted
    with pytest.raises(InputError, match="missing: peak__current_to_peak__3m"):
        top_reasons(model, later.drop(columns="peak__current_to_peak__3m"))


# --- reasons -----------------------------------------------------------------------------


def test_reasons_are_the_largest_positive_contributions_in_order(fitted, reasons):
    model, _, later = fitted
    shap = contributions(model, later).values
    assert reasons.index.equals(later.index)
    sizes = reasons[[f"reason_{i}_contribution" for i in (1, 2, 3)]].to_numpy()
    shown = ~np.isnan(sizes)
    assert (sizes[shown] > 0).all()
    # Largest first, and past the last reason nothing.
    assert (np.nan_to_num(sizes[:, :-1], nan=-1) >= np.nan_to_num(sizes[:, 1:], nan=-1)).all()
    assert (shown[:, :-1] | ~shown[:, 1:]).all()
    top = shap.to_numpy().max(axis=1)
    np.testing.assert_allclose(np.where(top > 0, top, np.nan), sizes[:, 0])
    for row in range(0, len(later), 97):
        feature = reasons["reason_1_feature"].iat[row]
        if feature is not None:
            assert shap[feature].iat[row] == pytest.approx(sizes[row, 0])


def test_reasons_write_the_customers_own_value_and_the_typical_one(fitted, reasons):
    _, X, later = fitted
    typical = typical_values(X)
    phrase = catalogue_reasons()["peak__current_to_peak__12m"]
    picked = reasons["reason_1_feature"] == "peak__current_to_peak__12m"
    assert picked.sum() > 5  # the balance fall is among the strongest planted signals
    for customer in reasons.index[picked][:20]:
        value = later.at[customer, "peak__current_to_peak__12m"]
        below = f"{max(1 - value, 0):.0%}"
        usual = f"{max(1 - typical['peak__current_to_peak__12m'], 0):.0%}"
        text = phrase.phrase(below) + f", typical customer {usual}"
        assert reasons.at[customer, "reason_1"] == text
        assert reasons.at[customer, "top_reasons"].startswith(text)


def test_reason_texts_are_readable(reasons):
    texts = pd.concat([reasons[f"reason_{i}"] for i in (1, 2, 3)]).dropna()
    assert len(texts) > 0.9 * 3 * len(reasons)
    assert not texts.str.contains(r"nan|None|\{|\}|__").any()
    joined = reasons["top_reasons"]
    counts = reasons[[f"reason_{i}" for i in (1, 2, 3)]].notna().sum(axis=1)
    assert (joined.str.count("; ") == (counts - 1).clip(lower=0)).all()
    assert (joined[counts == 0] == "").all()


def test_high_risk_customers_have_three_reasons(fitted, reasons):
    model, _, later = fitted
    risk = pd.Series(model.predict_proba(later)[:, 1], index=later.index)
    top = risk.nlargest(50).index
    assert reasons.loc[top, "reason_3"].notna().all()


def test_a_missing_value_reads_as_its_phrase(fitted):
    model, X, later = fitted
    rows = later.head(200).copy()
    rows["flows__days_since_last_transaction"] = np.nan
    out = top_reasons(model, rows, k=len(rows.columns), typical=typical_values(X))
    picked = out.filter(like="_feature").eq("flows__days_since_last_transaction")
    positions = np.argwhere(picked.to_numpy())
    texts = {out[f"reason_{j + 1}"].iat[i] for i, j in positions}
    if positions.size:
        assert texts == {"never transacted"}


def test_k_and_typical_are_checked(fitted):
    model, X, later = fitted
    for k in (0, 1.5, True):
        with pytest.raises(InputError, match="k must be a whole number"):
            top_reasons(model, later, k=k)
    with pytest.raises(InputError, match="typical has no value for 1 of the model's features"):
        top_reasons(model, later, typical=typical_values(X).drop("profile__age"))
    with pytest.raises(InputError, match="needs a DataFrame"):
        top_reasons(model, later.to_numpy())


def test_a_few_rows_without_a_reference_population_warn(fitted):
    model, _, later = fitted
    with pytest.warns(ReasonWarning, match="typical customer is taken from the 5 rows"):
        top_reasons(model, later.head(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        top_reasons(model, later.head(5), typical=typical_values(later))


def test_empty_rows_give_an_empty_table_with_the_columns(fitted):
    model, X, later = fitted
    out = top_reasons(model, later.head(0), k=2, typical=typical_values(X))
    assert len(out) == 0
    assert list(out.columns) == [
        "top_reasons",
        "reason_1",
        "reason_1_feature",
        "reason_1_contribution",
        "reason_2",
        "reason_2_feature",
        "reason_2_contribution",
    ]


def test_own_features_are_named_with_a_warning_unless_phrased():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(
        {
            "Age": rng.integers(18, 90, 3000).astype(float),
            "Geography": rng.choice(["France", "Spain"], 3000),
        }
    )
    y = ((X["Age"] > 60) & (X["Geography"] == "Spain")).astype(int)
    y[:50] = 1
    model = ChurnClassifier(n_estimators=50).fit(X, y)
    with pytest.warns(ReasonWarning, match="2 of the model's 2 features have no reason phrase"):
        out = top_reasons(model, X, k=1)
    old_spaniard = X.index[(X["Age"] > 80) & (X["Geography"] == "Spain")][0]
    assert re.fullmatch(
        r"(Age: \d+, typical customer \d+|Geography: Spain)", out.at[old_spaniard, "reason_1"]
    )
    phrases = {
        "Age": Reason("aged {value}", "years"),
        "Geography": Reason("in {value}", "category"),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        phrased = top_reasons(model, X, k=2, reasons=phrases)
    age = f"aged {int(X.at[old_spaniard, 'Age'])}, typical customer {X['Age'].median():.0f}"
    assert phrased.at[old_spaniard, "top_reasons"] in {f"{age}; in Spain", f"in Spain; {age}"}


# --- global ------------------------------------------------------------------------------


def test_importance_by_feature_and_family(fitted):
    model, _, later = fitted
    shap = contributions(model, later)
    by_feature = feature_importance(shap)
    by_family = feature_importance(shap, by="family")
    assert len(by_feature) == later.shape[1]
    assert by_feature["mean_abs_shap"].is_monotonic_decreasing
    assert by_feature["share"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(
        by_feature.set_index("feature")["mean_abs_shap"].loc[later.columns].to_numpy(),
        shap.values.abs().mean().to_numpy(),
    )
    summed = by_feature.groupby("family")["mean_abs_shap"].sum()
    np.testing.assert_allclose(
        by_family.set_index("family")["mean_abs_shap"].loc[summed.index], summed.to_numpy()
    )
    assert set(by_family["family"]) == {
        "trend",
        "peak",
        "flows",
        "products",
        "complaints",
        "profile",
    }
    # The generator drives balances, flows and complaints; the profile matters least.
    assert by_family["family"].iloc[-1] == "profile"
    with pytest.raises(InputError, match="by must be 'feature' or 'family'"):
        feature_importance(shap, by="column")
    with pytest.raises(InputError, match="0 rows"):
        feature_importance(contributions(model, later.head(0)))


def test_plots_are_figures(fitted):
    model, _, later = fitted
    shap = contributions(model, later.head(400))
    bars = plot_importance(feature_importance(shap), top=10)
    swarm = plot_beeswarm(shap, top=10)
    try:
        assert len(bars.axes[0].patches) == 10
        labels = [tick.get_text() for tick in swarm.axes[0].get_yticklabels()]
        assert feature_importance(shap)["feature"].iloc[0] in labels
    finally:
        plt.close(bars)
        plt.close(swarm)
