"""The notebooks run top to bottom on a small bank, and what they print makes sense.

Each notebook prints its key numbers as ``name: value`` lines; the checks below read them
back from the executed notebook's outputs, so a notebook that ignored the small-bank
setting, or whose models stopped learning, fails here rather than looking fine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
TRIALS = "2"
# 02_models needs at least 20 churners at the latest cutoff of every holdout, the tuning
# folds included (they learn on half the customers); 1,500 customers leave 9 there.
BANK_SIZES = {"01_data_foundation.ipynb": 1500, "02_models.ipynb": 3000}
FLAT_TABLE = Path(__file__).resolve().parents[2] / "shared/data/bank_flat/Churn_Modelling.csv"


def _stdout(notebook: nbformat.NotebookNode) -> str:
    """Everything the code cells printed, in order."""
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
    )


def _value(text: str, pattern: str) -> float:
    """The number a printed line ``pattern`` captures (thousands separators and % dropped)."""
    found = re.search(rf"^{pattern}", text, re.MULTILINE)
    assert found, f"no printed line matches {pattern!r}; the notebook printed:\n{text}"
    return float(found.group(1).replace(",", "").rstrip("%"))


def _check_data_foundation(text: str, customers: int) -> None:
    rate = _value(text, r"churn rate within 90 days: ([\d.]+%)")
    assert 0.5 < rate < 15, f"a 90-day churn rate of {rate}% is not a retail bank's"
    identical = _value(text, r"([\d,]+) customers at \d{4}-\d\d-\d\d: identical")
    assert 0 < identical <= customers


def _check_models(text: str, customers: int) -> None:
    # The classifier's holdout is a later cutoff of the panel, never a random share of rows.
    assert re.search(r"^holdout: cutoff \d{4}-\d\d-\d\d \(", text, re.MULTILINE), text
    assert re.search(r"^survival holdout: cutoff \d{4}-\d\d-\d\d \(", text, re.MULTILINE), text
    assert "refitted on every row: True" in text
    classifier = _value(text, r"classifier ROC AUC: ([\d.]+)")
    oracle = _value(text, r"oracle ROC AUC: ([\d.]+)")
    assert classifier > 0.7
    # No model beats the generator's own probabilities by much: that would be a leak.
    assert classifier < oracle + 0.05, (classifier, oracle)
    raw = _value(text, r"ECE raw: ([\d.]+)")
    calibrated = _value(text, r"ECE calibrated: ([\d.]+)")
    assert calibrated < 0.02 < raw, (calibrated, raw)
    hazard_c = _value(text, r"hazard Harrell C: ([\d.]+)")
    cox_c = _value(text, r"Cox Harrell C: ([\d.]+)")
    assert hazard_c > 0.65 and cox_c > 0.6, (hazard_c, cox_c)
    # Below 0.25, the score of a constant S = 0.5; curves read in the wrong unit land far off.
    assert _value(text, r"hazard Harrell C: [\d.]+, IBS: ([\d.]+)") < 0.1
    assert _value(text, r"Cox Harrell C: [\d.]+, IBS: ([\d.]+)") < 0.1
    defaults = _value(text, r"tuning log loss: defaults ([\d.]+)")
    best = _value(text, r"tuning log loss: defaults [\d.]+, best ([\d.]+)")
    assert best <= defaults  # the first trial is the defaults
    if FLAT_TABLE.exists():
        assert _value(text, r"flat 5-fold ROC AUC: ([\d.]+)") > 0.8
        assert "target fields: ('event', 'duration_years')" in text


CHECKS: dict[str, Callable[[str, int], None]] = {
    "01_data_foundation.ipynb": _check_data_foundation,
    "02_models.ipynb": _check_models,
}


def test_every_notebook_is_checked() -> None:
    assert sorted(CHECKS) == sorted(BANK_SIZES) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    customers = BANK_SIZES[path.name]
    monkeypatch.setenv("CHURNML_NOTEBOOK_CUSTOMERS", str(customers))
    monkeypatch.setenv("CHURNML_NOTEBOOK_TRIALS", TRIALS)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": path.parent}}
    ).execute()
    errors = [
        f"{output.get('ename')}: {output.get('evalue')}"
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    text = _stdout(notebook)
    # The bank the notebook built is the small one asked for, not its full-size default.
    assert _value(text, r"customers: (\d+)") == customers
    CHECKS[path.name](text, customers)
