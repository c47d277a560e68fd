"""Churn_Modelling: the flat Kaggle table through churnml's bring-your-own-features path.

One row per customer, a label (``Exited``) and no dates: the classifier is scored by
stratified 5-fold cross-validation, with its defaults and after tuning. Tuning is scored
on other folds (the tuner's own seed) than the ones reported, since the best of many
trials on the reported folds would be optimistic. The survival path reads ``Tenure``
(whole years with the bank) as the duration: for churners the years until they left, for
the others the years followed so far.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from evaluation import cv_auc, cv_harrell, data_file, searched_params, stratified_folds
from results import Outcome, at_least
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sksurv.ensemble import GradientBoostingSurvivalAnalysis

from churnml.baselines import CoxBaseline
from churnml.classifier import ChurnClassifier
from churnml.survival import ChurnSurvivalModel
from churnml.training import TrainingSet
from churnml.tuning import tune_classifier

NAME = "churn_modelling"
DEFAULTS, TUNED = "ChurnClassifier defaults", "ChurnClassifier tuned"
LGBM, COX = "ChurnSurvivalModel (Tenure)", "CoxBaseline (Tenure)"
SKSURV = "sksurv GradientBoostingSurvivalAnalysis (Tenure)"


def read_table(data_dir: Path, settings: dict[str, Any]) -> pd.DataFrame:
    """The CSV, or a seeded sample of ``n_rows`` of it (quick runs)."""
    frame = pd.read_csv(data_file(data_dir, settings["path"]))
    if settings.get("n_rows"):
        frame = frame.sample(n=settings["n_rows"], random_state=settings["sample_seed"])
    return frame.reset_index(drop=True)


def run(config: dict[str, Any], *, data_dir: Path) -> Outcome:
    out = Outcome(NAME)
    settings = config["data"]
    frame = read_table(data_dir, settings)
    columns = {"label": settings["label"], "id_column": settings["id"], "drop": settings["drop"]}
    data = TrainingSet.from_frame(frame, **columns)
    X, y = data.classification()
    out.setup.append(
        f"`{settings['path']}`: {len(X):,} customers, {X.shape[1]} features "
        f"({', '.join(map(str, X.columns))}), churn rate {y.mean():.2%}"
    )
    _classifier(out, data, config)
    _survival(out, frame, columns, config)
    return out


def _classifier(out: Outcome, data: TrainingSet, config: dict[str, Any]) -> None:
    X, y = data.classification()
    cv = config["cv"]
    folds = stratified_folds(cv["n_splits"], cv["seed"])
    settings = config["classifier"]
    target = at_least(config["targets"]["min_auc"], "issue")
    with out.step("classifier CV, defaults"):
        defaults = cv_auc(ChurnClassifier(**settings), X, y, folds)
    _add_cv(out, DEFAULTS, "roc_auc", defaults, cv, target=None)
    tuning = config["tuning"]
    with out.step("tuning"):
        result = tune_classifier(
            data,
            objective=tuning["objective"],
            n_trials=tuning["n_trials"],
            splitter=stratified_folds(tuning["n_splits"], tuning["seed"]),
            seed=tuning["seed"],
            base_params={**tuning["base_params"], "n_jobs": settings["n_jobs"]},
        )
    out.add(
        TUNED,
        f"{tuning['n_splits']}-fold CV {result.objective}, tuner's folds (seed {tuning['seed']})",
        result.best_value,
        note=f"best of {result.n_complete} trials ({result.n_pruned} pruned): optimistic",
    )
    with out.step("classifier CV, tuned"):
        tuned = cv_auc(ChurnClassifier(**result.best_params), X, y, folds)
    _add_cv(out, TUNED, "roc_auc", tuned, cv, target=target)
    out.notes.append(
        f"Tuning: `tune_classifier(objective={result.objective!r}, n_trials="
        f"{tuning['n_trials']}, seed={tuning['seed']})` chooses on its own "
        f"{tuning['n_splits']}-fold split (shuffle seed {tuning['seed']}); the winner is then "
        f"re-scored on the reported folds (seed {cv['seed']}), which it never chose on. "
        f"Best: {searched_params(result.best_params)}."
    )


def _add_cv(
    out: Outcome, model: str, metric: str, scores: Any, cv: dict[str, Any], *, target: Any
) -> None:
    out.add(
        model,
        f"{cv['n_splits']}-fold CV {metric} (seed {cv['seed']})",
        scores.mean(),
        target=target,
        note=f"folds {', '.join(f'{s:.4f}' for s in scores)}; std {scores.std():.4f}",
    )


def _survival(
    out: Outcome, frame: pd.DataFrame, columns: dict[str, Any], config: dict[str, Any]
) -> None:
    """Tenure as the duration, one "month" = one year: LightGBM hazard vs Cox, CV C-index."""
    survival = config["survival"]
    data = TrainingSet.from_frame(
        frame, **columns, duration=survival["duration"], duration_unit=survival["duration_unit"]
    )
    X, y = data.survival()
    dropped = len(data.X) - len(X)
    cv = config["cv"]
    folds = stratified_folds(cv["n_splits"], cv["seed"])
    with out.step("survival CV"):
        lgbm = cv_harrell(ChurnSurvivalModel(**survival["params"]), X, y, folds)
        cox = cv_harrell(CoxBaseline(**config["cox"]), X, y, folds)
        boosted = cv_harrell(sksurv_boosting(config["sksurv"]), X, y, folds)
    _add_cv(out, COX, "harrell_c", cox, cv, target=None)
    _add_cv(out, SKSURV, "harrell_c", boosted, cv, target=None)
    _add_cv(out, LGBM, "harrell_c", lgbm, cv, target=at_least(cox.mean(), "Cox"))
    out.setup.append(
        f"Survival: duration = `{survival['duration']}` in whole years, event = "
        f"`{columns['label']}`; {len(X):,} rows ({dropped:,} with tenure 0 have no follow-up "
        "and are left out by `TrainingSet.survival()`), "
        f"{int(y['event'].sum()):,} churns"
    )
    params = survival["params"]
    out.notes.append(
        f"Survival on a flat table: the target says its unit (`duration_unit="
        f"{survival['duration_unit']!r}`), so `ChurnSurvivalModel(horizon_months="
        f"{params['horizon_months']})` learns a monthly hazard over the whole tenure (its "
        "`max_months_` is the longest tenure seen, 120 months) and its risk score is the "
        f"months lost within {params['horizon_months']} months; `CoxBaseline()` reads the "
        "same years. Tenure is a snapshot, not a follow-up from a cutoff: a stayer's "
        "tenure is censored at the snapshot, a leaver's is the time to leaving."
    )
    out.notes.append(
        "scikit-survival's `GradientBoostingSurvivalAnalysis` (Cox partial-likelihood "
        f"boosting, {settings_text(config['sksurv'])}) on the same folds; it takes no "
        "missing values or text categories, so it is fitted behind a median / most-frequent "
        "imputer and a one-hot encoder (the CSV leaves Age and Gender empty on some rows), "
        "while churnml's models read the raw columns."
    )


def sksurv_boosting(params: dict[str, Any]) -> Pipeline:
    """sksurv's gradient boosting behind the imputation and encoding it needs."""
    numbers = make_column_selector(dtype_include="number")
    texts = make_column_selector(dtype_exclude="number")
    prepare = make_column_transformer(
        (SimpleImputer(strategy="median"), numbers),
        (
            make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            ),
            texts,
        ),
    )
    return make_pipeline(prepare, GradientBoostingSurvivalAnalysis(**params))


def settings_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in params.items())
