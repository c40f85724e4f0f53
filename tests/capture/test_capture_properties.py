"""Property tests: whatever the body and however it is chunked, the caller receives exactly
the bytes it would have received without capture, no exception reaches it, and each
response gives exactly one row."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path
from typing import Any

import httpx
import httpx2
from capture_support import MemorySink, chunk_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "parse"))
from sse_streams import anthropic_stream, openai_stream

from melious_impact.capture.recorder import Recorder

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

bodies = st.one_of(
    st.binary(max_size=4000),
    st.builds(
        openai_stream,
        st.integers(0, 40),
        impact_on=st.sampled_from(["usage", "finish", "none"]),
        done=st.booleans(),
        text=st.text(max_size=20),
    ),
    st.builds(anthropic_stream, impact_on=st.sampled_from(["message_delta", "custom"]), stop=st.booleans()),
    st.builds(lambda b, cut: b[:cut], st.builds(openai_stream, st.integers(0, 20)), st.integers(0, 3000)),
    st.text(max_size=500).map(
        lambda t: (
            '{"usage": {"prompt_tokens": "' + t + '"}, "environment_impact": '
            '{"energy_kwh": NaN}, "billing_cost": {"energy": 1e999}}'
        ).encode()
    ),
)
content_types = st.sampled_from(
    ["application/json", "text/event-stream", "text/plain", "audio/mpeg", "", "application/jsonl"]
)
paths = st.sampled_from(
    [
        "/v1/chat/completions",
        "/v1/messages",
        "/v1/embeddings",
        "/v1/audio/speech",
        "/v1/files/file-1/content",
        "/v1/models",
    ]
)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    points = sorted({p % (len(data) + 1) for p in points})
    out, prev = [], 0
    for p in [*points, len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


@SETTINGS
@given(
    bodies,
    st.lists(st.integers(min_value=0, max_value=10**6), max_size=10),
    content_types,
    paths,
    st.booleans(),
    st.sampled_from([httpx2, httpx]),
)
def test_caller_receives_the_same_bytes(
    body: bytes, points: list[int], ctype: str, path: str, gzipped: bool, lib: Any
) -> None:
    wire = gzip.compress(body) if gzipped else body
    chunks = cut(wire, points)
    headers = {"content-type": ctype} | ({"content-encoding": "gzip"} if gzipped else {})

    def handler(request: Any) -> Any:
        return lib.Response(200, headers=headers, stream=chunk_stream(lib, chunks))

    method = "GET" if "files" in path or "models" in path else "POST"
    bare = lib.Client(transport=lib.MockTransport(handler))
    sink = MemorySink()
    rec = Recorder(sink)
    wrapped = lib.Client(transport=rec.transport(lib.MockTransport(handler)))
    results = []
    for client in (bare, wrapped):
        with client, client.stream(method, "http://m" + path, json={"model": "m"}) as r:
            raw = list(r.iter_raw())
        results.append(raw)
    assert b"".join(results[0]) == b"".join(results[1]) == wire
    assert rec.stats.capture_errors == 0
    if path == "/v1/models":
        assert sink.rows == []
    elif path != "/v1/files/file-1/content":
        assert len(sink.rows) == 1
        assert sink.rows[0]["response_bytes"] == len(wire)


@SETTINGS
@given(bodies, st.integers(min_value=0, max_value=50), st.sampled_from([httpx2, httpx]))
def test_abandoning_at_any_point_gives_one_row(body: bytes, stop_after: int, lib: Any) -> None:
    chunks = cut(body, list(range(0, len(body), 37)))

    def handler(request: Any) -> Any:
        return lib.Response(
            200, headers={"content-type": "text/event-stream"}, stream=chunk_stream(lib, chunks)
        )

    sink = MemorySink()
    rec = Recorder(sink)
    with (
        lib.Client(transport=rec.transport(lib.MockTransport(handler))) as c,
        c.stream("POST", "http://m/v1/chat/completions", json={}) as r,
    ):
        for i, _ in enumerate(r.iter_raw()):
            if i >= stop_after:
                break
    assert len(sink.rows) == 1
    row = sink.rows[0]
    if row["stream_completed"]:
        assert b"[DONE]" in body or b"message_stop" in body
