"""How far plain LightGBM gets on Churn_Modelling, without churnml's holdout.

A side check of the tuned result in docs/experiments.md: a few LightGBM settings trained on
the whole training fold (no early-stopping holdout, fixed trees), on the raw columns and
with engineered ratios, scored by 5-fold CV ROC AUC on the same seed-0 folds.

    .venv/bin/python experiments/churn_modelling_grid.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bank_flat" / "Churn_Modelling.csv"
SETTINGS = [
    (
        {"num_leaves": 8, "learning_rate": 0.01, "min_data_in_leaf": 40, "feature_fraction": 0.7},
        800,
    ),
    (
        {
            "num_leaves": 8,
            "learning_rate": 0.01,
            "min_data_in_leaf": 40,
            "feature_fraction": 0.7,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 5,
        },
        1000,
    ),
    (
        {"num_leaves": 16, "learning_rate": 0.005, "min_data_in_leaf": 60, "feature_fraction": 0.6},
        1500,
    ),
    ({"max_depth": 4, "num_leaves": 15, "learning_rate": 0.01, "min_data_in_leaf": 20}, 700),
]


def engineered(X: pd.DataFrame) -> pd.DataFrame:
    return X.assign(
        balance_to_salary=X["Balance"] / X["EstimatedSalary"],
        zero_balance=(X["Balance"] == 0).astype(float),
        products_x_active=X["NumOfProducts"] * 2 + X["IsActiveMember"],
        age_x_inactive=X["Age"] * (1 - X["IsActiveMember"]),
        tenure_over_age=X["Tenure"] / X["Age"],
        products=X["NumOfProducts"].astype("category"),
    )


def cv_auc(X: pd.DataFrame, y: np.ndarray, params: dict, rounds: int) -> float:
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = []
    for learn, test in folds.split(X, y):
        booster = lgb.train(
            {**params, "objective": "binary", "verbosity": -1, "seed": 0, "num_threads": 1},
            lgb.Dataset(X.iloc[learn], y[learn]),
            rounds,
        )
        scores.append(roc_auc_score(y[test], booster.predict(X.iloc[test])))
    return float(np.mean(scores))


def main() -> int:
    if not DATA.exists():
        print(f"{DATA} not found")
        return 1
    frame = pd.read_csv(DATA)
    X = frame.drop(columns=["RowNumber", "CustomerId", "Surname", "Exited"])
    X = X.astype({"Geography": "category", "Gender": "category"})
    y = frame["Exited"].to_numpy()
    print("| columns | LightGBM settings | trees | 5-fold CV ROC AUC |")
    print("|---|---|---|---|")
    for name, columns in [("raw", X), ("raw + engineered", engineered(X))]:
        for params, rounds in SETTINGS:
            print(f"| {name} | {params} | {rounds} | {cv_auc(columns, y, params, rounds):.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
