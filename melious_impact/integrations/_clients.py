"""Shared by the integrations: giving an SDK client an HTTP client of its own that captures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from melious_impact.capture.instrument import http_client_of

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.capture.recorder import Recorder


def own_copy(rec: Recorder, sdk_client: Any, *, proxy: str | None = None) -> Any:
    """A copy of an OpenAI/Anthropic SDK client over a new HTTP client made by ``rec``.

    The copy keeps the client's key, base URL, retries, timeout and headers (the SDK's own
    ``with_options``); only the connection pool is new. Other holders of the original,
    and of the HTTP client it may share with them, are left untouched.
    """
    if sdk_client is None:
        return None
    asynchronous = hasattr(http_client_of(sdk_client), "aclose")
    kwargs: dict[str, Any] = {} if proxy is None else {"proxy": proxy}
    http = rec.async_http_client(**kwargs) if asynchronous else rec.http_client(**kwargs)
    return sdk_client.with_options(http_client=http)
