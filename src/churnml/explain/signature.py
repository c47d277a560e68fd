"""The pre-churn signature: which behaviours move first before customers churn, and how early.

For every customer who churned in a period, the point-in-time features (and, given a
fitted classifier, their SHAP contributions) at each of the ``months_before`` month ends
before the churn month stand beside those of stayers matched at the same cutoff on value
tier and tenure band. A feature's separation at a month is the standardised mean
difference (SMD) between the churners and their matched stayers, with the AUC beside it;
the month from which the separation stays beyond a threshold up to churn says how many
months ahead the behaviour gives the churner away. ``docs/signature.md`` explains the
choices and shows the signature of the synthetic bank.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churnml.errors import InputError
from churnml.explain.contributions import _fitted_classifier, contributions
from churnml.features import FeatureConfig, build_features, feature_catalogue
from churnml.labels import ChurnDefinition, churn_events
from churnml.tables import Tables, TableSource, load_tables
from churnml.tiers import TierConfig, value_tiers
from churnml.timeline import Horizon, as_cutoffs, month_end_cutoffs

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "PreChurnSignature",
    "SignatureConfig",
    "plot_pre_churn_signature",
    "pre_churn_signature",
]

KEY = ["customer_id", "cutoff"]
CHURNER, STAYER = "churner", "stayer"
TENURE_FEATURE = "products__tenure_months"
# A category feature enters as one 0/1 indicator per level, named ``feature=level``.
LEVEL_SEPARATOR = "="


@dataclass(frozen=True)
class SignatureConfig:
    """How churners are matched to stayers and when a feature counts as separating.

    Parameters
    ----------
    stayers_per_churner : int
        Stayers drawn (with replacement, seeded) from each churner's stratum at each month.
    stayer_months : int, optional
        A stayer at a cutoff neither churns nor leaves the population up to the month end
        this many months after the cutoff's month, and the data cover that whole span.
        Defaults to ``months_before``; it may not be shorter, so no stayer churns within
        the months the signature looks ahead.
    tenure_band_edges : tuple of int
        Increasing tenure edges in months; a band runs from one edge (included) to the next.
    threshold : float
        A feature separates at a month when its SMD is at least this far from 0, on the
        side it takes in the last month before churn.

    Examples
    --------
    >>> SignatureConfig(stayers_per_churner=3).to_dict()["stayers_per_churner"]
    3
    """

    stayers_per_churner: int = 5
    stayer_months: int | None = None
    tenure_band_edges: tuple[int, ...] = (6, 12, 24, 48, 96)
    threshold: float = 0.2

    def __post_init__(self) -> None:
        problems = []
        if not _whole(self.stayers_per_churner, 1):
            problems.append("stayers_per_churner must be a whole number of at least 1")
        if self.stayer_months is not None and not _whole(self.stayer_months, 1):
            problems.append("stayer_months must be a whole number of at least 1")
        edges = list(self.tenure_band_edges)
        if edges != sorted(set(edges)) or any(edge <= 0 for edge in edges):
            problems.append("tenure_band_edges must be increasing positive months")
        if not self.threshold > 0:
            problems.append("threshold must be positive")
        if problems:
            raise InputError("invalid SignatureConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the parameters (for MLflow params and config files)."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class PreChurnSignature:
    """Churners beside matched stayers over the months before churn.

    Build it with :func:`pre_churn_signature`; draw it with :func:`plot_pre_churn_signature`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per feature and month before churn (1 = the last month end before the
        churn month): ``feature``, ``family``, ``months_before``, ``n_churners`` and
        ``n_stayers`` (non-missing values), ``churner_mean``, ``stayer_mean``, ``smd`` and
        ``auc`` (the probability that a churner's value exceeds a matched stayer's); with a
        model, ``churner_shap``, ``stayer_shap`` (mean SHAP contribution in log-odds; NaN
        for category levels, whose feature's SHAP counts in its family) and ``shap_gap``.
    moves_first : pandas.DataFrame
        One row per feature, those that move first on top: ``months_ahead`` (the earliest
        month before churn from which the SMD stays beyond the threshold, on one side, up
        to churn; 0 if it is not beyond it in the last month), ``smd_at_onset`` (the SMD
        in that month), ``smd_month_1``, ``auc_month_1``, ``max_abs_smd`` and
        ``direction`` (churners ``higher`` or ``lower`` in month 1).
    families : pandas.DataFrame
        One row per family and month: ``max_abs_smd`` and ``top_feature`` (the family's
        most separating feature); with a model, the mean of the family's summed SHAP for
        churners and stayers and their gap.
    family_moves_first : pandas.DataFrame
        ``family`` and ``months_ahead`` of its ``max_abs_smd`` line.
    matched : pandas.DataFrame
        The compared rows: ``months_before``, ``churner_id`` (whose comparison the row
        belongs to), ``role`` (churner or stayer), ``customer_id`` and ``cutoff``.
    months_before : int
    threshold : float
    """

    table: pd.DataFrame
    moves_first: pd.DataFrame
    families: pd.DataFrame
    family_moves_first: pd.DataFrame
    matched: pd.DataFrame
    months_before: int
    threshold: float

    def __repr__(self) -> str:
        first = ", ".join(self.moves_first["feature"].head(3))
        churners = self.matched.loc[self.matched["role"] == CHURNER, "churner_id"].nunique()
        return f"PreChurnSignature({churners:,} churners, {self.months_before} months, {first}...)"


def pre_churn_signature(
    tables: TableSource,
    *,
    churned_between: tuple[Any, Any],
    months_before: int = 12,
    definition: ChurnDefinition | None = None,
    model: Any = None,
    config: SignatureConfig | None = None,
    feature_config: FeatureConfig | None = None,
    tiers: TierConfig | None = None,
    seed: int = 0,
) -> PreChurnSignature:
    """Features of churners and matched stayers at each month end before churn.

    Parameters
    ----------
    tables : Tables, mapping or path
        The bank's tables.
    churned_between : (date-like, date-like)
        Customers whose churn (by ``definition``) is dated in this period, both ends
        included, are the churners.
    months_before : int, default 12
        Month ends before the churn month to compare at.
    definition : ChurnDefinition, optional
        Which churn counts; defaults to any churn.
    model : ChurnClassifier, optional
        A fitted classifier; its SHAP contributions join the table.
    config : SignatureConfig, optional
        Matching and threshold.
    feature_config : FeatureConfig, optional
        Feature windows and thresholds.
    tiers : TierConfig, optional
        Value-tier edges used for matching; defaults to the four tiers by quantiles.
    seed : int, default 0
        Seed of the stayers' draw; the same seed gives the same signature.

    Returns
    -------
    PreChurnSignature

    Raises
    ------
    InputError
        If ``months_before`` is not a whole number of at least 1, the period is not two
        ordered dates, its months before churn start before the balances or its stayers'
        follow-up ends after the data, or nobody churned in it.

    Examples
    --------
    >>> from churnml.datasets import make_bank
    >>> bank = make_bank(n_customers=300, months=12, seed=0)
    >>> signature = pre_churn_signature(
    ...     bank.tables, churned_between=("2022-03-01", "2022-11-30"), months_before=2
    ... )
    >>> sorted(signature.table["months_before"].unique().tolist())
    [1, 2]
    >>> signature.table.columns[:4].tolist()
    ['feature', 'family', 'months_before', 'n_churners']
    """
    config = config or SignatureConfig()
    if not _whole(months_before, 1):
        raise InputError(
            f"months_before must be a whole number of at least 1, got {months_before!r}"
        )
    stay = config.stayer_months or months_before
    if stay < months_before:
        raise InputError(
            f"stayer_months ({stay}) must be at least months_before ({months_before}): a "
            "stayer may not churn within the months the signature looks ahead"
        )
    if model is not None:
        _fitted_classifier(model)
    tables = load_tables(tables)
    start, end = _period(churned_between)
    _check_coverage(tables, start, end, months_before, stay)
    events = churn_events(tables, definition=definition)
    churners = events.loc[events["churn_date"].between(start, end), ["customer_id", "churn_date"]]
    if churners.empty:
        raise InputError(
            f"nobody churned between {start.date()} and {end.date()} by this definition; "
            "choose a longer period or another ChurnDefinition"
        )
    first = start.to_period("M") - months_before
    last = end.to_period("M") - 1
    cutoffs = month_end_cutoffs(first.start_time, last.end_time.normalize())
    features = build_features(tables, cutoffs=cutoffs, definition=definition, config=feature_config)
    strata = _strata(tables, features, cutoffs, tiers, config.tenure_band_edges)
    stayers = _stayer_rows(features, events, stay, tables.observed_until)
    rng = np.random.default_rng(seed)
    matched, rows = _match(features, churners, strata, stayers, months_before, config, rng)
    table = _separation(_values(features, rows), matched)
    shap = None
    if model is not None:
        shap = _shap(model, features, rows, matched)
        table = _with_shap(table, shap)
    families = _families(table, shap)
    return PreChurnSignature(
        table=table,
        moves_first=_moves_first(table, months_before, config.threshold),
        families=families,
        family_moves_first=_family_moves_first(families, months_before, config.threshold),
        matched=matched,
        months_before=int(months_before),
        threshold=config.threshold,
    )


def _whole(value: Any, least: int) -> bool:
    whole = isinstance(value, int | np.integer) and not isinstance(value, bool)
    return bool(whole and value >= least)


def _period(churned_between: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    dates = [] if isinstance(churned_between, str) else np.atleast_1d(churned_between).tolist()
    if len(dates) != 2:
        raise InputError(f"churned_between must be two dates (start, end), got {churned_between!r}")
    start, end = as_cutoffs(dates[0])[0], as_cutoffs(dates[1])[0]
    if start > end:
        raise InputError(f"churned_between starts after it ends: {start.date()} > {end.date()}")
    return start, end


def _check_coverage(
    tables: Tables, start: pd.Timestamp, end: pd.Timestamp, months_before: int, stay: int
) -> None:
    """The months before churn lie inside the balances; the stayers' follow-up in the data."""
    first_data = tables.balances["date"].min()
    until = tables.observed_until
    if pd.isna(first_data) or pd.isna(until):
        raise InputError("the balances table is empty: there is no history to compare")
    earliest = (first_data.to_period("M") + months_before).start_time
    if start < earliest:
        raise InputError(
            f"churned_between starts {start.date()}, but its {months_before} month ends before "
            f"churn need balances from {(start.to_period('M') - months_before).end_time.date()} "
            f"and they begin {first_data.date()}; start the period on or after "
            f"{earliest.date()} or lower months_before"
        )
    full = until.to_period("M") - (0 if until == until.to_period("M").end_time.normalize() else 1)
    latest = (full - stay + 1).end_time.normalize()
    if end > latest:
        raise InputError(
            f"churned_between ends {end.date()}, but stayers are followed {stay} months after "
            f"each cutoff and the data end {until.date()}; end the period on or before "
            f"{latest.date()} or lower stayer_months"
        )


def _strata(
    tables: Tables,
    features: pd.DataFrame,
    cutoffs: pd.DatetimeIndex,
    tiers: TierConfig | None,
    edges: tuple[int, ...],
) -> np.ndarray:
    """Stratum code of each feature row: its cutoff, value tier and tenure band."""
    value = value_tiers(tables, cutoffs=cutoffs, config=tiers, population=features[KEY])
    tier = features[KEY].merge(value, on=KEY, how="left")["value_tier"]
    tenure = features[TENURE_FEATURE].to_numpy(dtype="float64")
    band = np.where(np.isnan(tenure), -1, np.searchsorted(np.asarray(edges), tenure, side="right"))
    frame = pd.DataFrame(
        {"cutoff": features["cutoff"], "tier": tier.cat.codes.to_numpy(), "band": band}
    )
    return frame.groupby(["cutoff", "tier", "band"], sort=True).ngroup().to_numpy()


def _stayer_rows(
    features: pd.DataFrame, events: pd.DataFrame, stay: int, until: pd.Timestamp
) -> np.ndarray:
    """Feature rows whose customer stays in the population through the stayer horizon."""
    exit_date = features[["customer_id"]].merge(events, on="customer_id", how="left")["exit_date"]
    horizon_end = Horizon(months=stay).end(features["cutoff"])
    stays = exit_date.isna().to_numpy() | (exit_date.to_numpy() > horizon_end.to_numpy())
    return np.flatnonzero(stays & (horizon_end <= until))


def _match(
    features: pd.DataFrame,
    churners: pd.DataFrame,
    strata: np.ndarray,
    stayers: np.ndarray,
    months_before: int,
    config: SignatureConfig,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Each churner's row at each month before churn, and stayers drawn from its stratum."""
    k = np.tile(np.arange(1, months_before + 1), len(churners))
    month = np.repeat(churners["churn_date"].to_numpy().astype("datetime64[M]"), months_before) - k
    wanted = pd.DataFrame(
        {
            "customer_id": np.repeat(churners["customer_id"].to_numpy(), months_before),
            "cutoff": ((month + 1).astype("datetime64[D]") - 1).astype("datetime64[ns]"),
            "months_before": k,
        }
    )
    position = features[KEY].assign(row=np.arange(len(features)))
    # Inner merge: a churner who had not joined by a cutoff has no row there.
    found = wanted.merge(position, on=KEY).sort_values(["months_before", "customer_id"])
    # Stayers sorted by stratum (customer order kept), so a stratum is one slice of them.
    order = stayers[np.argsort(strata[stayers], kind="stable")]
    counts = np.bincount(strata[order], minlength=int(strata.max()) + 1)
    starts = np.cumsum(counts) - counts
    stratum = strata[found["row"].to_numpy()]
    found = found[counts[stratum] > 0]
    stratum = strata[found["row"].to_numpy()]
    draws = config.stayers_per_churner
    offset = (rng.random((len(found), draws)) * counts[stratum][:, None]).astype(np.int64)
    rows = np.concatenate([found["row"], order[(starts[stratum][:, None] + offset).ravel()]])
    own = found[["months_before", "customer_id"]].rename(columns={"customer_id": "churner_id"})
    drawn = own.iloc[np.repeat(np.arange(len(own)), draws)]
    matched = pd.concat([own.assign(role=CHURNER), drawn.assign(role=STAYER)], ignore_index=True)
    matched["customer_id"] = features["customer_id"].to_numpy()[rows]
    matched["cutoff"] = features["cutoff"].to_numpy()[rows]
    order_out = np.lexsort((matched["role"], matched["churner_id"], matched["months_before"]))
    return matched.iloc[order_out].reset_index(drop=True), rows[order_out]


def _values(features: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """Numeric features as float64, and one 0/1 indicator per level of each category."""
    catalogue = feature_catalogue()
    numeric = catalogue.loc[catalogue["kind"] == "numeric", "name"].tolist()
    parts = [features[numeric].iloc[rows].astype("float64").reset_index(drop=True)]
    for name in catalogue.loc[catalogue["kind"] == "category", "name"]:
        levels = sorted(map(str, features[name].dropna().unique()))
        text = features[name].iloc[rows].reset_index(drop=True).astype("string")
        known = text.notna().to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    f"{name}{LEVEL_SEPARATOR}{level}": np.where(
                        known, (text == level).fillna(False).to_numpy(dtype=bool), np.nan
                    )
                    for level in levels
                },
                dtype="float64",
            )
        )
    return pd.concat(parts, axis=1)


def _group_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count of non-missing values, mean and sample variance of each column."""
    frame = pd.DataFrame(values)
    return frame.count().to_numpy(), frame.mean().to_numpy(), frame.var().to_numpy()


def _separation(values: pd.DataFrame, matched: pd.DataFrame) -> pd.DataFrame:
    """SMD and AUC of every feature between churners and matched stayers, month by month."""
    names = values.columns.to_numpy()
    churner = (matched["role"] == CHURNER).to_numpy()
    months = matched["months_before"].to_numpy()
    matrix = values.to_numpy()
    parts = []
    for k in np.unique(months):
        here = months == k
        block = matrix[here]
        is_churner = churner[here]
        n_c, mean_c, var_c = _group_stats(block[is_churner])
        n_s, mean_s, var_s = _group_stats(block[~is_churner])
        ranks = pd.DataFrame(block).rank().to_numpy()
        rank_sum = np.nansum(ranks[is_churner], axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = np.sqrt((var_c + var_s) / 2)
            smd = np.where(pooled > 0, (mean_c - mean_s) / pooled, np.nan)
            auc = (rank_sum - n_c * (n_c + 1) / 2) / (n_c * n_s)
        parts.append(
            pd.DataFrame(
                {
                    "feature": names,
                    "family": [name.split("__", 1)[0] for name in names],
                    "months_before": int(k),
                    "n_churners": n_c,
                    "n_stayers": n_s,
                    "churner_mean": mean_c,
                    "stayer_mean": mean_s,
                    "smd": smd,
                    "auc": np.where((n_c > 0) & (n_s > 0), auc, np.nan),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _shap(
    model: Any, features: pd.DataFrame, rows: np.ndarray, matched: pd.DataFrame
) -> pd.DataFrame:
    """Mean SHAP contribution of each model feature by month and role (rows explained once)."""
    unique, inverse = np.unique(rows, return_inverse=True)
    explained = contributions(model, features.iloc[unique].set_index(KEY)).values
    frame = pd.DataFrame(
        explained.to_numpy()[inverse], columns=[str(name) for name in explained.columns]
    )
    frame["months_before"] = matched["months_before"].to_numpy()
    frame["role"] = matched["role"].to_numpy()
    return frame.groupby(["months_before", "role"], sort=True).mean()


def _by_role(shap: pd.DataFrame, name: str) -> pd.DataFrame:
    """Mean SHAP by month and role as columns ``churner_shap`` and ``stayer_shap``."""
    long = shap.reset_index().melt(id_vars=["months_before", "role"], var_name=name)
    wide = long.pivot(index=["months_before", name], columns="role", values="value")
    wide = wide.reindex(columns=[CHURNER, STAYER]).reset_index()
    return wide.rename(columns={CHURNER: "churner_shap", STAYER: "stayer_shap"})


def _with_shap(table: pd.DataFrame, shap: pd.DataFrame) -> pd.DataFrame:
    out = table.merge(_by_role(shap, "feature"), on=["months_before", "feature"], how="left")
    out["shap_gap"] = out["churner_shap"] - out["stayer_shap"]
    return out


def _families(table: pd.DataFrame, shap: pd.DataFrame | None) -> pd.DataFrame:
    """Each family's line: its most separating feature's |SMD| (and its summed SHAP)."""
    rows = table.assign(abs_smd=table["smd"].abs())
    ranked = rows.sort_values(["abs_smd", "feature"], ascending=[False, True], na_position="last")
    top = ranked.groupby(["family", "months_before"], sort=True).head(1)
    out = top.rename(columns={"abs_smd": "max_abs_smd", "feature": "top_feature"})[
        ["family", "months_before", "max_abs_smd", "top_feature"]
    ]
    if shap is not None:
        by_family = shap.T.groupby(lambda name: str(name).split("__", 1)[0]).sum().T
        out = out.merge(_by_role(by_family, "family"), on=["family", "months_before"], how="left")
        out["shap_gap"] = out["churner_shap"] - out["stayer_shap"]
    return out.sort_values(["family", "months_before"]).reset_index(drop=True)


def _run_length(lines: pd.DataFrame, sign: pd.Series, threshold: float) -> tuple[Any, Any]:
    """Months, from month 1 back, that a line stays beyond the threshold on its side."""
    beyond = lines.mul(sign, axis=0).to_numpy() >= threshold
    run = np.cumprod(beyond, axis=1).sum(axis=1)
    onset = lines.to_numpy()[np.arange(len(lines)), np.maximum(run - 1, 0)]
    return run, np.where(run > 0, onset, np.nan)


def _lines(table: pd.DataFrame, index: str, column: str, months_before: int) -> pd.DataFrame:
    """One row per ``index`` value, one column per month before churn (1 first)."""
    lines = table.pivot(index=index, columns="months_before", values=column)
    return lines.reindex(columns=range(1, months_before + 1))


def _moves_first(table: pd.DataFrame, months_before: int, threshold: float) -> pd.DataFrame:
    smd = _lines(table, "feature", "smd", months_before)
    auc = _lines(table, "feature", "auc", months_before)
    first = smd.iloc[:, 0]
    run, onset = _run_length(smd, np.sign(first).fillna(0), threshold)
    family = table.drop_duplicates("feature").set_index("feature")["family"]
    out = pd.DataFrame(
        {
            "feature": smd.index,
            "family": family.reindex(smd.index).to_numpy(),
            "months_ahead": run.astype(np.int64),
            "smd_at_onset": onset,
            "smd_month_1": first.to_numpy(),
            "auc_month_1": auc.iloc[:, 0].to_numpy(),
            "max_abs_smd": smd.abs().max(axis=1).to_numpy(),
            "direction": np.sign(first).map({1.0: "higher", -1.0: "lower"}).to_numpy(),
        }
    )
    out["_size"] = out["smd_month_1"].abs().fillna(0)
    out = out.sort_values(["months_ahead", "_size", "feature"], ascending=[False, False, True])
    return out.drop(columns="_size").reset_index(drop=True)


def _family_moves_first(
    families: pd.DataFrame, months_before: int, threshold: float
) -> pd.DataFrame:
    lines = _lines(families, "family", "max_abs_smd", months_before)
    run, _ = _run_length(lines, pd.Series(1.0, index=lines.index), threshold)
    out = pd.DataFrame({"family": lines.index, "months_ahead": run.astype(np.int64)})
    return out.sort_values(["months_ahead", "family"], ascending=[False, True], ignore_index=True)


def plot_pre_churn_signature(signature: PreChurnSignature) -> Figure:
    """One line per feature family over the months before churn, churn at the right.

    The left panel shows each family's largest |SMD| with the threshold dashed; with a
    model, the right panel shows the family's SHAP gap (churners' mean log-odds
    contribution minus their matched stayers').

    Parameters
    ----------
    signature : PreChurnSignature
        From :func:`pre_churn_signature`.

    Returns
    -------
    matplotlib.figure.Figure
        A figure outside pyplot's state: nothing to close, safe in any backend.

    Examples
    --------
    >>> from churnml.datasets import make_bank
    >>> bank = make_bank(n_customers=300, months=12, seed=0)
    >>> signature = pre_churn_signature(
    ...     bank.tables, churned_between=("2022-03-01", "2022-11-30"), months_before=2
    ... )
    >>> figure = plot_pre_churn_signature(signature)
    >>> figure.axes[0].get_xlabel()
    'months before churn'
    """
    from matplotlib.figure import Figure

    families = signature.families
    panels = [("max_abs_smd", "largest |SMD|, churners vs matched stayers")]
    if "shap_gap" in families.columns:
        panels.append(("shap_gap", "SHAP gap (log-odds), churners - stayers"))
    figure = Figure(figsize=(6.0 * len(panels), 4.0), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (column, label) in zip(axes, panels, strict=True):
        for family, line in families.groupby("family", sort=True):
            ax.plot(line["months_before"], line[column], marker="o", label=str(family))
        if column == "max_abs_smd":
            ax.axhline(signature.threshold, color="grey", linestyle="--", linewidth=1)
        ax.set_xlim(signature.months_before + 0.5, 0.5)
        ax.set_xticks(range(signature.months_before, 0, -1))
        ax.set_xlabel("months before churn")
        ax.set_ylabel(label)
    axes[0].legend(title="family", fontsize="small")
    figure.suptitle("Pre-churn signature")
    return figure
