"""requests: a transport adapter that records every Melious response of a ``Session``.

::

    import requests
    from melious_impact.integrations.requests import RecordingAdapter
    session = requests.Session()
    session.mount("https://api.melious.ai/", RecordingAdapter(rec))

The adapter is requests' own ``HTTPAdapter`` (keyword arguments go to it: pool sizes,
``max_retries``) with the body passing through the recorder on its way to you: the request
goes out as requests would send it, the response is read and decoded by urllib3 as usual
(same chunks, same exceptions), and each chunk is handed to the recorder's recording stream,
the same one the httpx transports use, so rows are parsed exactly as theirs. The row is
written when the body has been read (``response.content``, ``.json()``, the end of
``iter_lines()``), when the response is closed, or when it is dropped unread.

Differences from an httpx capture: the body reaches the recorder already decoded (so
``response_bytes`` is the decoded size, not the wire size), and a request body that is a
generator or a file is sent as is, but its ``model`` is not read (the response's is kept).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx2
from requests.adapters import HTTPAdapter

if TYPE_CHECKING:  # pragma: no cover
    from requests import PreparedRequest, Response

    from melious_impact.capture.recorder import Recorder

_SEND = "melious_impact.requests_send"
_BODY = "melious_impact.requests_body"
_CHUNK = 64 * 1024


class RecordingAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose responses are recorded by ``rec`` (see the module doc)."""

    def __init__(self, rec: Recorder, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder = rec
        self._recording = rec.transport(_Sender())

    def send(  # type: ignore[override]
        self, request: PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> Response:
        def real_send() -> Response:
            return super(RecordingAdapter, self).send(request, stream=stream, **kwargs)

        body = request.body
        content = body.encode("utf-8") if isinstance(body, str) else body
        facade = httpx2.Request(
            str(request.method or "GET"),
            str(request.url),
            headers=[
                (k, v if isinstance(v, str) else v.decode("latin-1")) for k, v in request.headers.items()
            ],
            content=content if isinstance(content, bytes) else None,
            extensions={_SEND: real_send},
        )
        recorded = self._recording.handle_request(facade)
        response: Response = recorded.extensions[_SEND]
        response.raw = _RecordedRaw(response.raw, recorded)
        return response


class _Sender(httpx2.BaseTransport):
    """The inner transport: lets requests send, and offers its response body to the recorder."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = request.extensions[_SEND]()
        raw = response.raw
        headers = [(k, v) for k, v in raw.headers.items()]
        if any(k.lower() == "content-encoding" for k, _ in headers):
            # urllib3 decodes for the caller; the recorder sees those same decoded chunks.
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-encoding", "content-length")]
        body = _Body(raw)
        return httpx2.Response(
            response.status_code,
            headers=headers,
            stream=body,
            request=request,
            extensions={_SEND: response, _BODY: body},
        )


class _Body(httpx2.SyncByteStream):
    """urllib3's decoded chunks, read on demand, in the size the caller asks for."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.amt: int | None = _CHUNK

    def __iter__(self) -> Iterator[bytes]:
        yield from self.raw.stream(self.amt, decode_content=True)

    def close(self) -> None:
        pass  # the requests Response closes its raw response itself


class _RecordedRaw:
    """Stands in for ``response.raw``: the same chunks as urllib3's, through the recorder."""

    def __init__(self, raw: Any, recorded: httpx2.Response) -> None:
        self._raw = raw
        self._recorded = recorded
        self._chunks: Iterator[bytes] | None = None
        self._buffer = b""

    def _iter(self, amt: int | None) -> Iterator[bytes]:
        if self._chunks is None:
            self._recorded.extensions[_BODY].amt = amt
            self._chunks = iter(self._recorded.stream)  # type: ignore[arg-type]
        return self._chunks

    def stream(self, amt: int | None = _CHUNK, decode_content: bool | None = None) -> Iterator[bytes]:
        if self._buffer:
            data, self._buffer = self._buffer, b""
            yield data
        yield from self._iter(amt)

    def read(self, amt: int | None = None, decode_content: bool | None = None, **kwargs: Any) -> bytes:
        chunks = self._iter(amt)
        data = self._buffer
        while amt is None or len(data) < amt:
            chunk = next(chunks, None)
            if chunk is None:
                break
            data += chunk
        if amt is None:
            self._buffer = b""
            return data
        data, self._buffer = data[:amt], data[amt:]
        return data

    def close(self) -> None:
        try:
            stream: Any = self._recorded.stream
            stream.close()
        finally:
            self._raw.close()

    def release_conn(self) -> None:
        self._raw.release_conn()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)
