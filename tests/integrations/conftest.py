"""Fixtures for the integration tests: the emulator's loopback server and a real store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from melious_impact.capture.recorder import Recorder
from melious_impact.emulator import Emulator, serve
from melious_impact.store.impact_store import ImpactStore

# LiteLLM fetches its model cost map from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(Emulator(seed=7)) as url:
        yield url


@pytest.fixture
def store(tmp_path: Any) -> Iterator[ImpactStore]:
    s = ImpactStore(tmp_path / "store")
    yield s
    s.close()


@pytest.fixture
def rec(store: ImpactStore) -> Iterator[Recorder]:
    r = Recorder(store, tags={"team": "search"})
    yield r
    r.close()
