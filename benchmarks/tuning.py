"""Benchmark ``tune_classifier``: 50 Optuna trials with pruning on a ~200k-row training set.

Run from the repository root; it writes the tuning section of ``docs/benchmarks.md``::

    .venv/bin/python benchmarks/tuning.py --rows 200000 --trials 50

The data is the synthetic bank (``make_bank(n, months=36, seed=0)``) with the customer
count chosen so that the classification rows (``training_set(...).classification()``) at
12 month-end cutoffs number about ``--rows``; the real count is measured and reported. The
cutoffs are the last 12 month ends whose 90-day horizon ends inside the data. The training
set is built once, in a fresh interpreter, and cached in ``bench-data/tuning/``; reruns skip
the build and report the cached build's times.

The search runs in another fresh interpreter, so its peak memory is its own::

    tune_classifier(data, objective="log_loss", n_trials=50, seed=0,
                    splitter=TemporalSplitter(n_splits=1, gap_days=90))

with the default median pruner. One temporal validation fold (the default is three) keeps
50 trials tractable on a 2-core machine. Then the best parameters are refitted on every
row, as a user would. The raw results go to ``bench-data/tuning-results.json``;
``--rerender`` rewrites the section from them. The section sits between marker comments at
the end of ``docs/benchmarks.md``; ``benchmarks/features.py`` rewrites that whole file, so
run ``--rerender`` after it to put the section back.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

GIB = 2**30
MONTHS, CUTOFFS, HORIZON_DAYS = 36, 12, 90
# Classification rows per customer over 12 cutoffs of a 36-month bank (seed 0): customers
# join during the window and churners leave it, so fewer than 12. Measured at 2,000 and
# 24,000 customers; the run reports the real count.
ROWS_PER_CUSTOMER = 8.4
STUDY_NAME = "tuning-benchmark"
PROGRESS_SECONDS = 20.0
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "churnml"
START, END = "<!-- tuning-benchmark:start -->", "<!-- tuning-benchmark:end -->"
Result = dict[str, Any]


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
    """Peak RSS since the start or the last :func:`_reset_peak` (VmHWM)."""
    status = Path("/proc/self/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) * 1024 if found else _rss()


def _reset_peak() -> bool:
    # Linux resets the peak RSS (VmHWM) on writing "5" to clear_refs.
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Phase:
    """Wall, CPU, peak RSS and other jobs' CPU of a block of this process's work."""

    def __init__(self) -> None:
        self.reset = _reset_peak()
        self.rss_before = _rss()
        self.busy, self.cpu, self.start = _busy(), _cpu(), time.perf_counter()
        self.load_start = os.getloadavg()

    def done(self) -> Result:
        wall, cpu = time.perf_counter() - self.start, _cpu() - self.cpu
        return {
            "wall_s": wall,
            "cpu_s": cpu,
            "rss_before": self.rss_before,
            # With the peak reset, VmHWM is this phase's peak; without it, the process's.
            "peak_rss": _hwm(),
            "peak_is_phase": self.reset,
            "others_cores": max(0.0, (_busy() - self.busy - cpu) / wall),
            "loadavg_start": list(self.load_start),
            "loadavg_end": list(os.getloadavg()),
        }


def source_state() -> str:
    """Short hash of the package's source: other people edit the tree during long runs."""
    digest = hashlib.sha256()
    for path in sorted(SOURCE.rglob("*.py")):
        digest.update(str(path.relative_to(SOURCE)).encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    return done.stdout.rstrip()  # not strip(): porcelain lines start with a space


def code_state() -> Result:
    """The churnml code a worker runs: commit, uncommitted files under src/, source hash."""
    status = _git("status", "--porcelain", "src").splitlines()
    return {
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted": [line[3:] for line in status],
        "source": source_state(),
    }


def machine() -> Result:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":")[1].strip() for line in cpuinfo if "model name" in line), "?")
    libs = ("lightgbm", "optuna", "scikit-learn", "pandas", "numpy")
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "ram_gib": psutil.virtual_memory().total / GIB,
        "python": platform.python_version(),
        "libs": {lib: version(lib) for lib in libs},
    }


# --- workers: each runs in a fresh interpreter and prints one JSON line ------------------


def _cutoffs(tables: Any) -> Any:
    """The last CUTOFFS month ends whose horizon ends by the data's last day."""
    import pandas as pd

    from churnml.timeline import month_end_cutoffs

    dates = tables.balances["date"]
    ends = month_end_cutoffs(dates.min(), dates.max())
    known = ends[ends + pd.Timedelta(days=HORIZON_DAYS) <= dates.max()]
    return known[-CUTOFFS:]


def work_build(cache: Path, customers: int) -> Result:
    import pandas as pd

    from churnml.datasets import make_bank
    from churnml.training import training_set

    code = code_state()
    phase = Phase()
    bank = make_bank(customers, months=MONTHS, seed=0)
    generate = phase.done()
    cutoffs = _cutoffs(bank.tables)
    phase = Phase()
    data = training_set(bank.tables, cutoffs=cutoffs, horizon_days=HORIZON_DAYS, check=False)
    build = phase.done()
    X, _ = data.classification()
    pd.to_pickle({"X": data.X, "labels": data.labels, "horizon_days": data.horizon.days}, cache)
    meta = {
        "customers": customers,
        "months": MONTHS,
        "cutoffs": [f"{c:%Y-%m-%d}" for c in cutoffs],
        "tables": {name: len(frame) for name, frame in bank.tables.to_dict().items()},
        "rows_all": len(data.X),
        "rows_classification": len(X),
        "features": data.X.shape[1],
        "churn_rate": float(data.classification()[1].mean()),
        "generate": generate,
        "build": build,
        "built": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "code": code,
    }
    cache.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return meta


def _progress(storage: Any, stop: threading.Event, start: float) -> None:
    """Log each finished trial to stderr while the study runs (the log shows progress)."""
    from optuna.trial import TrialState

    seen: set[int] = set()
    while not stop.wait(PROGRESS_SECONDS):
        try:
            study_id = storage.get_study_id_from_name(STUDY_NAME)
        except KeyError:
            continue
        trials = storage.get_all_trials(study_id, deepcopy=False)
        states = [t.state for t in trials]
        for t in trials:
            if t.number in seen or not t.state.is_finished():
                continue
            seen.add(t.number)
            seconds = (t.datetime_complete - t.datetime_start).total_seconds()
            print(
                f"trial {t.number}: {t.state.name.lower()} in {seconds:.0f} s, "
                f"{_rounds(t)} rounds, value {t.value}; {states.count(TrialState.COMPLETE)} "
                f"complete, {states.count(TrialState.PRUNED)} pruned; "
                f"{time.perf_counter() - start:.0f} s, RSS {_rss() / GIB:.2f} GiB, "
                f"load {os.getloadavg()[0]:.2f}",
                file=sys.stderr,
                flush=True,
            )


def _rounds(trial: Any) -> int:
    """Boosting rounds of the first fold the pruner saw (reports every 10 rounds)."""
    steps = trial.intermediate_values
    return max(steps) + 1 if steps else 0


def _trials(study: Any) -> list[Result]:
    return [
        {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": t.value,
            "seconds": (t.datetime_complete - t.datetime_start).total_seconds(),
            "rounds": _rounds(t),
            "params": t.params,
        }
        for t in study.trials
        if t.datetime_complete is not None
    ]


def _fold_sizes(data: Any, splitter: Any) -> Result:
    from churnml.timeline import Horizon
    from churnml.training import row_cutoffs, temporal_holdout

    learn, valid = next(data.folds(splitter))
    X_learn, _ = learn.classification()
    trees, holdout = temporal_holdout(row_cutoffs(X_learn), horizon=Horizon(days=HORIZON_DAYS))
    return {
        "learn_rows": len(X_learn),
        "tree_rows": int(trees.sum()),
        "holdout_rows": int(holdout.sum()),
        "validation_rows": len(valid.classification()[0]),
        "validation_cutoff": f"{valid.cutoffs.min():%Y-%m-%d}",
    }


def work_tune(cache: Path, trials: int) -> Result:
    import optuna
    import pandas as pd

    from churnml.classifier import ChurnClassifier
    from churnml.timeline import Horizon
    from churnml.training import TemporalSplitter, TrainingSet
    from churnml.tuning import tune_classifier

    code = code_state()
    phase = Phase()
    saved = pd.read_pickle(cache)
    data = TrainingSet(saved["X"], saved["labels"], Horizon(days=saved["horizon_days"]))
    load = phase.done()
    splitter = TemporalSplitter(n_splits=1)  # the gap follows the training set's horizon
    folds = _fold_sizes(data, splitter)
    # The default in-memory storage, made here so a thread can log the trials as they end.
    storage = optuna.storages.InMemoryStorage()
    stop = threading.Event()
    phase = Phase()
    logger = threading.Thread(target=_progress, args=(storage, stop, phase.start), daemon=True)
    logger.start()
    called = datetime.now()  # Optuna stamps trials with naive local times
    result = tune_classifier(
        data,
        objective="log_loss",
        n_trials=trials,
        splitter=splitter,
        seed=0,
        show_progress_bar=False,
        storage=storage,
        study_name=STUDY_NAME,
    )
    tune = phase.done()
    stop.set()
    first = min(t.datetime_start for t in result.study.trials)
    phase = Phase()
    X, y = data.classification()
    model = ChurnClassifier(**result.best_params).fit(X, y)
    refit = {**phase.done(), "rows": len(X), "best_iteration": int(model.best_iteration_)}
    return {
        "code": code,
        "load": load,
        "folds": folds,
        "tune": {**tune, "before_first_trial_s": (first - called).total_seconds()},
        "refit": refit,
        "best_value": result.best_value,
        "best_trial": result.study.best_trial.number,
        "best_params": result.best_params,
        "n_complete": result.n_complete,
        "n_pruned": result.n_pruned,
        "trials": _trials(result.study),
    }


def worker_main(kind: str, cache: Path, arg: str) -> None:
    result = work_build(cache, int(arg)) if kind == "build" else work_tune(cache, int(arg))
    print(json.dumps({**result, "process_peak": _peak_overall()}, default=str))


def _peak_overall() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


# --- orchestration ---------------------------------------------------------------------


def run_worker(kind: str, cache: Path, arg: str) -> Result:
    command = [sys.executable, __file__, "_worker", kind, str(cache.resolve()), arg]
    print(f"{kind}: {' '.join(command[2:])}", flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{kind} failed with exit code {done.returncode}; see the log above")
    print(f"{kind}: done in {time.perf_counter() - start:.0f} s", flush=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="classification rows wanted")
    parser.add_argument("--customers", type=int, help="overrides the count derived from --rows")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--data-dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument(
        "--rerender", action="store_true", help="rewrite the section from the saved results"
    )
    args = parser.parse_args(argv)
    saved = args.data_dir / "tuning-results.json"
    if args.rerender:
        write_section(args.out, render(json.loads(saved.read_text())))
        return
    customers = args.customers or round(args.rows / ROWS_PER_CUSTOMER)
    folder = args.data_dir / "tuning"
    folder.mkdir(parents=True, exist_ok=True)
    cache = folder / f"set-{customers}c-{MONTHS}m-{CUTOFFS}k-seed0.pkl"
    if cache.exists() and cache.with_suffix(".json").exists():
        print(f"using the cached training set {cache}", flush=True)
        data = {**json.loads(cache.with_suffix(".json").read_text()), "cached": True}
    else:
        data = {**run_worker("build", cache, str(customers)), "cached": False}
    print(f"classification rows: {data['rows_classification']:,}", flush=True)
    started = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    tuned = run_worker("tune", cache, str(args.trials))
    run = {
        "command": " ".join([".venv/bin/python", "benchmarks/tuning.py", *argv]),
        "started": started,
        "finished": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": machine(),
        "trials_asked": args.trials,
        "data": {**data, "cache": str(cache)},
        **tuned,
    }
    saved.write_text(json.dumps(run, indent=1, default=str))
    write_section(args.out, render(run))
    print(f"wrote {saved} and the tuning section of {args.out}")
    print(render(run))


# --- the report --------------------------------------------------------------------------


def write_section(path: Path, section: str) -> None:
    """Put the section between its markers, or append it, leaving the rest of the file."""
    text = path.read_text() if path.exists() else ""
    block = f"{START}\n{section.rstrip()}\n{END}\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def _gib(value: float) -> str:
    return f"{value / GIB:.2f} GiB"


def _phase_row(name: str, phase: Result, note: str = "") -> str:
    return (
        f"| {name} | {phase['wall_s']:.1f} s | {phase['cpu_s']:.1f} s | "
        f"{_gib(phase['peak_rss'])} | {phase['others_cores']:.2f} | {note} |"
    )


def _mean(values: list[float]) -> str:
    return f"{sum(values) / len(values):.1f} s" if values else "n/a"


def _machine_lines(run: Result) -> list[str]:
    m, tune = run["machine"], run["tune"]
    return [
        f"- CPU: {m['cpu']}, {m['cores']} cores (nproc); RAM {m['ram_gib']:.1f} GiB, no swap",
        f"- Python {m['python']}, " + ", ".join(f"{lib} {v}" for lib, v in m["libs"].items()),
        f"- churnml, when the search started: {_code(run['code'])}; when the training set was "
        f"built: {_code(run['data']['code'])}",
        "- **Shared machine**: another heavy job (experiments) ran during the search. Load "
        f"average (1, 5, 15 min) {_load(tune['loadavg_start'])} at the start of the search, "
        f"{_load(tune['loadavg_end'])} at its end; other processes used "
        f"{tune['others_cores']:.2f} cores on average while it ran (the machine's busy CPU "
        "time minus the search's own, per second of wall time).",
    ]


def _code(code: Result) -> str:
    changed = ", ".join(f"`{path}`" for path in code["uncommitted"]) or "none"
    return (
        f"commit `{code['commit']}`, uncommitted under `src/`: {changed}, source hash "
        f"(sha256 of `src/churnml/**/*.py`) `{code['source']}`"
    )


def _load(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def _data_lines(run: Result) -> list[str]:
    d, f = run["data"], run["folds"]
    cutoffs = d["cutoffs"]
    return [
        f"- `make_bank({d['customers']}, months={d['months']}, seed=0)`: "
        + ", ".join(f"{name} {count:,}" for name, count in d["tables"].items())
        + " rows.",
        f"- `training_set(bank.tables, cutoffs=..., horizon_days={HORIZON_DAYS}, check=False)`"
        f" at {len(cutoffs)} month ends, {cutoffs[0]} to {cutoffs[-1]} (the last whose "
        f"horizon ends inside the data): {d['rows_all']:,} rows, of which "
        f"**{d['rows_classification']:,} classification rows** (horizon followed up), "
        f"{d['features']} features, churn rate {d['churn_rate']:.2%}.",
        f"- The one temporal fold validates on {f['validation_rows']:,} rows (cutoff "
        f"{f['validation_cutoff']}, half the customers, never trained on) and learns from "
        f"{f['learn_rows']:,} rows at cutoffs at least {HORIZON_DAYS} days earlier (the other "
        f"half); inside each trial's `ChurnClassifier` the trees grow on {f['tree_rows']:,} of "
        f"them and stop early and calibrate on the latest cutoff's {f['holdout_rows']:,}.",
    ]


def _trial_lines(run: Result) -> list[str]:
    trials = run["trials"]
    complete = [t["seconds"] for t in trials if t["state"] == "complete"]
    pruned = [t["seconds"] for t in trials if t["state"] == "pruned"]
    finished = len(complete) + len(pruned)
    in_trials = sum(complete) + sum(pruned)
    tune = run["tune"]
    saved = len(pruned) * sum(complete) / max(len(complete), 1) - sum(pruned)
    return [
        f"- Trials: {run['n_complete']} complete, {run['n_pruned']} pruned "
        f"({run['n_pruned'] / max(finished, 1):.0%} pruned) of {run['trials_asked']}.",
        f"- Boosting rounds of the first fold: complete trials {_rounds_range(trials, 'complete')}"
        f" (early stopping waits 100 rounds past the best one); pruned trials stopped at "
        f"{_rounds_range(trials, 'pruned')}. Had the pruned trials run as long as the mean "
        f"complete one, the search would have taken about {saved:.0f} s more.",
        f"- Mean per complete trial {_mean(complete)} (total {sum(complete):.0f} s, "
        f"{sum(complete) / max(in_trials, 1e-9):.0%} of the trials' time); per pruned trial "
        f"{_mean(pruned)} (total {sum(pruned):.0f} s). Slowest trial "
        f"{max(complete + pruned, default=0):.0f} s, fastest "
        f"{min(complete + pruned, default=0):.0f} s.",
        f"- Before the first trial (folds cut, targets built, checked): "
        f"{tune['before_first_trial_s']:.1f} s; trials' own time {in_trials:.0f} s of the "
        f"search's {tune['wall_s']:.0f} s wall.",
        f"- Best value (log loss on the validation fold): **{run['best_value']:.5f}**, "
        f"trial {run['best_trial']}.",
    ]


def _rounds_range(trials: list[Result], state: str) -> str:
    rounds = sorted(t["rounds"] for t in trials if t["state"] == state)
    if not rounds:
        return "n/a"
    if rounds[0] == rounds[-1]:
        return f"{rounds[0]} rounds (all {len(rounds)})"
    return f"{rounds[0]}-{rounds[-1]} rounds (median {rounds[len(rounds) // 2]})"


def _params_table(params: Result) -> list[str]:
    rows = [
        f"| {name} | {value:.4g} |" if isinstance(value, float) else f"| {name} | {value} |"
        for name, value in params.items()
    ]
    return ["| parameter | value |", "|---|---|", *rows]


def _per_trial_table(trials: list[Result]) -> list[str]:
    rows = [
        f"| {t['number']} | {t['state']} | {t['seconds']:.1f} s | {t['rounds']} | "
        + (f"{t['value']:.5f}" if t["state"] == "complete" else "")
        + " |"
        for t in trials
    ]
    return [
        "<details><summary>Every trial</summary>",
        "",
        "| trial | state | seconds | boosting rounds (first fold) | validation log loss |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "</details>",
    ]


def render(run: Result) -> str:
    d, tune, refit = run["data"], run["tune"], run["refit"]
    built = f"cached, built {d['built']}" if d["cached"] else "built in this run"
    peak = max(run["load"]["peak_rss"], tune["peak_rss"], refit["peak_rss"])
    return "\n".join(
        [
            f"## Tuning: {run['trials_asked']} trials on {d['rows_classification']:,} rows",
            "",
            "Written by `benchmarks/tuning.py` from its run of "
            f"{run['started']} to {run['finished']}; every number below comes from it. "
            "Rerun with:",
            "",
            f"    {run['command']}",
            "",
            "`benchmarks/features.py` keeps this marked section when it rewrites the file; "
            "`.venv/bin/python benchmarks/tuning.py --rerender` rewrites it from "
            "`bench-data/tuning-results.json`.",
            "",
            "### Machine",
            "",
            *_machine_lines(run),
            "",
            "### What is measured",
            "",
            *_data_lines(run),
            '- The search: `tune_classifier(data, objective="log_loss", '
            f"n_trials={run['trials_asked']}, splitter=TemporalSplitter(n_splits=1, "
            f"gap_days={HORIZON_DAYS}), seed=0)` with its default median pruner (after 5 "
            "trials and 50 boosting rounds, on the first fold's holdout log loss reported "
            "every 10 rounds) and LightGBM's default single thread (`n_jobs=1`). One "
            "validation fold, not the default three, keeps it tractable on 2 cores.",
            "- Then the refit: `ChurnClassifier(**result.best_params).fit(*data."
            f"classification())` on all {refit['rows']:,} rows.",
            "- Each step runs in a fresh interpreter: the build (generation and "
            "`training_set`, cached on disk) in one, loading the cache, the search and the "
            "refit in another. Times are wall (CPU of all threads). Peak RSS is the "
            "process's peak during the step (VmHWM, reset before each step).",
            "",
            "### Results",
            "",
            "| step | wall | CPU | peak RSS | other jobs' CPU (cores) | note |",
            "|---|---|---|---|---|---|",
            _phase_row("make_bank", d["generate"], built),
            _phase_row("training_set", d["build"], built),
            _phase_row(
                "load cached set", run["load"], f"{_gib(run['load']['rss_before'])} RSS before"
            ),
            _phase_row(
                "**tune_classifier**", tune, f"{run['n_complete'] + run['n_pruned']} trials"
            ),
            _phase_row("refit best", refit, f"{refit['best_iteration']} trees"),
            "",
            f"Peak RSS of the search process: {_gib(peak)}.",
            "",
            *_trial_lines(run),
            "",
            "Best parameters (`result.best_params`):",
            "",
            *_params_table(run["best_params"]),
            "",
            *_per_trial_table(run["trials"]),
            "",
        ]
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["_worker"]:
        worker_main(sys.argv[2], Path(sys.argv[3]), sys.argv[4])
    else:
        main(sys.argv[1:])
