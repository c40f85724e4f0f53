"""Bytes on the wire: JSON, SSE events, content encodings, multipart form parsing."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Protocol


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def sse_data(obj: Any) -> bytes:
    """An OpenAI-style event: ``data: {...}`` and a blank line."""
    return b"data: " + dumps(obj) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


def sse_event(event: str, obj: Any) -> bytes:
    """An Anthropic-style event with an ``event:`` line."""
    return b"event: " + event.encode() + b"\ndata: " + dumps(obj) + b"\n\n"


class _Compressor(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


def choose_encoding(accept: str | None, preference: tuple[str, ...]) -> str | None:
    """The first of ``preference`` the client accepts (q=0 means refused)."""
    if not accept:
        return None
    accepted: set[str] = set()
    for part in accept.split(","):
        token, _, params = part.strip().partition(";")
        token = token.strip().lower()
        if params.strip().replace(" ", "") in ("q=0", "q=0.0"):
            continue
        accepted.add(token)
    for enc in preference:
        if enc in accepted or "*" in accepted:
            if enc == "br" and not _has_brotli():
                continue
            return enc
    return None


def _has_brotli() -> bool:
    try:
        import brotli  # noqa: F401
    except ImportError:  # pragma: no cover - brotli is in the compression extra
        return False
    return True


def compress_body(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data, compresslevel=5, mtime=0)  # mtime=0: deterministic bytes
    if encoding == "deflate":
        return zlib.compress(data, 5)  # HTTP "deflate" is the zlib format
    if encoding == "br":
        import brotli

        return bytes(brotli.compress(data, quality=4))
    raise ValueError(f"unsupported encoding {encoding!r}")


class _BrotliStream:
    def __init__(self) -> None:
        import brotli

        self._c = brotli.Compressor(quality=4)

    def compress(self, data: bytes) -> bytes:
        return bytes(self._c.process(data)) + bytes(self._c.flush())

    def flush(self) -> bytes:
        return bytes(self._c.finish())


class _ZlibStream:
    def __init__(self, wbits: int) -> None:
        self._c = zlib.compressobj(5, zlib.DEFLATED, wbits)

    def compress(self, data: bytes) -> bytes:
        # A sync flush per event: the client can decode each event as soon as it arrives.
        return self._c.compress(data) + self._c.flush(zlib.Z_SYNC_FLUSH)

    def flush(self) -> bytes:
        return self._c.flush(zlib.Z_FINISH)


def compress_stream(chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """Compress an event stream incrementally, one flushed block per input chunk."""
    comp: _Compressor
    if encoding == "br":
        comp = _BrotliStream()
    elif encoding == "gzip":
        comp = _ZlibStream(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        comp = _ZlibStream(zlib.MAX_WBITS)
    else:
        raise ValueError(f"unsupported encoding {encoding!r}")
    for chunk in chunks:
        out = comp.compress(chunk)
        if out:
            yield out
    tail = comp.flush()
    if tail:
        yield tail


def parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """Parse multipart/form-data: field name -> (filename or None, raw bytes)."""
    boundary = None
    for part in content_type.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip().strip('"')
    if not boundary:
        raise ValueError("multipart body without a boundary")
    fields: dict[str, tuple[str | None, bytes]] = {}
    delimiter = b"--" + boundary.encode()
    for section in body.split(delimiter)[1:]:
        if section.startswith(b"--"):
            break
        head, sep, content = section.partition(b"\r\n\r\n")
        if not sep:
            continue
        if content.endswith(b"\r\n"):
            content = content[:-2]
        name = filename = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if line.lower().startswith("content-disposition"):
                for item in line.split(";")[1:]:
                    k, _, v = item.strip().partition("=")
                    if k == "name":
                        name = v.strip('"')
                    elif k == "filename":
                        filename = v.strip('"')
        if name is not None:
            fields[name] = (filename, content)
    return fields
