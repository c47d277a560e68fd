"""Berka (PKDD'99): a real bank's 15 months, churn derived by churnml's labels.

Berka has no churn flag: churn is the contract's definition applied to its balances and
accounts, and the slice of transactions ends on 1994-03-30, so follow-up is short and
churn events are few. The experiment counts them first and only reports model metrics
when both the learning and the test rows hold at least ``min_events`` churns; with fewer,
a metric would be noise, and the report gives the counts instead.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from evaluation import (
    add_classification,
    add_survival_versus_cox,
    bootstrap_auc,
    data_file,
    hazard_learning_rows,
    interval,
    monthly_grid,
    survival_scores,
)
from results import Outcome

from churnml.baselines import CoxBaseline
from churnml.classifier import ChurnClassifier
from churnml.datasets import load_berka
from churnml.survival import ChurnSurvivalModel
from churnml.tables import Tables
from churnml.timeline import Horizon, month_end_cutoffs
from churnml.training import TrainingSet, training_set

NAME = "berka"
COUNTS = "data"
CLASSIFIER = "ChurnClassifier"
LGBM, COX = "LightGBM hazard", "Cox (lifelines)"
CLASSIFIER_METRICS = ("roc_auc", "pr_auc", "brier", "ece", "lift_top_decile")


def run(config: dict[str, Any], *, data_dir: Path) -> Outcome:
    out = Outcome(NAME)
    folder = data_file(data_dir, config["data"]["path"])
    with out.step("load"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tables = load_berka(folder)
    out.notes += [f"`load_berka` warned (expected, documented): {w.message}" for w in caught]
    horizon = Horizon(days=int(config["cutoffs"]["horizon_days"]))
    end = tables.observed_until
    month_ends = month_end_cutoffs(config["cutoffs"]["first"], end)
    cutoffs = month_ends[horizon.end(month_ends) <= end]
    with out.step("features and labels"):
        data = training_set(tables, cutoffs=cutoffs, horizon_days=horizon.days)
    out.setup.append(
        f"`load_berka(berka/)` (default known_at = end of the transaction slice): "
        f"{tables!r}, data until {tables.observed_until.date()}"
    )
    out.setup.append(_per_cutoff(data, horizon))
    _churn_months(out, data, tables)
    _classifier(out, data, config)
    _survival(out, data, pd.Timestamp(config["survival"]["test_cutoff"]), config)
    return out


def _per_cutoff(data: TrainingSet, horizon: Horizon) -> str:
    labels = data.labels
    by_cutoff = labels.groupby(level="cutoff")["event"].agg(["size", "sum"])
    shown = ", ".join(
        f"{cutoff:%Y-%m} {int(row['sum'])}/{int(row['size'])}"
        for cutoff, row in by_cutoff.iterrows()
    )
    return (
        f"{len(by_cutoff)} month-end cutoffs, horizon {horizon} (churn counts below are "
        "rows, one per customer and cutoff); churns within the "
        f"horizon / rows, by cutoff: {shown}"
    )


def _churn_months(out: Outcome, data: TrainingSet, tables: Tables) -> None:
    """When the churns are dated, beside the bank's total balance month by month."""
    labels = data.labels.reset_index()
    churners = labels.loc[labels["observed"]].groupby("customer_id")["churn_date"].first()
    months = churners.dt.to_period("M").value_counts()
    if months.empty:
        return
    peak = months.idxmax()
    balances = tables.balances
    total = balances.groupby(balances["date"].dt.to_period("M"))["balance"].sum()
    change = total.pct_change().get(peak, np.nan)
    out.notes.append(
        f"Churn dates of the {len(churners)} customers who churn: {int(months.max())} fall "
        f"in {peak}, when the bank's total month-end balance changed by {change:+.1%} from "
        f"the month before; by month: "
        + ", ".join(f"{month} {count}" for month, count in months.sort_index().items())
        + ". A bank-wide dip trips the partial-churn rule (a month at ≤ 30% of the 12-month "
        "peak) for customers near it, so some of these labels may be seasonal, not leaving."
    )


def _enough(out: Outcome, what: str, learn_events: int, test_events: int, minimum: int) -> bool:
    if min(learn_events, test_events) >= minimum:
        return True
    out.notes.append(
        f"{what}: {learn_events} churns to learn from and {test_events} to test on, fewer than "
        f"{minimum}: no metric is reported, since it would mostly be noise."
    )
    return False


def _classifier(out: Outcome, data: TrainingSet, config: dict[str, Any]) -> None:
    test_cutoff = data.cutoffs[-1]
    learn = data.until(test_cutoff)
    X, y = learn.classification()
    X_test, y_test = data.at(test_cutoff).classification()
    model = f"{CLASSIFIER} @ {test_cutoff.date()}"
    out.add(COUNTS, f"classifier learning rows (until {test_cutoff.date()})", len(X))
    out.add(COUNTS, "classifier learning churns", int(y.sum()))
    out.add(COUNTS, f"classifier test rows ({test_cutoff.date()})", len(X_test))
    out.add(COUNTS, "classifier test churns", int(y_test.sum()))
    if not _enough(out, "Classifier", int(y.sum()), int(y_test.sum()), _minimum(config)):
        return
    with out.step("classifier"):
        fitted = ChurnClassifier(**config["classifier"]).fit(X, y)
    proba = fitted.predict_proba(X_test)[:, 1]
    add_classification(out, model, y_test, proba, metrics=CLASSIFIER_METRICS)
    resamples = config["bootstrap"]
    draws = bootstrap_auc(
        y_test, {"auc": proba}, n_resamples=resamples["n_resamples"], seed=resamples["seed"]
    )
    out.notes.append(
        f"Classifier ROC AUC at {test_cutoff.date()}: {interval(draws['auc'])} "
        f"({int(y_test.sum())} churners): wide, as expected from so few events. Holdout: "
        f"{fitted.holdout_.description}."
    )


def _minimum(config: dict[str, Any]) -> int:
    return int(config["min_events"])


def _survival(
    out: Outcome, data: TrainingSet, cutoff: pd.Timestamp, config: dict[str, Any]
) -> None:
    X_learn, y_learn = data.until(cutoff).survival()
    X_test, y_test = data.at(cutoff).survival()
    learn_events, test_events = int(y_learn["event"].sum()), int(y_test["event"].sum())
    out.add(COUNTS, f"survival learning rows (until {cutoff.date()})", len(X_learn))
    out.add(COUNTS, "survival learning churns", learn_events)
    out.add(COUNTS, f"survival test rows ({cutoff.date()})", len(X_test))
    out.add(COUNTS, "survival test churns", test_events)
    if not _enough(out, f"Survival @ {cutoff.date()}", learn_events, test_events, _minimum(config)):
        return
    times, grid_note = monthly_grid(y_learn, y_test, config["survival"]["grid_months"])
    out.setup.append(f"Survival @ {cutoff.date()}: IBS and AUC grid: {grid_note}")
    models = {
        LGBM: ChurnSurvivalModel(**config["survival"]["params"]),
        COX: CoxBaseline(**config["cox"]),
    }
    scores = {}
    for name, model in models.items():
        with out.step(f"survival: {name}"):
            model.fit(X_learn, y_learn)
            scores[name] = survival_scores(model, y_learn, X_test, y_test, times)
    add_survival_versus_cox(
        out,
        str(cutoff.date()),
        scores,
        cox=COX,
        hazards=[LGBM],
        hazard_note=hazard_learning_rows(models[LGBM]),
    )
