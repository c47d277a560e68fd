"""The leakage guard: planted leaks are flagged, strong honest features are not."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from churnml.errors import InputError, LeakageError, LeakageWarning
from churnml.leakage import check_leakage, leakage_report

BANK_FLAT = Path(__file__).resolve().parents[2] / "shared" / "data" / "bank_flat"
REPORT_COLUMNS = ["feature", "auc", "duration_correlation", "flagged", "reason"]
N = 2_000


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def label(rng):
    return rng.integers(0, 2, N)


def row(report, feature):
    return report.set_index("feature").loc[feature]


def symmetric(auc):
    return max(auc, 1 - auc)


# --- planted leaks and honest features --------------------------------------------------


def test_copy_of_the_label_is_flagged_and_noise_is_not(rng, label):
    X = pd.DataFrame({"noise": rng.normal(size=N), "copy": label, "flipped": 1 - label})
    report = leakage_report(X, label)
    assert list(report.columns) == REPORT_COLUMNS
    assert report["feature"].tolist() == ["copy", "flipped", "noise"]
    assert report["flagged"].tolist() == [True, True, False]
    assert report["auc"].iloc[:2].tolist() == [1.0, 1.0]
    assert "AUC 1.000" in report["reason"].iloc[0]
    assert report["reason"].iloc[2] == ""
    assert report["duration_correlation"].isna().all()


def test_strong_but_noisy_feature_is_not_flagged(rng, label):
    X = pd.DataFrame({"strong": label + rng.normal(0, 0.55, N)})
    assert check_leakage(X, label) == []  # and no warning: warnings are errors in tests
    auc = row(leakage_report(X, label), "strong")["auc"]
    assert 0.85 < auc < 0.95


@pytest.mark.parametrize("missing_when", [1, 0])
def test_missingness_that_encodes_the_label_is_flagged(rng, label, missing_when):
    values = rng.normal(size=N)
    X = pd.DataFrame({"closed_reason_score": np.where(label == missing_when, np.nan, values)})
    result = row(leakage_report(X, label), "closed_reason_score")
    assert result["auc"] == 1.0
    assert result["flagged"]
    assert f"missing in {int((label == missing_when).sum())} rows" in result["reason"]


def test_missing_values_count_as_a_value_below_or_above_all_others(rng, label):
    x = rng.integers(0, 20, N).astype(float)
    x[rng.random(N) < 0.3] = np.nan
    expected = max(
        symmetric(roc_auc_score(label, np.nan_to_num(x, nan=-1.0))),
        symmetric(roc_auc_score(label, np.nan_to_num(x, nan=99.0))),
    )
    auc = row(leakage_report(pd.DataFrame({"x": x}), label), "x")["auc"]
    assert auc == pytest.approx(expected, abs=1e-12)


def test_numeric_auc_matches_sklearn_with_ties_and_direction(rng, label):
    X = pd.DataFrame(
        {
            "ties": rng.integers(0, 5, N) + label,
            "negative": -(rng.normal(size=N) + label),
            "flag": rng.random(N) < 0.5,
        }
    )
    report = leakage_report(X, label)
    for name in X.columns:
        expected = symmetric(roc_auc_score(label, X[name].astype(float)))
        assert row(report, name)["auc"] == pytest.approx(expected, abs=1e-12)


def test_unique_id_text_column_is_not_flagged(label):
    X = pd.DataFrame({"customer_ref": [f"C{i:05d}" for i in range(N)]})
    result = row(leakage_report(X, label), "customer_ref")
    assert result["auc"] == pytest.approx(0.5)
    assert not result["flagged"]


@pytest.mark.parametrize("dtype", [object, "category", "string"])
def test_text_copy_of_the_label_is_flagged(label, dtype):
    X = pd.DataFrame({"complaint": pd.Series(np.where(label == 1, "yes", "no")).astype(dtype)})
    result = row(leakage_report(X, label), "complaint")
    assert result["flagged"]
    assert result["auc"] > 0.99


def test_missing_text_that_encodes_the_label_is_flagged(rng, label):
    text = np.where(rng.random(N) < 0.5, "branch", "online").astype(object)
    text[label == 1] = None
    result = row(leakage_report(pd.DataFrame({"channel": text}), label), "channel")
    assert result["flagged"]
    assert result["auc"] > 0.99


def test_weak_categorical_scores_near_its_true_signal(rng, label):
    region = np.where(rng.random(N) < 0.6 + 0.2 * label, "north", "south")
    result = row(leakage_report(pd.DataFrame({"region": region}), label), "region")
    assert 0.55 < result["auc"] < 0.65
    assert not result["flagged"]


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(3.0, index=range(N)),
        pd.Series(np.nan, index=range(N)),
        pd.Series("same", index=range(N)),
        pd.Series(None, index=range(N), dtype=object),
    ],
    ids=["number", "all-missing", "text", "all-missing-text"],
)
def test_constant_column_scores_half_and_is_never_flagged(rng, label, column):
    duration = rng.exponential(100, N)
    report = leakage_report(pd.DataFrame({"constant": column}), label, duration=duration)
    assert report["auc"].tolist() == [0.5]
    assert report["duration_correlation"].tolist() == [0.0]
    assert report["flagged"].tolist() == [False]


def test_nullable_and_datetime_columns(rng, label):
    closed_on = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, N), "D"))
    X = pd.DataFrame(
        {
            "closed_on": closed_on.where(label == 1),
            "products": pd.array(rng.integers(1, 4, N), dtype="Int64"),
            "has_card": pd.array(rng.random(N) < 0.7, dtype="boolean"),
        }
    )
    X.loc[:10, ["products", "has_card"]] = pd.NA
    assert check_leakage(X.drop(columns="closed_on"), label) == []
    with pytest.warns(LeakageWarning, match="'closed_on'"):
        assert check_leakage(X, label) == ["closed_on"]


# --- duration ---------------------------------------------------------------------------


def test_feature_that_reconstructs_the_duration_is_flagged(rng, label):
    duration = rng.exponential(180, N).round()
    X = pd.DataFrame(
        {
            "days_since_last_login": duration + rng.normal(0, 2, N),
            "age": rng.normal(45, 12, N),
        }
    )
    report = leakage_report(X, label, duration=duration)
    leak = row(report, "days_since_last_login")
    assert leak["auc"] < 0.6  # invisible to the AUC: the label is unrelated
    assert leak["duration_correlation"] > 0.99
    assert leak["flagged"]
    assert leak["reason"].startswith("reconstructs the duration (|Spearman rho| ")
    assert not row(report, "age")["flagged"]
    assert row(report, "age")["duration_correlation"] < 0.1


def test_duration_reconstructed_among_churners_only_is_flagged(rng, label):
    duration = rng.uniform(0, 365, N)
    closing_days = np.where(label == 1, duration, rng.uniform(0, 365, N))
    X = pd.DataFrame({"closing_days": closing_days})
    leak = row(leakage_report(X, label, duration=duration), "closing_days")
    assert abs(spearmanr(closing_days, duration).statistic) < 0.9
    assert leak["duration_correlation"] == pytest.approx(1.0)
    assert "among churners" in leak["reason"]


def test_duration_correlation_matches_scipy_on_rows_where_both_are_present(rng, label):
    duration = rng.integers(1, 60, N).astype(float)
    duration[:50] = np.nan
    x = np.round(duration / 10 + rng.normal(0, 2, N))
    x[rng.random(N) < 0.2] = np.nan
    report = leakage_report(pd.DataFrame({"x": x}), label, duration=duration)
    both = ~np.isnan(x) & ~np.isnan(duration)
    churners = both & (label == 1)
    expected = max(
        abs(spearmanr(x[both], duration[both]).statistic),
        abs(spearmanr(x[churners], duration[churners]).statistic),
    )
    assert row(report, "x")["duration_correlation"] == pytest.approx(expected, abs=1e-12)


def test_categorical_that_reconstructs_the_duration_is_flagged(rng, label):
    months = rng.integers(1, 13, N)
    X = pd.DataFrame({"months_bucket": [f"m{m:02d}" for m in months]})
    leak = row(leakage_report(X, label, duration=months * 30.0), "months_bucket")
    assert leak["flagged"]
    assert leak["duration_correlation"] > 0.99


def test_timedelta_duration_is_accepted(rng, label):
    days = rng.integers(1, 400, N)
    X = pd.DataFrame({"tenure_days": days.astype(float)})
    duration = pd.Series(pd.to_timedelta(days, unit="D"))
    assert row(leakage_report(X, label, duration=duration), "tenure_days")["flagged"]


# --- the warning ------------------------------------------------------------------------


def test_check_leakage_warns_once_naming_every_flagged_feature(rng, label):
    duration = rng.exponential(100, N)
    X = pd.DataFrame(
        {"complain": label, "days_left": duration, "age": rng.normal(40, 10, N)},
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flagged = check_leakage(X, label, duration=duration)
    assert flagged == ["complain", "days_left"]
    assert len(caught) == 1
    warning = caught[0]
    assert warning.category is LeakageWarning
    assert warning.filename == __file__  # stacklevel=2 points at the caller
    message = str(warning.message)
    assert message.startswith("2 of 3 features look like leaks")
    assert "'complain': on its own separates the label (AUC 1.000 >= 0.97)" in message
    assert "'days_left': reconstructs the duration (|Spearman rho| 1.000 >= 0.97)" in message
    assert "Drop them, or check that each value is known at the cutoff" in message
    assert "'age'" not in message


def test_warning_matches_the_feature_name(label):
    X = pd.DataFrame({"Complain": label})
    with pytest.warns(LeakageWarning, match=r"(?s)1 of 1 features looks like a leak.*'Complain'"):
        check_leakage(X, label)


def test_thresholds_are_respected(rng, label):
    X = pd.DataFrame({"strong": label + rng.normal(0, 0.55, N)})
    with pytest.warns(LeakageWarning, match=r"'strong'.*>= 0\.80"):
        assert check_leakage(X, label, auc_threshold=0.8) == ["strong"]


def test_strict_raises_leakage_error_with_the_warning_message(rng, label):
    duration = rng.exponential(100, N)
    X = pd.DataFrame({"complain": label, "days_left": duration, "age": rng.normal(40, 10, N)})
    with pytest.warns(LeakageWarning) as caught:
        check_leakage(X, label, duration=duration)
    with warnings.catch_warnings(record=True) as not_warned:
        warnings.simplefilter("always")
        with pytest.raises(LeakageError) as raised:
            check_leakage(X, label, duration=duration, strict=True)
    assert not_warned == []
    message = str(raised.value)
    assert message == str(caught[0].message)
    assert "'complain': on its own separates the label (AUC 1.000 >= 0.97)" in message
    assert "'days_left': reconstructs the duration (|Spearman rho| 1.000 >= 0.97)" in message
    assert "'age'" not in message


def test_strict_on_clean_features_returns_an_empty_list(rng, label):
    X = pd.DataFrame({"strong": label + rng.normal(0, 0.55, N)})
    assert check_leakage(X, label, strict=True) == []


def test_strict_respects_the_thresholds(rng, label):
    X = pd.DataFrame({"strong": label + rng.normal(0, 0.55, N)})
    with pytest.raises(LeakageError, match=r"'strong'.*>= 0\.80"):
        check_leakage(X, label, auc_threshold=0.8, strict=True)


def test_strict_still_raises_input_error_on_invalid_input():
    with pytest.raises(InputError, match="y has 1 rows but X has 2"):
        check_leakage(pd.DataFrame({"x": [1.0, 2.0]}), [1], strict=True)


# --- contract ---------------------------------------------------------------------------


def test_report_is_sorted_by_auc_then_name_deterministic_and_pure(rng, label):
    X = pd.DataFrame(
        {
            "b_const": 1.0,
            "a_const": 1.0,
            "strong": label + rng.normal(0, 1, N),
            "segment": rng.choice(["x", "y", "z"], N),
        }
    )
    before = X.copy()
    report = leakage_report(X, label)
    assert report["feature"].tolist()[-2:] == ["a_const", "b_const"]
    assert report["auc"].is_monotonic_decreasing
    pd.testing.assert_frame_equal(report, leakage_report(X, label))
    pd.testing.assert_frame_equal(X, before)
    assert report["flagged"].dtype == bool
    assert report.index.tolist() == list(range(4))


def test_bool_label_series_with_the_index_of_x(rng):
    X = pd.DataFrame({"x": rng.normal(size=50)}, index=np.arange(100, 150))
    y = pd.Series(X["x"] > 0, index=X.index)
    assert row(leakage_report(X, y), "x")["auc"] == 1.0


def test_no_columns_gives_an_empty_report(label):
    report = leakage_report(pd.DataFrame(index=range(N)), label)
    assert list(report.columns) == REPORT_COLUMNS
    assert report.empty


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "match"),
    [
        (pd.DataFrame({"x": [1.0, 2.0, 3.0]}), [0, 1], {}, "y has 2 rows but X has 3"),
        (pd.DataFrame({"x": [1.0, 2.0, 3.0]}), [0, 1, 2], {}, r"binary.*\[2\]"),
        (pd.DataFrame({"x": [1.0, 2.0]}), ["no", "yes"], {}, r"binary.*'no', 'yes'"),
        (pd.DataFrame({"x": [1.0, 2.0]}), [1, 1], {}, "y has 1 class"),
        (pd.DataFrame({"x": [1.0, 2.0]}), [0.0, np.nan], {}, "y has 1 missing values"),
        (pd.DataFrame({"x": [1.0, 2.0]}), [[0, 1], [1, 0]], {}, "one-dimensional"),
        ({"x": [1.0, 2.0]}, [0, 1], {}, "X must be a pandas DataFrame, got dict"),
        (pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]), [1], {}, "duplicate column names"),
        (pd.DataFrame({"z": [1j, 2j]}), [0, 1], {}, r"unsupported dtype \{'z': 'complex128'\}"),
        (pd.DataFrame({"x": [1.0, 2.0]}), [0, 1], {"auc_threshold": 0.5}, "auc_threshold"),
        (
            pd.DataFrame({"x": [1.0, 2.0]}),
            [0, 1],
            {"correlation_threshold": 1.5},
            "correlation_threshold",
        ),
        (pd.DataFrame({"x": [1.0, 2.0]}), [0, 1], {"duration": [1.0]}, "duration has 1 rows"),
        (pd.DataFrame({"x": [1.0, 2.0]}), [0, 1], {"duration": ["a", "b"]}, "numeric"),
        (
            pd.DataFrame({"x": [1.0, 2.0]}),
            [0, 1],
            {"duration": [np.nan, np.nan]},
            "duration has no values",
        ),
        (
            pd.DataFrame({"x": [1.0, 2.0]}),
            pd.Series([0, 1], index=[5, 6]),
            {},
            "y has a different index from X",
        ),
    ],
    ids=[
        "length",
        "not-binary",
        "text-label",
        "one-class",
        "missing-label",
        "2d-label",
        "not-a-frame",
        "duplicate-columns",
        "unsupported-dtype",
        "auc-threshold",
        "correlation-threshold",
        "duration-length",
        "duration-text",
        "duration-all-missing",
        "misaligned-index",
    ],
)
def test_invalid_input_raises_input_error(X, y, kwargs, match):
    with pytest.raises(InputError, match=match):
        leakage_report(X, y, **kwargs)


def test_check_leakage_validates_like_the_report():
    with pytest.raises(InputError, match="y has 1 rows but X has 2"):
        check_leakage(pd.DataFrame({"x": [1.0, 2.0]}), [1])


# --- the real bank_flat tables ----------------------------------------------------------

needs_bank_flat = pytest.mark.skipif(
    not BANK_FLAT.exists(), reason=f"real data folder {BANK_FLAT} is absent"
)
IDENTIFIERS = {"RowNumber", "Row_Number", "CustomerId", "Customer_Id", "Surname"}


def read_bank_flat(name):
    table = pd.read_csv(BANK_FLAT / name)
    X = table.drop(columns=["Exited", *IDENTIFIERS.intersection(table.columns)])
    return X, table["Exited"]


@needs_bank_flat
def test_customer_churn_records_flags_complain_only():
    X, y = read_bank_flat("Customer-Churn-Records.csv")
    report = leakage_report(X, y)
    assert report.loc[report["flagged"], "feature"].tolist() == ["Complain"]
    assert report["auc"].iloc[0] > 0.99
    assert report["auc"].iloc[1] < 0.8  # the next best (Age) is an honest feature
    with pytest.warns(LeakageWarning, match=r"'Complain': on its own separates the label"):
        assert check_leakage(X, y) == ["Complain"]


@needs_bank_flat
def test_churn_modelling_raises_no_warning():
    X, y = read_bank_flat("Churn_Modelling.csv")
    assert check_leakage(X, y) == []  # any warning would fail: warnings are errors in tests
