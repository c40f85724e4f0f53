"""Fixtures for the integration tests: the emulator server (seed 7) and a store, from tests/conftest.py."""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Iterator

import hypothesis  # noqa: F401  # see below
import pytest

from melious_impact.capture.recorder import Recorder
from melious_impact.store.impact_store import ImpactStore

# hypothesis' pytest plugin imports hypothesis lazily, in its end-of-session summary. After
# DSPy and LiteLLM have run in the process, compiling it there fails on CPython 3.11 ("AST
# constructor recursion depth mismatch"); imported up front, it is compiled before them.

# LiteLLM fetches its model cost map from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(scope="module")
def emulator_seed() -> int:
    return 7


@pytest.fixture
def rec(store: ImpactStore) -> Iterator[Recorder]:
    r = Recorder(store, tags={"team": "search"})
    yield r
    r.close()


@pytest.fixture(autouse=True)
def collect_leftover_connections() -> Iterator[None]:
    """Collect after each test what the libraries leave open (event loops, pooled sockets).

    LiteLLM, DSPy and the async SDK clients keep connections the test does not own; left to
    the garbage collector, their ResourceWarning would surface in whichever test runs then.
    """
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
