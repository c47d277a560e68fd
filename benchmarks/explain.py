"""Benchmark SHAP reasons: can a scoring job explain 1M customers in about 2 minutes?

Run from the repository root; it writes the explain section of ``docs/benchmarks.md``::

    .venv/bin/python benchmarks/explain.py --customers 20000

The data is the synthetic bank (``make_bank(n, months=36, seed=0)``) at the last 12 month
ends whose 90-day horizon ends inside the data, built once and cached in
``bench-data/explain/``. The latest cutoff is the test set; the classifier learns on the
rows whose horizon ends by then (``temporal_holdout``). For each tree shape of the grid
(``--shapes DEPTH/LEAVES/LR ...``, depth ``none`` for unbounded) it fits
``ChurnClassifier(max_depth=..., num_leaves=..., learning_rate=..., random_state=0)`` with
its early stopping, and measures

- AUC, ECE and log loss on the test cutoff, with paired bootstrap intervals;
- the trees: how many, their leaves and depths;
- LightGBM's exact tree SHAP (``booster.predict(view, pred_contrib=True)``) in rows per
  CPU-second and per wall-second with 2 threads, the top-3 selection and the model's view,
  projected to 1M rows on 2 cores; ``iter_contributions`` with the top-3 end to end; and
  ``top_reasons`` (the reasons in words) on fewer rows.

Then woodelf-explainer, when it is installed, against LightGBM on twin boosters without
categorical splits (it has none): exactness, NaN handling, speed. Fitted models are cached
in ``bench-data/explain/models/`` under the source hash of ``src/churnml``. Raw results go
to ``bench-data/explain-results.json``; ``--rerender`` rewrites the section from them.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from explain_report import render, shape_name, write_section

GIB = 2**30
MONTHS, CUTOFFS, HORIZON_DAYS = 36, 12, 90
TARGET_ROWS, K = 1_000_000, 3
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "churnml"
DEFAULT_SHAPES = [
    "none/31/0.03",
    "8/31/0.03",
    "6/31/0.03",
    "6/20/0.03",
    "5/20/0.03",
    "4/15/0.03",
    "3/7/0.03",
    "5/20/0.05",
    "5/20/0.1",
    "4/15/0.05",
    "4/15/0.1",
    "3/7/0.05",
    "3/7/0.1",
]
FASTTREESHAP = (
    "not installed. `pip install --dry-run fasttreeshap-fixed` resolves 0.1.5 as a source "
    "distribution (a C++ build) that requires xgboost>=2.0.0, which brings a 132 MB xgboost "
    "wheel and a 352 MB nvidia-nccl-cu12 wheel (CUDA) for a GPU this machine does not have; "
    "the issue measured it at about 2.5x LightGBM's speed, half woodelf's claim."
)
Result = dict[str, Any]


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# --- measurement helpers -----------------------------------------------------------------


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


def _busy() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


def _hwm() -> int:
    status = Path("/proc/self/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) * 1024 if found else _rss()


class Phase:
    """Wall, CPU (all threads), peak RSS and other jobs' CPU of a block of work."""

    def __init__(self) -> None:
        with contextlib.suppress(OSError):  # Linux resets VmHWM on writing "5" to clear_refs
            Path("/proc/self/clear_refs").write_text("5")
        self.rss_before = _rss()
        self.busy, self.cpu, self.start = _busy(), _cpu(), time.perf_counter()

    def done(self, rows: int | None = None) -> Result:
        wall, cpu = time.perf_counter() - self.start, _cpu() - self.cpu
        out = {
            "wall_s": wall,
            "cpu_s": cpu,
            "peak_rss": _hwm(),
            "peak_increment": _hwm() - self.rss_before,
            "others_cores": max(0.0, (_busy() - self.busy - cpu) / max(wall, 1e-9)),
        }
        if rows is not None:
            out |= {
                "rows": rows,
                "rows_per_wall_s": rows / max(wall, 1e-9),
                "rows_per_cpu_s": rows / max(cpu, 1e-9),
            }
        return out


def source_state() -> str:
    """Short hash of the package's source: other people edit the tree during long runs."""
    digest = hashlib.sha256()
    for path in sorted(SOURCE.rglob("*.py")):
        digest.update(str(path.relative_to(SOURCE)).encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine() -> Result:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":")[1].strip() for line in cpuinfo if "model name" in line), "?")
    libs = ("lightgbm", "shap", "numpy", "pandas", "scikit-learn", "woodelf-explainer")
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "ram_gib": psutil.virtual_memory().total / GIB,
        "python": platform.python_version(),
        "libs": {lib: _version(lib) for lib in libs},
    }


# --- the training set --------------------------------------------------------------------


def _cutoffs(tables: Any) -> pd.DatetimeIndex:
    """The last CUTOFFS month ends whose horizon ends by the data's last day."""
    from churnml.timeline import month_end_cutoffs

    dates = tables.balances["date"]
    ends = month_end_cutoffs(dates.min(), dates.max())
    known = ends[ends + pd.Timedelta(days=HORIZON_DAYS) <= dates.max()]
    return known[-CUTOFFS:]


def build_set(cache: Path, customers: int) -> Result:
    from churnml.datasets import make_bank
    from churnml.training import training_set

    phase = Phase()
    bank = make_bank(customers, months=MONTHS, seed=0)
    generate = phase.done()
    cutoffs = _cutoffs(bank.tables)
    phase = Phase()
    data = training_set(bank.tables, cutoffs=cutoffs, horizon_days=HORIZON_DAYS, check=False)
    build = phase.done()
    pd.to_pickle({"X": data.X, "labels": data.labels, "horizon": data.horizon}, cache)
    meta = {
        "customers": customers,
        "months": MONTHS,
        "horizon_days": HORIZON_DAYS,
        "cutoffs": [f"{c:%Y-%m-%d}" for c in cutoffs],
        "generate": generate,
        "build": build,
        "built": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "source": source_state(),
    }
    cache.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return meta


def load_set(folder: Path, customers: int) -> tuple[Any, Result]:
    from churnml.training import TrainingSet

    cache = folder / f"set-{customers}c-{MONTHS}m-{CUTOFFS}k-seed0.pkl"
    if cache.exists() and cache.with_suffix(".json").exists():
        log(f"using the cached training set {cache}")
        meta = {**json.loads(cache.with_suffix(".json").read_text()), "cached": True}
    else:
        log(f"building the training set of {customers:,} customers into {cache}")
        meta = {**build_set(cache, customers), "cached": False}
    saved = pd.read_pickle(cache)
    data = TrainingSet(saved["X"], saved["labels"], saved["horizon"])
    X, y = data.classification()
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    meta |= {
        "cache": str(cache),
        "rows_classification": len(X),
        "features": X.shape[1],
        "categorical": len(categorical),
        "categorical_columns": categorical,
        "churn_rate": float(y.mean()),
    }
    return data, meta


class Context:
    """The split, the sample to explain and the run's options."""

    def __init__(self, data: Any, args: argparse.Namespace) -> None:
        from churnml.explain import typical_values
        from churnml.training import row_cutoffs, temporal_holdout

        X, y = data.classification()
        cutoffs = row_cutoffs(X)
        train, test = temporal_holdout(cutoffs, horizon=data.horizon)
        self.X_train, self.y_train = X.loc[train], y[train]
        self.X_test, self.y_test = X.loc[test], y[test].to_numpy(dtype=bool)
        order = np.random.default_rng(0).permutation(len(X))
        self.pool = X.iloc[order[: args.rows]]
        self.typical = typical_values(self.X_train)
        self.args = args
        self.split = {
            "test_cutoff": f"{cutoffs[test].min():%Y-%m-%d}",
            "test_rows": int(test.sum()),
            "test_churners": int(self.y_test.sum()),
            "train_rows": int(train.sum()),
            "train_churners": int(self.y_train.sum()),
            "train_first": f"{cutoffs[train].min():%Y-%m-%d}",
            "train_last": f"{cutoffs[train].max():%Y-%m-%d}",
        }


# --- shapes ------------------------------------------------------------------------------


def parse_shape(text: str) -> Result:
    depth, leaves, rate = text.split("/")
    return {
        "max_depth": -1 if depth in ("none", "-1") else int(depth),
        "num_leaves": int(leaves),
        "learning_rate": float(rate),
    }


def shape_key(shape: Result) -> str:
    depth = "none" if shape["max_depth"] < 0 else shape["max_depth"]
    return f"d{depth}-l{shape['num_leaves']}-lr{shape['learning_rate']:g}"


def fitted(shape: Result, ctx: Context, folder: Path) -> tuple[Any, Result]:
    from churnml.classifier import ChurnClassifier

    path = folder / f"{shape_key(shape)}-{source_state()}.pkl"
    if path.exists():
        saved = pd.read_pickle(path)
        return saved["model"], {**saved["fit"], "cached": True}
    model = ChurnClassifier(**shape, random_state=0, n_jobs=ctx.args.jobs)
    phase = Phase()
    model.fit(ctx.X_train, ctx.y_train)
    fit = phase.done()
    pd.to_pickle({"model": model, "fit": fit}, path)
    return model, {**fit, "cached": False}


def tree_stats(model: Any) -> Result:
    """Trees the scores use, their leaves and leaf depths (SHAP costs leaves x depth^2)."""
    dump = model.booster_.dump_model(num_iteration=model.best_iteration_)
    leaves, depths, cost = 0, [], 0
    for tree in dump["tree_info"]:
        stack, tree_depths = [(tree["tree_structure"], 0)], []
        while stack:
            node, depth = stack.pop()
            if "left_child" in node:
                stack += [(node["left_child"], depth + 1), (node["right_child"], depth + 1)]
            else:
                tree_depths.append(depth)
        leaves += len(tree_depths)
        depths += tree_depths
        cost += len(tree_depths) * max(tree_depths) ** 2
    return {
        "trees": len(dump["tree_info"]),
        "leaves": leaves,
        "max_depth": max(depths),
        "mean_leaf_depth": float(np.mean(depths)),
        "leaves_depth2": cost,
    }


def quality(model: Any, ctx: Context) -> Result:
    from sklearn.metrics import log_loss, roc_auc_score

    from churnml.metrics import expected_calibration_error

    proba = model.predict_proba(ctx.X_test)[:, 1]
    return {
        "auc": float(roc_auc_score(ctx.y_test, proba)),
        "ece": float(expected_calibration_error(ctx.y_test, proba)),
        "log_loss": float(log_loss(ctx.y_test, proba)),
        "mean_proba": float(proba.mean()),
        "proba": proba,
    }


# --- SHAP timings ------------------------------------------------------------------------


def top_k(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The K largest contributions of each row, largest first (as reasons.py picks them)."""
    top = np.argpartition(-values, K - 1, axis=1)[:, :K]
    size = np.take_along_axis(values, top, axis=1)
    order = np.argsort(-size, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(size, order, axis=1)


def _predict(model: Any, view: pd.DataFrame, threads: int) -> np.ndarray:
    values = model.booster_.predict(
        view, pred_contrib=True, num_iteration=model.best_iteration_, num_threads=threads
    )
    return np.asarray(values, dtype="float64")


def sample_rows(model: Any, ctx: Context) -> int:
    """Rows to time: as many as take about --seconds of wall, within the bounds."""
    view = model.frame_.view(ctx.pool.iloc[:1000])
    phase = Phase()
    _predict(model, view, ctx.args.jobs)
    rate = 1000 / phase.done()["wall_s"]
    rows = round(rate * ctx.args.seconds / 1000) * 1000
    return int(min(max(rows, ctx.args.min_rows), ctx.args.rows))


def time_engine(model: Any, ctx: Context, rows: int) -> tuple[Result, Result, Result, Result]:
    X = ctx.pool.iloc[:rows]
    phase = Phase()
    view = model.frame_.view(X)
    view_time = phase.done(rows)
    phase = Phase()
    values = _predict(model, view, ctx.args.jobs)
    engine = phase.done(rows)
    phase = Phase()
    for start in range(0, rows, ctx.args.chunk):
        top_k(values[start : start + ctx.args.chunk, :-1])
    top = phase.done(rows)
    raw = model.booster_.predict(view, num_iteration=model.best_iteration_, raw_score=True)
    check = {"max_additivity_error": float(np.abs(values.sum(axis=1) - raw).max())}
    return view_time, engine, top, check


def time_pipeline(model: Any, ctx: Context, rows: int) -> Result:
    from churnml.explain import iter_contributions

    X = ctx.pool.iloc[:rows]
    phase = Phase()
    kept = []
    for _, _, values in iter_contributions(model, X, chunk_size=ctx.args.chunk):
        kept.append(top_k(values[:, :-1]))
    out = phase.done(rows)
    return out | {
        "wall_per_1m_s": out["wall_s"] * TARGET_ROWS / rows,
        "cpu_per_1m_s": out["cpu_s"] * TARGET_ROWS / rows,
    }


def _reasons(model: Any, X: pd.DataFrame, ctx: Context) -> Result:
    from churnml.explain import top_reasons

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phase = Phase()
        top_reasons(model, X, k=K, typical=ctx.typical, chunk_size=ctx.args.chunk)
        return phase.done(len(X))


def time_reasons(model: Any, ctx: Context, rows: int) -> Result:
    """``top_reasons`` on 1,000 rows and on more: its fixed cost and its cost per row."""
    rows = max(min(ctx.args.reasons_rows, rows), 2_000)
    try:
        small = _reasons(model, ctx.pool.iloc[:1000], ctx)
        out = _reasons(model, ctx.pool.iloc[:rows], ctx)
    except Exception as error:  # other people's code in progress: record, go on
        return {"failed": f"{type(error).__name__}: {error}"[:200]}
    per_row = max(out["wall_s"] - small["wall_s"], 0.0) / (rows - 1000)
    fixed = max(small["wall_s"] - 1000 * per_row, 0.0)
    return out | {
        "small": small,
        "fixed_s": fixed,
        "wall_per_1m_s": fixed + per_row * TARGET_ROWS,
    }


def projection(view: Result, engine: Result, top: Result, jobs: int) -> Result:
    scale = TARGET_ROWS / engine["rows"]
    engine_cpu, top_cpu, view_cpu = (p["cpu_s"] * scale for p in (engine, top, view))
    return {
        "engine_cpu_s": engine_cpu,
        "top_cpu_s": top_cpu,
        "view_cpu_s": view_cpu,
        "wall_2cores_s": engine_cpu / jobs + top_cpu + view_cpu,
        "wall_observed_s": (engine["wall_s"] + top["wall_s"] + view["wall_s"]) * scale,
    }


def measure_shape(shape: Result, ctx: Context, folder: Path) -> tuple[Any, Result]:
    log(f"{shape_name(shape)}: fitting")
    model, fit = fitted(shape, ctx, folder)
    trees = tree_stats(model)
    log(
        f"  fit {fit['wall_s']:.0f} s ({fit['cpu_s']:.0f} s CPU), {trees['trees']} trees, "
        f"{trees['leaves']} leaves, max depth {trees['max_depth']}"
    )
    scores = quality(model, ctx)
    rows = sample_rows(model, ctx)
    view, engine, top, check = time_engine(model, ctx, rows)
    pipeline = time_pipeline(model, ctx, rows)
    reasons = time_reasons(model, ctx, rows)
    proj = projection(view, engine, top, ctx.args.jobs)
    log(
        f"  AUC {scores['auc']:.4f}, ECE {scores['ece']:.4f}; SHAP {rows:,} rows: "
        f"{engine['rows_per_cpu_s']:,.0f} rows/CPU-s, {engine['rows_per_wall_s']:,.0f} rows/s;"
        f" 1M on 2 cores {proj['wall_2cores_s']:.0f} s; others {engine['others_cores']:.2f}"
    )
    case = {
        "key": shape_key(shape),
        "shape": shape,
        "fit": fit,
        "best_iteration": int(model.best_iteration_),
        "trees": trees,
        "quality": scores,
        "view": view,
        "engine": engine,
        "top": top,
        "check": check,
        "pipeline": pipeline,
        "reasons": reasons,
        "projection": proj,
        "source": source_state(),
    }
    return model, case


# --- bootstrap ---------------------------------------------------------------------------


def _grouped(scores: np.ndarray) -> np.ndarray:
    return np.unique(scores, return_inverse=True)[1]


def _auc(groups: np.ndarray, size: int, pos: np.ndarray, neg: np.ndarray) -> float:
    """Weighted AUC (ties count half) from per-row positive and negative weights."""
    pos_g = np.bincount(groups, weights=pos, minlength=size)
    neg_g = np.bincount(groups, weights=neg, minlength=size)
    below = np.cumsum(neg_g) - neg_g
    return float(pos_g @ (below + 0.5 * neg_g) / (pos_g.sum() * neg_g.sum()))


def _losses(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = np.clip(proba, 1e-15, 1 - 1e-15)
    return -np.where(y, np.log(p), np.log1p(-p))


def bootstrap(cases: list[Result], y: np.ndarray, resamples: int) -> None:
    """Paired percentile intervals of each AUC, and of its and the log loss's differences."""
    rng = np.random.default_rng(0)
    groups = [_grouped(c["quality"]["proba"]) for c in cases]
    sizes = [int(g.max()) + 1 for g in groups]
    losses = np.column_stack([_losses(c["quality"]["proba"], y) for c in cases])
    aucs, logs = np.empty((resamples, len(cases))), np.empty((resamples, len(cases)))
    for b in range(resamples):
        weight = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y)).astype(float)
        pos, neg = weight * y, weight * ~y
        aucs[b] = [_auc(g, s, pos, neg) for g, s in zip(groups, sizes, strict=True)]
        logs[b] = weight @ losses / weight.sum()
    for i, case in enumerate(cases):
        delta, delta_log = aucs[:, i] - aucs[:, 0], logs[:, i] - logs[:, 0]
        case["quality"] |= {
            "auc_ci": np.percentile(aucs[:, i], [2.5, 97.5]).tolist(),
            "delta_auc_ci": np.percentile(delta, [2.5, 97.5]).tolist(),
            "p_worse": float((delta < 0).mean()),
            "delta_log_loss_ci": np.percentile(delta_log, [2.5, 97.5]).tolist(),
            "p_worse_log_loss": float((delta_log > 0).mean()),
        }


def recommend(cases: list[Result], target_s: float, credible: float) -> Result | None:
    """The fastest shape that fits and is not credibly worse than the base on AUC or log loss.

    Credibly worse: worse in at least ``credible`` of the paired bootstrap resamples.
    """
    fits = [c for c in cases if c["projection"]["wall_2cores_s"] <= target_s]
    keep = [
        c
        for c in fits
        if c["quality"]["p_worse"] < credible and c["quality"]["p_worse_log_loss"] < credible
    ]
    if not keep:
        return None
    best = min(keep, key=lambda c: c["projection"]["wall_2cores_s"])
    speedup = cases[0]["projection"]["wall_2cores_s"] / best["projection"]["wall_2cores_s"]
    return {
        "key": best["key"],
        "speedup": speedup,
        "credible": credible,
        "fits": [c["key"] for c in fits],
        "kept": [c["key"] for c in keep],
    }


# --- woodelf -----------------------------------------------------------------------------


def numeric_view(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """The model's view with its categories as float codes (missing stays NaN)."""
    view = model.frame_.view(X)
    for name in model.frame_.categories:
        codes = view[name].cat.codes.astype("float32")
        view[name] = codes.where(codes >= 0)
    return view


def twin_booster(model: Any, ctx: Context) -> Any:
    """The shape's trees grown again on numeric category codes: no categorical split."""
    import lightgbm as lgb

    from churnml._boosting import booster_params

    X = numeric_view(model, ctx.X_train)
    params = booster_params(model, objective="binary", metric="binary_logloss")
    learn = lgb.Dataset(X, ctx.y_train.to_numpy(dtype=float), free_raw_data=True)
    return lgb.train(params, learn, num_boost_round=model.best_iteration_)


def with_nans(X: pd.DataFrame, rows: int, categorical: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    out = X.iloc[:rows].copy()
    numeric = [c for c in out.columns if c not in categorical]
    mask = rng.random((len(out), len(numeric))) < 0.2
    values = out[numeric].to_numpy(dtype="float32")
    values[mask] = np.nan
    out[numeric] = values
    return out


def woodelf_engine(booster: Any, view: pd.DataFrame) -> tuple[np.ndarray, Result]:
    from woodelf import WoodelfExplainer
    from woodelf.core.trees.parse_models import load_decision_tree_ensemble_model

    phase = Phase()
    ensemble = load_decision_tree_ensemble_model(booster, list(view.columns))
    load = phase.done()
    explainer = WoodelfExplainer(ensemble)
    phase = Phase()
    values = explainer.shap_values(view, verbose=False)
    return np.asarray(values, dtype="float64"), phase.done(len(view)) | {"load": load}


def woodelf_case(model: Any, ctx: Context, categorical: list[str]) -> Result:
    from sklearn.metrics import roc_auc_score

    phase = Phase()
    booster = twin_booster(model, ctx)
    grown = phase.done()
    test = booster.predict(numeric_view(model, ctx.X_test), raw_score=True)
    twin_auc = float(roc_auc_score(ctx.y_test, test))
    _, warm = woodelf_engine(booster, numeric_view(model, ctx.pool.iloc[:1000]))
    budget = round(warm["rows_per_wall_s"] * ctx.args.seconds / 1000) * 1000
    rows = int(min(max(budget, 2_000), ctx.args.woodelf_rows))
    view = numeric_view(model, ctx.pool.iloc[:rows])
    phase = Phase()
    reference = np.asarray(
        booster.predict(view, pred_contrib=True, num_threads=ctx.args.jobs), dtype="float64"
    )[:, :-1]
    lightgbm = phase.done(rows)
    # woodelf gets float64: with float32 columns NumPy 2 compares them with the thresholds
    # cast to float32, and a value within float32 rounding of a threshold goes the wrong way.
    values, woodelf = woodelf_engine(booster, view.astype("float64"))
    as32, _ = woodelf_engine(booster, view)
    off32 = np.abs(as32 - reference).max(axis=1)
    nan_view = with_nans(view, ctx.args.nan_rows, categorical)
    nan_values, _ = woodelf_engine(booster, nan_view.astype("float64"))
    nan_reference = booster.predict(nan_view, pred_contrib=True)[:, :-1]
    same = (np.sort(top_k(values)[0], 1) == np.sort(top_k(reference)[0], 1)).all(axis=1)
    return {
        "trees": booster.num_trees(),
        "grown": grown,
        "twin_auc": twin_auc,
        "lightgbm": lightgbm,
        "woodelf": woodelf,
        "exact": {
            "max_abs_diff": float(np.abs(values - reference).max()),
            "max_abs_value": float(np.abs(reference).max()),
            "nan_max_abs_diff": float(np.abs(nan_values - nan_reference).max()),
            "top3_same": float(same.mean()),
            "float32_max_abs_diff": float(off32.max()),
            "float32_rows_off": int((off32 > 1e-4).sum()),
        },
    }


def try_categorical(model: Any, ctx: Context) -> str:
    from woodelf import WoodelfExplainer

    try:
        WoodelfExplainer(model.booster_).shap_values(
            model.frame_.view(ctx.pool.iloc[:100]), verbose=False
        )
    except Exception as error:
        return f"fails: {type(error).__name__}: {error}"
    return "works"


def measure_woodelf(models: dict[str, Any], keys: list[str], ctx: Context, meta: Result) -> Result:
    installed = _version("woodelf-explainer")
    if installed == "not installed":
        return {"install": "not installed in the venv (`pip install woodelf-explainer`)"}
    out: Result = {
        "install": f"`pip install woodelf-explainer` installed {installed} with treelite "
        f"{_version('treelite')} (pure Python on NumPy/SciPy; treelite parses the model)",
        "nan_rows": ctx.args.nan_rows,
        "categorical": try_categorical(models[keys[0]], ctx),
        "cases": [],
    }
    for key in keys:
        model = models[key]
        log(f"woodelf: {key}")
        shape = {k: model.get_params()[k] for k in ("max_depth", "num_leaves", "learning_rate")}
        try:
            case = woodelf_case(model, ctx, meta["categorical_columns"]) | {"shape": shape}
        except Exception as error:
            case = {"shape": shape, "failed": f"{type(error).__name__}: {error}"[:200]}
        out["cases"].append(case)
        log(f"  {json.dumps(case.get('exact', case.get('failed')))}")
    return out


# --- orchestration ---------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--customers", type=int, default=20_000)
    add(
        "--shapes", nargs="+", default=DEFAULT_SHAPES, help="DEPTH/LEAVES/LR; the first is the base"
    )
    add("--rows", type=int, default=50_000, help="most rows to explain per shape")
    add("--min-rows", type=int, default=10_000, help="fewest rows to explain per shape")
    add("--seconds", type=float, default=15.0, help="wall time to aim at per SHAP pass")
    add("--chunk", type=int, default=50_000, help="rows per chunk (iter_contributions)")
    add("--reasons-rows", type=int, default=20_000, help="most rows for top_reasons")
    add("--jobs", type=int, default=2, help="LightGBM threads, fitting and SHAP")
    add("--bootstrap", type=int, default=2_000)
    add("--target-seconds", type=float, default=120.0)
    add("--credible", type=float, default=0.9, help="P(worse) that rules a shape out")
    add(
        "--woodelf-shapes",
        nargs="*",
        default=["6/31/0.03", "4/15/0.1"],
        help="besides the base and the recommended shape",
    )
    add("--woodelf-rows", type=int, default=50_000)
    add("--nan-rows", type=int, default=1_000)
    add("--data-dir", type=Path, default=Path("bench-data"))
    add("--out", type=Path, default=Path("docs/benchmarks.md"))
    add("--rerender", action="store_true", help="rewrite the section from the saved results")
    return parser.parse_args(argv)


def save(path: Path, run: Result, out: Path) -> None:
    def plain(value: Any) -> Any:
        return value.tolist() if isinstance(value, np.ndarray) else str(value)

    cases = [
        c | {"quality": {k: v for k, v in c["quality"].items() if k != "proba"}}
        for c in run["cases"]
    ]
    path.write_text(json.dumps(run | {"cases": cases}, indent=1, default=plain))
    if run.get("recommendation", "missing") != "missing":
        write_section(out, render(json.loads(path.read_text())))


def woodelf_keys(args: argparse.Namespace, cases: list[Result], rec: Result | None) -> list[str]:
    keys = [cases[0]["key"]] + ([rec["key"]] if rec else [])
    keys += [shape_key(parse_shape(s)) for s in args.woodelf_shapes]
    known = {c["key"] for c in cases}
    return [k for i, k in enumerate(keys) if k in known and k not in keys[:i]]


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    saved = args.data_dir / "explain-results.json"
    if args.rerender:
        write_section(args.out, render(json.loads(saved.read_text())))
        return
    folder = args.data_dir / "explain"
    (folder / "models").mkdir(parents=True, exist_ok=True)
    run: Result = {
        "command": " ".join([".venv/bin/python", "benchmarks/explain.py", *argv]),
        "started": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "loadavg_start": list(os.getloadavg()),
        "machine": machine(),
        "commit": commit(),
        "source": {"start": source_state()},
        "args": {k: v for k, v in vars(args).items() if k not in ("data_dir", "out", "rerender")},
        "fasttreeshap": FASTTREESHAP,
    }
    data, meta = load_set(folder, args.customers)
    ctx = Context(data, args)
    run |= {"data": meta, "split": ctx.split, "cases": []}
    log(f"split: {json.dumps(ctx.split)}")
    models = {}
    for text in args.shapes:
        model, case = measure_shape(parse_shape(text), ctx, folder / "models")
        models[case["key"]] = model
        run["cases"].append(case)
        save(saved, run, args.out)
    bootstrap(run["cases"], ctx.y_test, args.bootstrap)
    run["recommendation"] = recommend(run["cases"], args.target_seconds, args.credible)
    keys = woodelf_keys(args, run["cases"], run["recommendation"])
    run["woodelf"] = measure_woodelf(models, keys, ctx, meta)
    run |= {
        "finished": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "loadavg_end": list(os.getloadavg()),
    }
    run["source"]["end"] = source_state()
    save(saved, run, args.out)
    log(f"wrote {saved} and the explain section of {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
