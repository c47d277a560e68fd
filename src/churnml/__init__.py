"""churnml: early warning of retail-bank deposit churn."""

from __future__ import annotations

from churnml.errors import ChurnMLError, InputError, LeakageError, LeakageWarning, SchemaError
from churnml.tables import Tables, load_tables

__version__ = "0.1.0"

__all__ = [
    "ChurnMLError",
    "InputError",
    "LeakageError",
    "LeakageWarning",
    "SchemaError",
    "Tables",
    "__version__",
    "load_tables",
]
