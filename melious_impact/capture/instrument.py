"""``rec.instrument(client)``: capture through a client that already exists, in place.

Accepted clients:

- a bare ``httpx`` 0.28 or ``httpx2`` ``Client`` / ``AsyncClient``: its transport and every
  mount are wrapped by :meth:`Recorder.transport` (what ``rec.http_client()`` does to the
  clients it builds);
- an OpenAI 3.x (``OpenAI``, ``AsyncOpenAI``) or Anthropic 2.x (``Anthropic``,
  ``AsyncAnthropic``) SDK client, or any object built on their base client: its HTTP client
  is instrumented. The SDKs keep it in the attribute ``_client`` (private to the SDK;
  ``tests/integrations/test_instrument.py`` pins it for each SDK major version, and
  ``with_options()``/``copy()`` share it, so copies capture too).

Idempotent: a client already wrapped by this recorder is left as it is. A client wrapped by
*another* recorder is left to that recorder, with an :class:`InstrumentWarning`: each
response is recorded once, by the recorder that instrumented the client first (two
recorders over one store would otherwise store every response twice; pass
``replace=True`` to move the client to the new recorder instead).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.capture.recorder import Recorder

_C = TypeVar("_C")
_MAX_DEPTH = 8


class InstrumentWarning(UserWarning):
    """A client could not be instrumented as asked (another recorder owns it, ...)."""


def is_http_client(obj: Any) -> bool:
    """True for an httpx 0.28 / httpx2 ``Client`` or ``AsyncClient`` (or a subclass)."""
    roots = {cls.__module__.partition(".")[0] for cls in type(obj).__mro__}
    return bool(roots & {"httpx", "httpx2"}) and hasattr(obj, "_transport") and hasattr(obj, "_mounts")


def http_client_of(client: Any) -> Any:
    """The httpx/httpx2 client under ``client`` (itself if it is one); TypeError otherwise."""
    if is_http_client(client):
        return client
    inner = getattr(client, "_client", None)  # OpenAI 3.x / Anthropic 2.x: the SDK's HTTP client
    if inner is not None and is_http_client(inner):
        return inner
    raise TypeError(
        "instrument() takes an OpenAI, AsyncOpenAI, Anthropic or AsyncAnthropic client, or an "
        f"httpx/httpx2 Client or AsyncClient; got {type(client).__name__}. For a library that "
        "builds its own client, see melious_impact.integrations."
    )


def is_recording_transport(transport: Any) -> bool:
    """True when ``transport`` is a recording transport (of any recorder)."""
    from melious_impact.capture.adapters import adapter

    # Both libraries are checked: a class's module does not always name its library (the
    # OpenAI SDK 2.x renames httpx's BaseTransport into its own namespace).
    for lib in ("httpx2", "httpx"):
        ad = adapter(lib)
        if isinstance(transport, ad.sync_transport | ad.async_transport | ad.both_transport):
            return True
    return False


def _layers(transport: Any) -> list[Any]:
    """``transport`` and the transports it wraps (through their ``inner`` attribute)."""
    out: list[Any] = []
    t = transport
    while t is not None and len(out) < _MAX_DEPTH:
        out.append(t)
        t = t.__dict__.get("inner") if hasattr(t, "__dict__") else None
    return out


def _transports(http: Any) -> list[Any]:
    return [http._transport, *(t for t in http._mounts.values() if t is not None)]


def is_instrumented(client: Any, rec: Recorder | None = None) -> bool:
    """True when ``client`` (an SDK or httpx/httpx2 client) captures: into ``rec``, when given."""
    for top in _transports(http_client_of(client)):
        for t in _layers(top):
            if is_recording_transport(t) and (rec is None or rec.transport(t) is t):
                return True
    return False


def instrument(rec: Recorder, client: _C, *, replace: bool = False) -> _C:
    """Wrap ``client``'s transports in place so that ``rec`` captures; returns ``client``."""
    http = http_client_of(client)
    if is_instrumented(http, rec):
        return client
    if is_instrumented(http):
        if not replace:
            warnings.warn(
                f"{type(client).__name__} is already instrumented by another Recorder; it keeps "
                "recording there, once per response. Pass replace=True to move it to this recorder.",
                InstrumentWarning,
                stacklevel=3,
            )
            return client
        http._transport = _unwrapped(http._transport)
        http._mounts = {p: _unwrapped(t) for p, t in http._mounts.items()}
    wrap_transports(rec, http)
    return client


def wrap_transports(rec: Recorder, http: Any) -> None:
    """Wrap an httpx/httpx2 client's transport and mounts in ``rec``'s recording transport.

    The client's own transports are wrapped rather than replaced through ``transport=``, which
    would make httpx skip the proxy environment (HTTP_PROXY, ...) and ``proxy=`` mounts: every
    routing decision stays the user's.
    """
    http._transport = rec.transport(http._transport)
    http._mounts = {p: (None if t is None else rec.transport(t)) for p, t in http._mounts.items()}


def _unwrapped(transport: Any) -> Any:
    """``transport`` without the recording layer on top, nor the ``include_usage`` layer that
    recorder put under it (deeper layers are kept)."""
    from melious_impact.capture.stream_usage import is_usage_transport

    if transport is not None and is_recording_transport(transport):
        inner = transport.inner
        return inner.inner if is_usage_transport(inner) else inner
    return transport
