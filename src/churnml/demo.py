"""``churnml demo``: data layer and models on a synthetic bank, on embedded defaults."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from churnml.classifier import ChurnClassifier
from churnml.datasets import SyntheticBank, make_bank
from churnml.features import build_features
from churnml.labels import label_churn
from churnml.metrics import classification_report, harrell_c
from churnml.survival import ChurnSurvivalModel
from churnml.timeline import Horizon, month_end_cutoffs
from churnml.training import TrainingSet
from churnml.units import DAYS_PER_MONTH

__all__ = ["run_demo"]

DEMO_CUTOFFS = 9
_SIGNALS = {
    "peak__current_to_peak__6m": "current balance / 6-month peak",
    "flows__out_other_bank_share__90d": "share of outflow to other banks, 90 days",
    "flows__out_third_party_payment_share__90d": "share of outflow to wallets, 90 days",
    "complaints__unresolved": "unresolved complaints at the cutoff",
    "trend__slope__3m": "3-month relative balance slope",
}


def run_demo(
    *, n_customers: int, months: int, seed: int, out: Path, horizon: Horizon | None = None
) -> str:
    """Simulate a bank, label churn, build features at monthly cutoffs; return a summary.

    Parameters
    ----------
    n_customers, months, seed : int
        Size and seed of the synthetic bank.
    horizon : Horizon, optional
        The label's horizon; 90 days by default.
    out : Path
        Folder where ``labels.parquet`` and ``features.parquet`` are written.

    Returns
    -------
    str
        A readable summary: population, churn by kind and tier, where the money went,
        and how the early-warning signals differ between churners and stayers.
    """
    horizon = horizon or Horizon.of()
    started = time.perf_counter()
    bank = make_bank(n_customers=n_customers, months=months, seed=seed)
    simulated = time.perf_counter()
    end = bank.tables.observed_until
    month_ends = month_end_cutoffs(end - pd.DateOffset(months=DEMO_CUTOFFS + 14), end)
    labelled_ends = month_ends[horizon.end(month_ends) <= end]
    cutoffs = labelled_ends[-DEMO_CUTOFFS:]
    labels = label_churn(
        bank.tables, cutoffs=cutoffs, horizon_days=horizon.days, horizon_months=horizon.months
    )
    labelled = time.perf_counter()
    features = build_features(bank.tables, cutoffs=cutoffs)
    built = time.perf_counter()
    data = TrainingSet.join(labels, features, horizon=horizon)
    scores, model_lines = _models(bank, data, horizon)
    modelled = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    labels.to_parquet(out / "labels.parquet", index=False)
    features.to_parquet(out / "features.parquet", index=False)
    scores.to_parquet(out / "scores.parquet")
    lines = [
        f"churnml demo: synthetic bank of {n_customers:,} customers x {months} months "
        f"(seed {seed}), {bank.tables!r}",
        f"cutoffs {cutoffs[0]:%Y-%m-%d} .. {cutoffs[-1]:%Y-%m-%d} (monthly), horizon {horizon}",
        "",
        _churn_summary(labels),
        "",
        _signal_summary(labels, features),
        "",
        f"features: {features.shape[1] - 2} columns x {len(features):,} rows "
        f"(customer, cutoff); catalogue in docs/features.md",
        "",
        *model_lines,
        "",
        f"time: simulate {simulated - started:.1f}s, labels {labelled - simulated:.1f}s, "
        f"features {built - labelled:.1f}s, models {modelled - built:.1f}s",
        f"written: {out / 'labels.parquet'}, {out / 'features.parquet'}, {out / 'scores.parquet'}",
    ]
    return "\n".join(lines)


def _churn_summary(labels: pd.DataFrame) -> str:
    rate = labels.groupby("cutoff")["event"].mean()
    by_kind = labels.loc[labels["event"], "churn_kind"].value_counts(normalize=True)
    by_tier = labels.groupby("value_tier", observed=True)["event"].mean()
    destinations = labels.loc[labels["event"]].filter(like="dest_").mean().sort_values()
    lines = [
        f"population per cutoff: {labels.groupby('cutoff').size().mean():,.0f} customers; "
        f"churn within the horizon: {rate.mean():.1%} "
        f"(by cutoff {rate.min():.1%}..{rate.max():.1%})",
        "churn by degree: " + ", ".join(f"{k} {v:.0%}" for k, v in by_kind.items()),
        "churn rate by value tier: " + ", ".join(f"{k} {v:.1%}" for k, v in by_tier.items()),
        "where the churners' money went (90 days before churn): "
        + ", ".join(
            f"{str(k).removeprefix('dest_').removesuffix('_share')} {v:.0%}"
            for k, v in destinations[::-1].items()
            if v >= 0.005
        ),
    ]
    return "\n".join(lines)


def _signal_summary(labels: pd.DataFrame, features: pd.DataFrame) -> str:
    joined = labels[["customer_id", "cutoff", "event"]].merge(
        features, on=["customer_id", "cutoff"]
    )
    lines = ["early-warning signals, mean for churners vs stayers:"]
    for column, meaning in _SIGNALS.items():
        means = joined.groupby("event")[column].mean()
        lines.append(
            f"  {meaning:<45} {means.get(True, float('nan')):>8.3f} vs "
            f"{means.get(False, float('nan')):.3f}"
        )
    return "\n".join(lines)


def _models(
    bank: SyntheticBank, data: TrainingSet, horizon: Horizon
) -> tuple[pd.DataFrame, list[str]]:
    """Train on what was known at the last cutoff, score that cutoff, compare to the oracle."""
    last = data.cutoffs[-1]
    learn, test = data.until(last), data.at(last)
    horizon_days = int((horizon.end([last])[0] - last).days)
    classifier = ChurnClassifier().fit(*learn.classification())
    survival = ChurnSurvivalModel().fit(*learn.survival())
    X, y = test.classification()
    probability = classifier.predict_proba(X)[:, 1]
    report = classification_report(y, probability)
    best, visible = (
        roc_auc_score(
            y,
            bank.oracle_probability([last], horizon_days, knows_frailty=knows)
            .set_index(["customer_id", "cutoff"])["probability"]
            .reindex(X.index),
        )
        for knows in (True, False)
    )
    X_surv, y_surv = test.survival()
    curves = survival.predict_survival_function(X, [horizon_days / DAYS_PER_MONTH, 12])
    scores = pd.DataFrame(
        {
            "churn_probability": probability,
            "survival_12m": curves.iloc[:, 1],
            "expected_months_12m": survival.predict_expected_months(X, 12),
        },
        index=X.index,
    )
    within = 1 - curves.iloc[:, 0]
    lines = [
        f"models: trained on cutoffs up to {learn.cutoffs[-1]:%Y-%m-%d} (labels known at "
        f"{last:%Y-%m-%d}), scored at {last:%Y-%m-%d}: {len(X):,} customers, "
        f"{int(y.sum())} churned within {horizon}",
        f"  classifier: ROC AUC {report['roc_auc']:.3f} (generator's oracle {best:.3f}; "
        f"without the hidden frailty no table shows {visible:.3f}), "
        f"PR AUC {report['pr_auc']:.3f}, ECE {report['ece']:.4f}, "
        f"top-decile lift {report['lift_top_decile']:.1f}x capturing "
        f"{report['capture_top_decile']:.0%} of churners",
        f"  survival: C-index {harrell_c(y_surv, survival.predict(X_surv)):.3f}; mean "
        f"P(churn within {horizon}) {within.to_numpy().mean():.2%} vs classifier "
        f"{probability.mean():.2%} vs realised {y.mean():.2%}",
    ]
    return scores, lines
