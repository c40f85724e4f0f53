"""``Recorder(include_usage=True)``: ask streamed chat completions for their usage chunk.

An OpenAI-shaped stream carries token counts only when the request says
``"stream_options": {"include_usage": true}``; without it a streamed chat stores energy and
billing but null tokens (the row says why: ``stream_no_usage`` in ``parse_warnings``).
With the option on, the recorder's transports add ``include_usage: true`` to streamed
``POST .../chat/completions`` requests that do not set ``stream_options.include_usage``
themselves; a caller who set it (true or false) is never overridden, and nothing else in
the body changes (the key is inserted as bytes, the rest of the body is sent as it was).

The stream then ends with one extra chunk whose ``choices`` is empty: code that reads
``chunk.choices[0]`` without a check fails on it, which is why the option is off by
default. The OpenAI and Anthropic SDKs, LangChain, LiteLLM and pydantic-ai handle it.

Only built when the option is on: the recorder's hot path is untouched otherwise.
"""

from __future__ import annotations

import json
from typing import Any

_INSERT = b'"stream_options":{"include_usage":true},'


def with_usage(body: bytes) -> bytes | None:
    """``body`` asking for the usage chunk, or None when it should go as it is.

    None for: not a JSON object, not ``"stream": true``, or ``stream_options.include_usage``
    already present (true or false).
    """
    if b'"stream"' not in body:
        return None
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or obj.get("stream") is not True:
        return None
    opts = obj.get("stream_options")
    if opts is None:
        # An object with "stream" in it has a key after the brace: insert before it.
        start = body.index(b"{") + 1
        return body[:start] + _INSERT + body[start:]
    if not isinstance(opts, dict) or "include_usage" in opts:
        return None
    obj["stream_options"] = {**opts, "include_usage": True}
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _is_chat(request: Any) -> bool:
    path: str = request.url.path
    return bool(request.method == "POST" and path.rstrip("/").endswith("/chat/completions"))


def _rewritten(request: Any) -> Any:
    """The request with the usage chunk asked for, or ``request`` itself."""
    try:
        if not _is_chat(request):
            return request
        content = getattr(request, "_content", None)
        if content is None:
            return request  # a streamed request body: left alone
        body = with_usage(content)
        if body is None:
            return request
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"]
        return type(request)(
            request.method, request.url, headers=headers, content=body, extensions=request.extensions
        )
    except Exception:  # capture never breaks the call: send what the caller built
        return request


class _Base:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "inner" or name.startswith("handle_"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"<include_usage {self.inner!r}>"


class _Sync(_Base):
    def handle_request(self, request: Any) -> Any:
        return self.inner.handle_request(_rewritten(request))

    def close(self) -> None:
        self.inner.close()


class _Async(_Base):
    async def handle_async_request(self, request: Any) -> Any:
        return await self.inner.handle_async_request(_rewritten(request))

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Both(_Sync, _Async):
    pass


def is_usage_transport(transport: Any) -> bool:
    """True for a transport made by :func:`usage_transport`."""
    return isinstance(transport, _Base)


def usage_transport(inner: Any) -> Any:
    """``inner`` wrapped so that streamed chat requests ask for usage (sync, async or both)."""
    if isinstance(inner, _Base):
        return inner
    has_sync = callable(getattr(inner, "handle_request", None))
    has_async = callable(getattr(inner, "handle_async_request", None))
    if has_sync and has_async:
        return _Both(inner)
    return _Sync(inner) if has_sync else _Async(inner)
