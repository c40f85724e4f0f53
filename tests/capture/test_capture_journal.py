"""The journal, where a row waits before Parquet, holds no prompt, completion or key.

Every response is journaled on the caller's thread as one record (its context and the
compact JSON of the members a row reads, or the columns parsed from a stream); the journal
is plain files on disk until the background conversion builds the rows, so what it holds
matters.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx2
from openai import OpenAI

import melious_impact as mi
from melious_impact.capture.recorder import Recorder


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
    assert b"chatcmpl-1" in journal  # the row is there, waiting for conversion
    for canary in (prompt, completion, "sk-CANARY-key"):
        assert canary.encode() not in journal

    rec.flush()
    row = store.to_pandas().iloc[0]
    assert (row["input_tokens"], row["output_tokens"], row["request_id"]) == (7, 3, "chatcmpl-1")
    assert row["billing_credits"] == Decimal("0.00000008")
    rec.close()
    store.close()
