"""What capture reads from httpx/httpx2 request and response objects (both libraries).

Kept apart from the recorder: these touch the libraries' objects directly, and read
them as cheaply as possible since they run on every request.
"""

from __future__ import annotations

from typing import Any

from melious_impact.parse.request import model_and_stream, model_from_form


def library_of(obj: Any) -> str:
    """``"httpx2"`` or ``"httpx"`` from an object's class (duck-typed objects: httpx2)."""
    for cls in type(obj).__mro__:
        root = cls.__module__.partition(".")[0]
        if root in ("httpx2", "httpx"):
            return root
    return "httpx2"


def header_dict(headers: Any) -> dict[str, str]:
    """Lowercased name -> value, first occurrence kept.

    Reads the byte pairs: httpx's decoded views go through a Python property per
    header, which costs more than the rest of the row on a small response. ``_list``
    (raw name, lowercased name, value) is shared by httpx and httpx2; ``raw`` is the
    public fallback.
    """
    items = getattr(headers, "_list", None)
    if items is not None and (not items or len(items[0]) == 3):
        return {k.decode("latin-1"): v.decode("latin-1") for _, k, v in reversed(items)}
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in reversed(headers.raw)}


def retry_count(headers: Any) -> str | None:
    items = getattr(headers, "_list", None)
    if items is not None and (not items or len(items[0]) == 3):
        for _, key, value in items:
            if key == b"x-stainless-retry-count":
                return str(value.decode("latin-1"))
        return None
    for key, value in headers.raw:
        if key.lower() == b"x-stainless-retry-count":
            return str(value.decode("latin-1"))
    return None


def request_facts(request: Any) -> tuple[str | None, bool]:
    """(requested model, stream) read from the request body, which is then dropped."""
    content = getattr(request, "_content", None)
    if content is not None:
        return model_and_stream(content)
    fields = getattr(request.stream, "fields", None)
    if fields is not None:  # multipart: data fields only, files are never touched
        data = ((f.name, f.value) for f in fields if hasattr(f, "value") and not hasattr(f, "file"))
        return model_from_form(data), False
    return None, False
