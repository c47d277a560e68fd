"""Retention segments (at-risk, high-value, potential, stable) and early warnings."""

from __future__ import annotations

import pandas as pd

from churnml.retention.config import (
    SCORE_COLUMNS,
    WARNING_COLUMNS,
    RetentionConfig,
    _checked,
    _scores,
    _segmented,
)

__all__ = ["assign_segments", "early_warnings"]


def assign_segments(scores: pd.DataFrame, *, config: RetentionConfig | None = None) -> pd.DataFrame:
    """Each customer's retention segment: at_risk, high_value, potential or stable.

    The rules are tried in that order and the first that holds wins, so every customer gets
    exactly one segment:

    1. ``at_risk``: ``churn_probability >= risk_threshold`` and ``clv > at_risk_min_clv``:
       likely to leave and worth keeping.
    2. ``high_value``: ``value_tier`` in ``high_value_tiers``: the customers to keep close.
    3. ``potential``: ``clv >= potential_clv`` (by default the ``potential_quantile`` of the
       scored customers' CLV): worth more in future than their tier says; grow them.
    4. ``stable``: everyone else, served cheaply.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per customer with :data:`SCORE_COLUMNS` (``customer_id`` may be the
        index); other columns are kept.
    config : RetentionConfig, optional
        Thresholds; defaults to ``RetentionConfig()``.

    Returns
    -------
    pandas.DataFrame
        The scores sorted by ``customer_id``, with ``segment`` (replacing any given one).

    Raises
    ------
    InputError
        If a column is missing, a customer repeats, a number is missing or not finite, a
        probability lies outside [0, 1] or a tier is unknown.

    Examples
    --------
    >>> scores = pd.DataFrame(
    ...     {
    ...         "customer_id": [1, 2, 3, 4],
    ...         "churn_probability": [0.6, 0.1, 0.1, 0.1],
    ...         "clv": [500.0, 900.0, 800.0, 10.0],
    ...         "value_at_risk": [400.0, 900.0, 800.0, 10.0],
    ...         "value_tier": ["heavyweight", "heavyweight", "lightweight", "lightweight"],
    ...     }
    ... )
    >>> assign_segments(scores, config=RetentionConfig(potential_clv=700.0))["segment"].tolist()
    ['at_risk', 'high_value', 'potential', 'stable']
    """
    config = config or RetentionConfig()
    frame = _checked(scores, "scores", SCORE_COLUMNS)
    return _segmented(frame, config).sort_values("customer_id").reset_index(drop=True)


def early_warnings(
    previous: pd.DataFrame, current: pd.DataFrame, *, config: RetentionConfig | None = None
) -> pd.DataFrame:
    """Customers whose risk rose into a warning between two scorings, for relationship managers.

    A customer of ``current`` fires when they entered the at-risk segment (at risk now,
    not at risk or not scored before), or their churn probability crossed
    ``warning_threshold`` from below (at least it now, below it or not scored before).
    Customers only in ``previous`` have left and do not fire.

    Parameters
    ----------
    previous, current : pandas.DataFrame
        Two scorings, one row per customer with :data:`SCORE_COLUMNS`; ``current`` also
        needs ``top_reasons`` (readable text). A ``segment`` column is used when present,
        else segments come from :func:`assign_segments` on each frame.
    config : RetentionConfig, optional
        Thresholds; defaults to ``RetentionConfig()``.

    Returns
    -------
    pandas.DataFrame
        :data:`WARNING_COLUMNS`: which rule fired (``entered_at_risk``,
        ``crossed_threshold``), the probabilities and segments then and now,
        ``value_tier``, ``clv``, ``value_at_risk``, ``expected_loss`` (``churn_probability
        x value_at_risk``) and ``top_reasons``; sorted by expected loss, then value at
        risk (both descending), then ``customer_id``.

    Raises
    ------
    InputError
        As :func:`assign_segments`, naming the frame (``previous`` or ``current``).

    Examples
    --------
    >>> previous = pd.DataFrame(
    ...     {
    ...         "customer_id": [1, 2],
    ...         "churn_probability": [0.1, 0.2],
    ...         "clv": [100.0, 900.0],
    ...         "value_at_risk": [100.0, 900.0],
    ...         "value_tier": ["lightweight", "heavyweight"],
    ...     }
    ... )
    >>> current = previous.assign(
    ...     churn_probability=[0.1, 0.6], top_reasons=["", "assets fell 40% from peak"]
    ... )
    >>> early_warnings(previous, current)[["customer_id", "expected_loss", "top_reasons"]]
       customer_id  expected_loss                top_reasons
    0            2          540.0  assets fell 40% from peak
    """
    config = config or RetentionConfig()
    before = _scores(previous, "previous", config)
    now = _scores(current, "current", config, ("top_reasons",))
    then = before[["customer_id", "churn_probability", "segment"]].rename(
        columns={"churn_probability": "previous_probability", "segment": "previous_segment"}
    )
    rows = now.merge(then, on="customer_id", how="left")
    threshold = config.warning_threshold
    rows["entered_at_risk"] = rows["segment"].eq("at_risk") & ~rows["previous_segment"].eq(
        "at_risk"
    )
    rows["crossed_threshold"] = (rows["churn_probability"] >= threshold) & ~(
        rows["previous_probability"] >= threshold
    )
    rows["probability_change"] = rows["churn_probability"] - rows["previous_probability"]
    rows["expected_loss"] = rows["churn_probability"] * rows["value_at_risk"]
    fired = rows[rows["entered_at_risk"] | rows["crossed_threshold"]]
    fired = fired.sort_values(
        ["expected_loss", "value_at_risk", "customer_id"], ascending=[False, False, True]
    )
    return fired[list(WARNING_COLUMNS)].reset_index(drop=True)
