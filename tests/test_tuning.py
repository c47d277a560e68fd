"""Optuna tuning: search spaces, the studies on both kinds of training set, resume, pruning."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.pruners import BasePruner, MedianPruner
from optuna.trial import FixedTrial, TrialState
from sklearn.datasets import make_classification

from churnml.classifier import ChurnClassifier
from churnml.errors import ChurnMLError, InputError
from churnml.survival import ChurnSurvivalModel
from churnml.training import TemporalSplitter, TrainingSet, training_set
from churnml.tuning import (
    TuningResult,
    classifier_space,
    default_trial,
    survival_space,
    tune_classifier,
    tune_survival,
)

CUTOFFS = ["2022-06-30", "2022-09-30", "2022-12-31", "2023-03-31", "2023-06-30", "2023-09-30"]
SMALL = {"n_estimators": 40, "early_stopping_rounds": 10}
FIXED = {
    "learning_rate": 0.05,
    "num_leaves": 8,
    "min_child_samples": 20,
    "colsample_bytree": 0.7,
    "subsample": 0.9,
    "reg_lambda": 2.0,
    "reg_alpha": 0.1,
    "min_split_gain": 0.0,
}


@pytest.fixture(scope="module")
def bank_set(synthetic_bank) -> TrainingSet:
    """Six quarter-end cutoffs of the synthetic bank (each fold learns on half of them)."""
    return training_set(synthetic_bank.tables, cutoffs=CUTOFFS, horizon_days=90, check=False)


@pytest.fixture(scope="module")
def flat_set() -> TrainingSet:
    X, y = make_classification(
        n_samples=1000, n_features=6, weights=[0.8], flip_y=0.05, random_state=0
    )
    frame = pd.DataFrame(X).add_prefix("x").assign(churned=y)
    return TrainingSet.from_frame(frame, label="churned", check=False)


@pytest.fixture(scope="module")
def bank_result(bank_set) -> TuningResult:
    return tune_classifier(bank_set, n_trials=3, base_params=SMALL, seed=3)


class AlwaysPrune(BasePruner):
    """Prunes at the first report: only the LightGBM callback reports, so it proves wiring."""

    def prune(self, study, trial):
        return True


# -- search spaces ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("space", "estimator"),
    [(classifier_space, ChurnClassifier), (survival_space, ChurnSurvivalModel)],
)
def test_space_gives_estimator_arguments(space, estimator):
    params = space(FixedTrial(FIXED))
    assert {name: params[name] for name in FIXED} == FIXED
    assert params["subsample_freq"] == 1
    assert estimator(**params).get_params()["num_leaves"] == 8


def test_space_turns_bagging_off_without_subsampling():
    params = classifier_space(FixedTrial({**FIXED, "subsample": 1.0}))
    assert params["subsample"] == 1.0
    assert params["subsample_freq"] == 0


def test_survival_space_allows_larger_leaves():
    params = survival_space(FixedTrial({**FIXED, "min_child_samples": 3000}))
    assert params["min_child_samples"] == 3000


# -- classifier ------------------------------------------------------------------------


def test_tune_classifier_on_bank_set(bank_result):
    result = bank_result
    assert result.objective == "log_loss"
    assert result.direction == "minimize"
    assert result.n_complete + result.n_pruned == 3
    assert 0 < result.best_value < 1
    assert result.best_value == min(
        t.value for t in result.study.trials if t.state == TrialState.COMPLETE
    )
    # best_params are the best trial's estimator arguments, fixed ones included.
    params = result.best_params
    assert params["metric"] == "binary_logloss"
    assert params["n_estimators"] == 40
    assert params["random_state"] == 3
    assert params["learning_rate"] == result.study.best_params["learning_rate"]
    assert ChurnClassifier(**params).get_params()["num_leaves"] == params["num_leaves"]


def test_the_first_trial_is_the_defaults(bank_result):
    first = bank_result.study.trials[0]
    assert first.params == default_trial()
    assert first.user_attrs["churnml_defaults"] is True
    defaults = ChurnClassifier()
    assert all(getattr(defaults, k) == v for k, v in default_trial().items() if k != "reg_alpha")


def test_same_seed_same_study(bank_set, bank_result):
    again = tune_classifier(bank_set, n_trials=3, base_params=SMALL, seed=3)
    assert again == bank_result
    assert again.best_params == bank_result.best_params
    assert again.best_value == bank_result.best_value


def test_pruning_callback_reports_on_first_fold_holdout(bank_result):
    for trial in bank_result.study.trials:
        steps = trial.intermediate_values
        # A report every 10 boosting rounds of the first fold, on the holdout's log loss.
        assert steps, "the LightGBM pruning callback reported nothing"
        assert sorted(steps) == [9 + 10 * k for k in range(len(steps))]
        assert len(steps) <= SMALL["n_estimators"] // 10
        assert all(0 < value < 1 for value in steps.values())


def test_to_dict_is_flat_for_mlflow(bank_result):
    flat = bank_result.to_dict()
    assert flat["objective"] == "log_loss"
    assert flat["best_value"] == bank_result.best_value
    assert flat["learning_rate"] == bank_result.best_params["learning_rate"]
    assert all(isinstance(value, str | int | float) for value in flat.values())
    assert "study" not in repr(bank_result)


def test_tune_classifier_for_auc_on_flat_set(flat_set):
    result = tune_classifier(flat_set, objective="auc", n_trials=2, base_params=SMALL)
    assert result.direction == "maximize"
    assert result.best_params["metric"] == "auc"
    assert 0.5 < result.best_value <= 1


def test_explicit_splitter(bank_set):
    splitter = TemporalSplitter(n_splits=1, gap_days=90)
    result = tune_classifier(bank_set, n_trials=1, splitter=splitter, base_params=SMALL)
    assert result.n_complete == 1


def test_pruning_prunes_trials(flat_set):
    pruner = MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    result = tune_classifier(flat_set, n_trials=8, base_params=SMALL, pruner=pruner, seed=1)
    assert result.n_pruned > 0
    assert result.n_complete > 0
    pruned = [t for t in result.study.trials if t.state == TrialState.PRUNED]
    assert all(t.intermediate_values for t in pruned)


def test_every_trial_pruned_is_an_error(flat_set):
    with pytest.raises(ChurnMLError, match=r"no trial .* completed"):
        tune_classifier(flat_set, n_trials=2, base_params=SMALL, pruner=AlwaysPrune())


def test_study_resumes_from_sqlite(flat_set, tmp_path):
    storage = f"sqlite:///{tmp_path / 'tuning.db'}"
    first = tune_classifier(
        flat_set, n_trials=2, base_params=SMALL, storage=storage, study_name="churn"
    )
    second = tune_classifier(
        flat_set, n_trials=2, base_params=SMALL, storage=storage, study_name="churn"
    )
    assert first.n_complete == 2
    assert len(second.study.trials) == 4
    assert second.n_complete + second.n_pruned == 4
    assert second.best_value <= first.best_value
    stored = optuna.load_study(study_name="churn", storage=storage)
    assert len(stored.trials) == 4


def test_resumed_study_keeps_its_objective(flat_set, tmp_path):
    storage = f"sqlite:///{tmp_path / 'tuning.db'}"
    tune_classifier(flat_set, n_trials=1, base_params=SMALL, storage=storage, study_name="s")
    with pytest.raises(InputError, match="optimises 'log_loss', not 'auc'"):
        tune_classifier(
            flat_set,
            objective="auc",
            n_trials=1,
            base_params=SMALL,
            storage=storage,
            study_name="s",
        )


def test_foreign_study_with_other_direction(flat_set, tmp_path):
    storage = f"sqlite:///{tmp_path / 'tuning.db'}"
    optuna.create_study(storage=storage, study_name="other", direction="maximize")
    with pytest.raises(InputError, match="set to maximize"):
        tune_classifier(flat_set, n_trials=1, storage=storage, study_name="other")


def test_quiet_by_default_and_progress_bar(flat_set, capsys):
    before = optuna.logging.get_verbosity()
    tune_classifier(flat_set, n_trials=1, base_params=SMALL, show_progress_bar=True)
    assert optuna.logging.get_verbosity() == before
    err = capsys.readouterr().err
    assert "1/1" in err
    assert "Trial 0 finished" not in err


# -- survival --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("objective", "metric", "direction"),
    [("c_index", "auc", "maximize"), ("ibs", "binary_logloss", "minimize")],
)
def test_tune_survival(bank_set, objective, metric, direction):
    result = tune_survival(bank_set, objective=objective, n_trials=1, base_params=SMALL)
    assert result.objective == objective
    assert result.direction == direction
    assert result.best_params["metric"] == metric
    assert math.isfinite(result.best_value)
    low, high = (0.5, 1.0) if objective == "c_index" else (0.0, 0.25)
    assert low < result.best_value < high
    assert result.study.trials[0].intermediate_values


def test_tune_survival_on_flat_set_in_months():
    rng = np.random.default_rng(0)
    risk = rng.normal(size=400)
    months = rng.exponential(12 / np.exp(risk))
    frame = pd.DataFrame({"risk": risk, "left": months < 18, "tenure": np.minimum(months, 18)})
    data = TrainingSet.from_frame(
        frame, label="left", duration="tenure", duration_unit="months", check=False
    )
    result = tune_survival(data, objective="ibs", n_trials=1, base_params=SMALL)
    assert 0 < result.best_value < 0.25


# -- bad inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tune", "kwargs", "message"),
    [
        (tune_classifier, {"objective": "c_index"}, "objective must be one of"),
        (tune_survival, {"objective": "log_loss"}, "objective must be one of"),
        (tune_classifier, {"n_trials": 0}, "n_trials must be"),
        (tune_classifier, {"n_trials": 2.5}, "n_trials must be"),
        (tune_classifier, {"timeout": 0}, "timeout must be"),
        (tune_classifier, {"base_params": {"metric": "auc"}}, "metric"),
        (tune_classifier, {"base_params": {"n_trees": 5}}, "n_trees"),
    ],
)
def test_bad_arguments(flat_set, tune, kwargs, message):
    with pytest.raises(InputError, match=message):
        tune(flat_set, **kwargs)


def test_data_must_be_a_training_set(flat_set):
    with pytest.raises(InputError, match="TrainingSet"):
        tune_classifier(flat_set.X, n_trials=1)


def test_survival_needs_durations(flat_set):
    with pytest.raises(InputError, match="duration"):
        tune_survival(flat_set, n_trials=1)


def test_validation_fold_without_churners(flat_set):
    labels = flat_set.labels.assign(event=False, observed=False)
    data = TrainingSet(flat_set.X, labels, None, None)
    with pytest.raises(InputError, match=r"fold .*churners and non-churners"):
        tune_classifier(data, n_trials=1, base_params=SMALL)
