"""Why a customer scores high: SHAP contributions, reasons in words, the pre-churn signature.

- :mod:`churnml.explain.contributions`: exact tree SHAP of the classifier's log-odds.
- :mod:`churnml.explain.importance`: global rankings by feature and family, beeswarm.
- :mod:`churnml.explain.reasons`: the top reasons of each score, in a banker's words.
- :mod:`churnml.explain.signature`: the pre-churn signature, which behaviours move first.
"""

from __future__ import annotations

from churnml.explain.contributions import Contributions, contributions, iter_contributions
from churnml.explain.importance import feature_importance, plot_beeswarm, plot_importance
from churnml.explain.reasons import top_reasons, typical_values
from churnml.explain.signature import (
    PreChurnSignature,
    SignatureConfig,
    plot_pre_churn_signature,
    pre_churn_signature,
)

__all__ = [
    "Contributions",
    "PreChurnSignature",
    "SignatureConfig",
    "contributions",
    "feature_importance",
    "iter_contributions",
    "plot_beeswarm",
    "plot_importance",
    "plot_pre_churn_signature",
    "pre_churn_signature",
    "top_reasons",
    "typical_values",
]
