"""churnml: early warning of retail-bank deposit churn.

The data layer (tables, labels, features) imports eagerly; the model layer (LightGBM,
scikit-survival, lifelines, Optuna) loads on first use, so ``import churnml`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from churnml.errors import (
    ChurnMLError,
    HoldoutWarning,
    InputError,
    LeakageError,
    LeakageWarning,
    SchemaError,
)
from churnml.tables import Tables, load_tables
from churnml.timeline import Horizon

__version__ = "0.1.0"

_LAZY = {
    "ChurnClassifier": "churnml.classifier",
    "ChurnSurvivalModel": "churnml.survival",
    "CoxBaseline": "churnml.baselines",
    "TemporalSplitter": "churnml.splitting",
    "TrainingSet": "churnml.training",
    "training_set": "churnml.training",
    "tune_classifier": "churnml.tuning",
    "tune_survival": "churnml.tuning",
}

__all__ = [
    "ChurnClassifier",
    "ChurnMLError",
    "ChurnSurvivalModel",
    "CoxBaseline",
    "HoldoutWarning",
    "Horizon",
    "InputError",
    "LeakageError",
    "LeakageWarning",
    "SchemaError",
    "Tables",
    "TemporalSplitter",
    "TrainingSet",
    "__version__",
    "load_tables",
    "training_set",
    "tune_classifier",
    "tune_survival",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'churnml' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazy names are listed although not yet loaded, so tab completion finds them.
    return sorted(set(globals()) | set(_LAZY))
