"""Batch output files (JSONL, one response a line) -> one row per line.

The Melious docs do not show the output line format; the OpenAI shape is assumed and
variants are tolerated::

    {"id": "batch_req_1", "custom_id": "a", "response": {"status_code": 200,
     "request_id": "req_1", "body": {...the normal endpoint response...}}, "error": null}

Also accepted: ``response`` holding the body directly, ``body`` as a JSON string, and
Anthropic's message-batch results (``{"custom_id", "result": {"type": "succeeded",
"message": {...}}}``). A batch *input* line (``method``/``url``/``body``) is not output
and gives no row. Blank lines are skipped; a line that is not JSON is skipped and
counted, never raised.

``dedup_key`` is a stable hash of the line's identity: its ``id``, else ``custom_id`` +
``request_id``, else the line's bytes. Those are unique on their own, so the same line
counts once whether it was downloaded through a recorder (which knows the output *file*
id), imported with the batch id, or imported with no id at all. Only a line with a
``custom_id`` and nothing else to tell it apart (custom ids repeat across batches) is
scoped by ``batch_id``.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from melious_impact.parse.endpoints import INPUT_ONLY, Kind
from melious_impact.parse.extract import apply_error, apply_response
from melious_impact.parse.fields import Warnings, loads, to_int, to_str
from melious_impact.records import empty_row, split_flavor

logger = logging.getLogger("melious_impact.parse")

#: A single line longer than this is skipped (counted), to bound memory.
MAX_LINE_BYTES = 64 * 1024 * 1024

_ENDPOINT_OF_KIND = {
    Kind.CHAT: "/v1/chat/completions",
    Kind.COMPLETIONS: "/v1/completions",
    Kind.MESSAGES: "/v1/messages",
    Kind.EMBEDDINGS: "/v1/embeddings",
    Kind.RERANK: "/v1/rerank",
    Kind.IMAGES: "/v1/images/generations",
    Kind.TRANSCRIPTIONS: "/v1/audio/transcriptions",
}
_KIND_OF_PATH = {v: k for k, v in _ENDPOINT_OF_KIND.items()}

# Plausible unix times for a body's "created" (2020 .. 2100).
_MIN_CREATED, _MAX_CREATED = 1_577_836_800, 4_102_444_800


@dataclass
class BatchParseResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: Lines that were not JSON objects (or too long).
    broken_lines: int = 0
    #: JSON lines that are not batch output (e.g. an input file's lines).
    not_output_lines: int = 0


def infer_kind(body: dict[str, Any]) -> Kind | None:
    """The endpoint a response body came from, judged by its shape."""
    obj = body.get("object")
    if obj in ("chat.completion", "chat.completion.chunk"):
        return Kind.CHAT
    if obj == "text_completion":
        return Kind.COMPLETIONS
    if body.get("type") == "message":
        return Kind.MESSAGES
    data = body.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        first = data[0]
        if first.get("object") == "embedding" or "embedding" in first:
            return Kind.EMBEDDINGS
        if "b64_json" in first or "url" in first:
            return Kind.IMAGES
    if isinstance(body.get("results"), list):
        return Kind.RERANK
    if "choices" in body:
        return Kind.CHAT
    if isinstance(body.get("text"), str):
        return Kind.TRANSCRIPTIONS
    return None


def dedup_key(identity: str, batch_id: str | None) -> str:
    raw = f"{batch_id or ''}\x1f{identity}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _created_at(body: dict[str, Any] | None) -> datetime | None:
    if not body:
        return None
    created = body.get("created", body.get("created_at"))
    if type(created) is int and _MIN_CREATED <= created <= _MAX_CREATED:
        return datetime.fromtimestamp(created, UTC)
    return None


def row_from_line(
    line: dict[str, Any], raw: bytes, *, batch_id: str | None, captured_at: datetime | None
) -> dict[str, Any] | None:
    """One row from a decoded output line; None when the line is not batch output."""
    has_output = any(k in line for k in ("response", "result")) or line.get("error") is not None
    if not has_output:
        return None
    w = Warnings()
    out: dict[str, Any] = {}
    response = line.get("response")
    status: Any = None
    request_id: Any = None
    body: Any = None
    if isinstance(response, dict):
        status = response.get("status_code")
        request_id = response.get("request_id")
        body = response.get("body") if "body" in response else response
    result = line.get("result")
    if isinstance(result, dict):  # Anthropic message batches
        rtype = result.get("type")
        if rtype == "succeeded":
            body, status = result.get("message"), 200
        elif isinstance(rtype, str):
            err = result.get("error")
            out["error_code"] = rtype
            if isinstance(err, dict):
                apply_error(out, {"error": err.get("error", err)}, w)
    source: str | bytes = raw  # where the body's objects are found verbatim
    if isinstance(body, str | bytes):
        source = body
        try:
            body = loads(body)
        except (ValueError, RecursionError):
            w.add("body_not_json")
            body = None
    kind: Kind | None = None
    if isinstance(body, dict):
        url = line.get("url") or (response.get("url") if isinstance(response, dict) else None)
        kind = _KIND_OF_PATH.get(url) if isinstance(url, str) else None
        kind = kind or infer_kind(body)
        apply_response(out, body, w, input_only=kind in INPUT_ONLY, source=source)
        if isinstance(url, str) and url.startswith("/"):
            out["endpoint"] = url[:256]
        elif kind is not None:
            out["endpoint"] = _ENDPOINT_OF_KIND.get(kind)
    if line.get("error") is not None:
        apply_error(out, line, w)
    line_id = to_str(line.get("id"), "line_id", w)
    custom_id = to_str(line.get("custom_id"), "custom_id", w, max_len=1024)
    request_id_s = to_str(request_id, "request_id", w)
    if line_id:
        identity = "id:" + line_id
    elif custom_id:
        identity = f"cr:{custom_id}\x1f{request_id_s or ''}"
    else:
        identity = "raw:" + hashlib.sha256(raw.strip()).hexdigest()

    row = empty_row()
    row.update(out)
    row["source"] = "batch"
    row["method"] = "POST"
    row["stream"] = False
    row["custom_id"] = custom_id
    row["batch_id"] = batch_id
    weak = identity.startswith("cr:") and not request_id_s
    row["dedup_key"] = dedup_key(identity, batch_id if weak else None)
    row["record_id"] = uuid.uuid4().hex
    row["status_code"] = to_int(status, "status_code", w)
    if row["request_id"] is None:
        row["request_id"] = request_id_s
    if row["model"]:
        # as for live rows: `model` names the model, the route goes to `flavor`
        row["model"], row["flavor"] = split_flavor(row["model"])
    row["captured_at"] = (
        _created_at(body if isinstance(body, dict) else None) or captured_at or datetime.now(UTC)
    )
    row["parse_warnings"] = w.text()
    return row


class BatchLines:
    """Incremental JSONL reader: feed bytes in any pieces, rows come out per line."""

    def __init__(self, *, batch_id: str | None = None, captured_at: datetime | None = None) -> None:
        self.batch_id = batch_id
        self.captured_at = captured_at
        self.result = BatchParseResult()
        self._carry: list[bytes] = []
        self._carry_size = 0
        self._skipping = False

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Rows for the lines completed by ``data``."""
        start = len(self.result.rows)
        nl = data.rfind(b"\n")
        if nl < 0:
            self._keep(data)
            return []
        head, rest = data[: nl + 1], data[nl + 1 :]
        if self._carry:
            head = b"".join(self._carry) + head
            self._carry, self._carry_size = [], 0
        if self._skipping:
            cut = head.find(b"\n")
            head = head[cut + 1 :]
            self._skipping = False
        for line in head.split(b"\n"):
            self._line(line)
        if rest:
            self._keep(rest)
        return self.result.rows[start:]

    def close(self) -> list[dict[str, Any]]:
        start = len(self.result.rows)
        if self._carry and not self._skipping:
            self._line(b"".join(self._carry))
        self._carry, self._carry_size = [], 0
        return self.result.rows[start:]

    def _keep(self, data: bytes) -> None:
        if self._skipping:
            return
        self._carry.append(data)
        self._carry_size += len(data)
        if self._carry_size > MAX_LINE_BYTES:
            self._carry, self._carry_size = [], 0
            self._skipping = True
            self.result.broken_lines += 1

    def _line(self, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            obj = loads(raw)
        except (ValueError, RecursionError):
            self.result.broken_lines += 1
            return
        if not isinstance(obj, dict):
            self.result.broken_lines += 1
            return
        try:
            row = row_from_line(obj, raw, batch_id=self.batch_id, captured_at=self.captured_at)
        except Exception:  # a shape no rule foresaw: count it, keep going
            logger.debug("batch line could not be read", exc_info=True)
            self.result.broken_lines += 1
            return
        if row is None:
            self.result.not_output_lines += 1
        else:
            self.result.rows.append(row)


def parse_batch_output(
    data: bytes | str, *, batch_id: str | None = None, captured_at: datetime | None = None
) -> BatchParseResult:
    """Rows plus counts of skipped lines, for callers that want the counts."""
    reader = BatchLines(batch_id=batch_id, captured_at=captured_at)
    reader.feed(data.encode("utf-8") if isinstance(data, str) else bytes(data))
    reader.close()
    return reader.result


def rows_from_batch_output(
    data: bytes | str, *, batch_id: str | None = None, captured_at: datetime | None = None
) -> list[dict[str, Any]]:
    """One row per batch output line (``source='batch'``); broken lines are skipped and logged.

    ``captured_at`` is used for lines whose body has no ``created`` timestamp (default: now).
    """
    result = parse_batch_output(data, batch_id=batch_id, captured_at=captured_at)
    if result.broken_lines:
        logger.warning("batch output: %d broken line(s) skipped", result.broken_lines)
    return result.rows
