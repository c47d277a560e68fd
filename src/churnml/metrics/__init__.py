"""Model metrics: classification (ranking, calibration, profit) and survival."""

from churnml.metrics.classification import (
    TOP_DECILE,
    capture_rate_at,
    classification_report,
    empc,
    empc_target_fraction,
    expected_calibration_error,
    lift_at,
)
from churnml.metrics.survival import (
    harrell_c,
    integrated_brier,
    survival_report,
    time_dependent_auc,
    uno_c,
    usable_times,
)

__all__ = [
    "TOP_DECILE",
    "capture_rate_at",
    "classification_report",
    "empc",
    "empc_target_fraction",
    "expected_calibration_error",
    "harrell_c",
    "integrated_brier",
    "lift_at",
    "survival_report",
    "time_dependent_auc",
    "uno_c",
    "usable_times",
]
