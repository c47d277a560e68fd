"""Exceptions raised by churnml.

Every error a user can cause derives from :class:`ChurnMLError`, so a scoring job can
catch one type. Schema problems are also ``ValueError`` so generic callers keep working.
"""

from __future__ import annotations

__all__ = [
    "ChurnMLError",
    "HoldoutWarning",
    "InputError",
    "LeakageError",
    "LeakageWarning",
    "ReasonWarning",
    "SchemaError",
]


class ChurnMLError(Exception):
    """Base class of every error churnml raises on purpose."""


class InputError(ChurnMLError, ValueError):
    """An argument is out of range or of the wrong kind (a cutoff, a horizon, a config)."""


class SchemaError(ChurnMLError, ValueError):
    """A table does not meet the data contract.

    The message names the table, the column and up to five offending rows.

    Parameters
    ----------
    table : str
        Contract table name, e.g. ``"accounts"``.
    column : str or None
        Offending column, or ``None`` for a table-level problem.
    problem : str
        What is wrong and, where possible, how to fix it.
    examples : str, optional
        Rendering of a few offending rows.
    """

    def __init__(self, table: str, column: str | None, problem: str, examples: str = "") -> None:
        self.table = table
        self.column = column
        self.problem = problem
        self.examples = examples
        where = f"table '{table}'" + (f", column '{column}'" if column else "")
        message = f"{where}: {problem}"
        if examples:
            message += f"\nexample rows:\n{examples}"
        super().__init__(message)


class LeakageError(ChurnMLError):
    """A feature looks like a leak and the check was strict.

    Raised by :func:`churnml.leakage.check_leakage` with ``strict=True`` instead of a
    :class:`LeakageWarning`, with the same message: every flagged feature, its AUC or
    duration correlation, and what to do.
    """


class LeakageWarning(UserWarning):
    """A feature looks like a leak: on its own it nearly decides the label or the duration.

    A warning by default because the feature may still be legitimate (known at the cutoff,
    just very strong); :func:`churnml.leakage.check_leakage` names each suspect so the user
    can drop it or confirm it. Pass ``strict=True`` to raise :class:`LeakageError` instead.
    """


class HoldoutWarning(UserWarning):
    """A model got no holdout: too few churners to stop early or calibrate on.

    Only flat tables can end up without one; a panel (rows keyed by customer and cutoff)
    raises instead, naming the cutoff and its counts.
    """


class ReasonWarning(UserWarning):
    """Some features have no reason phrase in the catalogue: they are written ``name: value``.

    Features a user brings (a flat table's columns) have no catalogue entry; pass
    ``reasons=`` to :func:`churnml.explain.top_reasons` to give them phrases.
    """
