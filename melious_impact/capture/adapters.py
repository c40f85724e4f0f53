"""Thin per-library adapters: recording streams and transport wrappers.

httpx 0.28 and httpx2 are separate libraries with separate base classes, and their
clients check ``isinstance(response.stream, SyncByteStream)`` against their *own*
class. The classes are therefore built once per library from one definition
(:func:`build`); all the logic lives in :class:`~melious_impact.capture.exchange.Exchange`
and behind :class:`ExchangeSource` (the pipeline), the only thing a transport calls.

A recording stream yields the inner stream's chunks unchanged (the same objects), feeds
each to the exchange, and finishes the exchange once: on exhaustion, on close, or when
the stream is garbage-collected without either (an abandoned response is still a row).
Exceptions of the inner stream and transport pass through untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.capture.exchange import Exchange


class ExchangeSource(Protocol):
    """What a recording transport calls (implemented by the capture pipeline)."""

    def begin(self, request: Any) -> Exchange | None:
        """The exchange of an outgoing request; None: pass it through, no row."""

    def attach(self, ex: Exchange, response: Any, *, asynchronous: bool) -> None:
        """The response arrived: read its head, wrap its body stream."""

    def transport_error(self) -> None:
        """The inner transport raised before a response (the exception goes on to the caller)."""


@dataclass(frozen=True)
class Adapter:
    lib: ModuleType
    sync_stream: type
    async_stream: type
    sync_transport: type
    async_transport: type
    both_transport: type


def build(lib: ModuleType) -> Adapter:
    """The recording stream and transport classes for one httpx-like library."""

    class SyncRecordingStream(lib.SyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, ex: Exchange) -> None:
            self._inner = inner
            self._ex = ex

        def __iter__(self) -> Iterator[bytes]:
            ex = self._ex
            feed = ex.feed
            eof = False
            try:
                for chunk in self._inner:
                    feed(chunk)
                    yield chunk
                eof = True
            except GeneratorExit:
                raise
            except BaseException as exc:
                ex.read_error = type(exc).__name__
                raise
            finally:
                ex.finish(eof)

        def close(self) -> None:
            self._ex.finish(False)
            self._inner.close()

        def __del__(self) -> None:
            # Dropped without being read to the end or closed: still one row.
            if not self._ex.finished:
                self._ex.finish(False)

    class AsyncRecordingStream(lib.AsyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, ex: Exchange) -> None:
            self._inner = inner
            self._ex = ex

        async def __aiter__(self) -> AsyncIterator[bytes]:
            ex = self._ex
            feed = ex.feed
            eof = False
            try:
                async for chunk in self._inner:
                    feed(chunk)
                    yield chunk
                eof = True
            except GeneratorExit:
                raise
            except BaseException as exc:
                ex.read_error = type(exc).__name__
                raise
            finally:
                ex.finish(eof)

        async def aclose(self) -> None:
            self._ex.finish(False)
            await self._inner.aclose()

        def __del__(self) -> None:
            if not self._ex.finished:
                self._ex.finish(False)

    class _Base:
        """Shared delegation: the inner transport keeps its own lifecycle."""

        def __init__(self, source: ExchangeSource, inner: Any) -> None:
            self.source = source
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            # Anything else (pool stats, custom attributes) is the inner transport's.
            if name in ("inner", "source") or name.startswith("handle_"):
                raise AttributeError(name)  # never bypass capture through delegation
            return getattr(self.inner, name)

        def __repr__(self) -> str:
            return f"<recording {self.inner!r}>"

    class _SyncMixin:
        source: ExchangeSource
        inner: Any

        def handle_request(self, request: Any) -> Any:
            source = self.source
            ex = source.begin(request)
            if ex is None:
                return self.inner.handle_request(request)
            try:
                response = self.inner.handle_request(request)
            except BaseException:
                source.transport_error()
                raise
            source.attach(ex, response, asynchronous=False)
            return response

        def close(self) -> None:
            self.inner.close()

        def __enter__(self) -> Any:
            enter = getattr(self.inner, "__enter__", None)
            if enter is not None:
                enter()
            return self

        def __exit__(self, *exc_info: Any) -> None:
            exit_ = getattr(self.inner, "__exit__", None)
            if exit_ is not None:
                exit_(*exc_info)
            else:
                self.inner.close()

    class _AsyncMixin:
        source: ExchangeSource
        inner: Any

        async def handle_async_request(self, request: Any) -> Any:
            source = self.source
            ex = source.begin(request)
            if ex is None:
                return await self.inner.handle_async_request(request)
            try:
                response = await self.inner.handle_async_request(request)
            except BaseException:
                source.transport_error()
                raise
            source.attach(ex, response, asynchronous=True)
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

        async def __aenter__(self) -> Any:
            enter = getattr(self.inner, "__aenter__", None)
            if enter is not None:
                await enter()
            return self

        async def __aexit__(self, *exc_info: Any) -> None:
            exit_ = getattr(self.inner, "__aexit__", None)
            if exit_ is not None:
                await exit_(*exc_info)
            else:
                await self.inner.aclose()

    class RecordingTransport(_SyncMixin, _Base, lib.BaseTransport):  # type: ignore[misc,name-defined]
        pass

    class AsyncRecordingTransport(_AsyncMixin, _Base, lib.AsyncBaseTransport):  # type: ignore[misc,name-defined]
        pass

    bases = (_SyncMixin, _AsyncMixin, _Base, lib.BaseTransport, lib.AsyncBaseTransport)
    RecordingTransportBoth: type = type("RecordingTransportBoth", bases, {})

    for cls in (
        SyncRecordingStream,
        AsyncRecordingStream,
        RecordingTransport,
        AsyncRecordingTransport,
        RecordingTransportBoth,
    ):
        cls.__module__ = __name__
        cls.__qualname__ = f"{cls.__name__}[{lib.__name__}]"
    return Adapter(
        lib,
        SyncRecordingStream,
        AsyncRecordingStream,
        RecordingTransport,
        AsyncRecordingTransport,
        RecordingTransportBoth,
    )


_ADAPTERS: dict[str, Adapter] = {}


def adapter(lib_name: str) -> Adapter:
    """The adapter for ``"httpx"`` or ``"httpx2"`` (built on first use)."""
    found = _ADAPTERS.get(lib_name)
    if found is None:
        import importlib

        found = build(importlib.import_module(lib_name))
        _ADAPTERS[lib_name] = found
    return found
