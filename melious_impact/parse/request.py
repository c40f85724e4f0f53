"""What a row takes from the request: the requested model and ``stream``.

Nothing else of the request is kept: the body (prompts, documents, audio) is searched
for the two keys (at C speed: a vision prompt may be megabytes of base64) and dropped,
and request headers are never stored (only the SDK's retry counter is read).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from melious_impact.parse.fields import raw_decode

_MODEL_KEY = re.compile(rb'"model"\s*:\s*"')
_STREAM_TRUE = re.compile(rb'"stream"\s*:\s*true')
_MODEL_PLAIN = re.compile(rb'"model": ?"([^"\\]{0,511})"')


def model_and_stream(body: bytes | None) -> tuple[str | None, bool]:
    """(model, stream) from a JSON request body; (None, False) when not found."""
    if not body:
        return None, False
    # The substring test runs at C speed and spares the regex search in the usual case.
    stream = b'"stream"' in body and _STREAM_TRUE.search(body) is not None
    # The usual case in one C-level search: the first "model" key, with a plain string
    # value (no escapes) written with json.dumps' separators. Anything else, or a match
    # that is not the first "model" key, takes the careful search.
    m = _MODEL_PLAIN.search(body)
    if m is not None and m.start() == body.find(b'"model"'):
        try:
            return m.group(1).decode("utf-8"), stream
        except UnicodeDecodeError:
            pass
    return _search_model(body), stream


def _search_model(body: bytes) -> str | None:
    # The first "model" key with a string value: nested "model" keys (tool schemas)
    # have object values, and keys inside prompt text are escaped so never match.
    for m in _MODEL_KEY.finditer(body):
        start = m.end() - 1
        end = body.find(b'"', start + 1)
        while end > 0 and body[end - 1 : end] == b"\\":
            end = body.find(b'"', end + 1)
        if end < 0 or end - start > 512:
            continue
        raw = body[start + 1 : end]
        if b"\\" not in raw:  # the usual case: nothing to unescape
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                continue
        try:
            value, _ = raw_decode(body[start : end + 1].decode("utf-8"), 0)
        except ValueError:
            continue
        if isinstance(value, str):
            return value
    return None


def model_from_form(fields: Iterable[tuple[str, Any]]) -> str | None:
    """``model`` from multipart form data fields (name, value) (transcriptions)."""
    for name, value in fields:
        if name == "model":
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            return str(value)[:512] if value is not None else None
    return None


def attempt_from_header(value: str | bytes | None) -> int | None:
    """The SDKs' ``x-stainless-retry-count`` header: 0 on a first try."""
    if value is None:
        return None
    try:
        n = int(value.strip())
    except ValueError:
        return None
    return n if 0 <= n < 1_000_000 else None
