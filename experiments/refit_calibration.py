"""The classifier's refit and its calibration: no refit, refit, refit with the score shift.

A 3,000-customer synthetic bank; the classifier learns on ``data.until(T)`` and is scored on
the three cutoffs from T on (pooled, about 6,900 rows). "refit, no shift" applies the
calibrator to the refitted trees' raw scores, as a refit without ``score_shift_`` would.

    .venv/bin/python experiments/refit_calibration.py
"""

from __future__ import annotations

from sklearn.metrics import roc_auc_score

from churnml.classifier import ChurnClassifier
from churnml.datasets import make_bank
from churnml.metrics import expected_calibration_error
from churnml.timeline import month_end_cutoffs
from churnml.training import training_set

PARAMS = {"num_leaves": 7, "min_child_samples": 200, "colsample_bytree": 0.3}


def main() -> None:
    bank = make_bank(n_customers=3_000, months=24, seed=11)
    cutoffs = month_end_cutoffs("2022-06-30", "2023-06-30")
    data = training_set(bank.tables, cutoffs=cutoffs, horizon_days=90, check=False)
    print("| learn until | model | mean p / realised | ROC AUC | ECE |")
    print("|---|---|---|---|---|")
    for first in ("2023-03-31", "2023-04-30"):
        X, y = data.until(first).classification()
        X_test, y_test = data.at(month_end_cutoffs(first, "2023-06-30")).classification()
        held = ChurnClassifier(**PARAMS, refit=False).fit(X, y)
        refit = ChurnClassifier(**PARAMS).fit(X, y)
        rows = {
            "no refit": held.predict_proba(X_test)[:, 1],
            "refit, no shift": refit._calibrated(refit.decision_function(X_test)),
            "refit (default)": refit.predict_proba(X_test)[:, 1],
        }
        for name, p in rows.items():
            print(
                f"| {first} | {name} | {p.mean() / y_test.mean():.2f} | "
                f"{roc_auc_score(y_test, p):.4f} | {expected_calibration_error(y_test, p):.4f} |"
            )


if __name__ == "__main__":
    main()
