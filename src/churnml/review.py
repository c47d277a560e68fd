"""The model review pack: what a reviewer reads in the MLflow UI, without running code.

:func:`review_pack` turns a fitted :class:`~churnml.pipeline.ChurnModel` and its scores
into figures, tables and a model card; :meth:`ReviewPack.write` writes them as PNG, CSV
and ``model_card.md`` files, ready for ``mlflow.log_artifacts(directory, "review")``.

The evaluation artifacts (ROC/PR, calibration, gains) read ``model.evaluation_``: the
scores at the evaluation cutoff of models trained before it, beside the churn observed
after it. The scoring artifacts (survival by value tier, CLV) read the scores of a scoring
run. Every figure is a :class:`matplotlib.figure.Figure` built outside pyplot's state:
nothing to close, safe in any backend and in threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churnml.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ReviewPack",
    "calibration_figure",
    "calibration_table",
    "clv_figure",
    "gains_figure",
    "gains_table",
    "model_card",
    "review_pack",
    "roc_pr_figure",
    "shap_summary_figure",
    "survival_by_tier",
    "survival_figure",
]

SHAP_ROWS = 2000
"""Evaluation rows the SHAP summary explains at most (a fixed random sample beyond)."""
_CHURN_KINDS = {
    "any": "complete or partial churn (all deposit products closed, or balance collapse)",
    "complete": "complete churn (every deposit product closed or left dormant)",
    "partial": "partial churn (the balance falls far below its recent peak)",
}


def _labels(y_true: Any, proba: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype("float64")
    p = np.asarray(proba, dtype="float64")
    if y.shape != p.shape or y.ndim != 1 or len(y) == 0:
        raise InputError(f"y_true and proba must be two 1-D arrays of one length, got {y.shape}")
    if np.isnan(y).any() or not np.isin(y, (0.0, 1.0)).all():
        raise InputError("y_true must be 0/1 or bool without missing values")
    if y.min() == y.max():
        raise InputError("y_true holds one class only: no curve to draw")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise InputError("proba must be probabilities in [0, 1] without missing values")
    return y.astype(np.int64), p


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def roc_pr_figure(y_true: Any, proba: Any) -> Figure:
    """ROC curve and precision-recall curve of churn probabilities, side by side.

    Parameters
    ----------
    y_true, proba : array-like
        Observed churn (0/1 or bool, both classes) and churn probabilities.

    Returns
    -------
    matplotlib.figure.Figure
        Left: true against false positive rate, with the AUC and the chance diagonal.
        Right: precision against recall, with the average precision and the churn rate
        (a random ranking's precision).

    Examples
    --------
    >>> figure = roc_pr_figure([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> [axes.get_xlabel() for axes in figure.axes]
    ['false positive rate', 'recall']
    """
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    y, p = _labels(y_true, proba)
    figure = _figure(10, 4.2)
    roc, pr = figure.subplots(1, 2)
    fpr, tpr, _ = roc_curve(y, p)
    roc.plot(fpr, tpr, label=f"model (AUC {roc_auc_score(y, p):.3f})")
    roc.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="random")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    roc.legend(loc="lower right")
    precision, recall, _ = precision_recall_curve(y, p)
    pr.step(
        recall, precision, where="post", label=f"model (AP {average_precision_score(y, p):.3f})"
    )
    pr.axhline(
        y.mean(), color="grey", linestyle="--", linewidth=1, label=f"churn rate {y.mean():.3f}"
    )
    pr.set(xlabel="recall", ylabel="precision", title="Precision-recall curve", ylim=(0, 1.02))
    pr.legend(loc="upper right")
    return figure


def calibration_table(y_true: Any, proba: Any, *, bins: int = 10) -> pd.DataFrame:
    """Predicted against observed churn in equal-count bins of the probability.

    Equal-count (quantile) bins, because churn probabilities crowd near 0: equal-width
    bins would leave nearly every customer in the first.

    Parameters
    ----------
    y_true, proba : array-like
        Observed churn (0/1 or bool, both classes) and churn probabilities.
    bins : int, default 10
        Bins at most (tied quantiles merge).

    Returns
    -------
    pandas.DataFrame
        One row per bin: ``bin``, ``lower`` and ``upper`` (its probabilities), ``n``,
        ``churners``, ``mean_predicted`` and ``observed_rate``.

    Examples
    --------
    >>> table = calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], bins=2)
    >>> table[["n", "mean_predicted", "observed_rate"]].round(2).to_numpy().tolist()
    [[2.0, 0.15, 0.0], [2.0, 0.8, 1.0]]
    """
    y, p = _labels(y_true, proba)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InputError(f"bins must be a whole number of at least 1, got {bins!r}")
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges[1:-1], p, side="left"), 0, max(len(edges) - 2, 0))
    frame = pd.DataFrame({"bin": which, "y": y, "p": p})
    table = frame.groupby("bin").agg(
        lower=("p", "min"),
        upper=("p", "max"),
        n=("y", "size"),
        churners=("y", "sum"),
        mean_predicted=("p", "mean"),
        observed_rate=("y", "mean"),
    )
    return table.reset_index().assign(bin=lambda t: np.arange(1, len(t) + 1))


def calibration_figure(y_true: Any, proba: Any, *, bins: int = 10) -> Figure:
    """Reliability diagram over the bins of :func:`calibration_table`, with their counts.

    Returns
    -------
    matplotlib.figure.Figure
        Top: observed churn rate against mean predicted probability per bin (a perfectly
        calibrated model lies on the dashed diagonal). Bottom: customers per bin.

    Examples
    --------
    >>> figure = calibration_figure([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], bins=2)
    >>> figure.axes[1].get_ylabel()
    'customers in bin'
    """
    table = calibration_table(y_true, proba, bins=bins)
    figure = _figure(6, 6)
    top, bottom = figure.subplots(2, 1, height_ratios=[3, 1])
    upper = float(max(table["mean_predicted"].max(), table["observed_rate"].max())) * 1.05
    top.plot([0, upper], [0, upper], color="grey", linestyle="--", linewidth=1, label="perfect")
    top.plot(table["mean_predicted"], table["observed_rate"], marker="o", label="model")
    top.set(
        xlabel="mean predicted churn probability",
        ylabel="observed churn rate",
        title=f"Calibration ({len(table)} equal-count bins)",
    )
    top.legend(loc="upper left")
    bottom.bar(table["bin"].astype(str), table["n"], color="#1f77b4")
    bottom.set(xlabel="bin (lowest probabilities first)", ylabel="customers in bin")
    return figure


def gains_table(y_true: Any, proba: Any, *, groups: int = 10) -> pd.DataFrame:
    """Churners per group of customers ranked by churn probability, riskiest first.

    Parameters
    ----------
    y_true, proba : array-like
        Observed churn (0/1 or bool, both classes) and churn probabilities.
    groups : int, default 10
        Equal-size groups (deciles by default); ties are broken by position.

    Returns
    -------
    pandas.DataFrame
        ``group`` (1 = riskiest), ``n``, ``churners``, ``churn_rate``, ``lift`` (the
        group's churn rate over the overall rate), ``share_targeted``, ``capture`` (the
        share of all churners in this group and the riskier ones) and
        ``cumulative_lift``.

    Examples
    --------
    >>> table = gains_table([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], groups=2)
    >>> table[["group", "lift", "capture"]].to_numpy().tolist()
    [[1.0, 2.0, 1.0], [2.0, 0.0, 1.0]]
    """
    y, p = _labels(y_true, proba)
    if isinstance(groups, bool) or not isinstance(groups, int) or not 1 <= groups <= len(y):
        raise InputError(f"groups must be a whole number from 1 to {len(y)}, got {groups!r}")
    order = np.argsort(-p, kind="stable")
    group = np.arange(len(y)) * groups // len(y) + 1
    frame = pd.DataFrame({"group": group, "y": y[order]})
    table = frame.groupby("group").agg(n=("y", "size"), churners=("y", "sum")).reset_index()
    rate = y.mean()
    table["churn_rate"] = table["churners"] / table["n"]
    table["lift"] = table["churn_rate"] / rate
    table["share_targeted"] = table["n"].cumsum() / len(y)
    table["capture"] = table["churners"].cumsum() / y.sum()
    table["cumulative_lift"] = table["capture"] / table["share_targeted"]
    return table


def gains_figure(y_true: Any, proba: Any, *, groups: int = 10) -> Figure:
    """Cumulative gains curve and lift per group of :func:`gains_table`.

    Returns
    -------
    matplotlib.figure.Figure
        Left: share of churners captured against share of customers contacted, riskiest
        first, beside a random ranking's diagonal. Right: lift of each group.

    Examples
    --------
    >>> figure = gains_figure([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], groups=2)
    >>> figure.axes[1].get_ylabel()
    'lift (churn rate / overall rate)'
    """
    y, p = _labels(y_true, proba)
    table = gains_table(y, p, groups=groups)
    figure = _figure(10, 4.2)
    gains, lift = figure.subplots(1, 2)
    ranked = y[np.argsort(-p, kind="stable")]
    share = np.arange(len(y) + 1) / len(y)
    captured = np.concatenate([[0.0], np.cumsum(ranked) / ranked.sum()])
    gains.plot(share, captured, label="model")
    gains.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="random")
    gains.set(
        xlabel="share of customers contacted (riskiest first)",
        ylabel="share of churners captured",
        title="Cumulative gains",
    )
    gains.legend(loc="lower right")
    lift.bar(table["group"].astype(str), table["lift"], color="#1f77b4")
    lift.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    lift.set(
        xlabel=f"group of {len(y) // groups:,}+ customers (1 = riskiest)",
        ylabel="lift (churn rate / overall rate)",
        title="Lift by group",
    )
    return figure


def shap_summary_figure(classifier: Any, X: pd.DataFrame, *, top: int = 20) -> Figure:
    """SHAP beeswarm of a fitted classifier on feature rows (log-odds contributions).

    Parameters
    ----------
    classifier : ChurnClassifier
        Fitted (e.g. ``model.classifier_``).
    X : pandas.DataFrame
        Rows to explain with the classifier's columns, e.g. the evaluation features; at
        most :data:`SHAP_ROWS` of them (a fixed random sample) are explained.
    top : int, default 20
        Features shown, the most important on top.

    Returns
    -------
    matplotlib.figure.Figure
        One dot per row and feature: its contribution on x, the feature's value in colour.

    Examples
    --------
    With ``model`` a fitted ChurnModel and ``X_eval`` its evaluation cutoff's features:

    >>> shap_summary_figure(model.classifier_, X_eval)  # doctest: +SKIP
    """
    from churnml.explain.contributions import contributions, import_shap

    if not isinstance(X, pd.DataFrame) or len(X) == 0:
        raise InputError("the SHAP summary needs a non-empty feature DataFrame")
    rows = X.sample(SHAP_ROWS, random_state=0) if len(X) > SHAP_ROWS else X
    explained = contributions(classifier, rows)
    shap = import_shap()
    shown = min(top, explained.values.shape[1])
    figure = _figure(9, 0.35 * shown + 1.8)
    axes = figure.subplots()
    shap.plots.beeswarm(explained.to_shap(), max_display=top, ax=axes, show=False, plot_size=None)
    axes.set_xlabel("SHAP contribution (log-odds of churn)")
    axes.set_title(f"What drives the churn score ({len(rows):,} evaluation rows)")
    return figure


def _tiers(scores: pd.DataFrame) -> pd.Series:
    if not {"customer_id", "value_tier"} <= set(scores.columns):
        raise InputError("the scores need customer_id and value_tier columns")
    tier = scores.set_index("customer_id")["value_tier"]
    return tier.astype(object).where(tier.notna(), "unknown").astype(str)


def survival_by_tier(
    model: Any, X_score: pd.DataFrame, scores: pd.DataFrame, *, months: int | None = None
) -> pd.DataFrame:
    """Mean predicted survival month by month, per value tier of the scored customers.

    Parameters
    ----------
    model : ChurnModel
        Fitted; its ``survival_`` model predicts the curves.
    X_score : pandas.DataFrame
        The scored feature rows, indexed by ``(customer_id, cutoff)`` (one cutoff).
    scores : pandas.DataFrame
        The scores of those rows, with ``customer_id`` and ``value_tier``.
    months : int, optional
        Months after the cutoff; by default the model's CLV horizon.

    Returns
    -------
    pandas.DataFrame
        ``value_tier``, ``month``, ``customers`` and ``mean_survival`` (the tier's mean
        probability of still being a customer that many months after the cutoff).

    Examples
    --------
    >>> survival_by_tier(model, X_score, scores).columns.tolist()  # doctest: +SKIP
    ['value_tier', 'month', 'customers', 'mean_survival']
    """
    horizon = int(months if months is not None else model.config.clv_horizon_months)
    if horizon < 1:
        raise InputError(f"months must be at least 1, got {months!r}")
    curves = model.survival_.predict_survival_function(X_score, np.arange(1, horizon + 1))
    ids = curves.index.get_level_values("customer_id")
    tier = _tiers(scores).reindex(ids).fillna("unknown").to_numpy()
    grouped = curves.groupby(tier)
    mean = grouped.mean()
    mean.columns = np.arange(1, horizon + 1)
    out = mean.stack().rename("mean_survival").rename_axis(["value_tier", "month"]).reset_index()
    out.insert(2, "customers", out["value_tier"].map(grouped.size()).astype(np.int64))
    return out


def survival_figure(table: pd.DataFrame) -> Figure:
    """One line per value tier: the mean predicted survival over the months ahead.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`survival_by_tier`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> table = pd.DataFrame({"value_tier": ["a", "a"], "month": [1, 2],
    ...                       "customers": [5, 5], "mean_survival": [0.99, 0.97]})
    >>> survival_figure(table).axes[0].get_xlabel()
    'months after the cutoff'
    """
    figure = _figure(7, 4.5)
    axes = figure.subplots()
    for tier, line in table.groupby("value_tier", sort=True):
        count = int(line["customers"].iloc[0])
        axes.plot(line["month"], line["mean_survival"], label=f"{tier} ({count:,})")
    axes.set(
        xlabel="months after the cutoff",
        ylabel="mean predicted P(still a customer)",
        title="Predicted survival by value tier",
    )
    axes.legend(title="value tier (customers)", fontsize="small")
    return figure


def clv_figure(scores: pd.DataFrame, *, bins: int = 40) -> Figure:
    """Histogram of the scored customers' CLV, on a log scale when it spans decades.

    When the positive CLVs span more than two orders of magnitude, the bins are
    log-spaced and the x axis logarithmic; customers with a CLV of 0 or less are then
    counted in the title, not drawn. The median is marked.

    Parameters
    ----------
    scores : pandas.DataFrame
        With a ``clv`` column.
    bins : int, default 40

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> scores = pd.DataFrame({"clv": [10.0, 100.0, 1000.0, 50000.0]})
    >>> clv_figure(scores).axes[0].get_xscale()
    'log'
    """
    if "clv" not in scores.columns:
        raise InputError("the scores have no clv column")
    clv = scores["clv"].to_numpy(dtype="float64")
    clv = clv[np.isfinite(clv)]
    if clv.size == 0:
        raise InputError("the scores hold no finite CLV to draw")
    positive = clv[clv > 0]
    use_log = positive.size > 1 and positive.max() / positive.min() > 100
    figure = _figure(7, 4.2)
    axes = figure.subplots()
    title = f"Customer lifetime value ({clv.size:,} customers)"
    if use_log:
        edges = np.logspace(np.log10(positive.min()), np.log10(positive.max()), bins + 1)
        axes.hist(positive, bins=edges.tolist(), color="#1f77b4")
        axes.set_xscale("log")
        hidden = clv.size - positive.size
        if hidden:
            title += f"; {hidden:,} at 0 or below not shown"
    else:
        axes.hist(clv, bins=bins, color="#1f77b4")
    median = float(np.median(clv))
    axes.axvline(median, color="black", linestyle="--", linewidth=1, label=f"median {median:,.0f}")
    axes.set(xlabel="CLV (currency units)", ylabel="customers", title=title)
    axes.legend(loc="upper right")
    return figure


def _format(value: float) -> str:
    return f"{value:.4f}"


def _window(model: Any) -> list[str]:
    cutoffs = pd.DatetimeIndex(model.cutoffs_)
    summary = model.training_summary_
    lines = [
        f"- **as_of**: {pd.Timestamp(model.as_of_).date()} (the model saw only what was "
        "known then)",
        f"- **training cutoffs**: {len(cutoffs)} month ends, {cutoffs[0].date()} to "
        f"{cutoffs[-1].date()}",
        f"- **evaluation cutoff**: {pd.Timestamp(model.evaluation_cutoff_).date()} (models "
        "trained on the cutoffs before it, scored on it)",
    ]
    if len(summary):
        rows, churners = int(summary["rows"].sum()), int(summary["churners"].sum())
        lines.append(
            f"- **training rows**: {rows:,} customer-months, {churners:,} churners "
            f"(churn rate {churners / rows:.2%})"
        )
    return lines


def model_card(model: Any, *, scores: pd.DataFrame | None = None) -> str:
    """A short model card in Markdown: data window, label, metrics, known limits.

    Parameters
    ----------
    model : ChurnModel
        Fitted.
    scores : pandas.DataFrame, optional
        A scoring run's output, summarised when given.

    Returns
    -------
    str
        Markdown; metric values with four decimals.

    Examples
    --------
    >>> print(model_card(model))  # doctest: +SKIP
    # Churn model card
    ...
    """
    config = model.config
    kind = config.definition.kind
    metrics = dict(model.metrics_)
    lines = ["# Churn model card", "", "## Data window", "", *_window(model), ""]
    lines += [
        "## Label",
        "",
        f"- **churn**: `{kind}`, {_CHURN_KINDS.get(kind, kind)}",
        f"- **horizon**: within {config.horizon} after each month-end cutoff",
        f"- **seed**: {config.seed}; **tuning trials**: {config.trials}",
        "",
        "## Metrics at the evaluation cutoff",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {name} | {_format(value)} |" for name, value in metrics.items()],
        "",
    ]
    if scores is not None and len(scores):
        risk = scores["risk_tier"].astype(str).value_counts()
        lines += [
            "## Scored population",
            "",
            f"- **customers**: {len(scores):,}; mean churn probability "
            f"{scores['churn_probability'].mean():.4f}",
            "- **risk tiers**: " + ", ".join(f"{t} {int(n):,}" for t, n in risk.items()),
            f"- **value at risk**: {scores['value_at_risk'].sum():,.0f}",
            "",
        ]
    churners = int(metrics.get("test_churners", 0))
    lines += [
        "## Known limits",
        "",
        f"- Evaluated on one cutoff with {churners:,} churners: metrics carry sampling "
        "error, and a single month may not represent seasonal ones.",
        "- Valid for a population like the training one: check drift "
        "(`churnml.drift.population_stability`) before trusting new scores.",
        f"- Predicts `{kind}` churn only; other churn definitions are not what it ranks.",
        "- Survival and CLV beyond the observed follow-up are extrapolated; CLV rests on "
        "the margin assumptions of the config.",
        "- Reasons and SHAP are associations with the score, not causes of churn.",
        "",
    ]
    return "\n".join(lines)


@dataclass
class ReviewPack:
    """Figures, tables and a model card of one model, ready to write as files.

    Attributes
    ----------
    figures : dict of str to matplotlib.figure.Figure
        ``roc_pr``, ``calibration``, ``gains``, and when their inputs were given
        ``shap_summary``, ``pre_churn_signature``, ``survival_by_tier``, ``clv``.
    tables : dict of str to pandas.DataFrame
        ``metrics``, ``training_summary``, ``calibration``, ``gains``,
        ``feature_catalogue``, and ``survival_by_tier`` when drawn.
    model_card : str
        Markdown.
    """

    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    model_card: str = ""

    def write(self, directory: str | Path, *, dpi: int = 110) -> list[Path]:
        """Write ``<name>.png`` per figure, ``<name>.csv`` per table and ``model_card.md``.

        Parameters
        ----------
        directory : str or Path
            Created if missing; files of the same names are replaced.
        dpi : int, default 110

        Returns
        -------
        list of Path
            The files written, figures first.

        Examples
        --------
        >>> import tempfile
        >>> pack = ReviewPack(tables={"metrics": pd.DataFrame({"metric": ["auc"]})})
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     [path.name for path in pack.write(folder)]
        ['metrics.csv', 'model_card.md']
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, figure in self.figures.items():
            path = folder / f"{name}.png"
            figure.savefig(path, dpi=dpi)
            written.append(path)
        for name, table in self.tables.items():
            path = folder / f"{name}.csv"
            table.to_csv(path, index=False)
            written.append(path)
        path = folder / "model_card.md"
        path.write_text(self.model_card, encoding="utf-8")
        return [*written, path]


def _catalogue(model: Any) -> pd.DataFrame:
    from churnml.features import feature_catalogue

    catalogue = feature_catalogue()
    return catalogue.assign(in_model=catalogue["name"].isin(list(model.feature_names_)))


def review_pack(
    model: Any,
    scores: pd.DataFrame | None = None,
    *,
    X_eval: pd.DataFrame | None = None,
    X_score: pd.DataFrame | None = None,
    signature: Any = None,
    extra: Mapping[str, Figure] | None = None,
) -> ReviewPack:
    """Every review artifact of a fitted model, from its evaluation and a scoring run.

    Parameters
    ----------
    model : ChurnModel
        Fitted; ``model.evaluation_`` gives the ROC/PR, calibration and gains artifacts.
    scores : pandas.DataFrame, optional
        A scoring run (:meth:`~churnml.pipeline.ChurnModel.score`): the CLV histogram,
        and with ``X_score`` the survival curves by value tier.
    X_eval : pandas.DataFrame, optional
        Features of the evaluation cutoff: the SHAP summary of ``model.classifier_``.
    X_score : pandas.DataFrame, optional
        The scored feature rows, indexed by ``(customer_id, cutoff)``.
    signature : PreChurnSignature, optional
        From :func:`~churnml.explain.pre_churn_signature`: its plot.
    extra : mapping of str to Figure, optional
        More figures to carry, by file name.

    Returns
    -------
    ReviewPack

    Examples
    --------
    With ``model`` fitted, ``X_score`` from :func:`~churnml.features.build_features` at
    the scoring date (indexed by customer and cutoff) and ``scores`` its scores:

    >>> scores = model.score_features(X_score, tables=tables)  # doctest: +SKIP
    >>> pack = review_pack(model, scores, X_eval=X_eval, X_score=X_score)  # doctest: +SKIP
    >>> pack.write("review")  # doctest: +SKIP
    """
    model._check_fitted()
    evaluation = model.evaluation_
    y, p = evaluation["churned"].to_numpy(), evaluation["churn_probability"].to_numpy()
    pack = ReviewPack(model_card=model_card(model, scores=scores))
    pack.figures["roc_pr"] = roc_pr_figure(y, p)
    pack.figures["calibration"] = calibration_figure(y, p)
    pack.figures["gains"] = gains_figure(y, p)
    if X_eval is not None:
        pack.figures["shap_summary"] = shap_summary_figure(
            model.classifier_, X_eval[list(model.feature_names_)]
        )
    if signature is not None:
        from churnml.explain import plot_pre_churn_signature

        pack.figures["pre_churn_signature"] = plot_pre_churn_signature(signature)
    metrics = pd.DataFrame({"metric": list(model.metrics_), "value": list(model.metrics_.values())})
    pack.tables.update(
        metrics=metrics,
        training_summary=model.training_summary_.copy(),
        calibration=calibration_table(y, p),
        gains=gains_table(y, p),
        feature_catalogue=_catalogue(model),
    )
    if scores is not None:
        if X_score is not None:
            survival = survival_by_tier(model, X_score, scores)
            pack.figures["survival_by_tier"] = survival_figure(survival)
            pack.tables["survival_by_tier"] = survival
        pack.figures["clv"] = clv_figure(scores)
    pack.figures.update(extra or {})
    return pack
