"""Incremental Content-Encoding decoders (gzip, deflate, br, zstd) with bounded output.

Capture decodes a compressed body only for its own parsing; the caller still receives
the bytes exactly as they came. Output is produced in pieces of at most
:data:`PIECE_BYTES` where the codec allows it, so a highly compressed body (or a
decompression bomb) never has to sit in memory whole.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any, Protocol

PIECE_BYTES = 256 * 1024
# zstd has no output limit per call; feeding it small inputs bounds each output piece.
_ZSTD_INPUT_STEP = 16 * 1024


class DecodeError(Exception):
    """The body does not decode with its declared Content-Encoding."""


class Decoder(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _Zlib:
    def __init__(self, wbits: int, fallback_raw: bool = False) -> None:
        self._d = zlib.decompressobj(wbits)
        self._fallback_raw = fallback_raw
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            if self._fallback_raw and not self._started:
                # "deflate" is meant to be zlib-wrapped, but raw deflate is common:
                # decide on the first bytes, as browsers and httpx do.
                self._started = True
                probe = zlib.decompressobj()
                try:
                    probe.decompress(data[:64])
                except zlib.error:
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._d.decompress(data, PIECE_BYTES)
            while True:
                if out:
                    yield out
                tail = self._d.unconsumed_tail
                # A full piece may leave output pending inside zlib even with no input left.
                if not tail and len(out) < PIECE_BYTES:
                    break
                if not out and not tail:
                    break
                out = self._d.decompress(tail, PIECE_BYTES)
        except zlib.error as exc:
            raise DecodeError(str(exc)) from exc

    def flush(self) -> Iterator[bytes]:
        try:
            out = self._d.flush()
        except zlib.error as exc:  # pragma: no cover - flush rarely fails
            raise DecodeError(str(exc)) from exc
        if out:
            yield out


class _Brotli:
    def __init__(self) -> None:
        import brotli

        self._brotli: Any = brotli
        self._d: Any = brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self._d.process(data, output_buffer_limit=PIECE_BYTES)
            # Drain until the decoder has nothing left: with an output limit it can hold
            # decoded bytes while can_accept_more_data() already says True (brotli 1.2), so
            # that flag cannot end the loop; an empty piece can.
            while out:
                yield out
                out = self._d.process(b"", output_buffer_limit=PIECE_BYTES)
        except self._brotli.error as exc:
            raise DecodeError(str(exc)) from exc

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Zstd:
    def __init__(self) -> None:
        import zstandard

        self._zstd: Any = zstandard
        self._d: Any = zstandard.ZstdDecompressor().decompressobj()

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            for i in range(0, len(data), _ZSTD_INPUT_STEP):
                out = self._d.decompress(data[i : i + _ZSTD_INPUT_STEP])
                if out:
                    yield out
        except self._zstd.ZstdError as exc:
            raise DecodeError(str(exc)) from exc

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Chain:
    """Several encodings (``Content-Encoding: gzip, br``) undone in reverse order."""

    def __init__(self, decoders: list[Decoder]) -> None:
        self._decoders = decoders

    def decode(self, data: bytes) -> Iterator[bytes]:
        return self._run(0, iter((data,)), final=False)

    def flush(self) -> Iterator[bytes]:
        return self._run(0, iter(()), final=True)

    def _run(self, i: int, pieces: Iterator[bytes], final: bool) -> Iterator[bytes]:
        if i == len(self._decoders):
            yield from pieces
            return
        d = self._decoders[i]

        def produced() -> Iterator[bytes]:
            for p in pieces:
                yield from d.decode(p)
            if final:
                yield from d.flush()

        yield from self._run(i + 1, produced(), final)


_IDENTITY = frozenset({"", "identity", "none"})


def make_decoder(content_encoding: str | None) -> Decoder | None:
    """A decoder for the header value, ``None`` for identity.

    Raises :class:`DecodeError` for an encoding that is unknown or whose codec is not
    installed (brotli, zstandard are optional extras).
    """
    if not content_encoding:
        return None
    names = [n.strip().lower() for n in content_encoding.split(",")]
    names = [n for n in names if n not in _IDENTITY]
    if not names:
        return None
    decoders: list[Decoder] = []
    for name in reversed(names):
        if name in ("gzip", "x-gzip"):
            decoders.append(_Zlib(zlib.MAX_WBITS | 16))
        elif name == "deflate":
            decoders.append(_Zlib(zlib.MAX_WBITS, fallback_raw=True))
        elif name == "br":
            try:
                decoders.append(_Brotli())
            except ImportError as exc:
                raise DecodeError("brotli is not installed") from exc
        elif name == "zstd":
            try:
                decoders.append(_Zstd())
            except ImportError as exc:
                raise DecodeError("zstandard is not installed") from exc
        else:
            raise DecodeError(f"unknown content-encoding {name!r}")
    return decoders[0] if len(decoders) == 1 else _Chain(decoders)
