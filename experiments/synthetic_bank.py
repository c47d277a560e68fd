"""Synthetic bank: the classifier against the generator's oracle, survival against Cox.

The bank's churn is simulated, so the best possible churn probability is known
(``SyntheticBank.oracle_probability``): the classifier's gap to it is the honest measure
of what the features and the model leave on the table. Everything is temporal: models
learn from ``data.until(cutoff)`` (labels known at the cutoff) and are scored at the
cutoff, on customers and outcomes they never saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from evaluation import (
    add_classification,
    add_survival_versus_cox,
    bootstrap_auc,
    hazard_learning_rows,
    interval,
    monthly_grid,
    searched_params,
    survival_scores,
)
from results import Outcome, at_most

from churnml.baselines import CoxBaseline
from churnml.classifier import ChurnClassifier
from churnml.datasets import SyntheticBank, make_bank
from churnml.metrics import classification_report
from churnml.survival import ChurnSurvivalModel
from churnml.timeline import Horizon, month_end_cutoffs
from churnml.training import KEY, TemporalSplitter, TrainingSet, training_set
from churnml.tuning import TuningResult, tune_classifier
from churnml.units import DAYS_PER_MONTH

NAME = "synthetic_bank"
FIXED, TUNED, ORACLE = "classifier, fixed params", "classifier, tuned", "oracle"
# The fixed params without the refit on every labelled cutoff: the trees of early stopping.
NO_REFIT = "classifier, fixed params, no refit"
DEFAULTS = "classifier, library defaults"
# The oracle for a customer of median frailty: the hidden hazard multiplier no table records.
VISIBLE = "oracle without frailty"
LGBM, COX = "LightGBM hazard", "Cox (lifelines)"


def run(config: dict[str, Any], *, data_dir: Path) -> Outcome:
    out = Outcome(NAME)
    with out.step("simulate the bank"):
        bank = make_bank(**config["bank"])
    horizon = Horizon(days=int(config["cutoffs"]["horizon_days"]))
    end = bank.tables.observed_until
    month_ends = month_end_cutoffs(config["cutoffs"]["first"], end)
    cutoffs = month_ends[horizon.end(month_ends) <= end]
    with out.step("features and labels"):
        data = training_set(bank.tables, cutoffs=cutoffs, horizon_days=horizon.days)
    out.setup.append(
        f"`make_bank({_call(config['bank'])})`: {bank.tables!r}; data until "
        f"{bank.tables.observed_until.date()}"
    )
    out.setup.append(
        f"{len(cutoffs)} month-end cutoffs {cutoffs[0].date()} .. {cutoffs[-1].date()} "
        f"(the last whose horizon ends by observed_until), horizon {horizon}: "
        f"{len(data.X):,} rows × {data.X.shape[1]} features"
    )
    probabilities = _classifiers(out, bank, data, config)
    for cutoff in config["survival"]["test_cutoffs"]:
        _survival(out, data, pd.Timestamp(cutoff), config)
    _agreement(out, data, probabilities, config)
    return out


def _call(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in arguments.items())


# -- classifier ------------------------------------------------------------------------


def _classifiers(
    out: Outcome, bank: SyntheticBank, data: TrainingSet, config: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Fixed and tuned classifiers at the last cutoff, beside the oracle on the same rows."""
    test_cutoff = data.cutoffs[-1]
    learn = data.until(test_cutoff)
    X, y = learn.classification()
    X_test, y_test = data.at(test_cutoff).classification()
    out.setup.append(
        f"Classifier: learns on `data.until({test_cutoff.date()})` ({len(X):,} rows, "
        f"cutoffs {learn.cutoffs[0].date()} .. {learn.cutoffs[-1].date()}, churn rate "
        f"{y.mean():.2%}); tested at {test_cutoff.date()} ({len(X_test):,} rows, churn rate "
        f"{y_test.mean():.2%})"
    )
    days = _horizon_days(data, test_cutoff)
    oracle = _oracle(bank, X_test.index, test_cutoff, days)
    joined = oracle.notna().to_numpy()
    if not joined.all():
        out.notes.append(
            f"{int((~joined).sum())} test rows have no oracle probability (not followed by "
            "the generator at the cutoff); every model is scored on the other rows."
        )
    with out.step("classifier, fixed params"):
        fixed = _classifier(config, config["classifier"]["params"]).fit(X, y)
    with out.step("classifier, fixed params, no refit"):
        held = _classifier(config, {**config["classifier"]["params"], "refit": False}).fit(X, y)
    with out.step("classifier, library defaults"):
        quick = {k: v for k, v in config["classifier"]["params"].items() if k == "n_estimators"}
        defaults = _classifier(config, quick).fit(X, y)
    with out.step("tuning"):
        tuning = _tune(out, learn, config)
    with out.step("classifier, tuned"):
        tuned = ChurnClassifier(**tuning.best_params).fit(X, y)
    out.notes.append(
        f"Holdout of the fixed-params classifier: {fixed.holdout_.description}; "
        f"{fixed.best_iteration_} trees chosen, then grown again on all {len(X):,} learning "
        f"rows (`refit`); `{NO_REFIT}` keeps the trees early stopping grew."
    )
    probabilities = {
        FIXED: fixed.predict_proba(X_test)[:, 1],
        NO_REFIT: held.predict_proba(X_test)[:, 1],
        DEFAULTS: defaults.predict_proba(X_test)[:, 1],
        TUNED: tuned.predict_proba(X_test)[:, 1],
        ORACLE: oracle.to_numpy(),
        VISIBLE: _oracle(bank, X_test.index, test_cutoff, days, knows_frailty=False).to_numpy(),
    }
    y_true = y_test.to_numpy()[joined]
    _score_against_oracle(out, y_true, {k: v[joined] for k, v in probabilities.items()}, config)
    fixed_auc, tuned_auc = out.value(FIXED, "roc_auc"), out.value(TUNED, "roc_auc")
    default_auc = out.value(DEFAULTS, "roc_auc")
    out.notes.append(
        f"Tuning at the test cutoff: ROC AUC {tuned_auc:.4f} tuned vs {default_auc:.4f} with "
        f"the library's defaults (trial 0 of the study) and {fixed_auc:.4f} with the fixed "
        f"params of the config; the tuner chose on {tuning.objective} averaged over its "
        f"{config['tuning']['n_splits']} temporal validation folds, not on AUC at the test "
        f"cutoff. Trial 0 (the defaults) scored {tuning.study.trials[0].value:.5f} on the "
        f"folds, the chosen trial {tuning.best_value:.5f}."
    )
    refit_auc, held_auc = fixed_auc, out.value(NO_REFIT, "roc_auc")
    out.notes.append(
        f"Refit on every labelled cutoff: ROC AUC {refit_auc:.4f} vs {held_auc:.4f} without, "
        f"ECE {out.value(FIXED, 'ece'):.4f} vs {out.value(NO_REFIT, 'ece'):.4f} (the "
        "calibrator of both is fitted on the holdout's scores of the early-stopping trees)."
    )
    out.add(
        TUNED,
        f"temporal CV {tuning.objective} (tuning folds)",
        tuning.best_value,
        note=f"{tuning.n_complete} trials complete, {tuning.n_pruned} pruned",
    )
    probabilities["realised"] = y_test.to_numpy(dtype=float)
    return probabilities


def _classifier(config: dict[str, Any], params: dict[str, Any]) -> ChurnClassifier:
    settings = config["classifier"]
    return ChurnClassifier(
        **params, random_state=settings["random_state"], n_jobs=settings["n_jobs"]
    )


def _oracle(
    bank: SyntheticBank,
    index: pd.MultiIndex,
    cutoff: pd.Timestamp,
    horizon: int,
    *,
    knows_frailty: bool = True,
) -> pd.Series:
    """The oracle's probability of each test row, joined on ``(customer_id, cutoff)``."""
    oracle = bank.oracle_probability([cutoff], horizon, knows_frailty=knows_frailty)
    return oracle.set_index(KEY)["probability"].reindex(index)


def _horizon_days(data: TrainingSet, cutoff: pd.Timestamp) -> int:
    """The horizon after ``cutoff`` in days (the oracle counts days)."""
    horizon = data.horizon or Horizon(days=0)
    return int((horizon.end([cutoff])[0] - cutoff).days)


def _tune(out: Outcome, learn: TrainingSet, config: dict[str, Any]) -> TuningResult:
    tuning = config["tuning"]
    splitter = TemporalSplitter(n_splits=tuning["n_splits"], random_state=tuning["seed"])
    result = tune_classifier(
        learn,
        objective=tuning["objective"],
        n_trials=tuning["n_trials"],
        splitter=splitter,
        seed=tuning["seed"],
        base_params={**tuning["base_params"], "n_jobs": config["classifier"]["n_jobs"]},
    )
    out.notes.append(
        f"Tuning: `tune_classifier(data.until(test cutoff), objective={result.objective!r}, "
        f"n_trials={tuning['n_trials']}, seed={tuning['seed']})` on "
        f"{splitter.n_splits} temporal folds (`TemporalSplitter`, gap = horizon); best: "
        f"{searched_params(result.best_params)}."
    )
    return result


def _score_against_oracle(
    out: Outcome, y: np.ndarray, probabilities: dict[str, np.ndarray], config: dict[str, Any]
) -> None:
    targets = config["targets"]
    oracle = add_classification(out, ORACLE, y, probabilities[ORACLE])
    visible = add_classification(out, VISIBLE, y, probabilities[VISIBLE])
    resamples = config["bootstrap"]
    draws = bootstrap_auc(
        y, probabilities, n_resamples=resamples["n_resamples"], seed=resamples["seed"]
    )
    for model in (FIXED, NO_REFIT, DEFAULTS, TUNED):
        report = add_classification(
            out, model, y, probabilities[model], targets={"ece": at_most(targets["max_ece"])}
        )
        out.add(
            model,
            "roc_auc gap to oracle",
            oracle["roc_auc"] - report["roc_auc"],
            target=at_most(targets["max_auc_gap"]),
            note=interval(draws[ORACLE] - draws[model]),
        )
        out.add(
            model,
            "roc_auc gap to oracle without frailty",
            visible["roc_auc"] - report["roc_auc"],
            target=at_most(targets["max_auc_gap"]),
            note=interval(draws[VISIBLE] - draws[model]),
        )


# -- survival --------------------------------------------------------------------------


def _survival(
    out: Outcome, data: TrainingSet, cutoff: pd.Timestamp, config: dict[str, Any]
) -> None:
    """LightGBM hazard vs Cox: learn until ``cutoff``, score the rows at ``cutoff``."""
    X_learn, y_learn = data.until(cutoff).survival()
    X_test, y_test = data.at(cutoff).survival()
    months = config["survival"]["grid_months"]
    times, grid_note = monthly_grid(y_learn, y_test, months)
    follow_up = y_test["duration_days"].max() / DAYS_PER_MONTH
    out.setup.append(
        f"Survival @ {cutoff.date()}: learns on `data.until({cutoff.date()}).survival()` "
        f"({len(X_learn):,} rows, {int(y_learn['event'].sum()):,} churns seen by then), "
        f"scored on `data.at({cutoff.date()}).survival()` ({len(X_test):,} rows, "
        f"{int(y_test['event'].sum()):,} churns in {follow_up:.1f} months of follow-up); "
        f"IBS and AUC grid: {grid_note}"
    )
    models = {
        LGBM: ChurnSurvivalModel(**config["survival"]["params"], n_jobs=_jobs(config)),
        COX: CoxBaseline(**config["cox"]),
    }
    scores = {}
    for name, model in models.items():
        with out.step(f"survival @ {cutoff.date()}: {name}"):
            scores[name] = survival_scores(
                model.fit(X_learn, y_learn), y_learn, X_test, y_test, times
            )
    add_survival_versus_cox(
        out,
        str(cutoff.date()),
        scores,
        cox=COX,
        hazards=[LGBM],
        hazard_note=hazard_learning_rows(models[LGBM]),
    )


def _jobs(config: dict[str, Any]) -> int:
    return int(config["classifier"]["n_jobs"])


def _agreement(
    out: Outcome, data: TrainingSet, probabilities: dict[str, np.ndarray], config: dict[str, Any]
) -> None:
    """Mean P(churn within the horizon): survival curve vs classifiers vs what happened."""
    test_cutoff = data.cutoffs[-1]
    horizon = _horizon_days(data, test_cutoff)
    X_learn, y_learn = data.until(test_cutoff).survival()
    with out.step("survival model for the agreement check"):
        params = {**config["survival"]["params"], "max_months": config["agreement"]["max_months"]}
        model = ChurnSurvivalModel(**params, n_jobs=_jobs(config)).fit(X_learn, y_learn)
    X_test, y_test = data.at(test_cutoff).classification()
    survival = model.predict_survival_function(X_test, [horizon / DAYS_PER_MONTH]).iloc[:, 0]
    from_survival = 1.0 - survival.to_numpy()
    label = f"mean P(churn ≤ {horizon} d) @ {test_cutoff.date()}"
    out.add("realised", label, probabilities["realised"].mean(), note="churn rate of the rows")
    for model_name in (FIXED, DEFAULTS, TUNED):
        out.add(model_name, label, probabilities[model_name].mean())
    survival_name = f"{LGBM}, 1 − S({horizon} d)"
    out.add(survival_name, label, from_survival.mean())
    realised = probabilities["realised"].mean()
    out.notes.append(
        f"Agreement at {test_cutoff.date()}: the survival curve's mean 90-day churn "
        f"probability is {_relative(from_survival.mean(), realised)} the realised rate, the "
        f"classifiers' {_relative(probabilities[FIXED].mean(), realised)} (fixed) and "
        f"{_relative(probabilities[TUNED].mean(), realised)} (tuned)."
    )
    report = classification_report(y_test.to_numpy(dtype=int), from_survival)
    out.add(survival_name, "roc_auc", report["roc_auc"])
    out.add(survival_name, "ece", report["ece"])
    out.setup.append(
        f"Agreement check: a survival model learns on `data.until({test_cutoff.date()})"
        f".survival()` ({len(X_learn):,} rows; hazards of months 1..{model.max_months_}, "
        f"later follow-up censored there) and gives 1 − S({horizon} / DAYS_PER_MONTH "
        f"months) on the classifier's {len(X_test):,} test rows"
    )


def _relative(value: float, reference: float) -> str:
    change = value / reference - 1
    return f"{abs(change):.0%} {'above' if change > 0 else 'below'}"
