"""The scheduled jobs behind ``churnml train`` and ``churnml score`` (the contract's commands).

``train_job`` fits a :class:`~churnml.pipeline.ChurnModel` on a data directory as of a date,
logs it to MLflow (:mod:`churnml.tracking`) and returns what the command prints last: one
JSON object with ``run_id``, ``model_uri`` and ``metrics``. ``score_job`` loads a model (an
MLflow URI such as ``models:/churn@champion``, or a directory written by
``ChurnModel.save``), scores every customer in the population at the date and writes the
scores (parquet, or CSV when the file name ends in ``.csv``); with the previous scoring's
file it also writes the early-warning list beside them. A file is written whole or not at
all: each goes to a temporary name in the same folder first and is renamed when complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from churnml.errors import InputError
from churnml.pipeline import ChurnModel, ChurnModelConfig

__all__ = [
    "load_scoring_model",
    "read_scores",
    "review_files",
    "score_job",
    "train_job",
    "write_table",
]


def train_job(
    data: str | Path,
    *,
    as_of: Any,
    config: ChurnModelConfig,
    experiment: str = "churnml",
    register: str | None = None,
) -> dict[str, Any]:
    """Fit, log to MLflow (and register), and return the command's JSON summary."""
    from churnml.tables import load_tables
    from churnml.tracking import log_training

    tables = load_tables(data)
    model = ChurnModel(config).fit(tables, as_of=as_of)
    with tempfile.TemporaryDirectory(prefix="churnml-review-") as folder:
        files = review_files(model, tables, Path(folder))
        run = log_training(model, experiment=experiment, register=register, artifacts=files)
    return {
        "run_id": run.run_id,
        "model_uri": run.model_uri,
        "registered_model": register,
        "registered_version": run.registered_version,
        "metrics": {k: float(v) for k, v in sorted(model.metrics_.items())},
    }


def review_files(model: ChurnModel, tables: Any, folder: Path) -> dict[str, Path]:
    """Write the review pack of a fitted model (scored at its ``as_of``) into ``folder``."""
    from churnml.features import build_features
    from churnml.review import review_pack
    from churnml.timeline import as_of as known_at

    def features(cutoff: pd.Timestamp) -> pd.DataFrame:
        known = known_at(tables, cutoff)
        built = build_features(known, cutoffs=[cutoff], definition=model.config.definition)
        return built.set_index(["customer_id", "cutoff"])

    X_score = features(model.as_of_)
    scores = model.score_features(X_score, tables=known_at(tables, model.as_of_))
    X_eval = features(model.evaluation_cutoff_).reindex(model.evaluation_.index)
    pack = review_pack(model, scores, X_eval=X_eval, X_score=X_score)
    return {path.name: path for path in pack.write(folder)}


def load_scoring_model(uri: str) -> ChurnModel:
    """A model from a directory written by ``ChurnModel.save`` or from an MLflow URI."""
    path = Path(uri)
    if path.is_dir():
        return ChurnModel.load(path)
    from churnml.tracking import load_model

    return load_model(uri)


def score_job(
    model_uri: str,
    data: str | Path,
    *,
    as_of: Any,
    out: str | Path,
    previous: str | Path | None = None,
) -> list[Path]:
    """Score the population at ``as_of`` and write the scores (and early warnings)."""
    from churnml.retention import early_warnings
    from churnml.tables import load_tables

    out = Path(out)
    before = read_scores(previous) if previous is not None else None
    tables = load_tables(data)  # bad data fails before a model is loaded or a file written
    model = load_scoring_model(model_uri)
    scores = model.score(tables, as_of=as_of)
    written = [write_table(scores, out)]
    if before is not None:
        warnings_out = out.with_name(f"{out.stem}.warnings{out.suffix}")
        alerts = early_warnings(before, scores, config=model.config.retention)
        written.append(write_table(alerts, warnings_out))
    return written


def read_scores(path: str | Path) -> pd.DataFrame:
    """A scores file written by :func:`score_job` (parquet or CSV)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"previous scores file {path} does not exist")
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` (CSV for ``.csv``, else parquet) whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        if path.suffix == ".csv":
            frame.to_csv(temporary, index=False)
        else:
            frame.to_parquet(temporary, index=False)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def summary_line(summary: dict[str, Any]) -> str:
    """The JSON line ``churnml train`` prints last."""
    return json.dumps(summary, sort_keys=True)
