"""Fitted models as plain files: LightGBM's own text format and JSON, never pickle.

A fitted :class:`~churnml.classifier.ChurnClassifier` or
:class:`~churnml.survival.ChurnSurvivalModel` is written to a directory as
``<name>.lgb.txt`` (the booster, ``Booster.model_to_string``) and ``<name>.json`` (the
estimator's parameters, the feature frame it learned, its calibrator and the few fitted
numbers its predictions read). Loading rebuilds an estimator that predicts exactly what
the saved one did (tested), with nothing that executes code on load, so a model file can
be reviewed, diffed and trusted like any text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from churnml.errors import InputError
from churnml.timeline import Horizon

__all__ = ["FORMAT_VERSION", "load_estimator", "save_estimator"]

FORMAT_VERSION = 1
_KINDS = ("ChurnClassifier", "ChurnSurvivalModel")


def save_estimator(estimator: Any, directory: str | Path, name: str) -> list[Path]:
    """Write a fitted estimator as ``<name>.lgb.txt`` and ``<name>.json`` in ``directory``.

    Parameters
    ----------
    estimator : ChurnClassifier or ChurnSurvivalModel
        Fitted.
    directory : path
        Created if missing.
    name : str
        File stem, e.g. ``"classifier"``.

    Returns
    -------
    list of Path
        The two files written.

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd
    >>> from churnml.classifier import ChurnClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"falls": rng.normal(size=800), "region": rng.choice(["a", "b"], 800)})
    >>> y = (X["falls"] + rng.normal(size=800) > 1.5).astype(int)
    >>> model = ChurnClassifier(n_estimators=30).fit(X, y)
    >>> folder = tempfile.mkdtemp()
    >>> [p.name for p in save_estimator(model, folder, "classifier")]
    ['classifier.lgb.txt', 'classifier.json']
    >>> again = load_estimator(folder, "classifier")
    >>> bool((again.predict_proba(X) == model.predict_proba(X)).all())
    True
    """
    kind = type(estimator).__name__
    if kind not in _KINDS or not hasattr(estimator, "booster_"):
        raise InputError(
            f"save_estimator needs a fitted ChurnClassifier or ChurnSurvivalModel, got {kind}"
        )
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    booster_file = folder / f"{name}.lgb.txt"
    state_file = folder / f"{name}.json"
    booster_file.write_text(estimator.booster_.model_to_string(), encoding="utf-8")
    state = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "params": _params(estimator.get_params()),
        "frame": {
            "owner": estimator.frame_.owner,
            "columns": [str(c) for c in estimator.frame_.columns],
            "categories": {str(k): v for k, v in estimator.frame_.categories.items()},
            "named": estimator.frame_.named,
        },
        "fitted": _fitted(estimator, kind),
    }
    state_file.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    return [booster_file, state_file]


def load_estimator(directory: str | Path, name: str) -> Any:
    """Rebuild an estimator written by :func:`save_estimator`.

    Raises
    ------
    InputError
        When a file is missing, or was written by another format version.
    """
    from churnml._boosting import FeatureFrame

    folder = Path(directory)
    booster_file, state_file = folder / f"{name}.lgb.txt", folder / f"{name}.json"
    for path in (booster_file, state_file):
        if not path.is_file():
            raise InputError(f"model file {path} is missing")
    state = json.loads(state_file.read_text(encoding="utf-8"))
    if state.get("format_version") != FORMAT_VERSION or state.get("kind") not in _KINDS:
        raise InputError(
            f"{state_file} holds format {state.get('format_version')!r} of a "
            f"{state.get('kind')!r}; this churnml reads format {FORMAT_VERSION}"
        )
    estimator = _estimator(state["kind"], state["params"])
    frame = state["frame"]
    FeatureFrame(frame["owner"], frame["columns"], frame["categories"], frame["named"]).fitted_on(
        estimator
    )
    estimator.booster_ = lgb.Booster(model_str=booster_file.read_text(encoding="utf-8"))
    fitted = state["fitted"]
    estimator.best_iteration_ = int(fitted["best_iteration"])
    estimator.refitted_ = bool(fitted["refitted"])
    if state["kind"] == "ChurnClassifier":
        estimator.classes_ = np.asarray(fitted["classes"])
        estimator.score_shift_ = float(fitted["score_shift"])
        estimator.calibrator_ = _calibrator(fitted["calibrator"])
    else:
        estimator.max_months_ = int(fitted["max_months"])
        estimator.duration_unit_ = str(fitted["duration_unit"])
        estimator.small_data_ = bool(fitted["small_data"])
    return estimator


def _params(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    horizon = out.get("horizon")
    if isinstance(horizon, Horizon):
        out["horizon"] = {"days": horizon.days, "months": horizon.months}
    return out


def _estimator(kind: str, params: dict[str, Any]) -> Any:
    from churnml.classifier import ChurnClassifier
    from churnml.survival import ChurnSurvivalModel

    params = dict(params)
    if isinstance(params.get("horizon"), dict):
        params["horizon"] = Horizon(**params["horizon"])
    cls = ChurnClassifier if kind == "ChurnClassifier" else ChurnSurvivalModel
    return cls(**params)


def _fitted(estimator: Any, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "best_iteration": int(estimator.best_iteration_),
        "refitted": bool(estimator.refitted_),
    }
    if kind == "ChurnClassifier":
        out["classes"] = np.asarray(estimator.classes_).tolist()
        out["score_shift"] = float(estimator.score_shift_)
        out["calibrator"] = _calibrator_state(estimator.calibrator_)
    else:
        out["max_months"] = int(estimator.max_months_)
        out["duration_unit"] = str(estimator.duration_unit_)
        out["small_data"] = bool(estimator.small_data_)
    return out


def _calibrator_state(calibrator: Any) -> dict[str, Any] | None:
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if calibrator is None:
        return None
    if isinstance(calibrator, LogisticRegression):
        return {
            "kind": "sigmoid",
            "coef": float(calibrator.coef_[0, 0]),
            "intercept": float(calibrator.intercept_[0]),
            "classes": np.asarray(calibrator.classes_).tolist(),
        }
    if isinstance(calibrator, IsotonicRegression):
        return {
            "kind": "isotonic",
            "x": np.asarray(calibrator.X_thresholds_).tolist(),
            "y": np.asarray(calibrator.y_thresholds_).tolist(),
        }
    raise InputError(f"cannot write a calibrator of type {type(calibrator).__name__}")


def _calibrator(state: dict[str, Any] | None) -> Any:
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if state is None:
        return None
    if state["kind"] == "sigmoid":
        logistic = LogisticRegression(C=1e6)
        logistic.coef_ = np.array([[state["coef"]]])
        logistic.intercept_ = np.array([state["intercept"]])
        logistic.classes_ = np.asarray(state["classes"])
        logistic.n_features_in_ = 1
        return logistic
    # The thresholds are the fitted step function's corners: refitting on them rebuilds it.
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    return isotonic.fit(np.asarray(state["x"]), np.asarray(state["y"]))
