"""Datasets for churnml: a synthetic bank whose churn is known, and a real bank (Berka)."""

from __future__ import annotations

from churnml.datasets.berka import load_berka
from churnml.datasets.synthetic import SyntheticBank, SyntheticConfig, make_bank

__all__ = ["SyntheticBank", "SyntheticConfig", "load_berka", "make_bank"]
