"""The emulator as a real HTTP/1.1 server on 127.0.0.1 (stdlib ThreadingHTTPServer).

JSON bodies carry Content-Length; SSE streams use chunked transfer encoding and are
flushed per event, so clients see events as they are produced.

    with serve(seed=0) as base_url:            # port 0: a free port
        OpenAI(base_url=base_url + "/v1", api_key="sk-test")
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from melious_impact.emulator.core import Emulator

log = logging.getLogger("melious_impact.emulator")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked encoding
    server_version = "MeliousEmulator/1"
    emulator: Emulator  # set on the subclass made per server

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        resp = self.emulator.handle(self.command, self.path, list(self.headers.items()), body)
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        if resp.stream:
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            try:
                for chunk in resp.chunks:
                    if chunk:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):  # the client abandoned the stream
                self.close_connection = True
        else:
            self.end_headers()
            for chunk in resp.chunks:
                self.wfile.write(chunk)
            self.wfile.flush()

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("emulator: " + format, *args)


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing a keep-alive connection is normal; anything else is logged, not printed.
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        log.warning("emulator: error while serving %s", client_address, exc_info=True)


def make_server(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    handler = type("EmulatorHandler", (_Handler,), {"emulator": emulator})
    return EmulatorServer((host, port), handler)


@contextlib.contextmanager
def serve(
    emulator: Emulator | None = None, *, host: str = "127.0.0.1", port: int = 0, **emulator_options: Any
) -> Iterator[str]:
    """Run an emulator server in a background thread; yields its base URL (no ``/v1``).

    ``emulator_options`` (seed=, error_rate=, stream_impact=, ...) build an Emulator when
    none is given. The server stops when the block exits.
    """
    emu = emulator or Emulator(**emulator_options)
    server = make_server(emu, host, port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="melious-emulator", daemon=True
    )
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
