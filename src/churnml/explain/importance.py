"""Global explanations: which features and families move the scores most, and how.

The ranking is the mean absolute SHAP contribution (in log-odds) over the explained rows,
by feature or summed by feature family (the name's first part, ``flows`` in
``flows__out_other_bank_share__90d``); the beeswarm shows every row's contribution of the
top features, coloured by the feature's value.
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from churnml.errors import InputError
from churnml.explain.contributions import Contributions, import_shap

__all__ = [
    "OWN_FEATURES",
    "feature_family",
    "feature_importance",
    "plot_beeswarm",
    "plot_importance",
]

# The family of a feature whose name has no ``family__`` prefix (a flat table's columns).
OWN_FEATURES = "own"


def feature_family(name: Any) -> str:
    """The family of a feature: its name up to the first ``__``.

    Examples
    --------
    >>> feature_family("flows__out_other_bank_share__90d"), feature_family("Age")
    ('flows', 'own')
    """
    text = str(name)
    return text.split("__", 1)[0] if "__" in text else OWN_FEATURES


def feature_importance(
    contributions: Contributions, *, by: Literal["feature", "family"] = "feature"
) -> pd.DataFrame:
    """Mean absolute SHAP contribution of each feature (or family), largest first.

    Parameters
    ----------
    contributions : Contributions
        From :func:`~churnml.explain.contributions`.
    by : {"feature", "family"}, default "feature"
        Rank features, or families (a family's importance is the sum of its features').

    Returns
    -------
    pandas.DataFrame
        ``feature`` (or ``family``), ``mean_abs_shap`` (log-odds), ``share`` (of the total)
        and, by feature, its ``family`` and ``mean_shap`` (the signed mean); by family, the
        number of ``features``. Ties keep the model's column order.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from churnml.explain import Contributions
    >>> values = pd.DataFrame({"peak__a": [0.5, -0.5], "peak__b": [0.1, 0.1], "x": [0.0, 0.2]})
    >>> c = Contributions(values, base=-3.0, X=values)
    >>> feature_importance(c, by="family")[["family", "mean_abs_shap"]].round(2).values.tolist()
    [['peak', 0.6], ['own', 0.1]]
    """
    if not isinstance(contributions, Contributions):
        raise InputError(
            f"feature_importance needs Contributions (churnml.explain.contributions(model, X)), "
            f"got {type(contributions).__name__}"
        )
    if by not in ("feature", "family"):
        raise InputError(f"by must be 'feature' or 'family', got {by!r}")
    values = contributions.values
    if len(values) == 0:
        raise InputError("no rows were explained: contributions has 0 rows")
    table = pd.DataFrame(
        {
            "feature": [str(c) for c in values.columns],
            "family": [feature_family(c) for c in values.columns],
            "mean_abs_shap": values.abs().mean().to_numpy(),
            "mean_shap": values.mean().to_numpy(),
        }
    )
    if by == "family":
        table = (
            table.groupby("family", sort=False)
            .agg(mean_abs_shap=("mean_abs_shap", "sum"), features=("feature", "size"))
            .reset_index()
        )
    total = table["mean_abs_shap"].sum()
    table["share"] = table["mean_abs_shap"] / total if total > 0 else 0.0
    table = table.sort_values("mean_abs_shap", ascending=False, kind="stable")
    return table.reset_index(drop=True)


def plot_importance(importance: pd.DataFrame, *, top: int = 20) -> Any:
    """Horizontal bar chart of a :func:`feature_importance` table (its ``top`` rows).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"family": ["peak", "flows"], "mean_abs_shap": [0.6, 0.2]})
    >>> plot_importance(table).axes[0].get_xlabel()
    'mean |SHAP| (log-odds of churn)'
    """
    import matplotlib.pyplot as plt

    label = "feature" if "feature" in importance.columns else "family"
    if label not in importance.columns or "mean_abs_shap" not in importance.columns:
        raise InputError("plot_importance needs a feature_importance() table")
    shown = importance.head(top).iloc[::-1]
    figure, axes = plt.subplots(figsize=(8, 0.3 * len(shown) + 1.2))
    axes.barh(shown[label].astype(str), shown["mean_abs_shap"], color="#1f77b4")
    axes.set_xlabel("mean |SHAP| (log-odds of churn)")
    axes.set_title(f"What moves the churn score, by {label}")
    figure.tight_layout()
    return figure


def plot_beeswarm(contributions: Contributions, *, top: int = 20) -> Any:
    """Shap's beeswarm of the ``top`` features: one dot per row, coloured by its value.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from churnml.explain import Contributions
    >>> values = pd.DataFrame({"a": [0.5, -0.5, 0.1], "b": [0.1, 0.1, 0.0]})
    >>> figure = plot_beeswarm(Contributions(values, base=-3.0, X=values), top=2)
    >>> len(figure.axes) >= 1
    True
    """
    import matplotlib.pyplot as plt

    shap = import_shap()
    if not isinstance(contributions, Contributions):
        raise InputError("plot_beeswarm needs Contributions (churnml.explain.contributions)")
    figure, axes = plt.subplots(figsize=(9, 0.35 * min(top, contributions.values.shape[1]) + 1.5))
    shap.plots.beeswarm(
        contributions.to_shap(), max_display=top, ax=axes, show=False, plot_size=None
    )
    axes.set_xlabel("SHAP contribution (log-odds of churn)")
    figure.tight_layout()
    return figure
