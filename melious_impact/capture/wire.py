"""What capture reads from httpx/httpx2 request and response objects (both libraries).

Kept apart from the recorder: these touch the libraries' objects directly, and read
them as cheaply as possible since they run on every request.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from melious_impact.parse.request import model_and_stream, model_from_form

_NAME_VALUE = itemgetter(1, 2)


def library_of(obj: Any) -> str:
    """``"httpx2"`` or ``"httpx"`` from an object's class (duck-typed objects: httpx2)."""
    for cls in type(obj).__mro__:
        root = cls.__module__.partition(".")[0]
        if root in ("httpx2", "httpx"):
            return root
    # A class's module does not always name its library (the OpenAI SDK 2.x re-homes httpx's
    # BaseTransport in its own namespace): ask httpx itself before taking the default.
    import httpx

    httpx_types = (httpx.BaseTransport, httpx.AsyncBaseTransport, httpx.Client, httpx.AsyncClient)
    if isinstance(obj, (*httpx_types, httpx.Request, httpx.Response)):
        return "httpx"
    return "httpx2"


def header_map(headers: Any) -> dict[bytes, bytes]:
    """Lowercased raw name -> raw value, first occurrence kept, built at C speed.

    httpx's decoded views go through a Python property per header, which costs more than
    the rest of the row on a small response; values are decoded later, only those a row
    reads (:func:`decode_headers` for all). ``_list`` (raw name, lowercased name, value)
    is shared by httpx and httpx2; ``raw`` is the public fallback.
    """
    items = _raw_triples(headers)
    if items is not None:
        return dict(map(_NAME_VALUE, reversed(items)))
    return {k.lower(): v for k, v in reversed(headers.raw)}


def _raw_triples(headers: Any) -> list[tuple[bytes, bytes, bytes]] | None:
    """httpx/httpx2's own ``_list`` of (raw name, lowercased name, value), if it has that shape."""
    items = getattr(headers, "_list", None)
    return items if items is not None and (not items or len(items[0]) == 3) else None


def decode_headers(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in raw.items()}


_RETRY_COUNT = b"x-stainless-retry-count"


def retry_count(headers: Any) -> bytes | None:
    """The SDKs' ``x-stainless-retry-count`` request header, raw (its first occurrence).

    A scan, not :func:`header_map`: a request carries a dozen headers and only this one is
    read, so hashing every name into a map would cost four times as much.
    """
    items = _raw_triples(headers)
    if items is not None:
        for item in items:
            if item[1] == _RETRY_COUNT:
                return item[2]
        return None
    return header_map(headers).get(_RETRY_COUNT)


def requested_model_and_stream(request: Any) -> tuple[str | None, bool]:
    """(requested model, stream) read from the request body, which is then dropped."""
    content = getattr(request, "_content", None)
    if content is not None:
        return model_and_stream(content)
    fields = getattr(request.stream, "fields", None)
    if fields is not None:  # multipart: data fields only, files are never touched
        data = ((f.name, f.value) for f in fields if hasattr(f, "value") and not hasattr(f, "file"))
        return model_from_form(data), False
    return None, False
