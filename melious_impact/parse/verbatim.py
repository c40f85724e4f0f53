"""The ``environment_impact`` and ``billing_cost`` objects as the response sent them.

Every row keeps the JSON text of the two objects Melious adds to a response, verbatim
(``environment_impact_json``, ``billing_cost_json``), so that any figure can be traced to
the supplier's own bytes, and the columns parsed from them can be parsed again when
parsing improves (:func:`melious_impact.parse.reparse.reparse`, behind
``melious-impact rebuild``). Nothing else of a
response is kept: never a prompt, a completion or an error message.

:func:`find_verbatim` finds the text of an object already decoded from ``source``: the
value of the top-level key as the bytes hold it (msgspec hands it over raw, at C speed),
else the quoted key searched for (last occurrence first: Melious appends the objects at
the end). Either way the text is kept only when it decodes to the value applied. An escaped key inside a string (``\\"billing_cost\\"``) cannot
match, and a key met elsewhere with another value is skipped.

One response normally carries one object of each; a stream that sends several (a later
block without amounts, say) keeps the last text and says ``repeated_<key>`` in
``parse_warnings``, and reparsing leaves such a row's columns as they are: they came
from more than the text kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from melious_impact.parse.fields import Warnings, loads, raw_decode

#: Column of the verbatim text of each object.
VERBATIM_COLUMNS = {"environment_impact": "environment_impact_json", "billing_cost": "billing_cost_json"}
#: Longer texts are not kept (an object of a few hundred bytes is the norm).
MAX_VERBATIM_CHARS = 16 * 1024

_COLON_B = re.compile(rb"\s*:\s*")
_COLON_S = re.compile(r"\s*:\s*")
_MISSING = object()
Source = bytes | str | Sequence[bytes | str]


def find_verbatim(source: Source, key: str, value: Any, *, top_level: bool = False) -> str | None:
    """The JSON text of ``"key": value`` in ``source`` (one text, or several searched in
    order), or None when it is not there.

    ``top_level``: ``value`` was decoded (by :func:`~melious_impact.parse.fields.loads`) as
    the top-level ``key`` of ``source``; when the key occurs once, its raw text is then
    taken without decoding it again.
    """
    texts: Iterable[bytes | str] = (source,) if isinstance(source, bytes | str) else source
    for text in texts:
        found = _find_in(text, key, value, top_level)
        if found is not None:
            return found
    return None


class _Top(msgspec.Struct):
    """The two top-level values, raw; every other key is skipped undecoded."""

    environment_impact: msgspec.Raw = msgspec.Raw(b"")
    billing_cost: msgspec.Raw = msgspec.Raw(b"")


_decode_top = msgspec.json.Decoder(_Top).decode
_QUOTED = {key: b'"' + key.encode() + b'"' for key in VERBATIM_COLUMNS}
#: The last text decoded and its top-level values (both keys are asked for in a row):
#: one tuple, replaced whole, so threads never mix one text with another's values.
_last: list[tuple[bytes, _Top | None]] = [(b"", None)]


def _top_level(text: bytes, key: str, value: Any, trusted: bool) -> str | None:
    """The raw top-level value of ``key`` when ``text`` is one JSON object holding it."""
    last = _last[0]
    if last[0] is text:
        top = last[1]
    else:
        try:
            top = _decode_top(text)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            top = None
        _last[0] = (text, top)
    if top is None:
        return None
    raw = getattr(top, key)
    if not raw or len(raw) > 4 * MAX_VERBATIM_CHARS:
        return None
    try:
        found = bytes(raw).decode("utf-8")
        # The same decoder read the object applied, so a key met once is that object; a
        # key met more than once (nested, or repeated) is checked against the value.
        if not (trusted and text.count(_QUOTED[key]) == 1) and loads(found) != value:
            return None
    except (ValueError, RecursionError):
        return None
    return found if len(found) <= MAX_VERBATIM_CHARS else None


def _find_in(text: bytes | str, key: str, value: Any, top_level: bool) -> str | None:
    if isinstance(text, bytes):
        top = _top_level(text, key, value, top_level)
        if top is not None:
            return top
        needle_b = b'"' + key.encode() + b'"'
        end = len(text)
        while (at := text.rfind(needle_b, 0, end)) >= 0:
            m = _COLON_B.match(text, at + len(needle_b))
            if m is not None:
                # 4 bytes at most per character: enough bytes for the longest text kept
                piece = text[m.end() : m.end() + 4 * MAX_VERBATIM_CHARS].decode("utf-8", "replace")
                found = _value_text(piece, 0, value)
                if found is not None:
                    return found
            end = at
        return None
    needle = '"' + key + '"'
    end = len(text)
    while (at := text.rfind(needle, 0, end)) >= 0:
        ms = _COLON_S.match(text, at + len(needle))
        if ms is not None:
            found = _value_text(text, ms.end(), value)
            if found is not None:
                return found
        end = at
    return None


def _value_text(text: str, start: int, value: Any) -> str | None:
    try:
        decoded, stop = raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    if stop - start > MAX_VERBATIM_CHARS or decoded != value:
        return None
    return text[start:stop]


def keep_verbatim(
    out: dict[str, Any], w: Warnings, key: str, value: Any, source: Source, *, top_level: bool = False
) -> None:
    """Set the verbatim column of ``key`` in ``out`` from ``source`` (see the module doc and
    :func:`find_verbatim` for ``top_level``)."""
    # The usual case (a whole body whose top-level object holds the key) straight away.
    text = _top_level(source, key, value, True) if top_level and type(source) is bytes else None
    if text is None:
        text = find_verbatim(source, key, value, top_level=top_level)
        if text is None:
            return
    column = VERBATIM_COLUMNS[key]
    previous = out.get(column)
    if previous is not None and previous != text:
        w.add(f"repeated_{key}")
    out[column] = text
