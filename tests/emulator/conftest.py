from __future__ import annotations

from collections.abc import Iterator

import pytest

from melious_impact.emulator import Emulator, serve


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """One loopback server per test module (default settings, seed 0)."""
    with serve(Emulator(seed=0)) as url:
        yield url
