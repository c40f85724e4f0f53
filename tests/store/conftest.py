from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from melious_impact.store.impact_store import ImpactStore

HERE = Path(__file__).resolve().parent
CHILD = HERE / "child.py"


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never touch the real per-user folder (spools of remote stores live under it).
    monkeypatch.setenv("MELIOUS_IMPACT_HOME", str(tmp_path / "home"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImpactStore]:
    s = ImpactStore(tmp_path / "store", flush_interval_s=3600)
    yield s
    s.close()


def child(*args: object, env: dict[str, str] | None = None, **kw: object) -> subprocess.Popen[str]:
    """Start tests/store/child.py in a fresh interpreter (``env`` adds variables)."""
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent.parent), env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, str(CHILD), *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE, text=True, env=env, **kw,  # type: ignore[call-overload]
    )
