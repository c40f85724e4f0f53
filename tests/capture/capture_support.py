"""Test helpers for capture: an in-memory sink, a canned loopback server, a forward proxy,
and a tap transport that records the raw bytes the recorder saw (the independent witness
the stored values are checked against)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class MemorySink:
    """Stands in for ImpactStore: writer().write(row) collects rows."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.flushes = 0
        self.closes = 0
        self._lock = threading.Lock()

    def writer(self) -> MemorySink:
        return self

    def write(self, row: dict[str, Any]) -> None:
        with self._lock:
            self.rows.append(dict(row))

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.closes += 1


@dataclass
class Canned:
    """One canned response: status, headers, and body chunks (sent chunked when several)."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("content-type", "application/json")])
    chunks: list[bytes] = field(default_factory=list)
    chunked: bool | None = None  # default: chunked when more than one chunk


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CannedServer

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, dict(self.headers.items()), body))
        path = self.path.split("?")[0]
        canned = self.server.routes.get((self.command, path))
        if canned is None:
            canned = Canned(404, chunks=[b'{"error": {"code": "RESOURCE_5004", "message": "no route"}}'])
        self.send_response(canned.status)
        for k, v in canned.headers:
            self.send_header(k, v)
        chunked = canned.chunked if canned.chunked is not None else len(canned.chunks) > 1
        try:
            if chunked:
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for c in canned.chunks:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            else:
                data = b"".join(canned.chunks)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class CannedServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[tuple[str, str], Canned] = {}
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@contextmanager
def canned_server() -> Iterator[CannedServer]:
    server = CannedServer()
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=5)


class _ProxyHandler(BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy: absolute-URI requests are relayed byte for byte."""

    protocol_version = "HTTP/1.1"
    server: ForwardProxy

    def _relay(self) -> None:
        self.server.requests.append(self.path)
        import urllib.parse

        target = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        with socket.create_connection((target.hostname, target.port or 80), timeout=10) as s:
            path = target.path + (f"?{target.query}" if target.query else "")
            head = [f"{self.command} {path} HTTP/1.1"]
            head += [
                f"{k}: {v}"
                for k, v in self.headers.items()
                if k.lower() not in ("proxy-connection", "connection")
            ]
            head += ["connection: close", "", ""]
            s.sendall("\r\n".join(head).encode() + body)
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        self.wfile.write(reply)
        self.close_connection = True

    do_GET = do_POST = _relay

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ForwardProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def forward_proxy() -> Iterator[ForwardProxy]:
    proxy = ForwardProxy()
    t = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        t.join(timeout=5)


def install_tap(client: Any) -> list[Tapped]:
    """Insert a tap under the recorder's wrapper of ``client``; returns what it records."""
    log: list[Tapped] = []
    wrapper = client._transport
    wrapper.inner = _make_tap(wrapper.inner, log)
    return log


@dataclass
class Tapped:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    raw: list[bytes] = field(default_factory=list)

    def body(self) -> bytes:
        """The decoded body, decoded here with the standard library (independently of capture).

        Incremental decoders: an SDK may close a stream after ``[DONE]`` without reading
        the compressor's last block, so the raw bytes can lack the stream's end marker.
        """
        import zlib

        data = b"".join(self.raw)
        enc = self.headers.get("content-encoding", "")
        if enc == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
        if enc == "deflate":
            try:
                return zlib.decompressobj().decompress(data)
            except zlib.error:
                return zlib.decompressobj(-zlib.MAX_WBITS).decompress(data)
        if enc == "br":
            import brotli

            return bytes(brotli.Decompressor().process(data))
        if enc == "zstd":
            import zstandard

            return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
        assert enc in ("", "identity"), enc
        return data

    def json(self) -> Any:
        return json.loads(self.body(), parse_float=Decimal)

    def events(self) -> list[Any]:
        """The JSON data of every SSE event (plain reference parser for the tests)."""
        text = self.body().decode().replace("\r\n", "\n")
        out = []
        for block in text.split("\n\n"):
            data = "\n".join(line[5:].lstrip(" ") for line in block.split("\n") if line.startswith("data:"))
            if data and data != "[DONE]":
                out.append(json.loads(data, parse_float=Decimal))
        return out


def _make_tap(inner: Any, log: list[Tapped]) -> Any:
    lib = type(inner).__module__.partition(".")[0]
    mod = __import__(lib)

    class TapStream(mod.SyncByteStream, mod.AsyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, stream: Any, rec: Tapped) -> None:
            self.stream, self.rec = stream, rec

        def __iter__(self) -> Iterator[bytes]:
            for c in self.stream:
                self.rec.raw.append(c)
                yield c

        async def __aiter__(self) -> Any:
            async for c in self.stream:
                self.rec.raw.append(c)
                yield c

        def close(self) -> None:
            self.stream.close()

        async def aclose(self) -> None:
            await self.stream.aclose()

    def record(request: Any, response: Any) -> Any:
        rec = Tapped(
            request.method, request.url.path, response.status_code, dict(response.headers.multi_items())
        )
        log.append(rec)
        response.stream = TapStream(response.stream, rec)
        return response

    class Tap(mod.BaseTransport, mod.AsyncBaseTransport):  # type: ignore[misc,name-defined]
        def handle_request(self, request: Any) -> Any:
            return record(request, inner.handle_request(request))

        async def handle_async_request(self, request: Any) -> Any:
            return record(request, await inner.handle_async_request(request))

        def close(self) -> None:
            inner.close()

        async def aclose(self) -> None:
            await inner.aclose()

    return Tap()


def chunk_stream(lib: Any, chunks: list[bytes], *, fail_after: int | None = None) -> Any:
    """A response stream (sync and async) yielding ``chunks``; optionally raising mid-body."""

    class Chunks(lib.SyncByteStream, lib.AsyncByteStream):  # type: ignore[misc,name-defined]
        closed = False

        def __iter__(self) -> Iterator[bytes]:
            for i, c in enumerate(chunks):
                if fail_after is not None and i == fail_after:
                    raise lib.ReadError("connection reset mid-body")
                yield c

        async def __aiter__(self) -> Any:
            for c in self:
                yield c

        def close(self) -> None:
            self.closed = True

        async def aclose(self) -> None:
            self.closed = True

    return Chunks()


def split_every(data: bytes, n: int) -> list[bytes]:
    return [data[i : i + n] for i in range(0, len(data), n)] or [b""]
