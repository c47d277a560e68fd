"""Training runs in MLflow: parameters, metrics, tables, review files and the model.

The only module of churnml that imports :mod:`mlflow` (besides the models-from-code file
:mod:`churnml._pyfunc_model` it logs).

- :func:`tracking_uri` is where runs go: ``MLFLOW_TRACKING_URI``, else ``mlflow.db`` (SQLite)
  in the current working directory.
- :func:`log_training` logs a fitted :class:`~churnml.pipeline.ChurnModel` as one run: its
  config as parameters, its evaluation metrics, the rows and churn rate of each training
  cutoff, the Optuna trials, review files, and the model as an MLflow 3 LoggedModel from
  code (LightGBM text and JSON files, no pickle); optionally registered under an alias.
- :func:`load_model` reads a logged or registered model back as a ``ChurnModel``
  (``models:/churn@champion``), ready for ``score(tables, as_of=...)``.

The pyfunc scores a flat feature table; see :mod:`churnml._pyfunc_model` for its columns.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd

from churnml.errors import InputError
from churnml.pipeline import ChurnModel

__all__ = [
    "PYFUNC_MODEL_CODE",
    "TrainingRun",
    "flatten",
    "load_model",
    "log_training",
    "tracking_uri",
]

PYFUNC_MODEL_CODE = Path(__file__).with_name("_pyfunc_model.py")
"""The models-from-code file logged as the pyfunc's model."""
DEFAULT_DATABASE = "mlflow.db"
ARTIFACT_FOLDER = "mlartifacts"
"""Next to a SQLite tracking database, where new experiments keep their artifacts."""


@dataclass(frozen=True)
class TrainingRun:
    """What :func:`log_training` logged.

    Attributes
    ----------
    run_id : str
    model_uri : str
        The LoggedModel, ``models:/m-...``.
    metrics : dict of str to float
        The model's evaluation metrics as logged.
    registered_version : int or None
        The registered model's version, when registered.
    """

    run_id: str
    model_uri: str
    metrics: dict[str, float] = field(default_factory=dict)
    registered_version: int | None = None


def tracking_uri() -> str:
    """Where runs are logged: ``MLFLOW_TRACKING_URI``, else ``./mlflow.db`` (absolute).

    Examples
    --------
    >>> import os
    >>> uri = tracking_uri()
    >>> uri == os.environ.get("MLFLOW_TRACKING_URI", uri)
    True
    >>> "MLFLOW_TRACKING_URI" in os.environ or uri.endswith(os.sep + "mlflow.db")
    True
    """
    given = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if given:
        return given
    return f"sqlite:///{(Path.cwd() / DEFAULT_DATABASE).resolve().as_posix()}"


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level, keys joined by ``"."``.

    Examples
    --------
    >>> flatten({"seed": 0, "classifier": {"n_estimators": 80, "max_depth": 3}})
    {'seed': 0, 'classifier.n_estimators': 80, 'classifier.max_depth': 3}
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def log_training(
    model: ChurnModel,
    *,
    experiment: str = "churnml",
    register: str | None = None,
    alias: str = "champion",
    artifacts: Mapping[str, Path] | None = None,
) -> TrainingRun:
    """Log a fitted model as one MLflow run, its model as a LoggedModel; optionally register it.

    Parameters
    ----------
    model : ChurnModel
        Fitted.
    experiment : str, default "churnml"
        Created when missing; next to a SQLite database, with its artifacts in
        ``mlartifacts/`` beside the database file.
    register : str, optional
        Register the model under this name and point ``alias`` at the new version.
    alias : str, default "champion"
    artifacts : mapping of str to path, optional
        Files (or folders) to log under ``review/``, named by their key (a file keeps its
        suffix when the key has none), e.g. a review pack's plots.

    Returns
    -------
    TrainingRun

    Raises
    ------
    InputError
        If the model is not fitted or an artifact does not exist.

    Examples
    --------
    Skipped here (fitting takes seconds; tests/test_tracking.py runs it):

    >>> from churnml.datasets import make_bank
    >>> from churnml.pipeline import ChurnModelConfig
    >>> bank = make_bank(n_customers=2000, months=24, seed=4)  # doctest: +SKIP
    >>> model = ChurnModel(ChurnModelConfig())  # doctest: +SKIP
    >>> model = model.fit(bank.tables, as_of="2023-09-30")  # doctest: +SKIP
    >>> run = log_training(model, register="churn")  # doctest: +SKIP
    >>> run.registered_version  # doctest: +SKIP
    1
    >>> champion = load_model("models:/churn@champion")  # doctest: +SKIP
    >>> scores = champion.score(bank.tables, as_of="2023-12-31")  # doctest: +SKIP
    """
    import mlflow

    model._check_fitted()
    extra = _checked_artifacts(artifacts or {})
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(experiment_id=_experiment_id(experiment))
    metrics = {str(k): float(v) for k, v in model.metrics_.items()}
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params(flatten(model.config.to_dict()))
        mlflow.log_params(
            {
                "as_of": str(model.as_of_.date()),
                "evaluation_cutoff": str(model.evaluation_cutoff_.date()),
                "features": len(model.feature_names_),
            }
        )
        mlflow.log_metrics(metrics)
        _log_summary(model.training_summary_)
        if model.tuning_ is not None:
            mlflow.log_params(flatten(model.tuning_.to_dict(), "tuning."))
            trials = model.tuning_.study.trials_dataframe()
            mlflow.log_text(trials.to_csv(index=False), "tuning/trials.csv")
        for name, path in extra.items():
            _log_review(name, path, Path(tmp))
        info = _log_model(model, Path(tmp) / "churn_model")
    version = None
    if register is not None:
        registered = mlflow.register_model(info.model_uri, register)
        version = int(registered.version)
        mlflow.MlflowClient().set_registered_model_alias(register, alias, str(version))
    return TrainingRun(
        run_id=run.info.run_id,
        model_uri=info.model_uri,
        metrics=metrics,
        registered_version=version,
    )


def load_model(uri: str) -> ChurnModel:
    """The ChurnModel of a logged or registered pyfunc (``models:/churn@champion``).

    Examples
    --------
    >>> load_model("models:/churn@champion")  # doctest: +SKIP
    <churnml.pipeline.ChurnModel object at ...>
    """
    import mlflow

    import churnml._pyfunc_model  # noqa: F401  (imports mlflow.pyfunc without its warning)

    mlflow.set_tracking_uri(tracking_uri())
    python_model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    model = getattr(python_model, "model", None)
    if not isinstance(model, ChurnModel):
        raise InputError(f"{uri} is not a churnml model (it holds {type(python_model).__name__})")
    return model


def _experiment_id(name: str) -> str:
    """The experiment's id; a new one beside a SQLite database keeps artifacts beside it."""
    import mlflow

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = None
    uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///"):
        database = Path(unquote(urlparse(uri).path))
        location = (database.parent / ARTIFACT_FOLDER).resolve().as_uri()
    return str(mlflow.create_experiment(name, artifact_location=location))


def _checked_artifacts(artifacts: Mapping[str, Path]) -> dict[str, Path]:
    out = {str(name): Path(path) for name, path in artifacts.items()}
    missing = {name: str(path) for name, path in out.items() if not path.exists()}
    if missing:
        raise InputError(f"review artifacts not found: {missing}")
    return out


def _log_summary(summary: pd.DataFrame) -> None:
    """Rows and churn rate per training cutoff: a CSV, and metrics stepped by cutoff."""
    import mlflow

    table = summary.assign(cutoff=pd.to_datetime(summary["cutoff"]).dt.strftime("%Y-%m-%d"))
    mlflow.log_text(table.to_csv(index=False), "training_summary.csv")
    rows = table["rows"].astype(float).tolist()
    rates = table["churn_rate"].astype(float).tolist()
    for step, (count, rate) in enumerate(zip(rows, rates, strict=True)):
        mlflow.log_metrics({"training_rows": count, "training_churn_rate": rate}, step=step)


def _log_review(name: str, path: Path, tmp: Path) -> None:
    import mlflow

    if path.is_dir():
        mlflow.log_artifacts(str(path), f"review/{name}")
        return
    target = tmp / "review" / (name if Path(name).suffix else f"{name}{path.suffix}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    mlflow.log_artifact(str(target), "review")


def _input_example(model: ChurnModel) -> pd.DataFrame:
    """One row: the typical customer at the evaluation cutoff, margin 0, no value tier."""
    categories = set(model.classifier_.frame_.categories)
    columns: dict[str, Any] = {
        "customer_id": [0],
        "cutoff": [model.evaluation_cutoff_],
    }
    for name in model.feature_names_:
        value = model.typical_.get(name)
        columns[name] = pd.Series([value], dtype=object if name in categories else float)
    columns["margin"] = [0.0]
    return pd.DataFrame(columns)


def _log_model(model: ChurnModel, folder: Path) -> Any:
    """The pyfunc from code, its model files as the ``churn_model`` artifact."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types.utils import _infer_schema

    import churnml
    from churnml._pyfunc_model import score_frame, split_input

    model.save(folder)
    example = _input_example(model)
    X, margin, tier = split_input(model, example)
    output = score_frame(model, X, margin=margin, value_tier=tier)
    # No input schema: MLflow would drop extra columns with a log line; churnml checks them.
    with warnings.catch_warnings():  # the output holds customer_id, an int: that is fine
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        outputs = _infer_schema(_plain(output))
    signature = ModelSignature(inputs=None, outputs=outputs)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(PYFUNC_MODEL_CODE),
        artifacts={"churn_model": str(folder)},
        signature=signature,
        input_example=example,
        pip_requirements=[f"churnml=={churnml.__version__}", f"mlflow=={mlflow.__version__}"],
    )


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories as text, empty text columns as text: what MLflow's schema can describe."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object:
            out[name] = column.astype("string").astype(object).where(column.notna(), "")
    return out
