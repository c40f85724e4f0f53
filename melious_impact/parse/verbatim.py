"""The ``environment_impact`` and ``billing_cost`` objects as the response sent them.

Every row keeps the JSON text of the two objects Melious adds to a response, verbatim
(``environment_impact_json``, ``billing_cost_json``), so that any figure can be traced to
the supplier's own bytes, and the columns parsed from them can be parsed again when
parsing improves (:func:`melious_impact.parse.reparse.reparse`, behind
``melious-impact rebuild``). Nothing else of a
response is kept: never a prompt, a completion or an error message.

:func:`find_verbatim` finds the text of an object already decoded from ``source``: it
looks for the quoted key (last occurrence first: Melious appends the objects at the end),
decodes the value after it with the same decoder, and keeps the text when the value is
the one that was applied. An escaped key inside a string (``\\"billing_cost\\"``) cannot
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

from melious_impact.parse.fields import Warnings, raw_decode

#: Column of the verbatim text of each object.
VERBATIM_COLUMNS = {"environment_impact": "environment_impact_json", "billing_cost": "billing_cost_json"}
#: Longer texts are not kept (an object of a few hundred bytes is the norm).
MAX_VERBATIM_CHARS = 16 * 1024

_COLON_B = re.compile(rb"\s*:\s*")
_COLON_S = re.compile(r"\s*:\s*")
_MISSING = object()
Source = bytes | str | Sequence[bytes | str]


def find_verbatim(source: Source, key: str, value: Any) -> str | None:
    """The JSON text of ``"key": value`` in ``source`` (one text, or several searched in
    order), or None when it is not there."""
    texts: Iterable[bytes | str] = (source,) if isinstance(source, bytes | str) else source
    for text in texts:
        found = _find_in(text, key, value)
        if found is not None:
            return found
    return None


def _find_in(text: bytes | str, key: str, value: Any) -> str | None:
    if isinstance(text, bytes):
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


def keep_verbatim(out: dict[str, Any], w: Warnings, key: str, value: Any, source: Source) -> None:
    """Set the verbatim column of ``key`` in ``out`` from ``source`` (see the module doc)."""
    text = find_verbatim(source, key, value)
    if text is None:
        return
    column = VERBATIM_COLUMNS[key]
    previous = out.get(column)
    if previous is not None and previous != text:
        w.add(f"repeated_{key}")
    out[column] = text
