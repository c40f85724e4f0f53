"""One request/response pair being captured: library-agnostic core of the transports.

The transport adapters (one per HTTP library) only translate: they create an
:class:`Exchange` when a request goes out, call :meth:`Exchange.on_response` with the
status and headers, hand it every body chunk with :meth:`Exchange.feed` as the chunk
passes to the caller, and call :meth:`Exchange.finish` once, on exhaustion or close.

The per-chunk path is an append and an addition: the body is parsed in blocks of
:data:`BLOCK_BYTES` (and at the end), so a 300-chunk stream costs a few block scans,
not 300 decodes. Nothing here raises into the caller: failures are reported through
:meth:`RowOut.failed` (logged once, counted) and the row is dropped or kept with warnings.
The finished exchange becomes one record (:mod:`melious_impact.parse.record`: its context
and its body, compact or already parsed) handed to :meth:`RowOut.emit_record`; the row is
built from the record later, off the caller's thread when the store journals it. Nothing
else of the recorder is known here.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from time import perf_counter
from typing import Any, Protocol

from melious_impact.capture.wire import decode_headers
from melious_impact.parse.batch import BatchLines
from melious_impact.parse.body import JsonBody
from melious_impact.parse.decoding import DecodeError, Decoder, make_decoder
from melious_impact.parse.endpoints import Endpoint, Kind
from melious_impact.parse.fields import Warnings
from melious_impact.parse.headers import apply_impact_headers, has_impact_header_names, is_impact_header_name
from melious_impact.parse.record import (
    FORM_FIELDS,
    FORM_JSON,
    Record,
    compact_json,
    is_compactable,
    plain_fields,
)
from melious_impact.parse.row import ROW_HEADER_NAMES, carries_ours
from melious_impact.parse.sse import SSEParser


class RowOut(Protocol):
    """What an exchange needs from whoever began it (the pipeline)."""

    #: Names of extra response headers kept as ``header.<name>`` tags.
    capture_headers: tuple[str, ...]

    def emit_record(self, record: Record) -> None:
        """Take the record of a finished exchange (:mod:`melious_impact.parse.record`)."""

    def emit_many(self, rows: Iterable[dict[str, Any]]) -> None:
        """Take several finished rows (a batch output file)."""

    def failed(self, where: str, exc: BaseException) -> None:
        """The error callback: a failure inside capture (count it, never raise)."""

    def now(self) -> datetime:
        """The clock: ``captured_at`` of a row, aware UTC."""

    def now_us(self) -> int:
        """The clock's time as µs since the epoch."""

    def header_tags(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The ``capture_headers`` present in ``headers``, as tags."""


#: Raw bytes collected before a parse step runs (and the rest at the end).
BLOCK_BYTES = 64 * 1024

_MODE_JSON, _MODE_SSE, _MODE_BATCH, _MODE_SKIP = "json", "sse", "batch", "skip"
#: Plain strings for the journal (marshal takes no enum members; Enum.value is slow).
_KIND_VALUE = {k: k.value for k in Kind}
_ROW_HEADER_BYTES = frozenset(n.encode("latin-1") for n in ROW_HEADER_NAMES)
_BINARY_TYPES = ("audio/", "image/", "video/", "application/octet-stream")


class Exchange:
    """Capture state of one request; see the module doc for the call sequence."""

    __slots__ = (
        "_decoder",
        "_headers",
        "_parts",
        "_pending",
        "_sniff",
        "_target",
        "attempt",
        "endpoint",
        "finished",
        "method",
        "mode",
        "out",
        "path",
        "raw_headers",
        "read_error",
        "req_stream",
        "requested_model",
        "size",
        "sse",
        "status",
        "t0",
        "t_first",
        "tagged",
        "warnings",
    )

    def __init__(
        self,
        out: RowOut,
        endpoint: Endpoint,
        method: str,
        path: str,
        requested_model: str | None,
        req_stream: bool,
        attempt: int | None,
        tagged: tuple[str | None, str | None, str],
    ) -> None:
        self.t0 = perf_counter()
        self.t_first: float | None = None
        self.out = out
        self.endpoint = endpoint
        self.method = method
        self.path = path
        self.requested_model = requested_model
        self.req_stream = req_stream
        self.attempt = attempt
        self.tagged = tagged
        self.status: int | None = None
        self.raw_headers: dict[bytes, bytes] = {}
        self._headers: dict[str, str] | None = None
        self.mode = _MODE_SKIP
        self.sse = False
        self.size = 0
        self._parts: list[bytes] = []
        self._pending = 0
        self._decoder: Decoder | None = None
        self._target: Any = None
        self._sniff = False
        self.finished = False
        self.read_error: str | None = None
        self.warnings = Warnings()

    # -- response head ------------------------------------------------------------

    @property
    def headers(self) -> dict[str, str]:
        """The response headers decoded (lowercased names); built on first use."""
        if self._headers is None:
            self._headers = decode_headers(self.raw_headers)
        return self._headers

    def on_response(self, status: int, raw_headers: dict[bytes, bytes]) -> bool:
        """Choose how to read the body; False when this response gives no row at all.

        ``raw_headers``: lowercased raw names -> raw values (see ``wire.header_map``).
        """
        self.status = status
        self.raw_headers = raw_headers
        kind = self.endpoint.kind
        ctype = raw_headers.get(b"content-type", b"").decode("latin-1").lower()
        if kind is Kind.BATCH_OUTPUT:
            if status != 200:
                return False  # a failed download is not an inference
            self.mode = _MODE_BATCH
            self._target = BatchLines(batch_id=self.endpoint.file_id)
        elif "event-stream" in ctype:
            self.mode = _MODE_SSE
            self.sse = True
            self._target = SSEParser(verbatim=True)
        elif "json" in ctype:
            self.mode = _MODE_JSON  # its JsonBody is made if the body outgrows a block
        elif ctype.startswith(_BINARY_TYPES):
            self.mode = _MODE_SKIP
        elif self.req_stream and status < 300 and not ctype.startswith("text/html"):
            # A stream was asked for and no usable type came back (a proxy rewriting
            # text/event-stream to text/plain, or dropping it): read it as SSE.
            self.mode = _MODE_SSE
            self.sse = True
            self._target = SSEParser(verbatim=True)
        else:
            # text/plain transcriptions (text, srt, vtt), or no content type: parse only
            # if it turns out to be a JSON object.
            self.mode = _MODE_JSON
            self._sniff = True
        encoding = raw_headers.get(b"content-encoding")
        if encoding and self.mode != _MODE_SKIP:
            try:
                self._decoder = make_decoder(encoding.decode("latin-1"))
            except DecodeError:
                self.warnings.add("unsupported_content_encoding")
                self.mode, self._target = _MODE_SKIP, None
        return True

    # -- body -------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Called for every raw chunk, on the caller's path: keep it cheap."""
        if self.t_first is None:
            self.t_first = perf_counter()
        self.size += len(chunk)
        if self.mode is _MODE_SKIP:
            return
        self._parts.append(chunk)
        self._pending += len(chunk)
        if self._pending >= BLOCK_BYTES:
            self._drain()

    def feed_decoded(self, content: bytes) -> None:
        """A body the HTTP library already read and decoded (a preloaded response)."""
        self._decoder = None
        self.feed(content)

    def _drain(self) -> None:
        parts = self._parts
        if self._target is None and self.mode is _MODE_JSON:
            self._target = JsonBody(verbatim=True)
        if not parts or self._target is None:
            self._parts, self._pending = [], 0
            return
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self._parts, self._pending = [], 0
        try:
            pieces: Iterable[bytes] = (data,) if self._decoder is None else self._decoder.decode(data)
            for piece in pieces:
                self._push(piece)
        except DecodeError:
            self._give_up("body_undecodable")
        except Exception as exc:  # a parser bug: keep the row, say why it is thin
            self.out.failed("parse", exc)
            self._give_up("parse_error")

    def _flush_decoder(self) -> None:
        if self._decoder is None or self._target is None:
            return
        try:
            for piece in self._decoder.flush():
                self._push(piece)
        except DecodeError:
            self._give_up("body_undecodable")
        except Exception as exc:
            self.out.failed("parse", exc)
            self._give_up("parse_error")

    def _push(self, piece: bytes) -> None:
        if self.mode is _MODE_BATCH:
            self._emit_batch_rows(self._target.feed(piece))
        else:
            self._target.feed(piece)

    def _give_up(self, code: str) -> None:
        self.warnings.add(code)
        if self.mode is not _MODE_BATCH:
            self.mode, self._target = _MODE_SKIP, None

    # -- end ----------------------------------------------------------------------------

    def finish(self, eof: bool) -> None:
        """Build and hand over the row, once. ``eof``: the body was read to its end."""
        if self.finished:
            return
        self.finished = True
        try:
            t_end = perf_counter()
            if not eof:
                # Closed right after the last byte, before asking for more: still whole.
                length = self.raw_headers.get(b"content-length")
                eof = length is not None and length.isdigit() and self.size >= int(length) > 0
            self._drain()
            self._flush_decoder()
            if self.mode is _MODE_BATCH:
                if self._target is not None:
                    self._emit_batch_rows(self._target.close())
                return
            record = self._record(eof, t_end)
            if record is not None:
                self.out.emit_record(record)
        except Exception as exc:
            self.out.failed("finish", exc)

    def _emit_batch_rows(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        team, project, tags_json = self.tagged
        now = None
        for row in rows:
            row["team"], row["project"], row["tags"] = team, project, tags_json
            if row["captured_at"] is None:
                now = now or self.out.now()
                row["captured_at"] = now
        self.out.emit_many(rows)

    def _headers_kept(self) -> dict[bytes, bytes]:
        """The raw headers a row reads (ROW_HEADER_NAMES and impact or billing headers);
        decoded when the row is built. Others (cookies...) never reach the journal."""
        raw = self.raw_headers
        if has_impact_header_names(raw):
            return {k: v for k, v in raw.items() if k in _ROW_HEADER_BYTES or is_impact_header_name(k)}
        return {k: raw[k] for k in _ROW_HEADER_BYTES.intersection(raw)}

    def _record(self, eof: bool, t_end: float) -> Record | None:
        """The record of this exchange (:mod:`melious_impact.parse.record`).

        A small JSON body of an inference endpoint is kept as its compact JSON and parsed
        when the row is built; any other body was parsed as it passed, and its columns
        go in the record.
        """
        out = self.out
        team, project, tags_json = self.tagged
        if out.capture_headers:
            extra = out.header_tags(self.headers)
            if extra:
                tags_json = _merge_tags(tags_json, extra)
        headers = self._headers_kept()
        w = self.warnings
        form: str | None = None
        body: Any = None
        after: tuple[str, ...] = ()
        completed: bool | None = None
        target = self._target
        if self.mode is _MODE_JSON and target is not None:
            whole = None if self._sniff or not is_compactable(self.endpoint.kind) else target.whole()
            compact = compact_json(whole) if whole is not None else None
            if compact is not None:
                form, body = FORM_JSON, compact
                if not eof:
                    after = ("body_incomplete",)
            else:
                form, body = FORM_FIELDS, self._parsed_part(headers)
                if not self._sniff or target.looks_like_object():
                    target.fields(body, w, input_only=self.endpoint.input_only)
                if not eof:
                    w.add("body_incomplete")
        elif self.mode is _MODE_SSE and target is not None:
            form, body = FORM_FIELDS, self._parsed_part(headers)
            target.close()
            body.update(target.out)
            for code in target.warnings:
                w.add(code)
            completed = target.done
            if not completed and eof:
                w.add("sse_truncated")
        elif self.sse:  # a stream whose body could not be decoded
            completed = False
        if self.endpoint.kind is Kind.OTHER:  # never compact: its row depends on its body
            if form is None:
                form, body = FORM_FIELDS, self._parsed_part(headers)
            if not carries_ours(body):
                return None  # an unknown endpoint that carries nothing of ours: no row
        if form == FORM_FIELDS:
            plain_fields(body)
        t0, t_first = self.t0, self.t_first
        return (
            out.now_us(),
            new_record_id(),
            self.path,
            self.method,
            self.status,
            _KIND_VALUE[self.endpoint.kind],
            self.requested_model,
            self.sse,
            (t_end - t0) * 1000.0,
            None if t_first is None else (t_first - t0) * 1000.0,
            self.attempt,
            self.size,
            team,
            project,
            tags_json,
            self.read_error is not None,
            headers,
            form,
            body,
            tuple(w),
            after,
            completed,
        )

    def _parsed_part(self, raw_headers: dict[bytes, bytes]) -> dict[str, Any]:
        """Body columns parsed here start from what the impact headers give (a body
        object, applied after, wins over them)."""
        part: dict[str, Any] = {}
        if has_impact_header_names(raw_headers):
            apply_impact_headers(part, decode_headers(raw_headers), self.warnings)
        return part


class _RecordIds:
    """Version 4 UUIDs as 32 hex digits: a random per-process prefix and a counter.

    The first 20 hex digits (74 random bits, plus the version and variant bits) are drawn
    once per process, the last 12 count rows (48 bits): unique within the process and,
    with 74 random bits, across processes. Cheaper than one ``os.urandom`` per row
    (``uuid.uuid4()`` costs ~5x more). ``itertools.count`` is atomic under the GIL, so
    threads share it; a child process draws a new prefix after fork.
    """

    __slots__ = ("count", "prefix")

    def __init__(self) -> None:
        b = bytearray(os.urandom(10))
        b[6] = (b[6] & 0x0F) | 0x40  # version 4
        b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
        self.prefix = b.hex()
        self.count = itertools.count()


_ids = _RecordIds()
_COUNTER_LIMIT = 1 << 48


def _reset_ids() -> None:
    global _ids
    _ids = _RecordIds()


os.register_at_fork(after_in_child=_reset_ids)


def new_record_id() -> str:
    ids = _ids
    n = next(ids.count)
    if n >= _COUNTER_LIMIT:  # 2**48 rows in one process: start a new prefix
        with _ids_lock:
            if ids is _ids:
                _reset_ids()
        return new_record_id()
    return f"{ids.prefix}{n:012x}"


_ids_lock = threading.Lock()


def _merge_tags(tags_json: str, extra: dict[str, str]) -> str:
    merged = json.loads(tags_json)
    merged.update(extra)
    return json.dumps(merged, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
