"""The recording transport over in-process transports (httpx2 and httpx 0.28), with a memory sink."""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import logging
import sys
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import brotli
import httpx
import httpx2
import pytest
import zstandard
from capture_support import MemorySink, chunk_stream, split_every

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "parse"))
from sse_streams import anthropic_stream, openai_stream

from melious_impact.capture.recorder import Recorder
from melious_impact.records import COLUMN_NAMES

LIBS = [httpx2, httpx]
CHAT = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "glm-4.7",
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }
).encode()[:-1] + (
    b', "environment_impact": {"energy_kwh": 0.00015, "carbon_g_co2": 0.06, "water_liters": 0.0002,'
    b' "renewable_percent": 85, "pue": 1.18, "provider_id": "ovhcloud", "location": "FR"},'
    b' "billing_cost": {"energy": "0.0008", "credits": "0.0", "paid_with": "energy"}}'
)
JSON = [("content-type", "application/json")]
SSE = [("content-type", "text/event-stream")]


def make(
    lib: Any,
    routes: dict[tuple[str, str], tuple[int, list[tuple[str, str]], list[bytes]]],
    sink: MemorySink | None = None,
    **rec_kw: Any,
) -> tuple[Recorder, MemorySink, Any]:
    sink = sink or MemorySink()
    rec = Recorder(sink, **rec_kw)

    def handler(request: Any) -> Any:
        status, headers, chunks = routes[(request.method, request.url.path)]
        return lib.Response(status, headers=headers, stream=chunk_stream(lib, chunks))

    return rec, sink, rec.transport(lib.MockTransport(handler))


def post(lib: Any, transport: Any, path: str, body: dict[str, Any] | None = None, **kw: Any) -> Any:
    with lib.Client(transport=transport, base_url="http://melious.test") as c:
        return c.post(path, json=body or {"model": "glm-4.7", "messages": []}, **kw)


@pytest.mark.parametrize("lib", LIBS)
def test_chat_row_has_every_column_and_exact_values(lib: Any) -> None:
    rec, sink, t = make(
        lib,
        {
            ("POST", "/v1/chat/completions"): (
                200,
                [*JSON, ("x-ratelimit-limit", "240"), ("x-ratelimit-remaining", "239")],
                split_every(CHAT, 7),
            )
        },
    )
    r = post(
        lib,
        t,
        "/v1/chat/completions",
        {"model": "glm-4.7:eco", "messages": [{"role": "user", "content": "secret prompt"}]},
        headers={"authorization": "Bearer sk-mel-SECRET", "x-stainless-retry-count": "2"},
    )
    assert r.content == CHAT
    [row] = sink.rows
    assert set(row) == set(COLUMN_NAMES)
    assert row["endpoint"] == "/v1/chat/completions" and row["method"] == "POST" and row["status_code"] == 200
    assert (row["request_id"], row["model"], row["requested_model"], row["flavor"]) == (
        "chatcmpl-1",
        "glm-4.7",
        "glm-4.7:eco",
        "eco",
    )
    assert (row["input_tokens"], row["output_tokens"]) == (12, 3)
    assert row["billing_energy"] == Decimal("0.0008") and row["billing_credits"] == Decimal(0)
    assert (row["energy_kwh"], row["provider_id"], row["impact_reported"]) == (0.00015, "ovhcloud", True)
    assert (row["attempt"], row["ratelimit_limit_requests"], row["ratelimit_remaining_requests"]) == (
        2,
        240,
        239,
    )
    assert row["stream"] is False and row["stream_completed"] is None and row["source"] == "live"
    assert row["response_bytes"] == len(CHAT) and row["parse_warnings"] == ""
    assert 0 <= row["ttft_ms"] <= row["latency_ms"] < 5000
    assert row["captured_at"].tzinfo is not None
    flat = json.dumps(row, default=str)
    assert "secret prompt" not in flat and "SECRET" not in flat and "Bearer" not in flat
    assert rec.stats.captured == 1


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_compressed_bodies_are_decoded_for_parsing_only(lib: Any, encoding: str) -> None:
    if lib is httpx and encoding == "zstd":
        pytest.importorskip("zstandard")
    encoded = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": brotli.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }[encoding](CHAT)
    _rec, sink, t = make(
        lib,
        {
            ("POST", "/v1/chat/completions"): (
                200,
                [*JSON, ("content-encoding", encoding)],
                split_every(encoded, 5),
            )
        },
    )
    with (
        lib.Client(transport=t) as c,
        c.stream("POST", "http://m/v1/chat/completions", json={"model": "x"}) as r,
    ):
        raw = b"".join(r.iter_raw())
    assert raw == encoded  # the caller gets the wire bytes, untouched
    [row] = sink.rows
    assert row["billing_energy"] == Decimal("0.0008") and row["input_tokens"] == 12
    assert row["response_bytes"] == len(encoded)


@pytest.mark.parametrize("lib", LIBS)
def test_sse_stream_row_and_bytes(lib: Any) -> None:
    body = openai_stream(300)
    chunks = split_every(body, 97)
    _rec, sink, t = make(lib, {("POST", "/v1/chat/completions"): (200, SSE, chunks)})
    with (
        lib.Client(transport=t) as c,
        c.stream("POST", "http://m/v1/chat/completions", json={"model": "glm-4.7", "stream": True}) as r,
    ):
        got = list(r.iter_raw())
    assert b"".join(got) == body
    [row] = sink.rows
    assert row["stream"] is True and row["stream_completed"] is True
    assert (row["input_tokens"], row["output_tokens"], row["energy_kwh"]) == (17, 300, 0.00031)
    assert row["billing_credits"] == Decimal("0.00000031")


@pytest.mark.parametrize("lib", LIBS)
def test_abandoned_stream_is_one_row_without_impact(lib: Any) -> None:
    body = openai_stream(50)
    _rec, sink, t = make(lib, {("POST", "/v1/chat/completions"): (200, SSE, split_every(body, 64))})
    with (
        lib.Client(transport=t) as c,
        c.stream("POST", "http://m/v1/chat/completions", json={"stream": True}) as r,
    ):
        it = r.iter_raw()
        for _ in range(4):  # the first event (id, model) and part of the next
            next(it)
    assert len(sink.rows) == 1
    row = sink.rows[0]
    assert row["stream_completed"] is False and row["impact_reported"] is False
    assert row["energy_kwh"] is None and row["input_tokens"] is None
    assert row["request_id"] == "chatcmpl-s1"  # what did arrive is kept
    assert row["response_bytes"] == 256


def test_stream_dropped_without_close_still_gives_one_row() -> None:
    _rec, sink, t = make(
        httpx2, {("POST", "/v1/chat/completions"): (200, SSE, split_every(openai_stream(5), 50))}
    )
    c = httpx2.Client(transport=t)
    r = c.send(c.build_request("POST", "http://m/v1/chat/completions", json={}), stream=True)
    next(r.iter_raw())
    del r
    gc.collect()
    assert len(sink.rows) == 1 and sink.rows[0]["stream_completed"] is False


@pytest.mark.parametrize("lib", LIBS)
def test_anthropic_stream(lib: Any) -> None:
    _rec, sink, t = make(
        lib, {("POST", "/v1/messages"): (200, SSE, split_every(anthropic_stream(impact_on="custom"), 33))}
    )
    r = post(lib, t, "/v1/messages", {"model": "claude-sonnet-4", "stream": True, "max_tokens": 5})
    assert r.status_code == 200
    [row] = sink.rows
    assert (row["api_shape"], row["input_tokens"], row["output_tokens"], row["cached_tokens"]) == (
        "anthropic",
        25,
        9,
        4,
    )
    assert row["impact_reported"] is True and row["stream_completed"] is True


@pytest.mark.parametrize("lib", LIBS)
def test_inner_transport_exception_passes_through_untouched(lib: Any) -> None:
    boom = lib.ConnectError("refused")

    def handler(request: Any) -> Any:
        raise boom

    sink = MemorySink()
    rec = Recorder(sink)
    t = rec.transport(lib.MockTransport(handler))
    with pytest.raises(lib.ConnectError) as info:
        post(lib, t, "/v1/chat/completions")
    assert info.value is boom
    assert sink.rows == [] and rec.stats.transport_errors == 1


@pytest.mark.parametrize("lib", LIBS)
def test_read_error_mid_body_passes_through_and_keeps_a_row(lib: Any) -> None:
    sink = MemorySink()
    rec = Recorder(sink)

    def handler(request: Any) -> Any:
        return lib.Response(
            200, headers=SSE, stream=chunk_stream(lib, split_every(openai_stream(20), 40), fail_after=3)
        )

    t = rec.transport(lib.MockTransport(handler))
    with pytest.raises(lib.ReadError):
        post(lib, t, "/v1/chat/completions")
    [row] = sink.rows
    assert row["stream_completed"] is False and "read_error" in row["parse_warnings"]


@pytest.mark.parametrize("lib", LIBS)
def test_error_responses_are_rows(lib: Any) -> None:
    body = b'{"error": {"code": "INFERENCE_3207", "message": "Input exceeds", "details": {"context_length": 131072}}}'
    _rec, sink, t = make(lib, {("POST", "/v1/chat/completions"): (400, JSON, [body])})
    assert post(lib, t, "/v1/chat/completions").status_code == 400
    [row] = sink.rows
    assert (row["status_code"], row["error_code"], row["impact_reported"]) == (400, "INFERENCE_3207", False)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/models"),
        ("POST", "/v1/files"),
        ("GET", "/v1/batches/b1"),
        ("POST", "/v1/messages/count_tokens"),
        ("DELETE", "/v1/files/f1"),
    ],
)
def test_non_inference_calls_produce_no_rows_and_are_not_wrapped(method: str, path: str) -> None:
    stream = chunk_stream(httpx2, [b'{"object": "list", "data": []}'])
    rec = Recorder(sink := MemorySink())
    t = rec.transport(httpx2.MockTransport(lambda req: httpx2.Response(200, headers=JSON, stream=stream)))
    with httpx2.Client(transport=t) as c:
        r = c.request(method, "http://m" + path)
        assert r.stream is not None
    assert sink.rows == [] and rec.stats.skipped == 1


def batch_output() -> bytes:
    line = (
        '{"id": "batch_req_%d", "custom_id": "c%d", "response": {"status_code": 200, "request_id": "r%d", "body":'
        ' {"id": "chatcmpl-%d", "object": "chat.completion", "created": 1751328000, "model": "glm-4.7", "choices": [],'
        ' "usage": {"prompt_tokens": %d, "completion_tokens": 2}, "billing_cost": {"energy": "0.1", "credits": "0.00001",'
        ' "paid_with": "credits"}}}, "error": null}'
    )
    return "\n".join(line % (i, i, i, i, i) for i in range(1, 4)).encode() + b"\n{broken\n"


@pytest.mark.parametrize("lib", LIBS)
def test_batch_output_download_becomes_rows(lib: Any) -> None:
    data = batch_output()
    input_file = b'{"custom_id": "c1", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n'
    _rec, sink, t = make(
        lib,
        {
            ("GET", "/v1/files/file-out/content"): (
                200,
                [("content-type", "application/jsonl")],
                split_every(data, 50),
            ),
            ("GET", "/v1/files/file-in/content"): (
                200,
                [("content-type", "application/jsonl")],
                [input_file],
            ),
            ("GET", "/v1/files/file-missing/content"): (404, JSON, [b'{"error": {"code": "RESOURCE_5004"}}']),
        },
        tags={"team": "batchers"},
    )
    with lib.Client(transport=t) as c:
        for _ in range(2):
            assert c.get("http://m/v1/files/file-out/content").content == data
        c.get("http://m/v1/files/file-in/content")
        c.get("http://m/v1/files/file-missing/content")
    assert len(sink.rows) == 6
    first, again = sink.rows[:3], sink.rows[3:]
    assert [r["custom_id"] for r in first] == ["c1", "c2", "c3"]
    assert [r["input_tokens"] for r in first] == [1, 2, 3]
    assert all(
        r["source"] == "batch" and r["batch_id"] == "file-out" and r["team"] == "batchers" for r in first
    )
    assert [r["dedup_key"] for r in first] == [r["dedup_key"] for r in again]
    assert first[0]["billing_credits"] == Decimal("0.00001")


@pytest.mark.parametrize("lib", LIBS)
def test_speech_binary_row_without_impact_unless_headers(lib: Any) -> None:
    audio = bytes(range(256)) * 100
    _rec, sink, t = make(
        lib,
        {
            ("POST", "/v1/audio/speech"): (200, [("content-type", "audio/mpeg")], split_every(audio, 1000)),
            ("POST", "/speech-with-headers/v1/audio/speech"): (
                200,
                [
                    ("content-type", "audio/mpeg"),
                    ("x-melious-energy-kwh", "0.00002"),
                    ("x-melious-billing-credits", "0.000001"),
                ],
                [audio],
            ),
        },
    )
    assert (
        post(lib, t, "/v1/audio/speech", {"model": "tts-1", "input": "hi", "voice": "alloy"}).content == audio
    )
    post(lib, t, "/speech-with-headers/v1/audio/speech", {"model": "tts-1"})
    plain, withh = sink.rows
    assert (
        plain["impact_reported"] is False
        and plain["model"] == "tts-1"
        and plain["response_bytes"] == len(audio)
    )
    assert plain["parse_warnings"] == ""
    assert withh["impact_reported"] is True and withh["energy_kwh"] == 0.00002
    assert (
        withh["billing_credits"] == Decimal("0.000001") and "impact_from_headers" in withh["parse_warnings"]
    )


@pytest.mark.parametrize("lib", LIBS)
def test_transcriptions_multipart_model_and_formats(lib: Any) -> None:
    srt = b"1\n00:00:00,000 --> 00:00:01,000\nHallo\n"
    verbose = b'{"text": "Hallo", "segments": [], "environment_impact": {"energy_kwh": 0.001}}'
    sink = MemorySink()
    rec = Recorder(sink)
    bodies = iter([(srt, "text/plain; charset=utf-8"), (verbose, "application/json")])

    def handler(request: Any) -> Any:
        body, ctype = next(bodies)
        return lib.Response(200, headers={"content-type": ctype}, stream=chunk_stream(lib, [body]))

    t = rec.transport(lib.MockTransport(handler))
    with lib.Client(transport=t) as c:
        for fmt in ("srt", "verbose_json"):
            c.post(
                "http://m/v1/audio/transcriptions",
                files={"file": ("a.wav", b"RIFF....", "audio/wav")},
                data={"model": "whisper-large-v3", "response_format": fmt},
            )
    text_row, json_row = sink.rows
    assert text_row["model"] == "whisper-large-v3" and text_row["impact_reported"] is False
    assert text_row["parse_warnings"] == ""
    assert json_row["energy_kwh"] == 0.001


@pytest.mark.parametrize("lib", LIBS)
def test_preloaded_response_content(lib: Any) -> None:
    sink = MemorySink()
    rec = Recorder(sink)
    t = rec.transport(lib.MockTransport(lambda req: lib.Response(200, headers=JSON, content=CHAT)))
    assert post(lib, t, "/v1/chat/completions").json()["id"] == "chatcmpl-1"
    [row] = sink.rows
    assert row["input_tokens"] == 12 and row["billing_energy"] == Decimal("0.0008")


def test_unknown_post_endpoint_recorded_only_with_billing() -> None:
    priced = b'{"results": [], "billing_cost": {"credits": "0.0005", "paid_with": "credits"}}'
    _rec, sink, t = make(
        httpx2,
        {
            ("POST", "/v1/documents/convert"): (200, JSON, [priced]),
            ("POST", "/v1/other"): (200, JSON, [b'{"ok": true}']),
        },
    )
    post(httpx2, t, "/v1/documents/convert")
    post(httpx2, t, "/v1/other")
    [row] = sink.rows
    assert row["endpoint"] == "/v1/documents/convert" and row["billing_credits"] == Decimal("0.0005")


@pytest.mark.parametrize("lib", LIBS)
def test_async_transport(lib: Any) -> None:
    _rec, sink, t = make(
        lib,
        {
            ("POST", "/v1/chat/completions"): (200, SSE, split_every(openai_stream(10), 25)),
            ("POST", "/v1/embeddings"): (200, JSON, [b'{"data": [], "usage": {"total_tokens": 5}}']),
        },
    )

    async def main() -> None:
        async with lib.AsyncClient(transport=t) as c:
            r = await c.post("http://m/v1/chat/completions", json={"stream": True})
            assert r.content == openai_stream(10)
            await c.post("http://m/v1/embeddings", json={"model": "bge-m3", "input": "x"})

    asyncio.run(main())
    chat, emb = sink.rows
    assert chat["stream_completed"] is True and chat["output_tokens"] == 10
    assert (emb["input_tokens"], emb["output_tokens"], emb["model"]) == (5, 0, "bge-m3")


def test_capture_failures_never_reach_the_caller_and_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BrokenSink(MemorySink):
        def write(self, row: dict[str, Any]) -> None:
            raise OSError("disk on fire")

    rec, _sink, t = make(httpx2, {("POST", "/v1/chat/completions"): (200, JSON, [CHAT])}, sink=BrokenSink())
    with caplog.at_level(logging.DEBUG, logger="melious_impact"):
        for _ in range(3):
            assert post(httpx2, t, "/v1/chat/completions").content == CHAT
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "store" in warnings[0].getMessage()
    s = rec.stats
    assert (s.capture_errors, s.dropped, s.captured) == (3, 3, 0)


def test_parser_bug_is_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    from melious_impact.capture import exchange

    def explode(*a: Any, **k: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(exchange.Exchange, "_record", explode)
    monkeypatch.setattr(exchange.Exchange, "on_response", explode)
    rec, sink, t = make(httpx2, {("POST", "/v1/chat/completions"): (200, JSON, [CHAT])})
    assert post(httpx2, t, "/v1/chat/completions").content == CHAT
    assert rec.stats.capture_errors == 1 and sink.rows == []


def test_closed_recorder_passes_through() -> None:
    rec, sink, t = make(httpx2, {("POST", "/v1/chat/completions"): (200, JSON, [CHAT])})
    rec.close()
    rec.close()  # idempotent
    assert post(httpx2, t, "/v1/chat/completions").content == CHAT
    assert (
        sink.rows == [] and sink.flushes == 1 and sink.closes == 0
    )  # a store passed in is not ours to close


def test_transport_kinds() -> None:
    rec = Recorder(MemorySink())

    class SyncOnly(httpx2.BaseTransport):
        def handle_request(self, request: Any) -> Any:
            return httpx2.Response(200, json={})

        pool_size = 3

    class AsyncOnly(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: Any) -> Any:
            return httpx.Response(200, json={})

    s, a = rec.transport(SyncOnly()), rec.transport(AsyncOnly())
    both = rec.transport(httpx2.MockTransport(lambda r: httpx2.Response(200)))
    assert isinstance(s, httpx2.BaseTransport) and not hasattr(s, "handle_async_request")
    assert isinstance(a, httpx.AsyncBaseTransport) and not hasattr(a, "handle_request")
    assert isinstance(both, httpx2.BaseTransport) and isinstance(both, httpx2.AsyncBaseTransport)
    assert s.pool_size == 3  # other attributes are the inner transport's
    assert rec.transport(s) is s
    with pytest.raises(TypeError, match="transport"):
        rec.transport(object())


def test_record_ids_are_unique_uuid4_and_differ_after_fork() -> None:
    import os
    import uuid

    from melious_impact.capture.exchange import new_record_id

    ids = [new_record_id() for _ in range(1000)]
    assert len(set(ids)) == 1000 and all(uuid.UUID(i).version == 4 for i in ids)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(w, new_record_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(r, 64).decode()
    os.close(r)
    os.close(w)
    assert child != new_record_id() and uuid.UUID(child).version == 4


def test_json_closed_right_after_its_last_byte_is_whole_but_cut_short_is_not() -> None:
    chunks = split_every(CHAT, 100)
    for take, complete in ((len(chunks), True), (len(chunks) - 1, False)):
        _rec, sink, t = make(
            httpx2,
            {("POST", "/v1/chat/completions"): (200, [*JSON, ("content-length", str(len(CHAT)))], chunks)},
        )
        with httpx2.Client(transport=t) as c, c.stream("POST", "http://m/v1/chat/completions", json={}) as r:
            it = r.iter_raw()
            for _ in range(take):
                next(it)
        [row] = sink.rows
        assert ("body_incomplete" not in row["parse_warnings"]) is complete
        # cut short inside billing_cost: what did arrive whole is still salvaged, nothing more
        assert row["input_tokens"] == 12 and row["impact_reported"] is True
        assert (row["billing_energy"] is not None) is complete


def test_broken_clock_and_undecodable_stream_keep_their_rows() -> None:
    def clock() -> Any:
        raise RuntimeError("no time")

    rec, sink, t = make(
        httpx2,
        {("POST", "/v1/chat/completions"): (200, [*SSE, ("content-encoding", "gzip")], [b"not gzip at all"])},
        clock=clock,
    )
    with httpx2.Client(transport=t) as c, c.stream("POST", "http://m/v1/chat/completions", json={}) as r:
        assert b"".join(r.iter_raw()) == b"not gzip at all"
    [row] = sink.rows
    assert row["stream"] is True and row["stream_completed"] is False
    assert "body_undecodable" in row["parse_warnings"]
    assert row["captured_at"] is not None and rec.stats.capture_errors == 1


def test_requested_stream_without_event_stream_type_is_still_read_as_sse() -> None:
    body = openai_stream(4)
    _rec, sink, t = make(
        httpx2, {("POST", "/v1/chat/completions"): (200, [("content-type", "text/plain")], [body])}
    )
    post(httpx2, t, "/v1/chat/completions", {"model": "glm-4.7", "stream": True})
    [row] = sink.rows
    assert row["stream"] is True and row["stream_completed"] is True and row["energy_kwh"] == 0.00031


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_large_body_with_impact_between_arrays(lib: Any, encoding: str | None) -> None:
    # A ~1.5 MB embeddings body whose impact, billing and usage sit between two large
    # arrays, far from both ends: still captured, and the caller gets the same bytes.
    vectors = [[round((i * 37 + j) % 1000 / 997, 6) for j in range(512)] for i in range(150)]
    data = [{"embedding": v, "index": i} for i, v in enumerate(vectors)]
    body = (
        json.dumps({"object": "list", "data": data})[:-1]
        + ', "environment_impact": {"energy_kwh": 0.0021, "carbon_g_co2": 0.9, "water_liters": 0.003,'
        ' "renewable_percent": 40, "pue": 1.3, "provider_id": "p1", "location": "DE"},'
        ' "billing_cost": {"energy": "0.0112", "credits": "0", "paid_with": "energy"},'
        ' "usage": {"prompt_tokens": 321, "total_tokens": 321}, "extra": '
        + json.dumps(vectors)
        + ', "model": "bge-m3"}'
    ).encode()
    wire = body if encoding is None else gzip.compress(body)
    headers = JSON if encoding is None else [*JSON, ("content-encoding", encoding)]
    _rec, sink, t = make(lib, {("POST", "/v1/embeddings"): (200, headers, split_every(wire, 16384))})
    r = post(lib, t, "/v1/embeddings", {"model": "bge-m3", "input": ["x"]})
    assert r.content == body
    [row] = sink.rows
    assert (row["energy_kwh"], row["location"], row["input_tokens"]) == (0.0021, "DE", 321)
    assert row["billing_energy"] == Decimal("0.0112") and row["model"] == "bge-m3"
    assert row["impact_reported"] is True
