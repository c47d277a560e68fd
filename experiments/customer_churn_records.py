"""Customer-Churn-Records: the leakage guard finds ``Complain``, and what it would cost.

The same customers as Churn_Modelling plus four columns; ``Complain`` is nearly the label
itself. :func:`churnml.leakage.leakage_report` scores every feature alone; the classifier
is cross-validated with and without the leak to show what a leak does to a validation
score. The training sets skip ``from_frame``'s own leakage warning (``check=False``): the
report here is that check, in full.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from churn_modelling import read_table
from evaluation import cv_auc, stratified_folds
from results import Expected, Outcome

from churnml.classifier import ChurnClassifier
from churnml.leakage import leakage_report
from churnml.training import TrainingSet

NAME = "customer_churn_records"
MODEL = "ChurnClassifier defaults"


def run(config: dict[str, Any], *, data_dir: Path) -> Outcome:
    out = Outcome(NAME)
    settings = config["data"]
    frame = read_table(data_dir, settings)
    columns = {"label": settings["label"], "id_column": settings["id"], "drop": settings["drop"]}
    data = TrainingSet.from_frame(frame, **columns, check=False)
    X, y = data.classification()
    out.setup.append(
        f"`{settings['path']}`: {len(X):,} customers, {X.shape[1]} features "
        f"({', '.join(map(str, X.columns))}), churn rate {y.mean():.2%}"
    )
    with out.step("leakage report"):
        report = leakage_report(X, y.to_numpy())
    _leakage(out, report, config)
    cv = config["cv"]
    folds = stratified_folds(cv["n_splits"], cv["seed"])
    leak = settings["leak"]
    for name, features in ((f"with {leak}", X), (f"without {leak}", X.drop(columns=[leak]))):
        with out.step(f"classifier CV, {name}"):
            scores = cv_auc(ChurnClassifier(**config["classifier"]), features, y, folds)
        out.add(
            f"{MODEL}, {name}",
            f"{cv['n_splits']}-fold CV roc_auc (seed {cv['seed']})",
            scores.mean(),
            note=f"folds {', '.join(f'{s:.4f}' for s in scores)}",
        )
    return out


def _leakage(out: Outcome, report: Any, config: dict[str, Any]) -> None:
    expected = sorted(config["targets"]["flagged"])
    flagged = sorted(report.loc[report["flagged"], "feature"])
    out.add(
        "leakage_report",
        "features flagged",
        len(flagged),
        target=Expected(f"exactly {', '.join(expected)}", flagged == expected),
        note=f"flagged: {', '.join(flagged) or 'none'}",
    )
    for _, row in report.head(config["report"]["top_features"]).iterrows():
        out.add(
            "leakage_report",
            f"single-feature AUC: {row['feature']}",
            row["auc"],
            note=row["reason"] if row["flagged"] else "",
        )
