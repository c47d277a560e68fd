"""Benchmark ``build_features`` against a bare DuckDB query doing the same aggregations.

Run from the repository root; it writes ``docs/benchmarks.md``::

    .venv/bin/python benchmarks/features.py --sizes 100000 1000000

Each size's bank (``make_bank(n, months=24, seed=0)``: 24 month-end balances and about 50
transactions per customer) is generated once and cached as contract parquet files in
``bench-data/<n>/``. Every case runs in a fresh interpreter, so its peak memory is its own,
at 1 cutoff (the data's last month end) and at 12 (its last 12 month ends):

- ``build``: ``load_tables(dir)`` (load+validate), then ``build_features`` on the tables;
- ``bare``: one hand-written DuckDB query over the parquet files with the families'
  aggregations (``benchmarks/bare_scan.py``), fetched as a DataFrame: the yardstick;
- ``families``: ``build_features``'s steps one by one, for a per-family breakdown.

A case is stopped and reported as failed when its RSS passes ``--memory-cap-gib`` (the
machine is shared: leave room for others) or its time passes ``--timeout-min``. Before
each case the script waits up to ``--settle-min`` for other jobs to go quiet, and it
reports the CPU that other jobs used while the case ran: wall times on a busy machine
mean little, so CPU times are reported too. The raw results go to
``bench-data/results.json``; ``--rerender`` rewrites the Markdown from them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import resource
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from bare_scan import bare_sql
from features_report import CUTOFF_COUNTS, GIB, machine, render

MONTHS, SEED = 24, 0
MIN_FREE_GIB = 1.5  # stop a case before the shared machine runs out of memory
SHORT_OF_MEMORY, RETRIES = "stopped: the machine had under", 2
QUIET_CORES = 0.5  # other jobs' CPU use, in cores, below which a case may start
SOURCE = Path(__file__).resolve().parents[1] / "src" / "churnml"
Result = dict[str, Any]


# --- workers: each runs in a fresh interpreter and prints one JSON line ------------------


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


def _reset_peak() -> bool:
    # Linux resets the peak RSS (and so ru_maxrss) on writing "5" to clear_refs.
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def work_generate(data: Path, n: int) -> Result:
    import pandas as pd

    from churnml.datasets import make_bank

    start = time.perf_counter()
    tables = make_bank(n, months=MONTHS, seed=SEED).tables.to_dict()
    seconds = time.perf_counter() - start
    for name, frame in tables.items():
        # ``date`` is derived from ``ts`` on loading; the contract's file has no such column.
        out = frame.drop(columns="date") if name == "transactions" else frame
        out.to_parquet(data / f"{name}.parquet", index=False)
    last = tables["balances"]["date"].max() + pd.offsets.MonthEnd(0)
    ends = pd.date_range(end=last, periods=max(CUTOFF_COUNTS), freq="ME")
    meta = {
        "rows": {name: len(frame) for name, frame in tables.items()},
        "month_ends": [d.strftime("%Y-%m-%d") for d in ends],
        "generate_s": seconds,
        "generate_peak": _peak(),
    }
    (data / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def work_build(data: Path, cutoffs: list[str]) -> Result:
    from churnml import load_tables
    from churnml.features import build_features

    start = time.perf_counter()
    tables = load_tables(data)
    load_s, peak_load, before = time.perf_counter() - start, _peak(), _rss()
    reset, cpu, start = _reset_peak(), _cpu(), time.perf_counter()
    features = build_features(tables, cutoffs=cutoffs)
    build_s, build_cpu, peak_build = time.perf_counter() - start, _cpu() - cpu, _peak()
    return {
        "load_s": load_s,
        "build_s": build_s,
        "build_cpu": build_cpu,
        "rows": len(features),
        "columns": features.shape[1],
        "peak_total": max(peak_load, peak_build),
        "build_increment": (peak_build - before) if reset else None,
    }


def work_families(data: Path, cutoffs: list[str]) -> Result:
    import pandas as pd

    from churnml import load_tables
    from churnml.features import FeatureConfig
    from churnml.features._engine import KEY, feature_context
    from churnml.features.build import FAMILY_MODULES, _as_output_types
    from churnml.labels import population
    from churnml.timeline import as_cutoffs

    tables, config, steps = load_tables(data), FeatureConfig(), []

    def timed(step: str, fn: Any) -> Any:
        before, reset, cpu, start = _rss(), _reset_peak(), _cpu(), time.perf_counter()
        value = fn()
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
        increment = (_peak() - before) if reset else None
        steps.append({"step": step, "seconds": seconds, "cpu": cpu, "increment": increment})
        return value

    rows = timed("population", lambda: population(tables, cutoffs=as_cutoffs(cutoffs)))
    parts = [rows[KEY].reset_index(drop=True)]
    with ExitStack() as stack:
        ctx = timed(
            "engine views", lambda: stack.enter_context(feature_context(tables, rows, config))
        )
        for module in FAMILY_MODULES:  # build_features's loop, one step at a time
            part = timed(module.__name__.rsplit(".", 1)[-1], lambda m=module: m.compute(ctx))
            parts.append(_as_output_types(part, module.specs(config)))
        timed("concat", lambda: pd.concat(parts, axis=1))
    return {"steps": steps}


def work_bare(data: Path, cutoffs: list[str]) -> Result:
    import duckdb

    query = bare_sql(data, cutoffs)
    start, cpu = time.perf_counter(), _cpu()
    with duckdb.connect(":memory:") as connection:
        # The optimiser guesses customers x cutoffs at a dozen rows and would run the ASOF
        # joins as quadratic nested loops; build_features registers a population whose
        # size it knows.
        connection.execute("SET asof_loop_join_threshold = 0").fetchall()
        frame = connection.sql(query).df()
    return {
        "bare_s": time.perf_counter() - start,
        "bare_cpu": _cpu() - cpu,
        "rows": len(frame),
        "peak": _peak(),
    }


def worker_main(kind: str, data: Path, arg: str) -> None:
    if kind == "generate":
        result = work_generate(data, int(arg))
    else:
        work = {"build": work_build, "families": work_families, "bare": work_bare}[kind]
        result = work(data, arg.split(","))
    print(json.dumps({**result, "process_cpu": _cpu()}))


# --- orchestration: fresh interpreters, watched for memory and time ---------------------


def _busy() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _settle(max_minutes: float) -> None:
    deadline = time.monotonic() + max_minutes * 60
    while time.monotonic() < deadline:
        busy = _busy()
        time.sleep(5)
        if (_busy() - busy) / 5 < QUIET_CORES:
            return


def run_case(kind: str, data: Path, arg: str, args: argparse.Namespace) -> Result:
    result, attempts = _run_once(kind, data, arg, args), 1
    # Only a stop caused by other jobs' memory use is retried, not one of our own making.
    while result.get("failed", "").startswith(SHORT_OF_MEMORY) and attempts <= RETRIES:
        result, attempts = _run_once(kind, data, arg, args), attempts + 1
    return {**result, "attempts": attempts}


def _run_once(kind: str, data: Path, arg: str, args: argparse.Namespace) -> Result:
    _settle(args.settle_min)
    source = source_state()
    label = "data" if kind == "generate" else f"{arg.count(',') + 1}"
    command = [sys.executable, __file__, "_worker", kind, str(data.resolve()), arg]
    reason, peak, child_cpu, busy, start = None, 0, 0.0, _busy(), time.monotonic()
    with (data / f"{kind}-{label}.log").open("w") as log:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        child = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                peak, child_cpu = max(peak, child.memory_info().rss), sum(child.cpu_times()[:4])
            except psutil.NoSuchProcess:
                break
            if peak > args.memory_cap_gib * GIB:
                reason = f"stopped: RSS passed the {args.memory_cap_gib:g} GiB cap"
            elif psutil.virtual_memory().available < MIN_FREE_GIB * GIB:
                reason = f"{SHORT_OF_MEMORY} {MIN_FREE_GIB:g} GiB free"
            elif time.monotonic() - start > args.timeout_min * 60:
                reason = f"stopped: still running after {args.timeout_min:g} min"
            if reason:
                proc.kill()
                break
            time.sleep(0.2)
        stdout = proc.communicate()[0]
    wall = time.monotonic() - start
    if reason is None and proc.returncode != 0:
        last = (data / f"{kind}-{label}.log").read_text().strip().splitlines()[-1:] or [""]
        reason = f"failed: exit code {proc.returncode}: {last[0][:160]}"
    result: Result = {"failed": f"{reason} after {wall:.0f} s", "elapsed_s": wall}
    if reason and "cap" in reason:
        result["rss_at_stop"] = peak
    if not reason:
        result = json.loads(stdout.splitlines()[-1])
        child_cpu = result["process_cpu"]
    result["source"] = source
    result["others_cores"] = max(0.0, (_busy() - busy - child_cpu) / wall)
    print(f"  {kind} x{label}: {result.get('failed', 'ok')} ({wall:.0f} s)", flush=True)
    return result


def measure_size(n: int, args: argparse.Namespace) -> Result:
    data = args.data_dir / str(n)
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "meta.json").exists():
        print(f"generating {n:,} customers in {data}", flush=True)
        made = run_case("generate", data, str(n), args)
        if "failed" in made:
            return {"n": n, "failed": made["failed"]}
    meta = json.loads((data / "meta.json").read_text())
    cases: dict[str, Result] = {}
    for k in CUTOFF_COUNTS:
        cutoffs = ",".join(meta["month_ends"][-k:])
        for kind in ("build", "bare", "families"):
            if kind == "families" and "failed" in cases[f"build-{k}"]:
                # The same steps as the failed build: they would fail the same way.
                cases[f"families-{k}"] = {"failed": "skipped: build_features failed here"}
                continue
            cases[f"{kind}-{k}"] = run_case(kind, data, cutoffs, args)
    return {"n": n, "meta": meta, "cases": cases}


def source_state() -> str:
    """Short hash of the package's source: other people edit the tree during long runs."""
    digest = hashlib.sha256()
    for path in sorted(SOURCE.rglob("*.py")):
        digest.update(str(path.relative_to(SOURCE)).encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def write_report(out: Path, text: str) -> None:
    """Write the feature report, keeping other benchmarks' marked sections of the file."""
    old = out.read_text() if out.exists() else ""
    pattern = r"<!-- (\S+):start -->.*?<!-- \1:end -->"
    kept = [match.group(0) for match in re.finditer(pattern, old, flags=re.S)]
    out.write_text(text.rstrip("\n") + "".join(f"\n\n{block}" for block in kept) + "\n")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--data-dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--memory-cap-gib", type=float, default=12.0)
    parser.add_argument("--timeout-min", type=float, default=20.0)
    parser.add_argument("--settle-min", type=float, default=0.5)
    parser.add_argument(
        "--rerender", action="store_true", help="rewrite --out from the last run's results.json"
    )
    args = parser.parse_args(argv)
    saved = args.data_dir / "results.json"
    if args.rerender:
        write_report(args.out, render(json.loads(saved.read_text())))
        return
    command = " ".join([".venv/bin/python", "benchmarks/features.py", *argv])
    results: list[Result] = []
    for n in args.sizes:
        results.append(measure_size(n, args))
        # Saved, then written after each size: a long run keeps what it has measured.
        run = {
            "command": command,
            "finished": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "machine": machine(results, SOURCE),
            "results": results,
        }
        saved.write_text(json.dumps(run, indent=1))
        write_report(args.out, render(run))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["_worker"]:
        worker_main(sys.argv[2], Path(sys.argv[3]), sys.argv[4])
    else:
        main(sys.argv[1:])
