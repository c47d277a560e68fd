"""Training sets, the temporal splitter and the flat-table path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import cross_validate

from churnml.errors import InputError, SchemaError
from churnml.timeline import Horizon, month_end_cutoffs
from churnml.training import (
    TemporalSplitter,
    TrainingSet,
    row_cutoffs,
    survival_target,
    temporal_holdout,
    training_set,
)

CUTOFFS = ["2022-09-30", "2022-12-31", "2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31"]


@pytest.fixture(scope="module")
def bank_set(synthetic_bank):
    return training_set(synthetic_bank.tables, cutoffs=CUTOFFS, horizon_days=90, check=False)


def panel(n_customers: int = 20, n_cutoffs: int = 10) -> pd.DataFrame:
    index = pd.MultiIndex.from_product(
        [range(n_customers), pd.date_range("2023-01-31", periods=n_cutoffs, freq="ME")],
        names=["customer_id", "cutoff"],
    )
    return pd.DataFrame({"x": np.arange(len(index), dtype=float)}, index=index)


def test_training_set_joins_labels_and_features_on_the_key(bank_set, synthetic_bank):
    from churnml.labels import label_churn

    labels = label_churn(synthetic_bank.tables, cutoffs=CUTOFFS, horizon_days=90)
    assert bank_set.X.index.names == ["customer_id", "cutoff"]
    assert bank_set.X.index.is_unique and bank_set.X.index.is_monotonic_increasing
    assert len(bank_set.X) == len(labels) == len(bank_set.labels)
    assert (bank_set.labels.index == bank_set.X.index).all()
    assert bank_set.labels["event"].to_numpy().tolist() == labels["event"].tolist()
    assert bank_set.cutoffs.strftime("%Y-%m-%d").tolist() == CUTOFFS
    assert all("__" in name for name in bank_set.X.columns)


def test_classification_rows_are_those_with_a_known_horizon(bank_set):
    X, y = bank_set.classification()
    known = bank_set.labels["horizon_observed"]
    assert len(X) == int(known.sum()) < len(bank_set.X)
    assert y.dtype == bool and y.index.equals(X.index)
    assert 0.005 < y.mean() < 0.2


def test_survival_target_is_scikit_survival_structured(bank_set):
    X, y = bank_set.survival()
    assert y.dtype.names == ("event", "duration_days")
    assert (y["duration_days"] > 0).all()
    assert len(X) == len(y)
    rows = bank_set.labels.loc[X.index]
    assert (y["event"] == rows["observed"].to_numpy()).all()
    assert (y["duration_days"] == rows["duration"].to_numpy()).all()


def test_one_duration_column_and_no_outcome_in_the_features(bank_set):
    from churnml.labels import OUTCOME_COLUMNS

    assert "duration_days" not in bank_set.labels and "duration" in bank_set.labels
    assert not set(OUTCOME_COLUMNS) & set(bank_set.X.columns)


def test_join_refuses_features_holding_a_label_column(synthetic_bank):
    from churnml.features import build_features
    from churnml.labels import label_churn

    labels = label_churn(synthetic_bank.tables, cutoffs=CUTOFFS[:2])
    features = build_features(synthetic_bank.tables, cutoffs=CUTOFFS[:2])
    # The merge a user might write by accident: labels' future columns ride along.
    merged = features.merge(
        labels[["customer_id", "cutoff", "churn_date"]], on=["customer_id", "cutoff"]
    )
    with pytest.raises(InputError, match=r"label columns \['churn_date'\]"):
        TrainingSet.join(labels, merged, horizon=Horizon(days=90))


def test_churn_rate_stays_in_range_with_cutoffs_up_to_the_end_of_the_data(synthetic_bank):
    # Cutoffs up to the last month: the last three have horizons the data cuts short.
    cutoffs = month_end_cutoffs("2022-06-30", synthetic_bank.tables.observed_until)
    data = training_set(synthetic_bank.tables, cutoffs=cutoffs, check=False)
    _, y = data.classification()
    rates = y.groupby(level="cutoff").mean()
    early = rates[rates.index <= pd.Timestamp("2023-06-30")]
    assert rates.index.max() == pd.Timestamp("2023-09-30")  # horizon ends at the data's end
    assert rates.between(early.min(), early.max()).all(), rates
    assert (
        data.labels.loc[row_cutoffs(data.X) > pd.Timestamp("2023-09-30"), "horizon_observed"].sum()
        == 0
    )


def test_repr_is_short(bank_set):
    text = repr(bank_set)
    assert text.startswith("TrainingSet(") and "\n" not in text
    assert "6 cutoffs 2022-09-30..2023-12-31" in text and "horizon 90 days" in text
    assert "churn rate" in text


def test_until_keeps_labels_known_then_and_cuts_follow_up(bank_set):
    end = pd.Timestamp("2023-09-30")
    known = bank_set.until(end)
    cutoffs = known.X.index.get_level_values("cutoff")
    assert cutoffs.max() == pd.Timestamp("2023-06-30")
    follow_up = (end - cutoffs).days.to_numpy()
    assert (known.labels["duration"].to_numpy() <= follow_up).all()
    # Churn after `end` is not yet seen.
    churn = bank_set.labels.loc[known.X.index, "churn_date"]
    later = (churn > end).to_numpy()
    assert later.any()
    assert not known.labels["observed"].to_numpy()[later].any()
    # The horizon labels are all known by then and unchanged.
    assert known.labels["event"].equals(bank_set.labels.loc[known.X.index, "event"])


def test_temporal_splitter_validates_later_with_a_gap_and_disjoint_customers():
    X = panel()
    splitter = TemporalSplitter(n_splits=3, gap_days=90, validation_customers=0.5)
    cutoffs = X.index.get_level_values("cutoff")
    customers = X.index.get_level_values("customer_id")
    folds = list(splitter.split(X))
    assert len(folds) == splitter.get_n_splits() == 3
    firsts = []
    for learn, valid in folds:
        assert len(learn) and len(valid)
        assert cutoffs[learn].max() <= cutoffs[valid].min() - pd.Timedelta(days=90)
        assert not set(customers[learn]) & set(customers[valid])
        assert cutoffs[valid].nunique() == 1
        firsts.append(cutoffs[valid].min())
    assert firsts == sorted(firsts) and firsts[-1] == cutoffs.max()


def test_temporal_splitter_follows_the_labels_horizon():
    X = panel()
    y = pd.Series(np.arange(len(X)) % 2 == 0, index=X.index)
    y.attrs["horizon"] = Horizon(months=3)
    cutoffs = X.index.get_level_values("cutoff")
    for learn, valid in TemporalSplitter(n_splits=2).split(X, y):
        first = cutoffs[valid].min()
        assert (Horizon(months=3).end(cutoffs[learn]) <= first).all()
        assert cutoffs[learn].max() == first - pd.offsets.MonthEnd(3)


def test_temporal_splitter_gap_shorter_than_the_horizon_is_an_error():
    X = panel()
    y = pd.Series(np.arange(len(X)) % 2 == 0, index=X.index)
    y.attrs["horizon"] = Horizon(days=90)
    with pytest.raises(InputError, match="gap_days=30 is shorter than the labels' horizon"):
        list(TemporalSplitter(n_splits=2, gap_days=30).split(X, y))
    with pytest.raises(InputError, match="needs the labels' horizon"):
        list(TemporalSplitter(n_splits=2).split(X, y.to_numpy()))


def test_temporal_splitter_refuses_survival_targets_for_cross_validate():
    X = panel()
    y = survival_target(np.arange(len(X)) % 2 == 0, np.full(len(X), 30.0), unit="days")
    with pytest.raises(InputError, match=r"TrainingSet.folds"):
        list(TemporalSplitter(n_splits=2, gap_days=90).split(X, y))


def test_temporal_splitter_without_customer_holdout_keeps_everyone():
    X = panel()
    splitter = TemporalSplitter(n_splits=1, gap_days=90, validation_customers=None)
    learn, valid = next(iter(splitter.split(X)))
    assert len(valid) == 20
    assert set(X.index.get_level_values("customer_id")[learn]) == set(range(20))


def test_temporal_splitter_works_with_sklearn_cross_validation():
    from sklearn.linear_model import LogisticRegression

    X = panel(n_customers=40)
    y = (X["x"] % 3 == 0).to_numpy()
    scores = cross_validate(
        LogisticRegression(), X, y, cv=TemporalSplitter(n_splits=2, gap_days=60)
    )
    assert len(scores["test_score"]) == 2


def test_temporal_splitter_takes_cutoffs_from_groups():
    X = np.zeros((12, 1))
    groups = np.repeat(pd.date_range("2023-01-31", periods=6, freq="ME"), 2)
    splitter = TemporalSplitter(n_splits=1, gap_days=31, validation_customers=None)
    learn, valid = next(iter(splitter.split(X, groups=groups)))
    assert valid.tolist() == [10, 11]
    assert learn.tolist() == list(range(8))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_splits": 10, "gap_days": 90}, "needs more than 10 cutoffs"),
        ({"n_splits": 1, "gap_days": 400}, "no training cutoff lies a horizon \\(400 days\\)"),
        ({"validation_customers": 1.0, "gap_days": 90}, "validation_customers"),
        ({"n_splits": 0}, "n_splits >= 1"),
    ],
)
def test_temporal_splitter_rejects_impossible_folds(kwargs, match):
    with pytest.raises(InputError, match=match):
        list(TemporalSplitter(**kwargs).split(panel()))


def test_temporal_splitter_needs_cutoffs():
    with pytest.raises(InputError, match="each row's cutoff"):
        list(TemporalSplitter(gap_days=90).split(np.zeros((10, 2))))


def test_folds_cut_the_learning_side_at_the_validation_cutoff(bank_set):
    splitter = TemporalSplitter(n_splits=2)
    for learn, valid in bank_set.folds(splitter):
        first = valid.X.index.get_level_values("cutoff").min()
        follow_up = (first - learn.X.index.get_level_values("cutoff")).days.to_numpy()
        assert (learn.labels["duration"].to_numpy() <= follow_up).all()
        assert not set(learn.X.index.get_level_values("customer_id")) & set(
            valid.X.index.get_level_values("customer_id")
        )


def test_temporal_holdout_is_the_latest_cutoff_a_horizon_after_learning():
    cutoffs = pd.DatetimeIndex(["2024-01-31", "2024-02-29", "2024-05-31", "2024-05-31"])
    learn, holdout = temporal_holdout(cutoffs, horizon=Horizon(days=90))
    assert learn.tolist() == [True, True, False, False]
    assert holdout.tolist() == [False, False, True, True]


def test_survival_target_round_trips():
    y = survival_target(np.array([1, 0]), [3, 4], unit="months")
    assert y["event"].tolist() == [True, False]
    assert y["duration_months"].tolist() == [3.0, 4.0]
    with pytest.raises(InputError, match="duration_unit must be one of"):
        survival_target([1], [3], unit="weeks")


def flat_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "RowNumber": np.arange(200),
            "CustomerId": np.arange(1000, 1200),
            "Age": rng.integers(18, 80, 200),
            "Geography": rng.choice(["France", "Spain", "Germany"], 200),
            "Tenure": rng.integers(0, 10, 200),
            "Exited": rng.integers(0, 2, 200),
        }
    )


def test_from_frame_builds_features_label_and_duration():
    data = TrainingSet.from_frame(
        flat_frame(),
        label="Exited",
        duration="Tenure",
        duration_unit="years",
        id_column="CustomerId",
        drop=["RowNumber"],
    )
    X, y = data.classification()
    assert y.tolist() == flat_frame()["Exited"].astype(bool).tolist()
    assert X.columns.tolist() == ["Age", "Geography"]
    assert X.index.name == "CustomerId" and X.index[0] == 1000
    Xs, ys = data.survival()
    frame = flat_frame()
    followed = (frame["Tenure"] > 0) | (frame["Exited"] == 1)
    assert len(Xs) == len(ys) == int(followed.sum())
    assert ys.dtype.names == ("event", "duration_years")
    assert (ys["duration_years"] == 0).sum() == int(((frame["Tenure"] == 0) & followed).sum()) > 0
    assert data.horizon is None and len(data.cutoffs) == 0
    with pytest.raises(InputError, match="flat table"):
        data.until("2024-01-01")


def test_from_frame_errors_name_the_column_and_rows():
    frame = flat_frame()
    with pytest.raises(SchemaError, match="column 'Churned'"):
        TrainingSet.from_frame(frame, label="Churned")
    bad = frame.assign(Exited=frame["Exited"].where(frame.index != 3, 2))
    with pytest.raises(SchemaError, match=r"column 'Exited': 1 rows have a label"):
        TrainingSet.from_frame(bad, label="Exited")
    bad = frame.assign(Tenure=frame["Tenure"].where(frame.index != 5, -1))
    with pytest.raises(SchemaError, match=r"column 'Tenure'.*negative"):
        TrainingSet.from_frame(bad, label="Exited", duration="Tenure", duration_unit="years")


def test_from_frame_needs_the_duration_unit():
    with pytest.raises(InputError, match="say what the duration column 'Tenure' counts"):
        TrainingSet.from_frame(flat_frame(), label="Exited", duration="Tenure")
    with pytest.raises(InputError, match="without a duration column"):
        TrainingSet.from_frame(flat_frame(), label="Exited", duration_unit="days")


def test_from_frame_warns_about_a_leaking_column():
    from churnml.errors import LeakageWarning

    frame = flat_frame()
    frame["Complain"] = frame["Exited"]
    with pytest.warns(LeakageWarning, match="Complain"):
        TrainingSet.from_frame(frame, label="Exited", drop=["RowNumber", "CustomerId"])
