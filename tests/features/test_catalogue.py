"""The feature catalogue: complete, unique, and the same as docs/features.md."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from churnml.features import build_features, feature_catalogue
from churnml.features.catalogue import catalogue_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_every_column_is_catalogued_in_order(small_bank):
    features = build_features(small_bank, cutoffs=["2023-06-30"])
    catalogue = feature_catalogue()
    assert features.columns[2:].tolist() == catalogue["name"].tolist()
    assert catalogue["name"].is_unique
    assert catalogue["description"].str.len().min() > 10
    assert catalogue["name"].str.fullmatch(r"[a-z]+__[a-z0-9_]+(__[a-z0-9_]+)?").all()


def test_docs_page_is_generated_from_the_code():
    assert DOC.read_text() == catalogue_markdown(), (
        "docs/features.md is stale: run `python -m churnml.features > docs/features.md`"
    )


def test_same_tables_same_features(small_bank):
    cutoffs = ["2023-03-31", "2023-06-15", "2023-09-30"]
    first = build_features(small_bank, cutoffs=cutoffs)
    second = build_features(
        {k: v.sample(frac=1, random_state=1) for k, v in small_bank.items()}, cutoffs=cutoffs
    )
    # Row order of the input does not matter either: outputs are sorted by key.
    pd.testing.assert_frame_equal(first, second)
