"""Fixtures for the integration tests: the emulator server (seed 7) and a store, from tests/conftest.py."""

from __future__ import annotations

import gc
import os
import sys
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


#: Default HTTP clients LangChain keeps for the life of the process, one per base URL
#: (``functools.lru_cache``), by module.
_LIBRARY_CLIENT_CACHES = {
    "langchain_openai.chat_models._client_utils": ("_cached_sync_httpx_client", "_cached_async_httpx_client"),
    "langchain_anthropic._client_utils": ("_get_default_httpx_client", "_get_default_async_httpx_client"),
}


@pytest.fixture(scope="session", autouse=True)
def drop_library_client_caches() -> Iterator[None]:
    """Let go of the HTTP clients libraries cache for the whole process, once the tests are
    done: their pooled loopback sockets close then, not in a ResourceWarning at exit."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        for module, names in _LIBRARY_CLIENT_CACHES.items():
            for name in names:
                cache_clear = getattr(getattr(sys.modules.get(module), name, None), "cache_clear", None)
                if cache_clear is not None:
                    cache_clear()
        gc.collect()
