"""Fixtures for the integration tests: the emulator server (seed 7) and a store, from tests/conftest.py."""

from __future__ import annotations

import gc
import inspect
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

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
        litellm = sys.modules.get("litellm")
        if litellm is not None:
            _close_litellm_clients(litellm)
        gc.collect()


def _close_litellm_clients(litellm: Any) -> None:
    """LiteLLM keeps the SDK clients and HTTP handlers it builds in a cache of its own (and two
    module-level handlers) for the life of the process: close the synchronous ones, whose
    pooled loopback sockets would otherwise be found unclosed at exit; the asynchronous ones
    belong to event loops the tests have already closed, and go with the garbage collector."""
    cache = litellm.in_memory_llm_clients_cache
    for client in [*cache.cache_dict.values(), getattr(litellm, "module_level_client", None)]:
        close = getattr(client, "close", None)
        if callable(close) and not inspect.iscoroutinefunction(close):
            close()
    cache.flush_cache()
