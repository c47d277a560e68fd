"""Retention: segments, early warnings between two scorings, and who to contact on a budget.

DOMAIN.md's retention practice: segment customers into high-value, potential and at-risk;
warn the people who can act when a customer's behaviour meets set conditions; spend more on
customers worth more, weighing an offer's cost against the customer's value. Everything here
works on a scores frame, one row per customer (:data:`SCORE_COLUMNS`), such as the output
of a scoring run; CLV and value at risk come with it, computed elsewhere.

The rules, in one place (see ``docs/retention.md``):

- **Segments**, first match wins: ``at_risk`` (churn probability at least
  ``risk_threshold`` and CLV above ``at_risk_min_clv``), ``high_value`` (a tier in
  ``high_value_tiers``), ``potential`` (CLV at least ``potential_clv``, by default the
  ``potential_quantile`` of the scored customers' CLV), else ``stable``.
- **Expected saved value** of contacting a customer: ``churn_probability x value_at_risk x
  success rate of their segment - offer cost of their segment``.
- **Contact list**: customers with a positive expected saved value, the best first, under a
  budget of contacts (exact: the top ones) or of money (greedy by value per unit of cost).
"""

from churnml.retention.config import (
    CONTACT_COLUMNS,
    SCORE_COLUMNS,
    SEGMENTS,
    WARNING_COLUMNS,
    RetentionConfig,
)
from churnml.retention.segments import assign_segments, early_warnings
from churnml.retention.targeting import (
    ContactList,
    contact_list,
    expected_saved_value,
    plot_gains,
    retention_empc,
)

__all__ = [
    "CONTACT_COLUMNS",
    "SCORE_COLUMNS",
    "SEGMENTS",
    "WARNING_COLUMNS",
    "ContactList",
    "RetentionConfig",
    "assign_segments",
    "contact_list",
    "early_warnings",
    "expected_saved_value",
    "plot_gains",
    "retention_empc",
]
