"""Suite-wide settings and the fixtures several parts share; each part's own fixtures live in
its tests/<part>/conftest.py (a part or a module may override any of these)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from melious_impact.store.impact_store import ImpactStore


def pytest_configure(config: object) -> None:
    # A store opened with no path must never land in the developer's real data folder.
    os.environ["MELIOUS_IMPACT_HOME"] = tempfile.mkdtemp(prefix="melious-impact-tests-")


@pytest.fixture(scope="module")
def emulator_seed() -> int:
    """The seed of the module's emulator server (:func:`base_url`); override it to change it."""
    return 0


@pytest.fixture(scope="module")
def base_url(emulator_seed: int) -> Iterator[str]:
    """One emulator loopback server per test module (default settings)."""
    from melious_impact.emulator import Emulator, serve

    with serve(Emulator(seed=emulator_seed)) as url:
        yield url


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImpactStore]:
    """An empty real store in the test's own folder, closed after the test."""
    from melious_impact.store.impact_store import ImpactStore

    s = ImpactStore(tmp_path / "store")
    yield s
    s.close()
