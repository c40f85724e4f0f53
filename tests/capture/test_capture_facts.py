"""Deferred rows: small JSON responses are journaled as facts and built at conversion.

With an ImpactStore and no extra sinks, capture journals the facts of a small JSON
response (its context and pruned body) and the row is built when the journal is
converted to Parquet. These tests pin that those rows are the rows capture builds at
once (extra sinks force that path) on a corpus of clean and unusual bodies, that the
journal holds neither prompt nor completion while it waits, and that the path is
really taken.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pandas as pd
import pytest
from openai import OpenAI

import melious_impact as mi
from melious_impact.capture.recorder import Recorder
from melious_impact.parse.row import FACTS_TAG
from melious_impact.store.codec import decode_segment, encode_facts, header_record

sys.path.insert(0, str(Path(__file__).parents[1] / "parse"))
from test_parse_fast_path import CLEAN, UNUSUAL

# Columns that differ between two captures of the same response by nature.
_VOLATILE = ["record_id", "captured_at", "latency_ms", "ttft_ms"]


class _Sink:
    """An extra sink: its presence makes capture build every row at once."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        self.rows.append(row)


def _serve(bodies: list[bytes], headers: list[tuple[str, str]]) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        i = int(request.headers["x-case"])
        return httpx2.Response(200, headers=headers, content=bodies[i])

    return httpx2.MockTransport(handler)


def _capture(
    tmp: Path, name: str, bodies: list[bytes], headers: list[tuple[str, str]], *, at_once: bool
) -> pd.DataFrame:
    store = mi.ImpactStore(tmp / name, flush_interval_s=3600)
    sinks = [_Sink()] if at_once else []
    rec = Recorder(store, tags={"team": "t"}, sinks=sinks)
    with rec.http_client(transport=_serve(bodies, headers)) as client:
        for i in range(len(bodies)):
            with mi.tags(case=str(i)):
                client.post(
                    "http://melious.test/v1/chat/completions",
                    json={"model": "glm-4.7:eco", "messages": [{"role": "user", "content": "hi"}]},
                    headers={"x-case": str(i), "x-stainless-retry-count": "1"},
                ).read()
    rec.close()
    df = store.to_pandas()
    store.close()
    df["case"] = df["tags"].map(lambda t: int(json.loads(t)["case"]))
    return df.drop(columns=_VOLATILE).sort_values("case").reset_index(drop=True)


@pytest.mark.parametrize(
    "headers",
    [
        [("content-type", "application/json"), ("x-ratelimit-limit-requests", "600"), ("x-request-id", "r1")],
        [("content-type", "text/plain"), ("x-ratelimit-limit", "1e3"), ("request-id", " r2 ")],  # sniffed
    ],
    ids=["json", "untyped"],
)
def test_deferred_rows_equal_rows_built_at_once(tmp_path: Path, headers: list[tuple[str, str]]) -> None:
    bodies = [b.encode() for b in CLEAN + UNUSUAL] + [b"not json at all", b""]
    deferred = _capture(tmp_path, "deferred", bodies, headers, at_once=False)
    at_once = _capture(tmp_path, "at_once", bodies, headers, at_once=True)
    assert len(deferred) == len(bodies) == len(at_once)
    pd.testing.assert_frame_equal(deferred, at_once)
    assert deferred["attempt"].eq(1).all() and deferred["flavor"].eq("eco").all()


def _journal_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((root / "_journal").rglob("*")) if p.is_file())


def test_journal_holds_no_prompt_or_completion_while_it_waits(tmp_path: Path) -> None:
    prompt, completion = "CANARY-prompt-91c2", "CANARY-completion-5e0d"
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "glm-4.7",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": completion}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        "environment_impact": {"energy_kwh": 0.0002, "carbon_g_co2": 0.05, "provider_id": "ovhcloud"},
        "billing_cost": {"energy": "0.0008", "credits": "0.00000008", "paid_with": "energy"},
    }
    transport = httpx2.MockTransport(lambda r: httpx2.Response(200, json=body))
    store = mi.ImpactStore(tmp_path / "s", flush_interval_s=3600)
    rec = Recorder(store)
    client = OpenAI(
        base_url="http://melious.test/v1",
        api_key="sk-CANARY-key",
        http_client=rec.http_client(transport=transport),
    )
    client.chat.completions.create(model="glm-4.7", messages=[{"role": "user", "content": prompt}])

    journal = _journal_bytes(tmp_path / "s")
    assert FACTS_TAG.encode() in journal  # the deferred path was taken
    for canary in (prompt, completion, "sk-CANARY-key"):
        assert canary.encode() not in journal

    rec.flush()
    row = store.to_pandas().iloc[0]
    assert (row["input_tokens"], row["output_tokens"], row["request_id"]) == (7, 3, "chatcmpl-1")
    assert row["billing_credits"] == Decimal("0.00000008")
    rec.close()
    store.close()


def test_facts_of_an_unknown_layout_are_counted_not_guessed() -> None:
    data = header_record() + encode_facts((FACTS_TAG, 99, True, "", b"{}"))
    decoded = decode_segment(data)
    assert decoded.rows == [] and decoded.damaged_records == 1
