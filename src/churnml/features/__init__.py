"""Point-in-time features, one module per family.

Families: ``balances`` (deposit trend and peak-to-current decline), ``flows`` (channel and
counterparty mix of money in and out), ``products`` (holdings, wealth products by risk and
term, closures, maturities, tenure), ``complaints`` and ``profile``.
"""

from __future__ import annotations

from churnml.features._engine import FeatureConfig
from churnml.features.build import build_features
from churnml.features.catalogue import FeatureSpec, feature_catalogue

__all__ = ["FeatureConfig", "FeatureSpec", "build_features", "feature_catalogue"]
