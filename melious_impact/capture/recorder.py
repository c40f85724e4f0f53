"""The Recorder: clients and transports that capture every Melious response as a row.

::

    rec = Recorder(store, tags={"team": "search"})
    client = OpenAI(base_url=..., http_client=rec.http_client())

Capture hooks in at the transport (no monkeypatching): the recorder wraps a client's
transports, each response's body stream is replaced by a recording stream that passes
the bytes through untouched, and the row is written when the body ends or is closed.

One obvious way to get a capturing client: ``rec.http_client()`` (an ``httpx2.Client``,
what the OpenAI and Anthropic SDKs take as ``http_client=``); ``rec.instrument(client)``
captures through a client that already exists. The other factories are the same for
the other client kinds: ``async_http_client()`` (``httpx2.AsyncClient``),
``httpx_client()`` / ``async_httpx_client()`` (httpx 0.28), and ``transport(inner)``
for a transport of your own.

Inside, the recorder is one :class:`~melious_impact.capture.pipeline.Pipeline`; the parts
meet at the small typed interfaces documented there (row sink, error callback, clock).

Failure behaviour: exceptions of the inner transport (connection errors, timeouts)
reach the caller untouched; such a request gives no row (nothing reached us to record)
and is counted in ``stats.transport_errors``. Anything failing inside capture itself is
caught, logged once per kind on the ``melious_impact.capture`` logger, and counted in
``stats.capture_errors``; the request goes on.
"""

from __future__ import annotations

import atexit
import logging
import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from melious_impact.capture.adapters import adapter
from melious_impact.capture.pipeline import Clock, Pipeline
from melious_impact.capture.tags import TagValue, check_tags
from melious_impact.capture.wire import library_of

if TYPE_CHECKING:  # pragma: no cover
    import httpx
    import httpx2

    from melious_impact.store.sink import RowSink, RowStore

logger = logging.getLogger("melious_impact.capture")

_C = TypeVar("_C")

# Header names that may hold credentials or session state: never captured.
_SENSITIVE_HEADER = re.compile(r"auth|key|token|secret|cookie|password|session|signature", re.IGNORECASE)


@dataclass(frozen=True)
class RecorderStats:
    """Counters of a :class:`Recorder` (a snapshot)."""

    #: Rows handed to the store.
    captured: int = 0
    #: Rows lost after capture: produced after close(), refused by the store, or dropped
    #: by the store's writer (its own count, included here).
    dropped: int = 0
    #: Exceptions caught inside capture (each logged once per kind).
    capture_errors: int = 0
    #: Requests whose inner transport raised before a response (no row).
    transport_errors: int = 0
    #: Requests passed through without capture (models, files, batches CRUD, count_tokens).
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _close_at_exit(ref: weakref.ref[Recorder]) -> None:
    rec = ref()
    if rec is not None:
        try:
            rec.close()
        except Exception:  # at exit there is nobody to raise to
            logger.warning("closing the recorder at exit failed", exc_info=True)


class Recorder:
    """Captures Melious responses into a store.

    ``store``: an :class:`~melious_impact.ImpactStore` (or any object with
    ``writer().write(row)``, ``flush()`` and ``close()``); ``None`` opens the default
    store, which the recorder then owns and closes.
    ``tags``: default tags of every row (``team`` and ``project`` have columns; the
    rest goes to the ``tags`` JSON); :func:`melious_impact.tags` blocks override them.
    ``clock``: zero-argument callable returning an aware UTC datetime for
    ``captured_at`` (e.g. an emulator's simulated clock); default: the wall clock.
    ``capture_headers``: names of extra response headers to keep, stored in the
    ``tags`` JSON as ``"header.<name>"``; names that look like credentials are refused.
    ``sinks``: extra row sinks (:class:`~melious_impact.store.sink.RowSink`: ``write(row)``,
    and ``flush()`` / ``close()`` when they have them), e.g.
    ``melious_impact.export.OTelSink``: each row goes to the store first (the record that
    must survive), then to every sink; a failing sink is counted and logged once, never
    raised. ``flush()``/``close()`` reach the sinks too. This is the one way to add sinks.
    ``include_usage``: add ``stream_options.include_usage`` to streamed chat requests that
    do not set it, so that their rows get token counts (off by default: the stream then
    ends with a chunk whose ``choices`` is empty; see :mod:`.stream_usage`).
    """

    def __init__(
        self,
        store: RowStore | None = None,
        *,
        tags: Mapping[str, TagValue] | None = None,
        clock: Clock | None = None,
        capture_headers: Iterable[str] = (),
        sinks: Iterable[RowSink] = (),
        include_usage: bool = False,
    ) -> None:
        if clock is not None and not callable(clock):
            raise TypeError("clock must be a zero-argument callable returning an aware UTC datetime")
        if isinstance(capture_headers, str):
            raise TypeError("capture_headers takes a list of header names, not one string")
        names = tuple(h.strip().lower() for h in capture_headers)
        for h in names:
            if not h or _SENSITIVE_HEADER.search(h):
                raise ValueError(f"capture_headers: {h!r} may hold credentials and is never stored")
        self._defaults = MappingProxyType(check_tags(tags or {}, "Recorder(tags=...)"))
        self._owns_store = store is None
        if store is None:
            from melious_impact.store.impact_store import ImpactStore

            store = ImpactStore()
        for verb in ("writer", "flush", "close"):
            if not callable(getattr(store, verb, None)):
                raise TypeError(
                    f"store must have a {verb}() method (an ImpactStore), got {type(store).__name__}"
                )
        sinks = tuple(sinks)
        for sink in sinks:
            if not callable(getattr(sink, "write", None)):
                raise TypeError(f"sinks must have a write(row) method, got {type(sink).__name__}")
        self._include_usage = bool(include_usage)
        self._pipeline = Pipeline(store, sinks=sinks, clock=clock, capture_headers=names, tags=self._defaults)
        self._pipeline.owner = self
        self._atexit = _make_atexit(weakref.ref(self))
        atexit.register(self._atexit)

    # -- public API ---------------------------------------------------------------------

    @property
    def store(self) -> RowStore:
        return self._pipeline.store

    @property
    def tags(self) -> Mapping[str, TagValue]:
        """The recorder's default tags (read-only)."""
        return self._defaults

    @property
    def closed(self) -> bool:
        return self._pipeline.closed

    @property
    def stats(self) -> RecorderStats:
        return RecorderStats(**self._pipeline.counts())

    def transport(self, inner: Any) -> Any:
        """Wrap an httpx or httpx2 transport (sync, async, or one with both methods)."""
        if getattr(inner, "source", None) is self._pipeline and hasattr(inner, "inner"):
            return inner  # already ours
        has_sync = callable(getattr(inner, "handle_request", None))
        has_async = callable(getattr(inner, "handle_async_request", None))
        if not (has_sync or has_async):
            raise TypeError(
                f"transport() needs an httpx/httpx2 transport (with handle_request or "
                f"handle_async_request), got {type(inner).__name__}"
            )
        ad = adapter(library_of(inner))
        if self._include_usage:
            from melious_impact.capture.stream_usage import usage_transport

            inner = usage_transport(inner)
        if has_sync and has_async:
            return ad.both_transport(self._pipeline, inner)
        return (ad.sync_transport if has_sync else ad.async_transport)(self._pipeline, inner)

    def http_client(self, **kwargs: Any) -> httpx2.Client:
        """An ``httpx2.Client`` (what the OpenAI 3.x and Anthropic 2.x SDKs take) that captures."""
        import httpx2

        return self._instrument(httpx2.Client(**kwargs))

    def async_http_client(self, **kwargs: Any) -> httpx2.AsyncClient:
        """An ``httpx2.AsyncClient`` that captures."""
        import httpx2

        return self._instrument(httpx2.AsyncClient(**kwargs))

    def httpx_client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` (httpx 0.28) that captures."""
        import httpx

        return self._instrument(httpx.Client(**kwargs))

    def async_httpx_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` (httpx 0.28) that captures."""
        import httpx

        return self._instrument(httpx.AsyncClient(**kwargs))

    def instrument(self, client: _C, *, replace: bool = False) -> _C:
        """Capture through an existing client, in place; returns ``client``.

        ``client``: an OpenAI, AsyncOpenAI, Anthropic or AsyncAnthropic client, or an
        httpx/httpx2 Client or AsyncClient. Idempotent; a client another recorder already
        captures stays with it (with an ``InstrumentWarning``) unless ``replace=True``.
        See :mod:`melious_impact.capture.instrument`.
        """
        from melious_impact.capture.instrument import instrument

        return instrument(self, client, replace=replace)

    def record_response(
        self,
        response: Any,
        *,
        endpoint: str | None = None,
        method: str = "POST",
        status: int = 200,
        model: str | None = None,
        stream: bool = False,
        latency_ms: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Record one response a library handed over (raw body, dict or SDK object); returns the row.

        For paths no instrumented client sees (callbacks carrying the response object).
        ``endpoint`` is read from the object when not given; ``model`` is the model asked
        for. See :mod:`melious_impact.capture.response`. The row is None after ``close()``
        (counted as dropped).
        """
        from melious_impact.capture.response import response_row

        pipeline = self._pipeline
        row = response_row(
            response,
            captured_at=pipeline.now(),
            tagged=pipeline.tags_now(),
            endpoint=endpoint,
            method=method,
            status=status,
            model=model,
            stream=stream,
            latency_ms=latency_ms,
            headers=headers,
        )
        if row is None:
            return None
        closed = pipeline.closed
        pipeline.emit(row)
        return None if closed else row

    def flush(self) -> None:
        """Everything captured so far is durable and visible to queries."""
        self._pipeline.flush()

    def close(self) -> None:
        """Stop capturing (later responses pass through, counted as dropped) and flush.

        A store the recorder opened itself is closed; one passed in is only flushed.
        Idempotent; also runs at interpreter exit.
        """
        if self._pipeline.closed:
            return
        atexit.unregister(self._atexit)
        self._pipeline.close(close_store=self._owns_store)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._pipeline.closed else "open"
        return f"<Recorder {state} store={self._pipeline.store!r} tags={dict(self._defaults)!r}>"

    # -- client construction ------------------------------------------------------------

    def _instrument(self, client: _C) -> _C:
        """Wrap the transports a client built from its own kwargs (see ``wrap_transports``)."""
        from melious_impact.capture.instrument import wrap_transports

        wrap_transports(self, client)
        return client


def _make_atexit(ref: weakref.ref[Recorder]) -> Callable[[], None]:
    def close() -> None:
        _close_at_exit(ref)

    return close
