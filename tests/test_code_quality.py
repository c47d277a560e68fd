"""Lint, format and type checks run inside the test suite, so one command checks everything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "src", "tests", "benchmarks", "experiments"],
        ["ruff", "format", "--check", "src", "tests", "benchmarks", "experiments"],
        ["mypy", "src/churnml"],
    ],
    ids=["ruff-lint", "ruff-format", "mypy"],
)
def test_code_quality(command):
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
