"""The Recorder: clients and transports that capture every Melious response as a row.

::

    rec = Recorder(store, tags={"team": "search"})
    client = OpenAI(base_url=..., http_client=rec.http_client())

Capture hooks in at the transport (no monkeypatching): the recorder wraps a client's
transports, each response's body stream is replaced by a recording stream that passes
the bytes through untouched, and the row is written when the body ends or is closed.

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
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from melious_impact.capture.adapters import Adapter, adapter
from melious_impact.capture.exchange import Exchange
from melious_impact.capture.tags import TagValue, check_tags, context_tags, resolve
from melious_impact.capture.wire import header_map, library_of, request_facts, retry_count
from melious_impact.parse.endpoints import Kind, classify
from melious_impact.parse.request import attempt_from_header

if TYPE_CHECKING:  # pragma: no cover
    import httpx
    import httpx2

logger = logging.getLogger("melious_impact.capture")

_C = TypeVar("_C")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)

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
    ``sinks``: extra row sinks with the RowWriter interface (``write(row)``, ``flush()``,
    ``close()``), e.g. ``melious_impact.export.OTelSink``: each row goes to the store
    first (the record that must survive), then to every sink; a failing sink is counted
    and logged once, never raised. ``flush()``/``close()`` reach the sinks too.
    ``include_usage``: add ``stream_options.include_usage`` to streamed chat requests that
    do not set it, so that their rows get token counts (off by default: the stream then
    ends with a chunk whose ``choices`` is empty; see :mod:`.stream_usage`).
    """

    def __init__(
        self,
        store: Any = None,
        *,
        tags: Mapping[str, TagValue] | None = None,
        clock: Callable[[], datetime] | None = None,
        capture_headers: Iterable[str] = (),
        sinks: Iterable[Any] = (),
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
        self._store = store
        self._sinks = tuple(sinks)
        for sink in self._sinks:
            if not callable(getattr(sink, "write", None)):
                raise TypeError(f"sinks must have a write(row) method, got {type(sink).__name__}")
        self._clock = clock
        self._include_usage = bool(include_usage)
        self._capture_headers = names
        self._lock = threading.Lock()
        self._counts = {"captured": 0, "dropped": 0, "capture_errors": 0, "transport_errors": 0, "skipped": 0}
        self._logged: set[tuple[str, str]] = set()
        self._tag_cache: tuple[object, tuple[str | None, str | None, str]] = (object(), (None, None, "{}"))
        self._adapters: dict[type, Adapter] = {}
        self._last_writer: Any = None  # for its drop count; asking store.writer() could start one
        self._closed = False
        self._atexit = _make_atexit(weakref.ref(self))
        atexit.register(self._atexit)

    # -- public API ---------------------------------------------------------------------

    @property
    def store(self) -> Any:
        return self._store

    @property
    def tags(self) -> Mapping[str, TagValue]:
        """The recorder's default tags (read-only)."""
        return self._defaults

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def stats(self) -> RecorderStats:
        with self._lock:
            counts = dict(self._counts)
        counts["dropped"] += self._store_dropped()
        return RecorderStats(**counts)

    def transport(self, inner: Any) -> Any:
        """Wrap an httpx or httpx2 transport (sync, async, or one with both methods)."""
        if getattr(inner, "_rec", None) is self and hasattr(inner, "inner"):
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
            return ad.both_transport(self, inner)
        return (ad.sync_transport if has_sync else ad.async_transport)(self, inner)

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

        row = response_row(
            response,
            captured_at=self._now(),
            tagged=self._tags_now(),
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
        closed = self._closed
        self._emit(row)
        return None if closed else row

    def flush(self) -> None:
        """Everything captured so far is durable and visible to queries."""
        self._store.flush()
        for sink in self._sinks:
            self._call_sink(sink, "flush")

    def close(self) -> None:
        """Stop capturing (later responses pass through, counted as dropped) and flush.

        A store the recorder opened itself is closed; one passed in is only flushed.
        Idempotent; also runs at interpreter exit.
        """
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._atexit)
        for sink in self._sinks:
            self._call_sink(sink, "close")
        if self._owns_store:
            self._store.close()
        else:
            self._store.flush()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Recorder {state} store={self._store!r} tags={dict(self._defaults)!r}>"

    # -- client construction ------------------------------------------------------------

    def _instrument(self, client: _C) -> _C:
        """Wrap the transports a client built from its own kwargs.

        Passing ``transport=`` to the constructor would make httpx skip the proxy
        environment (HTTP_PROXY, ...) and ``proxy=`` mounts; wrapping what it built keeps
        every routing decision the user's.
        """
        c: Any = client
        c._transport = self.transport(c._transport)
        c._mounts = {pattern: (None if t is None else self.transport(t)) for pattern, t in c._mounts.items()}
        return client

    # -- capture internals (called by the adapters) --------------------------------------

    def _begin(self, request: Any) -> Exchange | None:
        if self._closed:
            # the call goes through untouched; an inference response it would have
            # recorded is a lost row, and counted as such (close() documents this)
            try:
                if classify(request.method, request.url.path).kind is not Kind.NONE:
                    with self._lock:
                        self._counts["dropped"] += 1
            except Exception:  # never let accounting break the call
                pass
            return None
        try:
            method = request.method
            path = request.url.path
            endpoint = classify(method, path)
            if endpoint.kind is Kind.NONE:
                with self._lock:
                    self._counts["skipped"] += 1
                return None
            model, stream = (None, False) if endpoint.kind is Kind.BATCH_OUTPUT else request_facts(request)
            attempt = attempt_from_header(retry_count(request.headers))
            return Exchange(self, endpoint, method, path, model, stream, attempt, self._tags_now())
        except Exception as exc:
            self._failed("request", exc)
            return None

    def _attach(self, ex: Exchange, response: Any, *, asynchronous: bool) -> None:
        try:
            if not ex.on_response(response.status_code, header_map(response.headers)):
                return
            content = getattr(response, "_content", None)
            if content is not None:
                # The transport built the response from bytes: httpx has already read
                # (and decoded) it, and will never iterate the stream.
                ex.feed_decoded(content)
                ex.finish(True)
                return
            ad = self._adapters.get(type(response))
            if ad is None:
                ad = self._adapters[type(response)] = adapter(library_of(response))
            stream_cls = ad.async_stream if asynchronous else ad.sync_stream
            response.stream = stream_cls(response.stream, ex)
        except Exception as exc:
            self._failed("response", exc)

    def _tags_now(self) -> tuple[str | None, str | None, str]:
        scoped = context_tags()
        cached = self._tag_cache
        if cached[0] is scoped:
            return cached[1]
        result = resolve(self._defaults, scoped)
        self._tag_cache = (scoped, result)
        return result

    def _header_tags(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {f"header.{h}": headers[h][:1024] for h in self._capture_headers if h in headers}

    def _now(self) -> datetime:
        if self._clock is None:
            return datetime.now(UTC)
        try:
            when = self._clock()
            return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        except Exception as exc:  # a broken clock must not cost the row
            self._failed("clock", exc)
            return datetime.now(UTC)

    def _emit(self, row: dict[str, Any]) -> None:
        if self._closed:
            with self._lock:
                self._counts["dropped"] += 1
            return
        try:
            writer = self._store.writer()
            self._last_writer = writer
            writer.write(row)
        except Exception as exc:  # the writer promises not to raise; do not trust it blindly
            self._failed("store", exc)
            with self._lock:
                self._counts["dropped"] += 1
            return
        with self._lock:
            self._counts["captured"] += 1
        for sink in self._sinks:
            try:
                sink.write(row)
            except Exception as exc:
                self._failed("sink", exc)

    def _call_sink(self, sink: Any, verb: str) -> None:
        fn = getattr(sink, verb, None)
        if fn is not None:
            try:
                fn()
            except Exception as exc:
                self._failed(f"sink {verb}", exc)

    def _emit_many(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self._emit(row)

    def _failed(self, where: str, exc: BaseException) -> None:
        key = (where, type(exc).__name__)
        with self._lock:
            self._counts["capture_errors"] += 1
            first = key not in self._logged
            self._logged.add(key)
        if first:
            logger.warning("melious_impact capture failed (%s); the request goes on", where, exc_info=exc)
        else:
            logger.debug("melious_impact capture failed again (%s): %r", where, exc)

    def _transport_error(self) -> None:
        with self._lock:
            self._counts["transport_errors"] += 1

    def _store_dropped(self) -> int:
        stats = getattr(self._last_writer, "stats", None)
        try:
            return int(stats.get("rows_dropped", 0)) if isinstance(stats, Mapping) else 0
        except (TypeError, ValueError):
            return 0


def _make_atexit(ref: weakref.ref[Recorder]) -> Callable[[], None]:
    def close() -> None:
        _close_at_exit(ref)

    return close
