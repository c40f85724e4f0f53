from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from melious_impact.store.impact_store import ImpactStore


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never touch the real per-user folder (spools of remote stores live under it).
    monkeypatch.setenv("MELIOUS_IMPACT_HOME", str(tmp_path / "home"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImpactStore]:
    s = ImpactStore(tmp_path / "store", flush_interval_s=3600)
    yield s
    s.close()
