"""Run churnml's experiments and write their results to docs/experiments.md.

    python experiments/run.py [--only NAME ...] [--quick] [--out docs/experiments.md]
                              [--json experiments/results.json] [--data ../shared/data]

Each experiment reads its knobs from ``experiments/<name>.toml``; ``--quick`` merges the
config's ``[quick]`` table over them (tiny data, two trials, two folds) for smoke tests
and needs an explicit ``--out``, so it never overwrites the real results. ``--only`` runs
some experiments and keeps the others' earlier results from the JSON, each with its own
date and commit.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import shlex
import sys
import time
import tomllib
import traceback
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from report import provenance, render  # noqa: E402
from results import MissingData  # noqa: E402

# Each is a module here with a run(config, *, data_dir) -> Outcome, and a config <name>.toml;
# imported when it runs, so the command line is checked before any library loads.
EXPERIMENTS = ("synthetic_bank", "churn_modelling", "customer_churn_records", "berka")
DEFAULT_OUT = ROOT / "docs" / "experiments.md"
DEFAULT_JSON = HERE / "results.json"
DEFAULT_DATA = ROOT.parent / "shared" / "data"


def load_config(name: str, *, quick: bool = False) -> dict[str, Any]:
    """The experiment's TOML; with ``quick``, its ``[quick]`` table merged over it."""
    with (HERE / f"{name}.toml").open("rb") as file:
        config = tomllib.load(file)
    overrides = config.pop("quick", {})
    return merged(config, overrides) if quick else config


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` laid over it, nested tables merged key by key."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M")


def run_experiment(name: str, *, quick: bool, data_dir: Path, commit: str) -> dict[str, Any]:
    """Run one experiment; record its rows, time, warnings, and a skip or failure."""
    config = load_config(name, quick=quick)
    entry: dict[str, Any] = {"name": name, "title": config["title"], "commit": commit}
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = importlib.import_module(name).run(config, data_dir=data_dir)
            entry.update(status="done", **outcome.to_dict())
        except MissingData as missing:
            entry.update(status="skipped", reason=str(missing))
        except Exception as error:  # shown in the report and the exit code; the rest still run
            entry.update(status="failed", reason=f"{type(error).__name__}: {error}")
            traceback.print_exc()
    entry["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    entry["seconds"] = time.perf_counter() - started
    entry["finished"] = now()
    entry.setdefault("rows", [])
    return entry


def finite(value: Any) -> Any:
    """JSON without NaN: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def earlier(path: Path, names: list[str]) -> list[dict[str, Any]]:
    """Results of the experiments not rerun, from an earlier JSON at ``path``."""
    if not path.exists():
        return []
    previous = json.loads(path.read_text())["experiments"]
    return [entry for entry in previous if entry["name"] not in names]


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def command_line() -> str:
    python = Path(sys.executable)
    interpreter = shown(python) if python.is_relative_to(ROOT) else "python"
    return shlex.join([interpreter, shown(Path(__file__).resolve()), *sys.argv[1:]])


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(EXPERIMENTS), metavar="NAME")
    parser.add_argument("--quick", action="store_true", help="tiny data, for smoke tests")
    parser.add_argument("--out", type=Path, help=f"markdown (default {shown(DEFAULT_OUT)})")
    parser.add_argument("--json", type=Path, help="results JSON (default next to --out)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    args = parser.parse_args(argv)
    if args.quick and args.out is None:
        parser.error("--quick needs --out, so a smoke test never overwrites the real results")
    if args.json is None:
        args.json = DEFAULT_JSON if args.out is None else args.out.with_suffix(".json")
    args.out = args.out or DEFAULT_OUT
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    names = args.only or list(EXPERIMENTS)
    run: dict[str, Any] = {
        "command": command_line(),
        "quick": args.quick,
        "started": now(),
        "load_average": ", ".join(f"{load:.1f}" for load in os.getloadavg()),
        "json": shown(args.json.resolve()),
        **provenance(ROOT),
    }
    started = time.perf_counter()
    kept = earlier(args.json, names)
    done = []
    for name in names:
        print(f"[{now()}] {name} ...", flush=True)
        done.append(
            run_experiment(name, quick=args.quick, data_dir=args.data, commit=run["commit"])
        )
        print(f"[{now()}] {name}: {done[-1]['status']} in {done[-1]['seconds']:.0f} s", flush=True)
    run["seconds"] = time.perf_counter() - started
    run["experiments"] = sorted([*kept, *done], key=lambda entry: EXPERIMENTS.index(entry["name"]))
    run = finite(run)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(run, indent=2, ensure_ascii=False) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(run))
    print(f"wrote {shown(args.out.resolve())} and {run['json']}")
    return 1 if any(entry["status"] == "failed" for entry in done) else 0


if __name__ == "__main__":
    sys.exit(main())
