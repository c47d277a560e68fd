"""Population stability index: hand-computed values, thresholds, warnings, edge cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from churnml.drift import (
    DRIFT_COLUMNS,
    EPSILON,
    DriftWarning,
    check_drift,
    population_stability,
    psi,
    score_stability,
)
from churnml.errors import InputError


def _row(table: pd.DataFrame, feature: str) -> pd.Series:
    return table.set_index("feature").loc[feature]


def test_numeric_psi_matches_a_hand_computation():
    # reference deciles at bins=2: one edge at the median 5.5 -> shares 0.5 / 0.5
    reference = pd.DataFrame({"x": np.arange(1.0, 11.0)})
    current = pd.DataFrame({"x": [1.0, 2.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0]})
    expected = (0.2 - 0.5) * math.log(0.2 / 0.5) + (0.8 - 0.5) * math.log(0.8 / 0.5)
    table = population_stability(reference, current, bins=2)
    assert list(table.columns) == list(DRIFT_COLUMNS)
    row = _row(table, "x")
    assert row["psi"] == pytest.approx(expected, abs=1e-12)  # the empty missing bin adds 0
    assert row["status"] == "shifted" and row["kind"] == "numeric" and row["bins"] == 3


def test_categorical_psi_and_the_missing_bin_match_a_hand_computation():
    reference = pd.DataFrame({"tier": ["a", "a", "b", "b"]})
    current = pd.DataFrame({"tier": ["a", "a", "a", None]})
    shares = {"a": (0.5, 0.75), "b": (0.5, 0.0), "<missing>": (0.0, 0.25)}
    expected = sum(
        (max(c, EPSILON) - max(r, EPSILON)) * math.log(max(c, EPSILON) / max(r, EPSILON))
        for r, c in shares.values()
    )
    row = _row(population_stability(reference, current), "tier")
    assert row["psi"] == pytest.approx(expected, rel=1e-12)
    assert row["kind"] == "categorical" and row["current_missing"] == 0.25


def test_identical_frames_are_stable_with_zero_psi():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "balance": rng.lognormal(8, 1, 500),
            "products": rng.integers(1, 4, 500),
            "region": rng.choice(["north", "south"], 500),
            "active": rng.random(500) < 0.5,
        }
    )
    frame.loc[::7, "balance"] = np.nan
    table = population_stability(frame, frame.copy())
    assert (table["psi"] == 0).all() and (table["status"] == "stable").all()
    assert set(table["feature"]) == set(frame.columns)
    assert _row(table, "active")["kind"] == "categorical"


def test_thresholds_give_stable_watch_and_shifted():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, 4000)
    reference = pd.DataFrame({"small": base, "medium": base, "large": base})
    current = pd.DataFrame(
        {"small": rng.normal(0.02, 1, 4000), "medium": base + 0.4, "large": base + 1.5}
    )
    table = population_stability(reference, current).set_index("feature")
    assert table.loc["small", "status"] == "stable"
    assert table.loc["medium", "status"] == "watch"
    assert table.loc["large", "status"] == "shifted"
    assert table["psi"].is_monotonic_increasing is False  # sorted largest first
    assert list(table.index) == ["large", "medium", "small"]


def test_check_drift_warns_naming_only_the_shifted_features():
    reference = pd.DataFrame({"x": np.arange(100.0), "y": np.arange(100.0)})
    current = pd.DataFrame({"x": np.arange(100.0) + 80, "y": np.arange(100.0)})
    with pytest.warns(DriftWarning, match=r"1 feature\(s\).*x \(PSI") as caught:
        table = check_drift(reference, current)
    assert str(caught[0].message).endswith(": x (PSI 7.278)")
    assert _row(table, "x")["status"] == "shifted"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_drift(reference, reference.copy())  # nothing past the threshold: silent


def test_score_stability_reads_the_churn_probability():
    reference = pd.DataFrame(
        {"customer_id": range(200), "churn_probability": np.linspace(0, 1, 200)}
    )
    same = score_stability(reference, reference.copy())
    assert len(same) == 1 and same.loc[0, "feature"] == "churn_probability"
    assert same.loc[0, "psi"] == 0
    higher = score_stability(reference, reference["churn_probability"].to_numpy() ** 0.2)
    assert higher.loc[0, "status"] == "shifted"
    with pytest.raises(InputError, match="no 'churn_probability' column"):
        score_stability(reference[["customer_id"]], reference)


def test_a_new_category_level_is_its_own_bin():
    reference = pd.DataFrame({"channel": ["branch"] * 50 + ["mobile"] * 50})
    current = pd.DataFrame({"channel": ["branch"] * 45 + ["mobile"] * 45 + ["chatbot"] * 10})
    row = _row(population_stability(reference, current), "channel")
    new_term = (0.1 - EPSILON) * math.log(0.1 / EPSILON)
    old_terms = 2 * (0.45 - 0.5) * math.log(0.45 / 0.5)
    assert row["bins"] == 4  # branch, chatbot, mobile, missing
    assert row["psi"] == pytest.approx(new_term + old_terms, rel=1e-12)
    assert row["status"] == "shifted"


def test_all_missing_columns():
    missing = pd.DataFrame({"x": [np.nan] * 4})
    assert _row(population_stability(missing, missing.copy()), "x")["psi"] == 0
    filled = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    row = _row(population_stability(missing, filled), "x")
    assert row["bins"] == 2 and row["status"] == "shifted"  # one value bin + missing
    assert row["reference_missing"] == 1.0 and row["current_missing"] == 0.0
    assert np.isfinite(row["psi"])


def test_values_beyond_the_reference_range_land_in_the_outer_bins():
    reference = pd.DataFrame({"x": np.arange(10.0)})
    current = pd.DataFrame({"x": np.arange(10.0) * 100 - 450})
    row = _row(population_stability(reference, current, bins=5), "x")
    assert np.isfinite(row["psi"]) and row["status"] == "shifted"


def test_empty_frames_bad_bins_and_columns_are_errors():
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(InputError, match="the current frame has no rows"):
        population_stability(frame, frame.iloc[:0])
    with pytest.raises(InputError, match="the reference frame has no rows"):
        population_stability(frame.iloc[:0], frame)
    with pytest.raises(InputError, match="bins must be a whole number"):
        population_stability(frame, frame, bins=1)
    with pytest.raises(InputError, match=r"columns \['y'\] are not in both frames"):
        population_stability(frame, frame, columns=["y"])
    with pytest.raises(InputError, match="threshold must be a positive PSI"):
        check_drift(frame, frame, threshold=0)
    empty = population_stability(frame, frame, columns=[])
    assert empty.empty and list(empty.columns) == list(DRIFT_COLUMNS)


def test_psi_of_shares():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert psi([1.0, 0.0], [0.0, 1.0]) == pytest.approx(2 * (1 - EPSILON) * math.log(1 / EPSILON))
    with pytest.raises(InputError, match="two 1-D arrays of one length"):
        psi([0.5, 0.5], [1.0])
