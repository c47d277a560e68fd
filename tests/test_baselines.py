"""CoxBaseline: the lifelines Cox model behind the survival model's interface.

Small behaviours run on a toy table (300 rows, three columns); discrimination runs on the
synthetic bank: fit on the three earlier cutoffs, scored on them and on the latest one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from sksurv.metrics import concordance_index_censored
from sksurv.util import Surv

from churnml.baselines import CoxBaseline
from churnml.errors import InputError
from churnml.training import survival_target
from churnml.units import DAYS_PER_MONTH

REGIONS = ["north", "south", "east"]


def _target(event, duration) -> np.ndarray:
    return survival_target(event, duration, unit="days")


def _toy(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Churn driven by a balance trend; the region ("north" most common) adds a little."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "trend__slope__3m": rng.normal(size=n),
            "flows__out_amount__30d": rng.lognormal(5, 1, size=n).astype("float32"),
            "profile__region": rng.choice(REGIONS, n, p=[0.5, 0.3, 0.2]),
        }
    )
    X.loc[rng.random(n) < 0.2, "flows__out_amount__30d"] = np.nan
    risk = X["trend__slope__3m"] + 0.5 * (X["profile__region"] == "south")
    days = np.ceil(rng.exponential(300 * np.exp(-risk)))
    return X, _target(days < 180, np.minimum(days, 180))


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if "__" in c]]


def _bank_target(frame: pd.DataFrame) -> np.ndarray:
    return _target(frame["observed"], frame["duration_days"])


def _c_index(model: CoxBaseline, frame: pd.DataFrame) -> float:
    score = model.predict(_features(frame))
    return concordance_index_censored(
        frame["observed"].to_numpy(), frame["duration_days"].to_numpy(dtype=float), score
    )[0]


@pytest.fixture(scope="module")
def toy() -> tuple[pd.DataFrame, np.ndarray, CoxBaseline]:
    X, y = _toy()
    return X, y, CoxBaseline().fit(X, y)


@pytest.fixture(scope="module")
def bank_split(synthetic_training) -> tuple[pd.DataFrame, pd.DataFrame]:
    latest = synthetic_training["cutoff"] == synthetic_training["cutoff"].max()
    return synthetic_training[~latest], synthetic_training[latest]


@pytest.fixture(scope="module")
def bank_model(bank_split) -> CoxBaseline:
    earlier, _ = bank_split
    return CoxBaseline().fit(_features(earlier), _bank_target(earlier))


# --- the synthetic bank ---------------------------------------------------------------


def test_risk_ranks_churners_first_in_and_out_of_time(bank_model, bank_split):
    earlier, latest = bank_split
    # Measured: about 0.79 on the earlier cutoffs and 0.82 on the latest one.
    assert _c_index(bank_model, earlier) > 0.7
    assert _c_index(bank_model, latest) > 0.7


def test_bank_preprocessing_drops_constant_and_duplicate_columns(bank_model, bank_split):
    earlier, _ = bank_split
    design = bank_model.design_.transform(_features(earlier))
    assert list(design.columns) == bank_model.columns_.tolist()
    assert not design.isna().any().any()
    assert not design.T.duplicated().any()
    assert (design.std() > 0).all()
    assert "profile__gender" not in bank_model.columns_
    assert any(name.startswith("profile__income_band=") for name in bank_model.columns_)
    assert set(bank_model.dropped_columns_).isdisjoint(bank_model.columns_)


def test_bank_survival_curves_are_probabilities_that_never_rise(bank_model, bank_split):
    _, latest = bank_split
    X = _features(latest.set_index(["customer_id", "cutoff"]))
    months = [0, 1, 2, 90 / DAYS_PER_MONTH, 6, 12, 24]
    curves = bank_model.predict_survival_function(X, months)
    assert curves.index.equals(X.index)
    assert curves.columns.tolist() == pytest.approx(months)
    assert ((curves >= 0) & (curves <= 1)).all().all()
    assert (curves.diff(axis=1).iloc[:, 1:] <= 0).all().all()
    assert (curves[0.0] == 1).all()
    # Training follow-up ends about 9 months after a cutoff: the curve is flat after it.
    pd.testing.assert_series_equal(curves[12.0], curves[24.0], check_names=False)


def test_bank_expected_months_fall_as_risk_rises(bank_model, bank_split):
    _, latest = bank_split
    X = _features(latest)
    expected = bank_model.predict_expected_months(X, horizon_months=6)
    assert expected.index.equals(X.index)
    assert expected.between(0, 6).all()
    by_risk = expected.to_numpy()[np.argsort(bank_model.predict(X), kind="stable")]
    assert (np.diff(by_risk) <= 1e-12).all()


def test_same_fit_twice_gives_the_same_predictions(synthetic_training):
    sample = synthetic_training.sample(1000, random_state=3)
    X, y = _features(sample), _bank_target(sample)
    first = CoxBaseline().fit(X, y).predict(X)
    second = CoxBaseline().fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)


# --- behaviours on the toy table ------------------------------------------------------


def test_fit_learns_the_documented_attributes(toy):
    X, _, model = toy
    assert model.feature_names_in_.tolist() == X.columns.tolist()
    assert model.n_features_in_ == 3
    # "north" is the most frequent region: the reference level, without an indicator.
    assert model.columns_.tolist() == [
        "trend__slope__3m",
        "flows__out_amount__30d",
        "profile__region=east",
        "profile__region=south",
    ]
    assert model.model_.params_.index.tolist() == model.columns_.tolist()
    assert model.dropped_columns_ == {}


def test_risk_follows_the_driver(toy):
    X, y, model = toy
    assert model.model_.params_["trend__slope__3m"] > 0.5
    assert concordance_index_censored(y["event"], y["duration_days"], model.predict(X))[0] > 0.7
    assert model.score(X, y) == pytest.approx(
        concordance_index_censored(y["event"], y["duration_days"], model.predict(X))[0]
    )


def test_curve_matches_lifelines_at_training_times(toy):
    X, _, model = toy
    times = model.model_.baseline_cumulative_hazard_.index.to_numpy()
    ours = model.predict_survival_function(X.head(5), times / DAYS_PER_MONTH)
    theirs = model.model_.predict_survival_function(model.design_.transform(X.head(5)), times)
    np.testing.assert_allclose(ours.to_numpy(), theirs.T.to_numpy(), rtol=1e-10)


def test_the_target_unit_sets_the_month(toy):
    X, y, model = toy
    in_months = survival_target(y["event"], y["duration_days"] / DAYS_PER_MONTH, unit="months")
    monthly = CoxBaseline().fit(X, in_months)
    np.testing.assert_allclose(
        monthly.predict_survival_function(X.head(3), [1.0, 4.0]).to_numpy(),
        model.predict_survival_function(X.head(3), [1.0, 4.0]).to_numpy(),
        rtol=1e-6,
    )
    # A plain scikit-survival target needs the unit said; a contradicting one is an error.
    plain = Surv.from_arrays(y["event"], y["duration_days"])
    with pytest.raises(InputError, match="say no unit"):
        CoxBaseline().fit(X, plain)
    said = CoxBaseline(duration_unit="days").fit(X, plain)
    np.testing.assert_allclose(said.predict(X), model.predict(X))
    with pytest.raises(InputError, match=r"in days .* duration_unit='months'"):
        CoxBaseline(duration_unit="months").fit(X, y)


def test_expected_months_are_the_area_under_the_curve(toy):
    X, _, model = toy
    expected = model.predict_expected_months(X.head(4), horizon_months=3)
    assert expected.name == "expected_months"
    # Each 0.25-month step loses at most a quarter of the drop in survival over it.
    grid = np.arange(0, 3.25, 0.25)
    curve = model.predict_survival_function(X.head(4), grid).to_numpy()
    upper = curve[:, :-1].sum(axis=1) * 0.25
    lower = curve[:, 1:].sum(axis=1) * 0.25
    assert ((expected >= lower) & (expected <= upper)).all()


def test_unseen_and_missing_levels_count_as_the_reference_level(toy):
    X, _, model = toy
    rows = X.head(3)
    unseen = rows.assign(profile__region=["atlantis", None, "north"])
    reference = rows.assign(profile__region="north")
    np.testing.assert_allclose(model.predict(unseen), model.predict(reference))


def test_missing_value_seen_at_fit_is_its_own_level():
    X, y = _toy()
    X.loc[X.index[:40], "profile__region"] = None
    model = CoxBaseline().fit(X, y)
    assert "profile__region=<missing>" in model.columns_


def test_missing_numbers_get_the_fit_median(toy):
    X, _, model = toy
    median = X["flows__out_amount__30d"].median()
    rows = X.head(2)
    np.testing.assert_allclose(
        model.predict(rows.assign(flows__out_amount__30d=np.nan)),
        model.predict(rows.assign(flows__out_amount__30d=median)),
    )


def test_empty_constant_and_duplicate_columns_are_dropped():
    X, y = _toy()
    X["products__open_other"] = np.float32(np.nan)
    X["products__open_current"] = 1.0
    X["products__tenure_copy"] = X["trend__slope__3m"]
    model = CoxBaseline().fit(X, y)
    assert model.dropped_columns_ == {
        "products__open_other": "no value at fit",
        "products__open_current": "constant at fit",
        "products__tenure_copy": "duplicate of 'trend__slope__3m' at fit",
    }
    later = X.head(3).assign(products__open_other=5.0, products__open_current=np.nan)
    np.testing.assert_allclose(model.predict(later), model.predict(X.head(3)))


def test_booleans_and_categoricals_are_accepted():
    X, y = _toy()
    X["complaints__any__365d"] = X["trend__slope__3m"] > 1
    X["profile__region"] = X["profile__region"].astype("category")
    model = CoxBaseline().fit(X, y)
    assert "complaints__any__365d" in model.columns_
    assert np.isfinite(model.predict(X)).all()


def test_column_order_at_predict_does_not_matter(toy):
    X, _, model = toy
    np.testing.assert_array_equal(model.predict(X[X.columns[::-1]]), model.predict(X))


def test_zero_durations_are_kept_and_show_at_month_zero():
    X, y = _toy()
    y["duration_days"][:5] = 0.0
    y["event"][:5] = True
    model = CoxBaseline().fit(X, y)
    assert (model.predict_survival_function(X.head(3), [0])[0.0] < 1).all()


def test_clone_keeps_parameters_and_forgets_the_fit(toy):
    _, _, model = toy
    params = {"penalizer": 0.5, "l1_ratio": 0.2, "duration_unit": "months"}
    assert clone(CoxBaseline(**params)).get_params() == params
    fresh = clone(model)
    assert fresh.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)
    with pytest.raises(NotFittedError):
        fresh.predict(_toy()[0])


@settings(max_examples=40, deadline=None)
@given(
    trend=st.lists(st.floats(-1e6, 1e6) | st.just(float("nan")), min_size=1, max_size=5),
    region=st.sampled_from(["north", "south", "east", "atlantis", None]),
    months=st.lists(st.floats(0, 40), min_size=1, max_size=8, unique=True).map(sorted),
)
def test_any_row_gets_a_survival_curve_in_unit_range_that_never_rises(toy, trend, region, months):
    _, _, model = toy
    rows = pd.DataFrame(
        {
            "trend__slope__3m": trend,
            "flows__out_amount__30d": np.float32(100.0),
            "profile__region": region,
        }
    )
    curves = model.predict_survival_function(rows, months).to_numpy()
    assert ((curves >= 0) & (curves <= 1)).all()
    assert (np.diff(curves, axis=1) <= 0).all()
    expected = model.predict_expected_months(rows, horizon_months=6)
    assert expected.between(0, 6).all()


# --- input errors ---------------------------------------------------------------------


def _structured(fields: list[tuple[str, str]], n: int = 300) -> np.ndarray:
    return np.zeros(n, dtype=fields)


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.ones(300, dtype=bool), "structured array"),
        (pd.DataFrame({"event": [True] * 300, "duration": [1.0] * 300}), "structured array"),
        (_structured([("status", "?"), ("time", "f8")]), "say no unit"),
        (_structured([("event", "?"), ("duration", "f8"), ("x", "f8")]), "structured array"),
        (_target([True] * 299, [1.0] * 299), "299 rows"),
        (_target([True] * 300, [-1.0] + [1.0] * 299), "missing, infinite or negative"),
        (_target([True] * 300, [np.nan] + [1.0] * 299), "rows \\[0\\]"),
        (_target([False] * 300, [1.0] * 300), "no events"),
    ],
)
def test_bad_target_is_an_input_error(y, message):
    X, _ = _toy()
    with pytest.raises(InputError, match=message):
        CoxBaseline().fit(X, y)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda X: X.to_numpy(), "pandas DataFrame"),
        (lambda X: X.assign(seen_at=pd.Timestamp("2024-01-01")), "unsupported kind"),
        (lambda X: X.assign(trend__slope__3m=np.inf), "infinite"),
        (lambda X: X.set_axis(["a", "a", "b"], axis=1), "unique string column names"),
        (lambda X: X.drop(columns=list(X.columns)), "rows and columns"),
        (
            lambda X: X.assign(trend__slope__3m=1.0, flows__out_amount__30d=2.0).iloc[:, :2],
            "no usable",
        ),
    ],
)
def test_bad_features_at_fit_are_an_input_error(change, message):
    X, y = _toy()
    with pytest.raises(InputError, match=message):
        CoxBaseline().fit(change(X), y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"penalizer": -1.0}, "penalizer"),
        ({"penalizer": "strong"}, "penalizer"),
        ({"l1_ratio": 1.5}, "l1_ratio"),
        ({"duration_unit": "weeks"}, "duration_unit"),
    ],
)
def test_bad_parameters_are_an_input_error_at_fit(params, message):
    X, y = _toy()
    model = CoxBaseline(**params)
    assert model.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(InputError, match=message):
        model.fit(X, y)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda X: X.drop(columns="profile__region"), "missing 'profile__region'"),
        (lambda X: X.assign(extra__column=1.0), "unseen at fit 'extra__column'"),
        (lambda X: X.assign(trend__slope__3m="high"), "were numeric at fit"),
    ],
)
def test_bad_features_at_predict_are_an_input_error(toy, change, message):
    X, _, model = toy
    with pytest.raises(InputError, match=message):
        model.predict(change(X))


def test_months_in_any_order_give_columns_in_that_order(toy):
    X, _, model = toy
    sorted_curves = model.predict_survival_function(X.head(3), [1, 2, 4])
    shuffled = model.predict_survival_function(X.head(3), [4, 1, 2])
    assert shuffled.columns.tolist() == [4.0, 1.0, 2.0]
    pd.testing.assert_frame_equal(shuffled[sorted_curves.columns], sorted_curves)


@pytest.mark.parametrize("months", [[-1, 2], [np.nan], [np.inf], [], [[1, 2]], "soon"])
def test_bad_months_are_an_input_error(toy, months):
    X, _, model = toy
    with pytest.raises(InputError, match="months"):
        model.predict_survival_function(X, months)


@pytest.mark.parametrize("horizon", [0, -3, np.inf])
def test_bad_horizon_is_an_input_error(toy, horizon):
    X, _, model = toy
    with pytest.raises(InputError, match="horizon_months"):
        model.predict_expected_months(X, horizon_months=horizon)
