"""Fuzzing the capturing transport: hostile responses must reach the caller exactly as they
would without capture (same bytes, or the same exception), and never an exception of ours.

The inner transport (httpx2 and httpx 0.28) serves hypothesis-generated responses: random or
JSON or SSE bodies (broken framing included), lying Content-Encoding headers, odd statuses,
unicode tags, cut into random pieces; the caller reads everything, or abandons the stream
early. A bare client over the same inner transport is the reference.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("melious_impact.capture.recorder", reason="capture/ not written yet")
import melious_impact as mi

EXAMPLES = int(os.environ.get("MELIOUS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("MELIOUS_FUZZ_RANDOM"),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
COUNTS = {"responses": 0, "abandoned": 0, "exceptions_matched": 0}

_doc = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
_impact = st.fixed_dictionaries(
    {"energy_kwh": _doc, "carbon_g_co2": _doc, "pue": _doc, "renewable_percent": _doc, "location": _doc}
)
_json_body = st.fixed_dictionaries(
    {"id": _doc},
    optional={
        "environment_impact": st.one_of(_impact, _doc),
        "billing_cost": _doc,
        "usage": _doc,
        "error": _doc,
        "model": _doc,
    },
).map(lambda d: json.dumps(d, allow_nan=True, default=str).encode())


def _sse(events: list[bytes]) -> bytes:
    return b"".join(b"data: " + e + b"\n\n" for e in events) + b"data: [DONE]\n\n"


_body = st.one_of(
    st.binary(max_size=2000),
    _json_body,
    st.lists(_json_body, min_size=1, max_size=5).map(_sse),
    st.lists(_json_body, min_size=1, max_size=5).map(_sse).map(lambda b: b.replace(b"\n\n", b"\r\n", 2)),
    st.integers(min_value=1, max_value=3000).map(lambda n: b'{"a":' + b"[" * n + b"]" * n + b"}"),
)
_encoding = st.sampled_from([None, "gzip", "deflate", "br", "identity", "gzip, br", "x-garbage", "zstd"])


def _encode(body: bytes, declared: str | None, honest: bool) -> bytes:
    if not honest or declared in (None, "identity", "x-garbage", "zstd", "br", "gzip, br"):
        return body  # a lying header: the bytes are not what it says
    if declared == "gzip":
        return gzip.compress(body)
    return zlib.compress(body)


class _Case:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes, cuts: list[int]) -> None:
        self.status, self.headers, self.body, self.cuts = status, headers, body, sorted(set(cuts))

    def pieces(self) -> Iterator[bytes]:
        start = 0
        for cut in self.cuts:
            if cut <= len(self.body):
                yield self.body[start:cut]
                start = cut
        yield self.body[start:]


def _inner(lib: Any, case: _Case) -> Any:
    class Stream(lib.SyncByteStream):  # type: ignore[misc,name-defined]
        def __iter__(self) -> Iterator[bytes]:
            yield from case.pieces()

    class Inner(lib.BaseTransport):  # type: ignore[misc,name-defined]
        def handle_request(self, request: Any) -> Any:
            return lib.Response(case.status, headers=case.headers, stream=Stream(), request=request)

    return Inner()


def _outcome(client: Any, abandon_after: int | None) -> tuple[str, Any]:
    """What the caller observes: ('bytes', data) or ('raise', exception type name)."""
    body = {"model": "glm-4.7", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    try:
        with client.stream("POST", "https://api.melious.ai/v1/chat/completions", json=body) as resp:
            got = b""
            for chunk in resp.iter_bytes():
                got += chunk
                if abandon_after is not None and len(got) >= abandon_after:
                    break  # the caller walks away mid-stream
            return "bytes", (resp.status_code, got)
    except Exception as exc:  # the reference client raises the same
        return "raise", type(exc).__name__


class _Keep(logging.Handler):
    """Keeps what capture logs about its own failures (with tracebacks) for the report."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


LOGGED = _Keep()


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    logger = logging.getLogger("melious_impact")
    logger.addHandler(LOGGED)
    store = mi.ImpactStore(tmp_path_factory.mktemp("fuzz-store"))
    rec = mi.Recorder(store, tags={"team": "fuzz", "note": "ünïcødé ✓ ../../x"})
    yield rec
    rec.close()
    store.close()
    logger.removeHandler(LOGGED)


@FUZZ
@given(
    status=st.sampled_from([200, 200, 200, 400, 402, 429, 500, 503, 204]),
    content_type=st.sampled_from(
        ["application/json", "text/event-stream", "text/plain", "", "application/x-ndjson"]
    ),
    encoding=_encoding,
    honest=st.booleans(),
    body=_body,
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=10),
    abandon_after=st.one_of(st.none(), st.integers(min_value=0, max_value=500)),
    lib_name=st.sampled_from(["httpx2", "httpx"]),
    team=st.text(max_size=12),
)
def test_transport_passes_hostile_responses_through(
    recorder: Any,
    status: int,
    content_type: str,
    encoding: str | None,
    honest: bool,
    body: bytes,
    cuts: list[int],
    abandon_after: int | None,
    lib_name: str,
    team: str,
) -> None:
    lib = pytest.importorskip(lib_name)
    headers = [("content-type", content_type)] if content_type else []
    if encoding:
        headers.append(("content-encoding", encoding))
    wire = _encode(body, encoding, honest)
    case = _Case(status, headers, wire, cuts)
    COUNTS["responses"] += 1
    COUNTS["abandoned"] += abandon_after is not None
    bare = lib.Client(transport=_inner(lib, case))
    wrapped = lib.Client(transport=recorder.transport(_inner(lib, case)))
    expected = _outcome(bare, abandon_after)
    with mi.tags(team=team):
        got = _outcome(wrapped, abandon_after)
    bare.close()
    wrapped.close()
    assert got == expected
    COUNTS["exceptions_matched"] += expected[0] == "raise"


def test_deeply_nested_body_still_gives_a_row(tmp_path: Path) -> None:
    """Found by the random campaign: the caller is fine, but the response must still be a row."""
    import httpx2

    store = mi.ImpactStore(tmp_path / "store")
    rec = mi.Recorder(store)
    body = b'{"id": "deep-1", "x": ' + b"[" * 5000 + b"]" * 5000 + b', "usage": {"prompt_tokens": 3}}'
    case = _Case(200, [("content-type", "application/json")], body, [])
    with httpx2.Client(transport=rec.transport(_inner(httpx2, case))) as client:
        assert client.post("https://api.melious.ai/v1/chat/completions", json={"model": "m"}).content == body
    rec.flush()
    frame = store.to_pandas()
    errors = rec.stats.capture_errors
    rec.close()
    store.close()
    assert errors == 0
    assert len(frame) == 1


def test_transport_fuzz_figures(recorder: Any, figures: dict[str, Any], tmp_path: Path) -> None:
    """Runs after the property (file order): rows stayed physical; capture raised nothing."""
    recorder.flush()
    stats = recorder.stats
    frame = recorder.store.to_pandas()
    bad_energy = frame[(frame["energy_kwh"] < 0) | frame["energy_kwh"].isin([float("inf")])]
    figures.update(
        inputs_fuzzed=COUNTS["responses"],
        abandoned_streams=COUNTS["abandoned"],
        same_exception_as_bare=COUNTS["exceptions_matched"],
        rows=len(frame),
        capture_errors=stats.capture_errors,
        dropped=stats.dropped,
    )
    assert COUNTS["responses"] > 0
    assert len(bad_energy) == 0
    assert stats.dropped == 0
    problems = [LOGGED.format(r) for r in LOGGED.records if "capture" in r.name]
    assert stats.capture_errors == 0, f"capture caught its own exceptions: {problems[:3]}"
