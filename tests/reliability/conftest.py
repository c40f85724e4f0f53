"""Shared pieces of the reliability suite: figures, and skipping parts not written yet.

Every test records its figures (processes, requests, kills, files corrupted, inputs fuzzed,
rows lost...) with the ``figures`` fixture. They are printed in the terminal summary and,
when ``MELIOUS_RELIABILITY_FIGURES`` names a file, appended to it as JSON lines (that is
how docs/reliability.md gets its numbers).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_child.py"

_FIGURES: list[dict[str, Any]] = []


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A dict the test fills with its figures; reported whatever the outcome."""
    data: dict[str, Any] = {}
    start = time.perf_counter()
    yield data
    data = {"test": request.node.name, **data, "seconds": round(time.perf_counter() - start, 2)}
    _FIGURES.append(data)
    request.node.user_properties.append(("figures", json.dumps(data)))
    target = os.environ.get("MELIOUS_RELIABILITY_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(data, default=str) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    for data in _FIGURES:
        fields = " ".join(f"{k}={v}" for k, v in data.items() if k != "test")
        terminalreporter.write_line(f"{data['test']}: {fields}")


def need(module: str) -> Any:
    """Import a part of the package, or skip: the suite is written ahead of some parts."""
    return pytest.importorskip(module, reason=f"{module} is not written yet")


@pytest.fixture
def impact_store_cls() -> Any:
    return need("melious_impact.store.impact_store").ImpactStore


@pytest.fixture
def child_cmd() -> list[str]:
    """Command line of the child process script (``_child.py``) run with this interpreter."""
    return [sys.executable, str(CHILD)]


@pytest.fixture
def child_env() -> dict[str, str]:
    """Environment for child processes: this checkout first on the import path."""
    env = dict(os.environ)
    root = str(HERE.parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env
