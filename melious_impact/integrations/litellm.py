"""LiteLLM: ``install(rec)`` captures every call LiteLLM makes over HTTP, ``openai/`` and
``anthropic/`` routes alike, sync, async and streaming.

::

    import os
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"   # LiteLLM stays offline at import
    from melious_impact.integrations import litellm as mi_litellm
    mi_litellm.install(rec)
    litellm.completion(model="openai/glm-4.7", api_base=MELIOUS_V1, api_key=KEY, messages=[...])

LiteLLM keeps its clients in one cache, ``litellm.in_memory_llm_clients_cache``: OpenAI SDK
clients for the ``openai/`` route, its own ``HTTPHandler``/``AsyncHTTPHandler`` (httpx) for
``anthropic/`` and most other routes. Entries expire (ten minutes by default) and are
rebuilt, and the ``anthropic/`` route ignores ``litellm.client_session``. ``install``
therefore (1) instruments every client already in the cache, so calls made before it are no
trap, and (2) makes the cache instrument each client as it is stored, so rebuilt clients
capture too. It does not set ``litellm.client_session``; one you set is instrumented when
a client built over it is cached.

Not seen by ``install``: a ``client=`` you pass per call (instrument it yourself with
``rec.instrument``), and LiteLLM's optional Rust path (``LITELLM_RUST``, opt-in for
``litellm.anthropic_messages``), which does its own HTTP: ``install`` warns when it is on.
For those, a success callback can hand the response to ``rec.record_response``.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import TYPE_CHECKING, Any

from melious_impact.capture.instrument import InstrumentWarning, http_client_of, is_instrumented

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.capture.recorder import Recorder

logger = logging.getLogger("melious_impact.integrations")

_REC_ATTR = "_melious_impact_recorder"


def install(rec: Recorder, *, replace: bool = False) -> int:
    """Capture LiteLLM's calls with ``rec``; returns how many cached clients it instrumented now.

    Idempotent for one recorder. With another open recorder already installed: an
    :class:`InstrumentWarning` and nothing changes, unless ``replace=True`` (a closed one is
    replaced silently).
    """
    import litellm

    cache = litellm.in_memory_llm_clients_cache
    current = vars(cache).get(_REC_ATTR)
    if current is not None and current is not rec and not current.closed and not replace:
        warnings.warn(
            f"LiteLLM already captures into another Recorder ({current!r}); it keeps doing so. "
            "Pass replace=True to move it to this recorder.",
            InstrumentWarning,
            stacklevel=2,
        )
        return 0
    if not isinstance(cache, _recording_class(type(cache))):
        cache.__class__ = _recording_class(type(cache))
    vars(cache)[_REC_ATTR] = rec
    # Clients of a recorder installed before (now closed, or replaced) move to this one.
    take_over = current is not None and current is not rec
    found = 0
    for value in [*list(cache.cache_dict.values()), *_module_clients(litellm)]:
        found += _instrument(rec, value, replace=take_over)
    if found:
        logger.info("melious_impact: %d LiteLLM client(s) were cached before install(); now captured", found)
    if os.environ.get("LITELLM_RUST", "").strip().lower() in ("1", "true", "yes", "on"):
        warnings.warn(
            "LITELLM_RUST is on: calls LiteLLM routes through its Rust core make their own HTTP "
            "requests and are not captured (record them with rec.record_response in a callback)",
            InstrumentWarning,
            stacklevel=2,
        )
    return found


def installed(rec: Recorder | None = None) -> bool:
    """True when LiteLLM's client cache captures (into ``rec``, when given)."""
    import litellm

    current = vars(litellm.in_memory_llm_clients_cache).get(_REC_ATTR)
    return current is not None and (rec is None or current is rec)


def _module_clients(litellm: Any) -> list[Any]:
    return [
        c for c in (getattr(litellm, n, None) for n in ("module_level_client", "module_level_aclient")) if c
    ]


def _http_of(value: Any) -> Any:
    """The httpx/httpx2 client of a cached value (SDK client or LiteLLM handler), or None."""
    try:
        return http_client_of(value)
    except TypeError:
        pass
    inner = getattr(value, "client", None)  # HTTPHandler / AsyncHTTPHandler
    try:
        return None if inner is None else http_client_of(inner)
    except TypeError:
        return None


def _instrument(rec: Recorder, value: Any, *, replace: bool = False) -> int:
    http = _http_of(value)
    if http is None:
        return 0
    if is_instrumented(http, rec) or (not replace and is_instrumented(http)):
        return 0  # a client instrumented for another recorder stays with it
    rec.instrument(http, replace=replace)
    return 1


_CLASSES: dict[type, type] = {}


def _recording_class(base: type) -> type:
    """``base`` (LiteLLM's client cache class) with clients instrumented as they are stored."""
    if getattr(base, "_melious_impact_recording", False):
        return base
    found = _CLASSES.get(base)
    if found is None:

        def set_cache(self: Any, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
            _stored(self, value)
            return base.set_cache(self, key, value, *args, **kwargs)  # type: ignore[attr-defined]

        async def async_set_cache(self: Any, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
            _stored(self, value)
            return await base.async_set_cache(self, key, value, *args, **kwargs)  # type: ignore[attr-defined]

        found = type(
            f"Recording{base.__name__}",
            (base,),
            {"set_cache": set_cache, "async_set_cache": async_set_cache, "_melious_impact_recording": True},
        )
        _CLASSES[base] = found
    return found


def _stored(cache: Any, value: Any) -> None:
    rec = vars(cache).get(_REC_ATTR)
    if rec is None or rec.closed:
        return
    try:
        _instrument(rec, value)
    except Exception:  # capture never breaks the call
        logger.warning("melious_impact: could not instrument a LiteLLM client", exc_info=True)
