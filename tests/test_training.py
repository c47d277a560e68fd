"""Training sets, the temporal splitter and the flat-table path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import cross_validate

from churnml.errors import InputError, SchemaError
from churnml.training import (
    TemporalSplitter,
    TrainingSet,
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
    assert y.dtype.names == ("event", "duration")
    assert (y["duration"] > 0).all()
    assert len(X) == len(y)
    rows = bank_set.labels.loc[X.index]
    assert (y["event"] == rows["observed"].to_numpy()).all()
    assert (y["duration"] == rows["duration_days"].to_numpy()).all()


def test_until_keeps_labels_known_then_and_cuts_follow_up(bank_set):
    end = pd.Timestamp("2023-09-30")
    known = bank_set.until(end)
    cutoffs = known.X.index.get_level_values("cutoff")
    assert cutoffs.max() <= end - pd.Timedelta(days=90)
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


def test_temporal_splitter_without_customer_holdout_keeps_everyone():
    X = panel()
    learn, valid = next(iter(TemporalSplitter(n_splits=1, validation_customers=None).split(X)))
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
        ({"n_splits": 10}, "needs more than 10 cutoffs"),
        ({"n_splits": 1, "gap_days": 400}, "no cutoff is 400 days before"),
        ({"validation_customers": 1.0}, "validation_customers"),
        ({"n_splits": 0}, "n_splits >= 1"),
    ],
)
def test_temporal_splitter_rejects_impossible_folds(kwargs, match):
    with pytest.raises(InputError, match=match):
        list(TemporalSplitter(**kwargs).split(panel()))


def test_temporal_splitter_needs_cutoffs():
    with pytest.raises(InputError, match="each row's cutoff"):
        list(TemporalSplitter().split(np.zeros((10, 2))))


def test_folds_cut_the_learning_side_at_the_validation_cutoff(bank_set):
    splitter = TemporalSplitter(n_splits=2, gap_days=90)
    for learn, valid in bank_set.folds(splitter):
        first = valid.X.index.get_level_values("cutoff").min()
        follow_up = (first - learn.X.index.get_level_values("cutoff")).days.to_numpy()
        assert (learn.labels["duration"].to_numpy() <= follow_up).all()
        assert not set(learn.X.index.get_level_values("customer_id")) & set(
            valid.X.index.get_level_values("customer_id")
        )


def test_temporal_holdout_is_the_latest_cutoff_after_a_gap():
    cutoffs = pd.DatetimeIndex(["2024-01-31", "2024-02-29", "2024-05-31", "2024-05-31"])
    learn, holdout = temporal_holdout(cutoffs, gap_days=90)
    assert learn.tolist() == [True, True, False, False]
    assert holdout.tolist() == [False, False, True, True]


def test_survival_target_round_trips():
    y = survival_target(np.array([1, 0]), [3, 4])
    assert y["event"].tolist() == [True, False]


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
        flat_frame(), label="Exited", duration="Tenure", id_column="CustomerId", drop=["RowNumber"]
    )
    X, y = data.classification()
    assert y.tolist() == flat_frame()["Exited"].astype(bool).tolist()
    assert X.columns.tolist() == ["Age", "Geography"]
    assert X.index.name == "CustomerId" and X.index[0] == 1000
    Xs, ys = data.survival()
    frame = flat_frame()
    followed = (frame["Tenure"] > 0) | (frame["Exited"] == 1)
    assert len(Xs) == len(ys) == int(followed.sum())
    assert (ys["duration"] == 0).sum() == int(((frame["Tenure"] == 0) & followed).sum()) > 0
    assert data.horizon_days is None and len(data.cutoffs) == 0
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
        TrainingSet.from_frame(bad, label="Exited", duration="Tenure")


def test_from_frame_warns_about_a_leaking_column():
    from churnml.errors import LeakageWarning

    frame = flat_frame()
    frame["Complain"] = frame["Exited"]
    with pytest.warns(LeakageWarning, match="Complain"):
        TrainingSet.from_frame(frame, label="Exited", drop=["RowNumber", "CustomerId"])
