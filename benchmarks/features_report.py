"""Markdown report of ``benchmarks/features.py``: every number comes from its run.

:func:`render` turns a run (``bench-data/results.json``: the command, the machine and each
case's measurements) into ``docs/benchmarks.md``, with the targets of the issue checked.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import psutil

GIB = 2**30
CUTOFF_COUNTS = (1, 12)
TARGET_SIZE, TARGET_RATIO, TARGET_GIB, TARGET_SCALING = 1_000_000, 1.5, 6.0, 4.0
Result = dict[str, Any]


def machine(results: list[Result], source: Path) -> list[str]:
    from importlib.metadata import version

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":")[1].strip() for line in cpuinfo if "model name" in line), "?")
    git = ["git", "-C", str(source)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    status = subprocess.run([*git, "status", "--porcelain", "."], capture_output=True, text=True)
    changed = ", ".join(f"`{line[3:]}`" for line in status.stdout.splitlines()) or "none"
    cases = [case for r in results for case in r.get("cases", {}).values()]
    states = sorted({case["source"] for case in cases if "source" in case})
    libs = ", ".join(f"{lib} {version(lib)}" for lib in ("duckdb", "pandas", "numpy", "pyarrow"))
    return [
        f"- CPU: {model}, {len(os.sched_getaffinity(0))} cores (nproc); DuckDB's default threads",
        f"- RAM: {psutil.virtual_memory().total / GIB:.1f} GiB, no swap; shared with other "
        "engineers' jobs (the CPU they used during each case is in the tables)",
        f"- Python {platform.python_version()}, {libs}",
        f"- churnml: commit `{commit.stdout.strip()}`; uncommitted at the end of the run: "
        f"{changed}; source hash (sha256 of `src/churnml/**/*.py`) at the start of the cases: "
        + ", ".join(f"`{state}`" for state in states)
        + (" (the source changed during the run)" if len(states) > 1 else ""),
    ]


def _time(case: Result, wall: str, cpu: str) -> str:
    return str(case["failed"]) if "failed" in case else f"{case[wall]:.1f} s ({case[cpu]:.1f} s)"


def _gib(value: float | None, sign: str = "") -> str:
    return "n/a" if value is None else f"{value / GIB:{sign}.2f} GiB"


def _ratio(a: Result, b: Result, ka: str, kb: str) -> float | None:
    return None if "failed" in a or "failed" in b else a[ka] / b[kb]


def _times(a: Result, b: Result, wall: tuple[str, str], cpu: tuple[str, str]) -> str:
    ratio, cpu_ratio = _ratio(a, b, *wall), _ratio(a, b, *cpu)
    return "n/a" if ratio is None else f"{ratio:.2f}x ({cpu_ratio:.2f}x)"


def size_section(result: Result) -> list[str]:
    n, meta, cases = result["n"], result["meta"], result["cases"]
    rows = meta["rows"]
    out = [
        f"## {n:,} customers",
        "",
        f"Tables: {', '.join(f'{name} {count:,}' for name, count in rows.items())} rows "
        f"({rows['transactions'] / n:.1f} transactions per customer), made by `make_bank` in "
        f"{meta['generate_s']:.0f} s at {_gib(meta['generate_peak'])} peak RSS. "
        "Times are wall (CPU of all threads). Source hash during these cases: "
        + ", ".join(sorted({f"`{c['source']}`" for c in cases.values() if "source" in c}))
        + ".",
        "",
        "| cutoffs | rows (bare) | load+validate | build_features | bare scan | build / bare "
        "| peak RSS load+build | build_features increment | bare peak RSS | rows/s | "
        "transactions/s | other jobs' CPU (build, bare) |",
        "|" + "---|" * 12,
    ]
    for k in CUTOFF_COUNTS:
        build, bare = cases[f"build-{k}"], cases[f"bare-{k}"]
        ok = "failed" not in build
        cells = [
            (f"{build['rows']:,}" if ok else "-")
            + (f" ({bare['rows']:,})" if "rows" in bare else ""),
            f"{build['load_s']:.1f} s" if ok else "",
            _time(build, "build_s", "build_cpu"),
            _time(bare, "bare_s", "bare_cpu"),
            _times(build, bare, ("build_s", "bare_s"), ("build_cpu", "bare_cpu")),
            _gib(build.get("peak_total")),
            _gib(build.get("build_increment")),
            _gib(bare.get("peak")),
            f"{build['rows'] / build['build_s']:,.0f}" if ok else "",
            f"{rows['transactions'] / build['build_s']:,.0f}" if ok else "",
            f"{build['others_cores']:.2f}, {bare['others_cores']:.2f} cores",
        ]
        out.append(f"| {k} | " + " | ".join(cells) + " |")
    retried = [
        f"{name} ({case['attempts']})"
        for name, case in cases.items()
        if case.get("attempts", 1) > 1
    ]
    if retried:
        out += [
            "",
            "Attempts of the cases that other jobs left short of memory: "
            + ", ".join(retried)
            + ".",
        ]
    out += ["", "Per step of build_features (wall, CPU, peak RSS above the step's start):", ""]
    out += ["| step | " + " | ".join(_cutoffs(k) for k in CUTOFF_COUNTS) + " |"]
    out += ["|---|" + "---|" * len(CUTOFF_COUNTS)]
    steps: dict[str, list[str]] = {}
    for i, k in enumerate(CUTOFF_COUNTS):
        family = cases[f"families-{k}"]
        total = sum(step["seconds"] for step in family.get("steps", []))
        for step in family.get("steps", []):
            cell = (
                f"{step['seconds']:.1f} s ({step['seconds'] / total:.0%}), "
                f"{step['cpu']:.1f} s, {_gib(step['increment'], '+')}"
            )
            steps.setdefault(step["step"], [""] * i).append(cell)
        for cells in steps.values():
            cells.extend([family["failed"]] if "failed" in family and len(cells) == i else [])
    out += [f"| {step} | " + " | ".join(cells) + " |" for step, cells in steps.items()]
    return [*out, ""]


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**not met**")


def _cutoffs(k: int) -> str:
    return f"{k} cutoff" + ("s" if k > 1 else "")


def _memory_target(k: int, build: Result) -> str:
    if "failed" in build:
        # A case stopped at the memory cap has passed the cap, so at least that much.
        reached = build.get("rss_at_stop")
        ok = None if reached is None or reached < TARGET_GIB * GIB else False
        return (
            f"- {_cutoffs(k)}, under {TARGET_GIB:g} GiB: {_verdict(ok)}: build_features "
            f"{build['failed']}" + (f" (RSS {_gib(reached)} then)" if reached else "") + "."
        )
    peak = build["peak_total"]
    return (
        f"- {_cutoffs(k)}, under {TARGET_GIB:g} GiB: {_verdict(peak < TARGET_GIB * GIB)}: peak "
        f"RSS of load+build {_gib(peak)} ({_gib(build['build_increment'])} of it during "
        "build_features)."
    )


def _scaling_target(one: Result, twelve: Result) -> str:
    head = f"- 12 cutoffs within {TARGET_SCALING:g}x one cutoff: "
    if "failed" in one:
        return head + "not measured."
    if "failed" in twelve:
        # Its run time less the one-cutoff case's loading is a lower bound of its build time.
        at_least = (twelve["elapsed_s"] - one["load_s"]) / one["build_s"]
        ok = False if at_least > TARGET_SCALING else None
        return head + f"{_verdict(ok)}: 12 cutoffs {twelve['failed']}, at least {at_least:.1f}x."
    wall, cpu = twelve["build_s"] / one["build_s"], twelve["build_cpu"] / one["build_cpu"]
    return head + f"{_verdict(wall <= TARGET_SCALING)}: {wall:.2f}x wall ({cpu:.2f}x CPU)."


def targets(results: list[Result]) -> list[str]:
    target = next((r for r in results if r["n"] == TARGET_SIZE and "cases" in r), None)
    if target is None:
        return [f"Not assessed: {TARGET_SIZE:,} customers were not measured in this run."]
    cases, out = target["cases"], []
    for k in CUTOFF_COUNTS:
        build, bare = cases[f"build-{k}"], cases[f"bare-{k}"]
        ratio = _ratio(build, bare, "build_s", "bare_s")
        out += [
            f"- {_cutoffs(k)}, within {TARGET_RATIO}x the bare scan: "
            f"{_verdict(None if ratio is None else ratio <= TARGET_RATIO)}: build_features "
            f"{_time(build, 'build_s', 'build_cpu')}, bare scan "
            f"{_time(bare, 'bare_s', 'bare_cpu')}; ratio "
            f"{_times(build, bare, ('build_s', 'bare_s'), ('build_cpu', 'bare_cpu'))}.",
            _memory_target(k, build),
        ]
    return [*out, _scaling_target(cases["build-1"], cases["build-12"])]


METHOD = """\
- Cutoffs: the data's last month end (1 cutoff) and its last 12 month ends (12).
- Every case runs in a fresh interpreter. **load+validate**: `load_tables(dir)` on the
  parquet files. **build_features**: `build_features(tables, cutoffs=...)` on the loaded
  tables, population included. **Peak RSS load+build**: `ru_maxrss` of that process;
  **build_features increment**: its peak during build_features (peak reset through
  `/proc/self/clear_refs` after loading) minus its RSS before.
- **Bare scan** (the yardstick): a fresh interpreter runs one hand-written DuckDB query
  straight over the same parquet files, without validation, with the families'
  aggregations per customer and cutoff (monthly averages, peaks and slopes for the trend
  and peak windows; the flow windows' conditional counts and sums by direction, channel
  and counterparty, the as-of balance and the last transaction; product counts by type,
  risk, term and window; complaint counts and ages; the profile columns), fetched as a
  float32 DataFrame. Its rows are every customer joined by the cutoff, a superset of
  build_features's population (no churn filter). Its time includes reading parquet;
  build_features's does not (that is load+validate).
- **rows/s**: output rows (customer x cutoff) per second of build_features;
  **transactions/s**: rows of the transactions table per second of build_features.
- **Other jobs' CPU**: the machine's busy CPU time during the case minus the case's own,
  per second of wall time, in cores (2 = both cores busy with other work). The script
  waits for other jobs to go quiet before each case, but only for a while.
- The per-step table comes from a third process that runs build_features's steps one by
  one (population, engine views, each family's `compute`, the final concat).
"""


def render(run: Result) -> str:
    results = run["results"]
    out = [
        "# Benchmarks",
        "",
        "Written by `benchmarks/features.py`; every number below comes from its run of "
        f"{run['finished']}. Regenerate with:",
        "",
        f"    {run['command']}",
        "",
        "## Machine",
        "",
        *run["machine"],
        "",
        "## What is measured",
        "",
        METHOD,
    ]
    for result in results:
        if "cases" in result:
            out += size_section(result)
        else:
            out += [f"## {result['n']:,} customers", "", result["failed"], ""]
    return "\n".join([*out, "## Targets", "", *targets(results), ""])
