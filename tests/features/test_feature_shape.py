"""One shape for every feature: a name stands with its computation, so it labels that column.

Every family lists its features once (``features(config)``); its catalogue entries and its
columns both come from that list. A balance feature computed alone, by its own object,
gives the column of its name: a computation moved to another name's line would fail here.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from churnml.features import FeatureConfig, balances, build_features
from churnml.features._engine import feature_context
from churnml.features.build import FAMILY_MODULES
from churnml.features.catalogue import Feature
from churnml.labels import population
from churnml.tables import load_tables

CONFIGS = {
    "default": FeatureConfig(),
    "other": FeatureConfig(
        flow_windows_days=(14, 60),
        complaint_windows_days=(60,),
        product_closed_windows_days=(45,),
        trend_months=(2, 5),
        fall_step=0.25,
    ),
}
MONTHS = pd.date_range("2023-01-31", "2024-02-29", freq="ME")
CUTOFF = "2024-02-29"
# One month-end snapshot a month, so each month's average is the snapshot itself. No
# balance falls to 30% of its peak: every customer stays in the population.
BALANCES = {
    1: [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200, 210, 220, 230],  # rising
    2: [100, 100, 100, 120, 150, 150, 150, 150, 150, 130, 100, 90, 60, 55],  # steps down
    3: [300, 200, 350, 220, 400, 250, 380, 260, 330, 270, 310, 240, 290, 250],  # zigzag
    4: [500, 800, 650, 600, 520, 470, 430, 500, 480, 350, 320, 340, 300, 310],  # early peak
}


def _family(module) -> str:
    return module.__name__.rsplit(".", 1)[-1]


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("module", FAMILY_MODULES, ids=_family)
def test_a_family_computes_its_catalogue_in_order(small_bank, module, config):
    features = module.features(config)
    assert all(isinstance(feature, Feature) for feature in features)
    assert module.specs(config) == [feature.spec() for feature in features]
    tables = load_tables(small_bank)
    rows = population(tables, cutoffs=["2023-06-30", "2024-01-15"])
    with feature_context(tables, rows, config) as ctx:
        columns = module.compute(ctx).columns.tolist()
    assert columns == [feature.name for feature in features]


def _tiny_bank() -> dict[str, pd.DataFrame]:
    ids = list(BALANCES)
    snapshots = [
        (customer, month, balance)
        for customer, values in BALANCES.items()
        for month, balance in zip(MONTHS, values, strict=True)
    ]
    return {
        "customers": pd.DataFrame({"customer_id": ids, "join_date": "2023-01-01"}),
        "accounts": pd.DataFrame(
            {
                "account_id": ids,
                "customer_id": ids,
                "product_type": "current",
                "open_date": "2023-01-01",
            }
        ),
        "balances": pd.DataFrame(snapshots, columns=["customer_id", "date", "balance"]),
    }


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_a_balance_feature_alone_gives_the_column_of_its_name(config):
    built = build_features(_tiny_bank(), cutoffs=[CUTOFF], config=config)
    assert built["customer_id"].tolist() == list(BALANCES)
    # The window by hand: the cutoff's month last, as many months as the family looks back.
    length = max(max(config.trend_months), balances.PEAK_MONTHS) + 1
    window = np.array(list(BALANCES.values()), dtype=float)[:, -length:]
    alone = {
        feature.name: feature.compute(window).astype(np.float32)
        for feature in balances.features(config)
    }
    for name, values in alone.items():
        np.testing.assert_array_equal(built[name].to_numpy(), values, err_msg=name)
    # Every two features differ on this bank, so two swapped computations could not pass.
    for (first, a), (second, b) in combinations(alone.items(), 2):
        assert not np.array_equal(a, b, equal_nan=True), (first, second)
