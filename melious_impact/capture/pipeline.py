"""Capture's inside: one response's way from the transport to the row sink.

::

    recording transport --begin/attach--> Pipeline --Exchange--> parse --row--> RowSink(s)
       (adapters.py)                     (this module) (exchange.py)         (the store's writer)

The parts meet at small typed interfaces, each written once:

- :class:`~melious_impact.store.sink.RowSink` / :class:`~melious_impact.store.sink.RowStore`:
  what rows go to (the store's writer, extra sinks) and what hands the writer out;
- :data:`ErrorCallback`: ``(where, exception)``, how every part reports a failure of its
  own (logged once per kind on the ``melious_impact.capture`` logger, counted, never
  raised into the caller);
- :data:`Clock`: ``() -> datetime`` for ``captured_at``;
- :class:`ExchangeSource` (what a recording transport calls, in ``adapters.py``) and
  :class:`~melious_impact.capture.exchange.RowOut` (what an exchange hands its row to),
  both implemented here by :class:`Pipeline`.

The :class:`~melious_impact.capture.recorder.Recorder` is the public face: it builds one
pipeline and the clients around it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from time import time_ns
from typing import TYPE_CHECKING, Any

from melious_impact.capture.adapters import Adapter, adapter
from melious_impact.capture.exchange import Exchange
from melious_impact.capture.tags import TagValue, context_tags, resolve
from melious_impact.capture.wire import header_map, library_of, requested_model_and_stream, retry_count
from melious_impact.parse.endpoints import Kind, classify
from melious_impact.parse.record import RECORD_KIND, Record, row_of
from melious_impact.parse.request import attempt_from_header
from melious_impact.store.codec import to_micros
from melious_impact.store.sink import CountsDrops

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.store.sink import RowSink, RowStore

logger = logging.getLogger("melious_impact.capture")

#: How capture's parts report a failure of their own: (where, exception).
ErrorCallback = Callable[[str, BaseException], None]
#: The time of ``captured_at``: an aware datetime (naive ones are taken as UTC).
Clock = Callable[[], datetime]

COUNTERS = ("captured", "dropped", "capture_errors", "transport_errors", "skipped")


class Pipeline:
    """Begins an exchange per request, attaches it to the response, hands rows on."""

    def __init__(
        self,
        store: RowStore,
        *,
        sinks: Iterable[RowSink] = (),
        clock: Clock | None = None,
        capture_headers: tuple[str, ...] = (),
        tags: Mapping[str, TagValue] | None = None,
    ) -> None:
        self.store = store
        #: Extra sinks with their flush/close (None when a sink has none).
        self.sinks = tuple((s, getattr(s, "flush", None), getattr(s, "close", None)) for s in sinks)
        self.clock = clock
        self.capture_headers = capture_headers
        self.defaults: Mapping[str, TagValue] = tags or {}
        self.closed = False
        self._owner: Callable[[], object] = lambda: None
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._logged: set[tuple[str, str]] = set()
        self._tag_cache: tuple[object, tuple[str | None, str | None, str]] = (object(), (None, None, "{}"))
        self._adapters: dict[type, Adapter] = {}
        self._last_writer: RowSink | None = None  # for its drop count; asking the store could start one

    @property
    def owner(self) -> object:
        """The object that owns this pipeline (its Recorder), for whoever asks whose a
        recording transport is; held weakly, so the owner can be collected."""
        return self._owner()

    @owner.setter
    def owner(self, value: object) -> None:
        self._owner = weakref.ref(value)

    # -- counters ------------------------------------------------------------------------

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def counts(self) -> dict[str, int]:
        """The counters, the store writer's own drops included in ``dropped``."""
        with self._lock:
            counts = dict(self._counts)
        writer = self._last_writer
        if isinstance(writer, CountsDrops):
            with contextlib.suppress(TypeError, ValueError, AttributeError):
                counts["dropped"] += int(writer.stats.get("rows_dropped", 0))
        return counts

    def failed(self, where: str, exc: BaseException) -> None:
        """The :data:`ErrorCallback`: count, log the first of each kind, never raise."""
        key = (where, type(exc).__name__)
        with self._lock:
            self._counts["capture_errors"] += 1
            first = key not in self._logged
            self._logged.add(key)
        if first:
            logger.warning("melious_impact capture failed (%s); the request goes on", where, exc_info=exc)
        else:
            logger.debug("melious_impact capture failed again (%s): %r", where, exc)

    # -- what a recording transport calls (ExchangeSource) ---------------------------------

    def begin(self, request: Any) -> Exchange | None:
        """The exchange of an outgoing request, or None when it gives no row."""
        if self.closed:
            # The call goes through untouched; an inference response it would have
            # recorded is a lost row, and counted as such (Recorder.close documents this).
            try:
                if classify(request.method, request.url.path).kind is not Kind.NONE:
                    self.count("dropped")
            except Exception:  # never let accounting break the call
                pass
            return None
        try:
            method = request.method
            path = request.url.path
            endpoint = classify(method, path)
            if endpoint.kind is Kind.NONE:
                self.count("skipped")
                return None
            model, stream = (
                (None, False) if endpoint.kind is Kind.BATCH_OUTPUT else requested_model_and_stream(request)
            )
            attempt = attempt_from_header(retry_count(request.headers))
            return Exchange(self, endpoint, method, path, model, stream, attempt, self.tags_now())
        except Exception as exc:
            self.failed("request", exc)
            return None

    def attach(self, ex: Exchange, response: Any, *, asynchronous: bool) -> None:
        """Read the response head; put a recording stream in front of its body."""
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
            self.failed("response", exc)

    def transport_error(self) -> None:
        """The inner transport raised before a response: no row, counted."""
        self.count("transport_errors")

    # -- what an exchange calls (RowOut) ---------------------------------------------------

    def now(self) -> datetime:
        """The :data:`Clock`'s time as an aware UTC datetime (the wall clock by default)."""
        if self.clock is None:
            return datetime.now(UTC)
        try:
            when = self.clock()
            return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        except Exception as exc:  # a broken clock must not cost the row
            self.failed("clock", exc)
            return datetime.now(UTC)

    def now_us(self) -> int:
        """:meth:`now` as µs since the epoch (what a record holds)."""
        us = None if self.clock is None else to_micros(self.now())
        return time_ns() // 1000 if us is None else us

    def header_tags(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The ``capture_headers`` present, as ``header.<name>`` tags."""
        return {f"header.{h}": headers[h][:1024] for h in self.capture_headers if h in headers}

    def emit_record(self, record: Record) -> None:
        """Hand one exchange's record to the store's writer, then its row to every extra sink.

        A writer that journals records (:class:`~melious_impact.store.sink.RecordSink`, the
        store's) builds the row when it converts its journal, off the caller's thread; any
        other gets the row now. Either way :func:`~melious_impact.parse.record.row_of`
        builds it.
        """
        writer = self._writer()
        if writer is None:
            return
        row: dict[str, Any] | None = None
        try:
            write_record = getattr(writer, "write_record", None)
            if write_record is not None:
                write_record(RECORD_KIND, record)
            else:
                row = row_of(record)
                if row is None:
                    return
                writer.write(row)
        except Exception as exc:  # the writer promises not to raise; do not trust it blindly
            self._lost("store", exc)
            return
        self.count("captured")
        if self.sinks:
            if row is None:
                try:
                    row = row_of(record)
                except Exception as exc:
                    self.failed("sink", exc)
                    return
                if row is None:
                    return
            self._to_sinks(row)

    def emit(self, row: dict[str, Any]) -> None:
        """Hand one finished row to the store's writer, then to every extra sink (rows that
        come whole: a batch output file's lines, ``Recorder.record_response``)."""
        writer = self._writer()
        if writer is None:
            return
        try:
            writer.write(row)
        except Exception as exc:  # the writer promises not to raise; do not trust it blindly
            self._lost("store", exc)
            return
        self.count("captured")
        self._to_sinks(row)

    def _writer(self) -> RowSink | None:
        """The store's writer, or None when the row is lost (closed, or the store failed)."""
        if self.closed:
            self.count("dropped")
            return None
        try:
            writer = self.store.writer()
        except Exception as exc:
            self._lost("store", exc)
            return None
        self._last_writer = writer
        return writer

    def _lost(self, where: str, exc: BaseException) -> None:
        self.failed(where, exc)
        self.count("dropped")

    def _to_sinks(self, row: dict[str, Any]) -> None:
        for sink, _, _ in self.sinks:
            try:
                sink.write(row)
            except Exception as exc:
                self.failed("sink", exc)

    def emit_many(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.emit(row)

    # -- lifecycle -----------------------------------------------------------------------

    def flush(self) -> None:
        self.store.flush()
        for _, flush, _ in self.sinks:
            self._call(flush, "sink flush")

    def close(self, *, close_store: bool) -> None:
        """Stop capturing; close the sinks; close the store or only flush it."""
        self.closed = True
        for _, _, close in self.sinks:
            self._call(close, "sink close")
        if close_store:
            self.store.close()
        else:
            self.store.flush()

    def _call(self, fn: Callable[[], Any] | None, where: str) -> None:
        if fn is not None:
            try:
                fn()
            except Exception as exc:
                self.failed(where, exc)

    def tags_now(self) -> tuple[str | None, str | None, str]:
        """(team, project, other tags as JSON) in force now: defaults under ``tags()`` blocks."""
        scoped = context_tags()
        cached = self._tag_cache
        if cached[0] is scoped:
            return cached[1]
        result = resolve(self.defaults, scoped)
        self._tag_cache = (scoped, result)
        return result
