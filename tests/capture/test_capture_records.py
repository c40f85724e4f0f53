"""One row path: the store journals a record per response and builds its row at conversion.

The same record gives the same row wherever its row is built: at once for a sink that
takes rows, later for the store. Checked through the real OpenAI SDK over a loopback
server, on a family of responses (compact JSON, nested objects, streams, errors, gzip,
unknown endpoints), then in a reader process that never imported capture, then with a
record nobody can read and a parser that fails at conversion.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pandas as pd
import pytest
from capture_support import Canned, MemorySink, canned_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "parse"))
from sse_streams import openai_stream

from melious_impact.capture.recorder import Recorder
from melious_impact.records import COLUMN_NAMES
from melious_impact.store.impact_store import ImpactStore

SECRET = "CANARY-completion-77a1"
IMPACT = {"energy_kwh": 0.0004, "carbon_g_co2": 0.12, "water_liters": 0.0003, "pue": 1.2, "location": "FR"}
BILLING = {"energy": "0.0008", "credits": "0.00000008", "paid_with": "energy"}


def _chat(**over: Any) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-r1",
        "object": "chat.completion",
        "model": "glm-4.7",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": SECRET}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15},
        "environment_impact": IMPACT,
        "billing_cost": BILLING,
    }
    body.update(over)
    return json.dumps({k: v for k, v in body.items() if v is not ...}, separators=(",", ":")).encode()


JSON = [("content-type", "application/json"), ("x-request-id", "req_7"), ("set-cookie", "session=CANARY")]
ROUTES: dict[str, Canned] = {
    "/v1/chat/completions": Canned(200, JSON, [_chat()]),
    "/a/chat/completions": Canned(
        200, JSON, [_chat(environment_impact=..., data={"environment_impact": IMPACT})]
    ),
    "/b/chat/completions": Canned(
        200, [("content-type", "text/event-stream")], [openai_stream(6, text=SECRET)]
    ),
    "/c/chat/completions": Canned(
        400, JSON, [json.dumps({"error": {"code": "INFERENCE_3207", "message": SECRET}}).encode()]
    ),
    "/d/chat/completions": Canned(200, [*JSON, ("content-encoding", "gzip")], [gzip.compress(_chat())]),
    "/e/embeddings": Canned(
        200,
        JSON,
        [
            json.dumps(
                {"object": "list", "data": [], "model": "bge-m3", "usage": {"total_tokens": 9}}
            ).encode()
        ],
    ),
    "/f/chat/completions": Canned(200, JSON, [_chat()[:-40]]),  # cut short
    "/g/kit/price": Canned(200, JSON, [json.dumps({"result": SECRET, "billing_cost": BILLING}).encode()]),
    "/h/kit/other": Canned(200, JSON, [json.dumps({"result": SECRET}).encode()]),  # no row
    "/i/chat/completions": Canned(
        200,
        [("content-type", "application/json"), ("x-melious-energy-kwh", "0.5"), ("set-cookie", "id=CANARY")],
        [_chat(environment_impact=...)],
    ),
}


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _same(a: Any, b: Any) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    if isinstance(a, pd.Timestamp):
        return bool(a.to_pydatetime() == b)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(str(a)) == Decimal(str(b))
    return bool(a == b)


def test_store_rows_built_at_conversion_equal_rows_built_at_once(tmp_path: Path) -> None:
    store = ImpactStore(tmp_path / "s", flush_interval_s=3600)
    at_once = MemorySink()
    rec = Recorder(store, sinks=[at_once])
    with canned_server() as server:
        server.routes = {("POST", path): canned for path, canned in ROUTES.items()}
        with rec.http_client(base_url=server.url) as client:
            for path in ROUTES:
                stream = path.startswith("/b/")
                client.post(
                    path, json={"model": "glm-4.7:eco", "stream": stream, "messages": [{"content": "hi"}]}
                )
    journal = b"".join(p.read_bytes() for p in (tmp_path / "s" / "_journal").rglob("*") if p.is_file())
    assert SECRET.encode() not in journal and b"CANARY" not in journal and b"chatcmpl-r1" in journal
    rec.flush()
    stored = store.to_pandas()
    assert len(at_once.rows) == len(ROUTES) - 1 == len(stored)  # the unknown endpoint without ours: no row
    by_id = {r["record_id"]: r for r in at_once.rows}
    for _, row in stored.iterrows():
        expected = by_id[row["record_id"]]
        different = [c for c in COLUMN_NAMES if not _same(row[c], expected[c])]
        assert different == [], (row["endpoint"], {c: (row[c], expected[c]) for c in different})
    flat = json.dumps([{k: str(v) for k, v in r.items()} for r in at_once.rows])
    assert SECRET not in flat and "CANARY" not in flat
    by_path = {r["endpoint"]: r for r in at_once.rows}
    assert by_path["/a/chat/completions"]["energy_kwh"] == 0.0004  # nested: parsed whole, same row
    assert by_path["/c/chat/completions"]["error_code"] == "INFERENCE_3207"
    assert by_path["/d/chat/completions"]["billing_credits"] == Decimal("0.00000008")
    assert "body_malformed" in by_path["/f/chat/completions"]["parse_warnings"]  # parsed whole
    assert by_path["/i/chat/completions"]["energy_kwh"] == 0.5
    assert by_path["/b/chat/completions"]["stream_completed"] is True
    rec.close()
    store.close()


_CHILD = """
import os, sys
import httpx2
from melious_impact.capture.recorder import Recorder
from melious_impact.store.impact_store import ImpactStore
body = sys.argv[2].encode()
store = ImpactStore(sys.argv[1], flush_interval_s=3600)
rec = Recorder(store)
t = httpx2.MockTransport(lambda r: httpx2.Response(200, headers={"content-type": "application/json"}, content=body))
with httpx2.Client(transport=rec.transport(t)) as c:
    for _ in range(3):
        c.post("http://melious.test/v1/chat/completions", json={"model": "glm-4.7"})
os._exit(0)
"""

_READER = """
import sys
from melious_impact.store.impact_store import ImpactStore
before = sorted(m for m in sys.modules if m.startswith(("melious_impact.capture", "melious_impact.parse")))
frame = ImpactStore(sys.argv[1]).to_pandas()
after = "melious_impact.parse.record" in sys.modules
print(len(frame), int(frame["output_tokens"].sum()), before == [], after)
"""


def test_a_reader_that_never_captured_builds_a_dead_writers_rows(tmp_path: Path) -> None:
    root = str(tmp_path / "s")
    env = {**os.environ, "MELIOUS_IMPACT_HOME": str(tmp_path / "home")}
    subprocess.run([sys.executable, "-c", _CHILD, root, _chat().decode()], check=True, env=env, timeout=120)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_READER), root],
        check=True,
        env=env,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert out.stdout.split() == ["3", "12", "True", "True"]


def test_a_record_of_an_unknown_kind_is_counted_and_the_rest_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ImpactStore(tmp_path / "s", flush_interval_s=3600)
    writer = store.writer()
    writer.write({"captured_at": pd.Timestamp("2026-01-02", tz="UTC").to_pydatetime(), "endpoint": "/v1/x"})
    writer.write_record("from-the-future/9", (1, 2, 3))
    writer.write({"captured_at": pd.Timestamp("2026-01-03", tz="UTC").to_pydatetime(), "endpoint": "/v1/y"})
    with caplog.at_level(logging.WARNING, logger="melious_impact"):
        store.flush()
    assert sorted(store.to_pandas()["endpoint"]) == ["/v1/x", "/v1/y"]
    assert store.stats["journal_records_damaged"] == 1
    assert any("from-the-future/9" in r.getMessage() for r in caplog.records)
    store.close()


def test_a_parser_bug_at_conversion_keeps_a_thin_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from melious_impact.parse import record

    def explode(*a: Any, **k: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(record, "apply_json", explode)
    store = ImpactStore(tmp_path / "s", flush_interval_s=3600)
    rec = Recorder(store)
    t = httpx2.MockTransport(lambda r: httpx2.Response(200, headers=JSON[:1], content=_chat()))
    with httpx2.Client(transport=rec.transport(t)) as c:
        assert c.post("http://melious.test/v1/chat/completions", json={"model": "glm-4.7"}).status_code == 200
    rec.flush()
    [row] = store.to_pandas().to_dict("records")
    assert row["parse_warnings"] == "parse_error" and row["status_code"] == 200 and row["model"] == "glm-4.7"
    assert rec.stats.capture_errors == 0 and rec.stats.captured == 1
    rec.close()
    store.close()
