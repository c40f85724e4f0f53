"""Content-Encoding decoders: every codec, any piece size, chains, bounded output."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from melious_impact.parse.decoding import PIECE_BYTES, DecodeError, make_decoder

PLAIN = b'{"environment_impact": {"energy_kwh": 0.1}, "data": "' + b"abc" * 50_000 + b'"}'


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


ENCODED = {
    "gzip": gzip.compress(PLAIN),
    "deflate": zlib.compress(PLAIN),
    "br": brotli.compress(PLAIN),
    "zstd": zstandard.ZstdCompressor().compress(PLAIN),
}


def decode_all(encoding: str, data: bytes, step: int) -> bytes:
    d = make_decoder(encoding)
    assert d is not None
    out = []
    for i in range(0, len(data), step):
        for piece in d.decode(data[i : i + step]):
            assert len(piece) <= max(PIECE_BYTES, 16 * 1024 * 64)
            out.append(piece)
    out.extend(d.flush())
    return b"".join(out)


@pytest.mark.parametrize("encoding", sorted(ENCODED))
@pytest.mark.parametrize("step", [1, 333, 10**9])
def test_roundtrip(encoding: str, step: int) -> None:
    data = ENCODED[encoding]
    if step == 1:
        data = data[:2000]  # byte by byte: a prefix is enough, and quick
        assert PLAIN.startswith(decode_all(encoding, data, step))
    else:
        assert decode_all(encoding, data, step) == PLAIN


def test_raw_deflate_is_accepted() -> None:
    assert decode_all("deflate", raw_deflate(PLAIN), 4096) == PLAIN


def test_chain_is_undone_in_reverse_order() -> None:
    data = brotli.compress(gzip.compress(PLAIN))
    assert decode_all("gzip, br", data, 1000) == PLAIN


def test_gzip_bomb_output_comes_in_bounded_pieces() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    d = make_decoder("gzip")
    assert d is not None
    sizes = [len(p) for p in d.decode(bomb)]
    assert sum(sizes) == 20_000_000 and max(sizes) <= PIECE_BYTES


@pytest.mark.parametrize("encoding", [None, "", "identity"])
def test_identity(encoding: str | None) -> None:
    assert make_decoder(encoding) is None


def test_unknown_encoding_and_corrupt_data() -> None:
    with pytest.raises(DecodeError):
        make_decoder("compress")
    d = make_decoder("gzip")
    assert d is not None
    with pytest.raises(DecodeError):
        list(d.decode(b"definitely not gzip"))
    d = make_decoder("br")
    assert d is not None
    with pytest.raises(DecodeError):
        list(d.decode(b"\xff" * 64))


def test_brotli_large_body_decodes_whole() -> None:
    """A 1 MB br body decoded in 64 kB pieces must come out whole (the decoder can hold
    output while saying it accepts more input)."""
    import json

    import brotli

    from melious_impact.parse.decoding import make_decoder

    data = json.dumps({"data": [0.0] * 200_000, "usage": {"prompt_tokens": 1}}).encode()
    packed = brotli.compress(data)
    for step in (len(packed), 4096, 1):
        d = make_decoder("br")
        out = b"".join(b"".join(d.decode(packed[i : i + step])) for i in range(0, len(packed), step))
        out += b"".join(d.flush())
        assert out == data, step
