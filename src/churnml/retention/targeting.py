"""Who to contact on a budget: expected saved value, the contact list, gains and EMPC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churnml.errors import InputError
from churnml.metrics import empc, empc_target_fraction
from churnml.retention.config import (
    _ESV,
    CONTACT_COLUMNS,
    RetentionConfig,
    _scores,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ContactList", "contact_list", "expected_saved_value", "plot_gains", "retention_empc"]


@dataclass(frozen=True, eq=False)
class ContactList:
    """The customers to contact, and what contacting them is expected to save and cost.

    Attributes
    ----------
    contacts : pandas.DataFrame
        The chosen customers, best first (see :func:`contact_list`).
    expected_saved_value : float
        Sum of their expected saved values.
    cost : float
        Sum of their offer costs.
    """

    contacts: pd.DataFrame
    expected_saved_value: float
    cost: float


def expected_saved_value(
    scores: pd.DataFrame, *, config: RetentionConfig | None = None
) -> pd.DataFrame:
    """What contacting each customer is expected to save, net of the offer's cost.

    ``expected_saved_value = churn_probability x value_at_risk x success rate - offer
    cost``, with the success rate and offer cost of the customer's segment.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per customer with :data:`SCORE_COLUMNS`; ``segment`` is used when present,
        else assigned by :func:`assign_segments`.
    config : RetentionConfig, optional
        Success rates and offer costs; defaults to ``RetentionConfig()``.

    Returns
    -------
    pandas.DataFrame
        The scores sorted by ``customer_id`` with ``segment``, ``success_rate``,
        ``offer_cost`` and ``expected_saved_value``.

    Raises
    ------
    InputError
        As :func:`assign_segments`.

    Examples
    --------
    >>> scores = pd.DataFrame(
    ...     {
    ...         "customer_id": [1],
    ...         "churn_probability": [0.5],
    ...         "clv": [1000.0],
    ...         "value_at_risk": [1000.0],
    ...         "value_tier": ["heavyweight"],
    ...     }
    ... )
    >>> expected_saved_value(scores)["expected_saved_value"].tolist()  # 0.5 * 1000 * 0.3 - 10
    [140.0]
    """
    config = config or RetentionConfig()
    frame = _scores(scores, "scores", config)
    rate = frame["segment"].map(config.success_rates()).astype(float)
    cost = frame["segment"].map(config.offer_costs()).astype(float)
    value = frame["churn_probability"] * frame["value_at_risk"] * rate - cost
    frame = frame.assign(success_rate=rate, offer_cost=cost, **{_ESV: value})
    return frame.sort_values("customer_id").reset_index(drop=True)


def _best_first(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values([_ESV, "customer_id"], ascending=[False, True])


def _fill(costs: np.ndarray, budget: float, limit: int | None) -> np.ndarray:
    """Greedy in the given order: take each item whose cost still fits the budget.

    Vectorised by runs: take the longest prefix that fits, then drop every item dearer
    than what is left (it could never fit later, as the budget only shrinks), and repeat.
    Each round takes or drops at least one item, and in practice ends a cost level.
    """
    taken = np.zeros(len(costs), dtype=bool)
    fits = costs <= budget
    room = len(costs) if limit is None else limit
    while room > 0:
        index = np.flatnonzero(fits & ~taken)
        if not len(index):
            break
        spent = np.cumsum(costs[index])
        k = min(int(np.searchsorted(spent, budget, side="right")), room)
        taken[index[:k]] = True
        room -= k
        budget -= spent[k - 1] if k else 0.0
        fits &= costs <= budget
    return taken


def _within_money(candidates: pd.DataFrame, budget: float, limit: int | None) -> pd.DataFrame:
    """Greedy by saved value per unit of cost, or the best single customer if worth more."""
    cost = candidates["offer_cost"].to_numpy()
    with np.errstate(divide="ignore"):
        ratio = candidates[_ESV].to_numpy() / cost
    order = candidates.assign(_ratio=ratio).sort_values(
        ["_ratio", _ESV, "customer_id"], ascending=[False, False, True]
    )
    greedy = order[_fill(order["offer_cost"].to_numpy(), budget, limit)]
    affordable = _best_first(order[order["offer_cost"] <= budget])
    # The classic guard: greedy alone can miss one valuable, expensive customer by far.
    if limit != 0 and len(affordable) and affordable[_ESV].iloc[0] > greedy[_ESV].sum():
        greedy = affordable.iloc[:1]
    return greedy.drop(columns="_ratio")


def _check_budgets(budget_contacts: Any, budget_money: Any) -> None:
    if budget_contacts is not None and (
        isinstance(budget_contacts, bool)
        or not isinstance(budget_contacts, int | np.integer)
        or budget_contacts < 0
    ):
        raise InputError(f"budget_contacts must be a whole number >= 0, got {budget_contacts!r}")
    if budget_money is not None and not (
        isinstance(budget_money, int | float | np.number) and 0 <= budget_money < np.inf
    ):
        raise InputError(f"budget_money must be a finite number >= 0, got {budget_money!r}")


def contact_list(
    scores: pd.DataFrame,
    *,
    budget_contacts: int | None = None,
    budget_money: float | None = None,
    config: RetentionConfig | None = None,
) -> ContactList:
    """The best customers to contact under a budget, and what contacting them saves.

    Only customers with a positive :func:`expected_saved_value` are candidates. With a
    budget of contacts (or none), the list is the ``budget_contacts`` best candidates:
    exactly the most valuable list of that size. With a budget of money, choosing is a
    0/1 knapsack; the list is the greedy by saved value per unit of cost (each candidate,
    best ratio first, taken while their cost still fits), replaced by the single most
    valuable affordable candidate when that one is worth more. It is exact when all offers
    cost the same, and otherwise short of the optimum by at most one candidate's value;
    an exact knapsack would cost time in the budget's size for no practical gain. With both
    budgets, the greedy stops at whichever binds first.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per customer with :data:`SCORE_COLUMNS` (``segment`` optional).
    budget_contacts : int, optional
        Most customers to contact.
    budget_money : float, optional
        Most money to spend on offers.
    config : RetentionConfig, optional
        Segments, success rates and offer costs; defaults to ``RetentionConfig()``.

    Returns
    -------
    ContactList
        ``contacts``: the chosen customers by expected saved value (descending, then
        ``customer_id``), with the scores' columns, ``segment`` and
        :data:`CONTACT_COLUMNS`; ``expected_saved_value`` and ``cost``, their totals.

    Raises
    ------
    InputError
        If a budget is negative or not a number, or as :func:`assign_segments`.

    Examples
    --------
    >>> scores = pd.DataFrame(
    ...     {
    ...         "customer_id": [1, 2, 3],
    ...         "churn_probability": [0.5, 0.8, 0.01],
    ...         "clv": [1000.0, 500.0, 100.0],
    ...         "value_at_risk": [1000.0, 500.0, 100.0],
    ...         "value_tier": ["heavyweight", "sub_heavyweight", "lightweight"],
    ...     }
    ... )
    >>> plan = contact_list(scores, budget_contacts=5)
    >>> plan.contacts["customer_id"].tolist(), plan.expected_saved_value, plan.cost
    ([1, 2], 250.0, 20.0)
    """
    _check_budgets(budget_contacts, budget_money)
    valued = expected_saved_value(scores, config=config)
    candidates = valued[valued[_ESV] > 0]
    if budget_money is None:
        limit = len(candidates) if budget_contacts is None else budget_contacts
        chosen = _best_first(candidates).head(limit)
    else:
        chosen = _within_money(candidates, float(budget_money), budget_contacts)
    chosen = _best_first(chosen).reset_index(drop=True)
    chosen.insert(0, "rank", np.arange(1, len(chosen) + 1))
    chosen["cumulative_saved_value"] = chosen[_ESV].cumsum()
    chosen["cumulative_cost"] = chosen["offer_cost"].cumsum()
    order = [c for c in chosen.columns if c not in CONTACT_COLUMNS] + list(CONTACT_COLUMNS)
    return ContactList(
        contacts=chosen[order],
        expected_saved_value=float(chosen[_ESV].sum()),
        cost=float(chosen["offer_cost"].sum()),
    )


def _labels(y_true: Any, customer_ids: pd.Series) -> np.ndarray:
    """Churn labels (0/1) aligned to ``customer_ids`` from a Series indexed by customer."""
    if not isinstance(y_true, pd.Series):
        raise InputError(f"y_true must be a Series indexed by customer_id, got {type(y_true)}")
    if y_true.index.has_duplicates:
        raise InputError("y_true repeats a customer_id in its index")
    aligned = y_true.reindex(pd.Index(customer_ids))
    missing = aligned.isna()
    if missing.any():
        raise InputError(
            f"y_true has no label for {int(missing.sum())} scored customers, e.g. "
            f"{customer_ids[missing.to_numpy()].head(5).tolist()}"
        )
    if not aligned.isin([0, 1]).all():
        raise InputError("y_true must hold 0/1 or bool (1 = churn)")
    return aligned.to_numpy().astype(int)


def retention_empc(
    y_true: pd.Series, scores: pd.DataFrame, *, config: RetentionConfig | None = None
) -> dict[str, float]:
    """The model's expected maximum profit (EMPC) for these scores and economics.

    :func:`churnml.metrics.empc` and :func:`~churnml.metrics.empc_target_fraction` with
    the mean value at risk as the value of a retained churner, the mean offer cost as the
    cost per contact (the offer is paid per contact, so no separate incentive) and an
    acceptance rate ``Beta(empc_alpha, empc_beta)``. It rates the model's ranking at the
    best cut-off; :func:`contact_list` then uses each customer's own value and segment.

    Parameters
    ----------
    y_true : pandas.Series
        Observed churn (0/1 or bool) indexed by ``customer_id``, for every scored customer.
    scores : pandas.DataFrame
        One row per customer with :data:`SCORE_COLUMNS` (``segment`` optional).
    config : RetentionConfig, optional
        Offer costs and the acceptance distribution; defaults to ``RetentionConfig()``.

    Returns
    -------
    dict of str to float
        ``empc`` (profit per customer), ``target_fraction`` (the share to contact),
        ``clv`` and ``contact`` (the mean value at risk and offer cost used).

    Raises
    ------
    InputError
        If a scored customer has no label, labels are not 0/1 or of one class, or the mean
        value at risk is not positive.

    Examples
    --------
    >>> scores = pd.DataFrame(
    ...     {
    ...         "customer_id": [1, 2, 3, 4],
    ...         "churn_probability": [0.9, 0.2, 0.3, 0.1],
    ...         "clv": [200.0] * 4,
    ...         "value_at_risk": [200.0] * 4,
    ...         "value_tier": ["lightweight"] * 4,
    ...     }
    ... )
    >>> churned = pd.Series([1, 0, 0, 0], index=[1, 2, 3, 4])
    >>> from churnml.retention import SEGMENTS
    >>> config = RetentionConfig(**{f"cost_{segment}": 1.0 for segment in SEGMENTS})
    >>> result = retention_empc(churned, scores, config=config)
    >>> round(result["empc"], 4), round(result["target_fraction"], 4)  # 1/4 * (0.3 * 200 - 1)
    (14.75, 0.25)
    """
    config = config or RetentionConfig()
    valued = expected_saved_value(scores, config=config)
    y = _labels(y_true, valued["customer_id"])
    costs = {
        "clv": float(valued["value_at_risk"].mean()) if len(valued) else 0.0,
        "incentive": 0.0,
        "contact": float(valued["offer_cost"].mean()) if len(valued) else 0.0,
        "alpha": config.empc_alpha,
        "beta": config.empc_beta,
    }
    p = valued["churn_probability"].to_numpy()
    return {
        "empc": empc(y, p, **costs),
        "target_fraction": empc_target_fraction(y, p, **costs),
        "clv": costs["clv"],
        "contact": costs["contact"],
    }


def plot_gains(
    scores: pd.DataFrame,
    *,
    config: RetentionConfig | None = None,
    y_true: pd.Series | None = None,
) -> Figure:
    """Gains charts: expected saved value by contacts, and churners captured when known.

    The first panel ranks customers by expected saved value and plots its running total
    against the number contacted; its peak (marked) is the list without a budget. With
    ``y_true``, a second panel ranks customers by churn probability and plots the share of
    churners captured against the share contacted, beside a random ranking's diagonal.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per customer with :data:`SCORE_COLUMNS` (``segment`` optional).
    config : RetentionConfig, optional
        Segments, success rates and offer costs; defaults to ``RetentionConfig()``.
    y_true : pandas.Series, optional
        Observed churn (0/1 or bool) indexed by ``customer_id``, with a churner.

    Returns
    -------
    matplotlib.figure.Figure
        A figure not registered with pyplot (nothing to close); save it with ``savefig``.

    Examples
    --------
    >>> scores = pd.DataFrame(
    ...     {
    ...         "customer_id": [1, 2],
    ...         "churn_probability": [0.9, 0.1],
    ...         "clv": [500.0, 50.0],
    ...         "value_at_risk": [500.0, 50.0],
    ...         "value_tier": ["heavyweight", "lightweight"],
    ...     }
    ... )
    >>> len(plot_gains(scores, y_true=pd.Series({1: 1, 2: 0})).axes)
    2
    """
    from matplotlib.figure import Figure

    valued = _best_first(expected_saved_value(scores, config=config))
    y = None if y_true is None else _labels(y_true, valued["customer_id"])
    if y is not None and y.sum() == 0:
        raise InputError("y_true has no churner: nothing to capture")
    figure = Figure(figsize=(11 if y is not None else 5.5, 4), layout="constrained")
    panels = figure.subplots(1, 2 if y is not None else 1, squeeze=False)[0]
    total = np.concatenate([[0.0], valued[_ESV].cumsum().to_numpy()])
    best = int(np.argmax(total))
    panels[0].plot(np.arange(len(total)), total)
    panels[0].plot([best], [total[best]], "o", label=f"best: {best} contacts, {total[best]:,.0f}")
    panels[0].set(
        xlabel="customers contacted (best first)",
        ylabel="cumulative expected saved value",
        title="Expected saved value",
    )
    panels[0].legend(loc="lower right")
    if y is not None:
        order = np.lexsort((valued["customer_id"].to_numpy(), -valued["churn_probability"]))
        captured = np.concatenate([[0.0], np.cumsum(y[order]) / y.sum()])
        share = np.arange(len(captured)) / len(y)
        panels[1].plot(share, captured, label="model")
        panels[1].plot([0, 1], [0, 1], "--", color="grey", label="random")
        panels[1].set(
            xlabel="share of customers contacted (likeliest churners first)",
            ylabel="share of churners captured",
            title="Churners captured",
        )
        panels[1].legend(loc="lower right")
    return figure
