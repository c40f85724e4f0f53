"""In-process transports: the emulator as an httpx2 or httpx 0.28 transport (sync and async).

Both libraries share the transport API (``handle_request`` / ``handle_async_request``
returning a ``Response`` whose ``stream`` yields bytes), so one generic adapter serves
both. The bytes are exactly what the loopback server would send (compressed when the
client accepts it), so capture code sees the same wire either way.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from melious_impact.emulator.core import EmulatedResponse, Emulator


def _lib(lib: str) -> Any:
    if lib not in ("httpx2", "httpx"):
        raise ValueError("lib must be 'httpx2' (OpenAI 3.x / Anthropic 2.x SDKs) or 'httpx' (0.28)")
    return importlib.import_module(lib)


def _serve(emulator: Emulator, request: Any, body: bytes) -> EmulatedResponse:
    return emulator.handle(
        request.method, str(request.url.raw_path.decode("ascii")), list(request.headers.items()), body
    )


def make_transport(emulator: Emulator, lib: str = "httpx2", *, asynchronous: bool = False) -> Any:
    """A transport instance for ``lib`` backed by ``emulator`` (sync unless ``asynchronous``)."""
    mod = _lib(lib)

    class _SyncStream(mod.SyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, chunks: Iterator[bytes]) -> None:
            self._chunks = chunks

        def __iter__(self) -> Iterator[bytes]:
            yield from self._chunks

        def close(self) -> None:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()

    class _AsyncStream(mod.AsyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, chunks: Iterator[bytes]) -> None:
            self._chunks = chunks

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in self._chunks:
                yield chunk

        async def aclose(self) -> None:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()

    class EmulatorTransport(mod.BaseTransport):  # type: ignore[misc,name-defined]
        """Serves requests from a :class:`~melious_impact.emulator.core.Emulator` in-process."""

        def __init__(self) -> None:
            self.emulator = emulator

        def handle_request(self, request: Any) -> Any:
            resp = _serve(emulator, request, request.read())
            return mod.Response(
                resp.status, headers=resp.headers, stream=_SyncStream(resp.chunks), request=request
            )

    class AsyncEmulatorTransport(mod.AsyncBaseTransport):  # type: ignore[misc,name-defined]
        """The async twin of EmulatorTransport."""

        def __init__(self) -> None:
            self.emulator = emulator

        async def handle_async_request(self, request: Any) -> Any:
            resp = _serve(emulator, request, await request.aread())
            return mod.Response(
                resp.status, headers=resp.headers, stream=_AsyncStream(resp.chunks), request=request
            )

    return AsyncEmulatorTransport() if asynchronous else EmulatorTransport()
