"""Complete (non-streamed) JSON bodies of every inference endpoint, in bounded memory.

A body up to :data:`FULL_PARSE_BYTES` is decoded whole. A larger one (a 1 MB embeddings
list, a multi-megabyte base64 image) is not: only its first and last
:data:`WINDOW_BYTES` are kept, and the small top-level objects a row needs
(``environment_impact``, ``billing_cost``, ``usage``, ``id``, ``model``, ``error``) are
decoded from there. Those objects sit beside the large array, never inside it, and a
base64 string or a list of floats cannot contain a quoted key, so a key found in a
window is the real one. Parsing megabytes of floats would double the caller's own cost.

A server may also put the small objects between two large arrays, far from both ends:
the bytes that leave the windows are searched (at C speed) for the quoted
``environment_impact``, ``billing_cost`` and ``usage`` keys, and a short
snippet from each key found is kept (:data:`MID_SNIPPET_BYTES`, at most
:data:`MAX_MID_SNIPPETS`), so memory stays bounded wherever they sit.

Feed it decoded bytes in any pieces with :meth:`JsonBody.feed`, then call
:meth:`JsonBody.fields`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from melious_impact.parse.extract import apply_response
from melious_impact.parse.fields import Warnings, loads, raw_decode

FULL_PARSE_BYTES = 48 * 1024
WINDOW_BYTES = 32 * 1024
#: Bytes kept from a key found between the windows: ample for an impact or usage object.
MID_SNIPPET_BYTES = 8 * 1024
#: Snippets kept at most (a pathological body repeating the keys stays bounded).
MAX_MID_SNIPPETS = 16

# Keys looked for in the windows, with where to look: the tail holds what servers
# append after the payload (impact, billing, usage), the head what they put first.
_TAIL_KEYS = ("environment_impact", "billing_cost", "usage", "error", "meta")
_HEAD_KEYS = ("id", "model", "object", "type", "usage", "error", "environment_impact", "billing_cost")
# Keys searched for in the bytes that leave the windows (the objects a row needs most).
# Not "error": an error response is small, and an "error" object met between two large
# arrays is more likely an item's than the response's. One regex pass: three bytes.find
# passes cost four times as much on a float array.
_MID_KEYS = re.compile(rb'"(?:environment_impact|billing_cost|usage)"')
_MID_KEY_MAX = len(b'"environment_impact"')


class JsonBody:
    """Collects a JSON body: whole while small, head and tail windows once large."""

    __slots__ = ("_head", "_mid", "_parts", "_size", "_tail", "_tail_size", "full_max", "verbatim", "window")

    def __init__(
        self, full_max: int = FULL_PARSE_BYTES, window: int = WINDOW_BYTES, *, verbatim: bool = False
    ) -> None:
        """``verbatim``: also keep the impact and billing objects' text
        (:mod:`melious_impact.parse.verbatim`), as capture does."""
        self.full_max = full_max
        self.window = window
        self.verbatim = verbatim
        self._parts: list[bytes] = []
        self._size = 0
        self._head: bytes | None = None
        self._tail: list[bytes] = []
        self._tail_size = 0
        self._mid: list[bytes] = []  # snippets from keys found between the windows

    @property
    def size(self) -> int:
        return self._size

    def feed(self, data: bytes) -> None:
        self._size += len(data)
        if self._head is None:
            self._parts.append(data)
            if self._size <= self.full_max:
                return
            # Too large to keep whole: the head window is cut off, and the body goes on as
            # the tail, trimmed (and searched on its way out) like any later bytes.
            data = b"".join(self._parts)
            self._parts = []
            self._head = data[: self.window]
        self._tail.append(data)
        self._tail_size += len(data)
        if self._tail_size > 2 * self.window:
            joined = self._trim_tail()
            self._tail = [joined]
            self._tail_size = len(joined)

    def _trim_tail(self) -> bytes:
        """The last window of the tail; the bytes before it are searched on their way out."""
        joined = b"".join(self._tail)
        self._scan_middle(joined, len(joined) - self.window)
        return joined[-self.window :]

    def _scan_middle(self, data: bytes, end: int) -> None:
        """Keep a snippet from each key that starts in ``data[:end]`` (leaving the windows).

        A key starting at or after ``end`` is still in a window and is found there, or by a
        later scan when it leaves; the snippet may run past ``end`` (its value continues).
        """
        mid = self._mid
        if end <= 0 or len(mid) >= MAX_MID_SNIPPETS:
            return
        for m in _MID_KEYS.finditer(data, 0, end + _MID_KEY_MAX - 1):
            at = m.start()
            if at >= end:
                break  # still in the window that stays: found there, or when it leaves
            mid.append(data[at : at + MID_SNIPPET_BYTES])
            if len(mid) >= MAX_MID_SNIPPETS:
                break

    def whole(self) -> bytes | None:
        """The body's bytes while it is small enough to be kept whole, else None."""
        if self._head is not None:
            return None
        parts = self._parts
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def looks_like_object(self) -> bool:
        """True when the body starts like a JSON object (sniffing untyped bodies)."""
        return looks_like_object(self._head if self._head is not None else b"".join(self._parts))

    def fields(self, out: dict[str, Any], w: Warnings, *, input_only: bool = False) -> bool:
        """Apply what the body gives to ``out``; False when it is not a JSON object."""
        if self._head is None:
            return apply_json(
                b"".join(self._parts),
                out,
                w,
                input_only=input_only,
                window=self.window,
                verbatim=self.verbatim,
            )
        w.add("body_windowed")
        tail = self._trim_tail()
        obj = extract_windows(self._head, tail, self._mid)
        if not obj:
            w.add("body_not_json")
            return False
        # The windows in the order extract_windows prefers them: tail, middle (later first), head.
        source = (tail, *reversed(self._mid), self._head) if self.verbatim else None
        apply_response(out, obj, w, input_only=input_only, source=source)
        return True


def apply_json(
    data: bytes,
    out: dict[str, Any],
    w: Warnings,
    *,
    input_only: bool = False,
    window: int = WINDOW_BYTES,
    verbatim: bool = False,
) -> bool:
    """Parse a whole (small) body and apply its fields; False when it is not a JSON object.

    ``verbatim``: also keep the impact and billing objects' text
    (:mod:`melious_impact.parse.verbatim`), as capture does.
    """
    try:
        obj = loads(data)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        # Cut short, or an integer Python refuses to convert: salvage the small objects
        # if they are there.
        obj = extract_windows(data[:window], data[-window:])
        w.add("body_not_json" if not obj else "body_malformed")
        if not obj:
            return False
    if not isinstance(obj, dict):
        w.add("body_not_object")
        return False
    apply_response(out, obj, w, input_only=input_only, source=data if verbatim else None)
    return True


def looks_like_object(data: bytes) -> bool:
    """True when ``data`` starts like a JSON object (sniffing untyped bodies)."""
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte order mark
        data = data[3:]
    return data[:4096].lstrip().startswith(b"{")


def _key_pattern(key: str) -> re.Pattern[str]:
    return re.compile('"' + re.escape(key) + r'"\s*:\s*')


_PATTERNS = {k: _key_pattern(k) for k in {*_TAIL_KEYS, *_HEAD_KEYS}}


def _value_after(text: str, pattern: re.Pattern[str], last: bool) -> tuple[bool, Any]:
    """Decode the value following a ``"key":`` match (the last or the first match)."""
    matches = list(pattern.finditer(text)) if last else [m for m in [pattern.search(text)] if m]
    for m in reversed(matches) if last else matches:
        try:
            value, _ = raw_decode(text, m.end())
        except (ValueError, RecursionError):
            continue  # cut by the window edge, or not a JSON value: try another match
        return True, value
    return False, None


def extract_windows(head: bytes, tail: bytes, middle: Sequence[bytes] = ()) -> dict[str, Any]:
    """A synthetic top-level object rebuilt from the keys found in two windows.

    ``middle``: snippets, in body order, each starting at a key found between the windows
    (see :class:`JsonBody`). As in a decoded object where a repeated key keeps its last
    value, the tail wins over the middle, and a later snippet over an earlier one.
    """
    # A window edge may split a UTF-8 sequence; replacement characters only appear at
    # the edges, away from the keys that matter.
    head_s = head.decode("utf-8", "replace")
    tail_s = tail.decode("utf-8", "replace")
    mid_s = [m.decode("utf-8", "replace") for m in reversed(middle)]
    obj: dict[str, Any] = {}
    for key in _TAIL_KEYS:
        for text in (tail_s, *mid_s):
            found, value = _value_after(text, _PATTERNS[key], last=True)
            if found and isinstance(value, dict):
                obj[key] = value
                break
    for key in _HEAD_KEYS:
        if key in obj:
            continue
        want = dict if key in _TAIL_KEYS else str
        found, value = _value_after(head_s, _PATTERNS[key], last=False)
        if not found or not isinstance(value, want):
            # Some servers append id/model after the payload.
            found, value = _value_after(tail_s, _PATTERNS[key], last=True)
        if found and isinstance(value, want):
            obj[key] = value
    return obj
