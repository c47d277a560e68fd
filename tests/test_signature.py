"""The pre-churn signature recovers the synthetic bank's planted order of warning signs.

While disengaging (a geometric spell of about three months before churn, see
``churnml.datasets._synthetic_chain``), a synthetic customer's assets fall from their peak
in steps, more money goes to other banks and payment wallets, fewer payments come in, and
complaints pile up unresolved. Gender drives nothing, and channels are drawn by age group
alone, so the outflows' channel mix barely moves.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from churnml import ChurnClassifier, training_set
from churnml.datasets import SyntheticConfig, make_bank
from churnml.errors import InputError
from churnml.explain.signature import (
    PreChurnSignature,
    SignatureConfig,
    plot_pre_churn_signature,
    pre_churn_signature,
)
from churnml.features import build_features
from churnml.labels import churn_events, label_churn
from churnml.timeline import Horizon, month_end_cutoffs

PERIOD = ("2023-01-01", "2024-06-30")
THRESHOLD = SignatureConfig().threshold

# (feature, direction, months ahead it must separate at least): what the generator drives.
PLANTED = [
    ("peak__current_to_peak__3m", "lower", 3),
    ("peak__current_to_peak__6m", "lower", 3),
    ("peak__current_to_peak__12m", "lower", 3),
    ("peak__falls_since_peak__12m", "higher", 3),
    ("flows__out_other_bank_share__30d", "higher", 3),
    ("flows__out_other_bank_share__90d", "higher", 3),
    ("flows__out_third_party_payment_share__30d", "higher", 2),
    ("flows__out_third_party_payment_share__90d", "higher", 2),
    ("complaints__unresolved", "higher", 3),
    ("complaints__has_unresolved", "higher", 3),
    ("flows__in_count__30d", "lower", 2),
    ("flows__in_count__90d", "lower", 2),
]
NOT_DRIVEN = [
    "profile__gender=F",
    "profile__gender=M",
    "flows__out_mobile_channel_share__90d",
    "flows__out_branch_channel_share__90d",
]


@pytest.fixture(scope="module")
def bank():
    return make_bank(n_customers=6_000, months=42, seed=3)


@pytest.fixture(scope="module")
def signature(bank):
    return pre_churn_signature(bank.tables, churned_between=PERIOD)


@pytest.fixture(scope="module")
def small_bank():
    return make_bank(n_customers=300, months=12, seed=0)


@pytest.fixture(scope="module")
def small_signature(small_bank):
    return pre_churn_signature(
        small_bank.tables, churned_between=("2022-03-01", "2022-11-30"), months_before=2
    )


def _summary(signature: PreChurnSignature) -> pd.DataFrame:
    return signature.moves_first.set_index("feature")


@pytest.mark.parametrize(("feature", "direction", "months"), PLANTED)
def test_planted_behaviour_separates_months_ahead(signature, feature, direction, months):
    row = _summary(signature).loc[feature]
    assert row["direction"] == direction
    assert row["months_ahead"] >= months, row
    smd = signature.table.set_index(["feature", "months_before"])["smd"]
    # The signal grows towards churn: more churners are disengaging the nearer it is.
    assert abs(smd[feature, 1]) > abs(smd[feature, 6]) + THRESHOLD


@pytest.mark.parametrize("feature", NOT_DRIVEN)
def test_behaviour_the_generator_does_not_drive_never_separates(signature, feature):
    row = _summary(signature).loc[feature]
    assert row["months_ahead"] == 0
    assert row["max_abs_smd"] < THRESHOLD


def test_balance_falls_from_the_peak_first_and_hardest(signature):
    summary = _summary(signature)
    peak = summary.loc["peak__current_to_peak__6m"]
    assert peak["months_ahead"] >= summary.loc["flows__out_other_bank_share__30d", "months_ahead"]
    assert peak["smd_month_1"] < -1.5 and peak["auc_month_1"] < 0.1
    families = signature.family_moves_first.set_index("family")["months_ahead"]
    assert families["peak"] == families.max()
    assert families["profile"] == 0


def test_matching_balances_tenure(signature):
    # Matched on the tenure band, the churners' tenure is the stayers' at every month.
    tenure = signature.table.query("feature == 'products__tenure_months'")
    assert tenure["smd"].abs().max() < 0.1


def test_table_shapes(signature):
    table = signature.table
    assert table["months_before"].between(1, 12).all()
    assert table.groupby("feature").size().eq(12).all()
    counts = signature.matched.groupby(["months_before", "role"]).size().unstack()
    assert (counts["stayer"] == 5 * counts["churner"]).all()
    assert counts.loc[1, "churner"] > 500
    assert "churner_shap" not in table.columns
    assert set(signature.families["family"]) == {
        "trend",
        "peak",
        "flows",
        "products",
        "complaints",
        "profile",
    }
    assert "months" in repr(signature)


def test_matched_rows_follow_the_rules(small_bank, small_signature):
    tables, matched = small_bank.tables, small_signature.matched
    cutoffs = month_end_cutoffs("2022-01-31", "2022-10-31")
    events = churn_events(tables).set_index("customer_id")
    churners = matched[matched["role"] == "churner"]
    churn_month = events.loc[churners["customer_id"], "churn_date"].dt.to_period("M").to_numpy()
    expected = pd.PeriodIndex(churn_month - churners["months_before"].to_numpy())
    assert (expected.to_timestamp(how="end").normalize() == churners["cutoff"].to_numpy()).all()
    stayers = matched[matched["role"] == "stayer"]
    horizon_end = Horizon(months=2).end(stayers["cutoff"])
    exits = events.loc[stayers["customer_id"], "exit_date"].to_numpy()
    assert (pd.isna(exits) | (exits > horizon_end.to_numpy())).all()
    tiers = label_churn(tables, cutoffs=cutoffs, horizon_months=2).set_index(
        ["customer_id", "cutoff"]
    )["value_tier"]
    tenure = build_features(tables, cutoffs=cutoffs).set_index(["customer_id", "cutoff"])[
        "products__tenure_months"
    ]
    band = np.searchsorted(SignatureConfig().tenure_band_edges, tenure, side="right")
    strata = pd.DataFrame(
        {"tier": tiers.reindex(tenure.index).astype("string").fillna("?"), "band": band},
        index=tenure.index,
    )
    key = pd.MultiIndex.from_frame(matched[["customer_id", "cutoff"]])
    rows = matched.assign(
        tier=strata["tier"].reindex(key).to_numpy(), band=strata["band"].reindex(key).to_numpy()
    )
    own = rows[rows["role"] == "churner"].set_index(["churner_id", "months_before"])
    drawn = rows[rows["role"] == "stayer"].join(
        own[["cutoff", "tier", "band"]], on=["churner_id", "months_before"], rsuffix="_churner"
    )
    for column in ("cutoff", "tier", "band"):
        assert (drawn[column] == drawn[f"{column}_churner"]).all()


def test_same_seed_same_signature(small_bank, small_signature):
    again = pre_churn_signature(
        small_bank.tables, churned_between=("2022-03-01", "2022-11-30"), months_before=2
    )
    pd.testing.assert_frame_equal(again.table, small_signature.table)
    pd.testing.assert_frame_equal(again.matched, small_signature.matched)
    other = pre_churn_signature(
        small_bank.tables, churned_between=("2022-03-01", "2022-11-30"), months_before=2, seed=1
    )
    assert not other.matched.equals(small_signature.matched)


def test_shap_joins_the_table_and_the_family_lines(bank):
    data = training_set(
        bank.tables, cutoffs=["2023-06-30", "2023-09-30", "2023-12-31"], check=False
    )
    model = ChurnClassifier(n_estimators=20, num_leaves=7).fit(*data.classification())
    signature = pre_churn_signature(
        bank.tables, churned_between=("2023-07-01", "2023-12-31"), months_before=4, model=model
    )
    table = signature.table.set_index(["feature", "months_before"])
    assert {"churner_shap", "stayer_shap", "shap_gap"} <= set(table.columns)
    assert table["shap_gap"].notna().sum() > 0
    assert table.loc[("profile__gender=F", 1), ["churner_shap"]].isna().all()
    gap = signature.families.set_index(["family", "months_before"])["shap_gap"]
    assert gap["peak", 1] > 0.5
    assert gap["peak", 1] > gap["peak", 4] > gap["profile", 4]
    figure = plot_pre_churn_signature(signature)
    assert len(figure.axes) == 2
    plt.close(figure)


def test_plot_has_one_line_per_family_with_churn_on_the_right(signature):
    figure = plot_pre_churn_signature(signature)
    (ax,) = figure.axes
    assert len(ax.get_lines()) == signature.families["family"].nunique() + 1  # + threshold
    left, right = ax.get_xlim()
    assert left > right
    assert ax.get_xlabel() == "months before churn"
    plt.close(figure)


@pytest.mark.parametrize("months_before", [0, -1, True, 1.5])
def test_months_before_must_be_a_positive_whole_number(small_bank, months_before):
    with pytest.raises(InputError, match="months_before"):
        pre_churn_signature(
            small_bank.tables,
            churned_between=("2022-03-01", "2022-11-30"),
            months_before=months_before,
        )


@pytest.mark.parametrize("period", ["2022-05-01", ("2022-06-30",), ("2022-09-30", "2022-03-01"), 7])
def test_period_must_be_two_ordered_dates(small_bank, period):
    with pytest.raises(InputError, match="churned_between"):
        pre_churn_signature(small_bank.tables, churned_between=period, months_before=2)


def test_period_before_the_history_is_refused(small_bank):
    with pytest.raises(InputError, match=r"on or after 2022-03-01 or lower months_before"):
        pre_churn_signature(
            small_bank.tables, churned_between=("2022-02-01", "2022-11-30"), months_before=2
        )


def test_period_whose_stayers_run_past_the_data_is_refused(small_bank):
    with pytest.raises(InputError, match=r"on or before 2022-11-30 or lower stayer_months"):
        pre_churn_signature(
            small_bank.tables, churned_between=("2022-03-01", "2022-12-31"), months_before=2
        )


def test_no_churners_in_the_period():
    calm = make_bank(n_customers=200, months=12, seed=0, config=SyntheticConfig(churn_rate=0.0))
    with pytest.raises(InputError, match="nobody churned"):
        pre_churn_signature(
            calm.tables, churned_between=("2022-03-01", "2022-11-30"), months_before=2
        )


def test_stayers_must_stay_as_long_as_the_signature_looks_ahead(small_bank):
    with pytest.raises(InputError, match="stayer_months"):
        pre_churn_signature(
            small_bank.tables,
            churned_between=("2022-03-01", "2022-11-30"),
            months_before=2,
            config=SignatureConfig(stayer_months=1),
        )


@pytest.mark.parametrize(
    "knobs",
    [{"stayers_per_churner": 0}, {"threshold": 0.0}, {"tenure_band_edges": (12, 6)}],
)
def test_invalid_config(knobs):
    with pytest.raises(InputError, match="invalid SignatureConfig"):
        SignatureConfig(**knobs)


def test_model_must_be_a_fitted_classifier(small_bank):
    with pytest.raises(InputError, match="ChurnClassifier"):
        pre_churn_signature(
            small_bank.tables,
            churned_between=("2022-03-01", "2022-11-30"),
            months_before=2,
            model=object(),
        )
