"""Every notebook in notebooks/ runs top to bottom on the sample data, in a fresh kernel."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
SAMPLE = NOTEBOOKS.parent / "data" / "sample"

pytestmark = pytest.mark.slow


def test_there_are_four_notebooks() -> None:
    assert [p.stem for p in PATHS] == [
        "01_quickstart",
        "02_sustainability_report",
        "03_forecasting",
        "04_team_dashboard",
    ]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name}: clear outputs before committing"
            )


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs(path: Path) -> None:
    if not SAMPLE.exists() and path.stem != "01_quickstart":
        pytest.skip("data/sample is missing (made by the demo: see data/README.md)")
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:  # notebooks import only the public API
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                if line.startswith(("import melious_impact", "from melious_impact")):
                    assert line in (
                        "import melious_impact as mi",
                        "from melious_impact import charts",
                        "from melious_impact.emulator import Emulator, SimClock, make_transport  # stands in for api.melious.ai",
                    ), line
    t0 = time.perf_counter()
    NotebookClient(
        book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    took = time.perf_counter() - t0
    assert took < 60, f"{path.name} took {took:.0f} s (keep notebooks under ~20 s)"
