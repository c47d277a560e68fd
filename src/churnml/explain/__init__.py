"""Why a customer scores high: SHAP contributions, reasons in words, the pre-churn signature.

- :mod:`churnml.explain.contributions`: exact tree SHAP of the classifier's log-odds.
- :mod:`churnml.explain.importance`: global rankings by feature and family, beeswarm.
- :mod:`churnml.explain.reasons`: the top reasons of each score, in a banker's words.
"""

from __future__ import annotations

from churnml.explain.contributions import Contributions, contributions, iter_contributions
from churnml.explain.importance import feature_importance, plot_beeswarm, plot_importance
from churnml.explain.reasons import top_reasons, typical_values

__all__ = [
    "Contributions",
    "contributions",
    "feature_importance",
    "iter_contributions",
    "plot_beeswarm",
    "plot_importance",
    "top_reasons",
    "typical_values",
]
