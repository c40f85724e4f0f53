"""Incremental server-sent-events parser for OpenAI- and Anthropic-shaped streams.

Feed it decoded bytes in any pieces (split anywhere, CRLF or LF, comments, multi-line
``data:``), then :meth:`SSEParser.close` it. It never raises.

What a row needs from a stream is small: the id and model (first event or
``message_start``), the usage (the OpenAI usage chunk, Anthropic's ``message_start`` and
``message_delta``), ``environment_impact`` / ``billing_cost`` (on *any* event, including
event types we do not know; the last usable one wins), errors, and whether the stream
reached its end (``[DONE]`` or ``message_stop``). Content deltas carry none of these, so
the parser does not decode them: it searches each block for marker keys at C speed and
decodes only the events that contain one. A marker cannot hide inside generated text:
JSON escapes the quotes of a string, so ``"usage"`` in a completion arrives as
``\\"usage\\"`` and does not match.
"""

from __future__ import annotations

import re
from typing import Any

from melious_impact.parse.extract import apply_error, apply_melious, apply_usage
from melious_impact.parse.fields import Warnings, loads, to_str

#: An event larger than this (no blank line in sight) is skipped, to bound memory.
MAX_EVENT_BYTES = 8 * 1024 * 1024

# Plain markers, found with bytes.find. "usage" needs a regex: OpenAI sends
# ``"usage":null`` on every chunk when include_usage is set, and those are not worth
# decoding.
_MARKERS = (b"environment_impact", b"billing_cost", b'"error"', b"[DONE]", b"message_stop", b"message_start")
_USAGE = re.compile(rb'"usage"\s*:(?!\s*null)')


class SSEParser:
    """Collects row fields from an event stream fed in arbitrary pieces."""

    __slots__ = (
        "_carry",
        "_carry_size",
        "_closing",
        "_first",
        "_held_cr",
        "_skipping",
        "_usage_seen",
        "_verbatim",
        "done",
        "errored",
        "out",
        "warnings",
    )

    def __init__(self, *, verbatim: bool = False) -> None:
        """``verbatim``: also keep the impact and billing objects' text
        (:mod:`melious_impact.parse.verbatim`), as capture does."""
        self._verbatim = verbatim
        #: Partial row: request_id, model, tokens, impact, billing, error, api_shape.
        self.out: dict[str, Any] = {}
        self.warnings = Warnings()
        #: True once the stream's terminal event ([DONE] or message_stop) was seen.
        self.done = False
        #: True once an error event was seen.
        self.errored = False
        self._carry: list[bytes] = []
        self._carry_size = 0
        self._held_cr = False
        self._first = True
        self._skipping = False
        self._closing = False
        self._usage_seen = False

    def feed(self, data: bytes) -> None:
        try:
            self._feed(data, final=False)
        except Exception:  # defensive: a parser bug must not lose the row
            self.warnings.add("sse_parser_error")

    def close(self) -> None:
        """Process whatever is left as the last event (a stream cut without a blank line)."""
        self._closing = True
        try:
            self._feed(b"", final=True)
        except Exception:
            self.warnings.add("sse_parser_error")
        if not self._usage_seen and not self.errored:
            # Tokens stay null, and the row says why (an OpenAI-shaped stream sends usage
            # only when asked: stream_options.include_usage).
            self.warnings.add("stream_no_usage")

    # -- framing ---------------------------------------------------------------

    def _feed(self, data: bytes, final: bool) -> None:
        if self._held_cr:
            data = b"\r" + data
            self._held_cr = False
        if b"\r" in data:
            if data.endswith(b"\r") and not final:
                # Might be the first half of a CRLF split across two pieces.
                data = data[:-1]
                self._held_cr = True
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self._skipping:
            cut = data.find(b"\n\n")
            if cut < 0:
                return
            data = data[cut + 2 :]
            self._skipping = False
        carry = self._carry
        if carry and not final and b"\n\n" not in data:
            last = carry[-1]
            if not (last[-1:] == b"\n" and data[:1] == b"\n"):
                # Still inside one event: keep the pieces, join once it ends (no
                # quadratic re-copying of a long event).
                carry.append(data)
                self._carry_size += len(data)
                if self._carry_size > MAX_EVENT_BYTES:
                    self._reset_carry()
                    self._skipping = True
                    self.warnings.add("sse_event_too_large")
                return
        if carry:
            data = b"".join(carry) + data
            self._reset_carry()
        if final:
            block = data
        else:
            end = data.rfind(b"\n\n")
            if end < 0:
                if data:
                    self._carry = [data]
                    self._carry_size = len(data)
                return
            block = data[:end]
            rest = data[end + 2 :]
            if rest:
                self._carry = [rest]
                self._carry_size = len(rest)
        if block:
            self._scan(block)

    def _reset_carry(self) -> None:
        self._carry = []
        self._carry_size = 0

    def _scan(self, block: bytes) -> None:
        spans: set[tuple[int, int]] = set()

        def span_at(i: int) -> tuple[int, int]:
            start = block.rfind(b"\n\n", 0, i)
            end = block.find(b"\n\n", i)
            return (0 if start < 0 else start + 2, len(block) if end < 0 else end)

        if self._first:
            i = block.find(b"data")
            if i >= 0:
                spans.add(span_at(i))
        for marker in _MARKERS:
            i = block.find(marker)
            while i >= 0:
                span = span_at(i)
                spans.add(span)
                i = block.find(marker, span[1])
        for m in _USAGE.finditer(block):
            spans.add(span_at(m.start()))
        for start, end in sorted(spans):
            self._event(block[start:end])

    # -- one event ---------------------------------------------------------------

    def _event(self, event: bytes) -> None:
        etype = ""
        datas: list[bytes] = []
        for line in event.split(b"\n"):
            if not line or line[:1] == b":":
                continue  # blank, or a comment (": ping")
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                datas.append(value)
            elif name == b"event":
                etype = value.strip().decode("utf-8", "replace")
        if not datas:
            if etype == "message_stop":
                self.done = True
            return
        self._first = False
        data = (datas[0] if len(datas) == 1 else b"\n".join(datas)).strip()
        if data == b"[DONE]":
            self.done = True
            return
        try:
            obj = loads(data)
        except (ValueError, RecursionError):
            # At close, the last event may simply have been cut off.
            self.warnings.add("sse_partial_event" if self._closing else "sse_bad_json")
            return
        if isinstance(obj, dict):
            self._apply(obj, etype, data)

    def _apply(self, obj: dict[str, Any], etype: str, data: bytes) -> None:
        out, w = self.out, self.warnings
        if not self._usage_seen:
            msg = obj.get("message")
            self._usage_seen = obj.get("usage") is not None or (
                isinstance(msg, dict) and msg.get("usage") is not None
            )
        typ = obj.get("type")
        if not isinstance(typ, str):
            typ = etype
        if typ == "message_start":
            out["api_shape"] = "anthropic"
            msg = obj.get("message")
            if isinstance(msg, dict):
                self._ids(msg)
                apply_usage(out, msg.get("usage"), w)
        elif typ == "message_delta":
            out.setdefault("api_shape", "anthropic")
            apply_usage(out, obj.get("usage"), w)
        elif typ == "message_stop":
            self.done = True
        elif typ == "error" or "error" in obj:
            if apply_error(out, obj, w):
                self.errored = True
        else:
            if "choices" in obj or "object" in obj:
                out.setdefault("api_shape", "openai")
            self._ids(obj)
            usage = obj.get("usage")
            if usage is not None:
                apply_usage(out, usage, w)
        apply_melious(out, obj, w, data if self._verbatim else None)

    def _ids(self, obj: dict[str, Any]) -> None:
        # The first id/model seen is kept: every OpenAI chunk repeats them.
        out, w = self.out, self.warnings
        if out.get("request_id") is None and obj.get("id") is not None:
            out["request_id"] = to_str(obj.get("id"), "request_id", w)
        if out.get("model") is None and obj.get("model") is not None:
            out["model"] = to_str(obj.get("model"), "model", w)
