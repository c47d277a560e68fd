"""The synthetic bank's planted pre-churn behaviour shows in the features.

DOMAIN.md: before leaving, assets fall from the peak in steps, money flows out to other
banks, wallets and cash, products are dropped, complaints pile up unresolved, and activity
drops. Each claim is asserted on churners (churn within 90 days) against stayers.
"""

from __future__ import annotations

import pytest

# (feature, direction for churners vs stayers, minimum relative gap of the means)
SIGNALS = [
    ("peak__current_to_peak__6m", "lower", 0.10),
    ("peak__falls_since_peak__12m", "higher", 0.5),
    ("trend__slope__3m", "lower", None),
    ("trend__months_declining", "higher", 0.5),
    ("flows__out_other_bank_share__90d", "higher", 0.5),
    ("flows__out_third_party_payment_share__90d", "higher", 0.2),
    ("products__closed_by_customer__180d", "higher", 0.5),
    ("complaints__unresolved", "higher", 0.5),
    ("complaints__count__90d", "higher", 0.5),
]


def test_there_are_enough_churners_to_compare(synthetic_training):
    assert synthetic_training["event"].sum() >= 100
    assert synthetic_training["event"].mean() < 0.2


@pytest.mark.parametrize(("feature", "direction", "gap"), SIGNALS, ids=[s[0] for s in SIGNALS])
def test_churners_differ_from_stayers(synthetic_training, feature, direction, gap):
    means = synthetic_training.groupby("event")[feature].mean()
    churners, stayers = means[True], means[False]
    if direction == "lower":
        assert churners < stayers
    else:
        assert churners > stayers
    if gap is not None:
        assert abs(churners - stayers) >= gap * abs(stayers), (churners, stayers)


def test_activity_drops_before_churn(synthetic_training):
    # Recency does not separate them here: churners keep moving money out until they leave.
    means = synthetic_training.groupby("event")[
        ["flows__in_count__90d", "flows__in_amount__90d"]
    ].mean()
    assert means.loc[True, "flows__in_count__90d"] < 0.9 * means.loc[False, "flows__in_count__90d"]
    assert means.loc[True, "flows__in_amount__90d"] < means.loc[False, "flows__in_amount__90d"]
