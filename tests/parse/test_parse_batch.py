"""Batch output JSONL -> rows: OpenAI line shape, variants, broken lines, stable dedup keys."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from melious_impact.parse.batch import BatchLines, parse_batch_output, rows_from_batch_output
from melious_impact.records import COLUMN_NAMES

IMPACT = '{"energy_kwh": 0.0002, "carbon_g_co2": 0.01, "water_liters": 0.0003, "renewable_percent": 60, "pue": 1.1, "provider_id": "regolo", "location": "IT"}'
BILLING = '{"energy": "0.183", "credits": "0.0000183", "paid_with": "credits"}'


def chat_line(i: int, *, created: int = 1751328000) -> str:
    body = (
        f'{{"id": "chatcmpl-b{i}", "object": "chat.completion", "created": {created}, "model": "glm-4.7",'
        f' "choices": [], "usage": {{"prompt_tokens": {10 + i}, "completion_tokens": 5}},'
        f' "environment_impact": {IMPACT}, "billing_cost": {BILLING}}}'
    )
    return (
        f'{{"id": "batch_req_{i}", "custom_id": "req-{i}", "response": {{"status_code": 200,'
        f' "request_id": "rq_{i}", "body": {body}}}, "error": null}}'
    )


ERROR_LINE = '{"id": "batch_req_e", "custom_id": "req-e", "response": null, "error": {"code": "INFERENCE_3207", "message": "too long"}}'


def test_rows_from_openai_shaped_output() -> None:
    data = "\n".join([chat_line(1), "", chat_line(2), ERROR_LINE]) + "\n"
    rows = rows_from_batch_output(data, batch_id="batch_abc")
    assert len(rows) == 3
    assert all(set(r) == set(COLUMN_NAMES) for r in rows)
    r1 = rows[0]
    assert r1["source"] == "batch" and r1["custom_id"] == "req-1" and r1["batch_id"] == "batch_abc"
    assert (r1["status_code"], r1["request_id"], r1["model"]) == (200, "chatcmpl-b1", "glm-4.7")
    assert (r1["input_tokens"], r1["output_tokens"]) == (11, 5)
    assert r1["billing_energy"] == Decimal("0.183") and r1["billing_credits"] == Decimal("0.0000183")
    assert r1["impact_reported"] is True and r1["provider_id"] == "regolo"
    assert r1["endpoint"] == "/v1/chat/completions" and r1["api_shape"] == "openai"
    assert r1["captured_at"] == datetime(2025, 7, 1, tzinfo=UTC)  # the body's "created"
    err = rows[2]
    assert err["error_code"] == "INFERENCE_3207" and err["impact_reported"] is False
    assert err["custom_id"] == "req-e"
    assert "too long" not in json.dumps(err, default=str)


def test_dedup_key_is_stable_and_distinct() -> None:
    data = chat_line(1) + "\n" + chat_line(2) + "\n"
    a = rows_from_batch_output(data, batch_id="b1")
    b = rows_from_batch_output(data.encode(), batch_id="b1")
    assert [r["dedup_key"] for r in a] == [r["dedup_key"] for r in b]
    assert a[0]["dedup_key"] != a[1]["dedup_key"]
    assert a[0]["record_id"] != b[0]["record_id"]  # each row is still its own record
    # A line id is unique on its own: downloaded under the output file id, imported under
    # the batch id or with none, the same line counts once.
    for other_id in ("b2", None):
        other = rows_from_batch_output(data, batch_id=other_id)
        assert other[0]["dedup_key"] == a[0]["dedup_key"]


def test_custom_id_alone_is_scoped_by_batch() -> None:
    """Custom ids repeat across batches: with nothing else to tell lines apart, the batch does."""
    line = json.dumps({"custom_id": "row-1", "response": {"status_code": 200, "body": {"object": "x"}}})
    k1 = rows_from_batch_output(line, batch_id="b1")[0]["dedup_key"]
    k2 = rows_from_batch_output(line, batch_id="b2")[0]["dedup_key"]
    assert k1 != k2
    assert rows_from_batch_output(line, batch_id="b1")[0]["dedup_key"] == k1


def test_dedup_without_line_id_uses_custom_id_and_request_id() -> None:
    line = {
        "custom_id": "c1",
        "response": {"status_code": 200, "request_id": "r1", "body": {"object": "chat.completion"}},
    }
    k1 = rows_from_batch_output(json.dumps(line))[0]["dedup_key"]
    line2 = {**line, "response": {**line["response"], "request_id": "r2"}}
    k2 = rows_from_batch_output(json.dumps(line2))[0]["dedup_key"]
    assert k1 != k2 and k1 == rows_from_batch_output(json.dumps(line) + "\n")[0]["dedup_key"]


def test_broken_lines_are_skipped_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    data = chat_line(1) + "\n{not json\n[1,2]\n" + chat_line(2)  # no final newline
    result = parse_batch_output(data)
    assert len(result.rows) == 2 and result.broken_lines == 2
    with caplog.at_level(logging.WARNING, logger="melious_impact"):
        rows = rows_from_batch_output(data)
    assert len(rows) == 2
    assert "2 broken line(s)" in caplog.text


def test_input_file_lines_are_not_output() -> None:
    line = '{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "glm-4.7:batch", "messages": []}}'
    result = parse_batch_output(line + "\n" + line + "\n")
    assert result.rows == [] and result.not_output_lines == 2 and result.broken_lines == 0


def test_variants_body_as_string_and_response_as_body() -> None:
    body = json.dumps(
        {
            "object": "list",
            "data": [{"object": "embedding", "embedding": [0.1]}],
            "model": "bge-m3",
            "usage": {"total_tokens": 9},
        }
    )
    lines = [
        json.dumps({"id": "l1", "custom_id": "s", "response": {"status_code": 200, "body": body}}),
        json.dumps({"id": "l2", "custom_id": "d", "response": json.loads(body)}),
    ]
    rows = rows_from_batch_output("\n".join(lines))
    assert [(r["endpoint"], r["input_tokens"], r["output_tokens"]) for r in rows] == [
        ("/v1/embeddings", 9, 0),
        ("/v1/embeddings", 9, 0),
    ]
    assert rows[1]["status_code"] is None  # not reported: not invented


def test_anthropic_message_batch_results() -> None:
    ok = {
        "custom_id": "m1",
        "result": {
            "type": "succeeded",
            "message": {
                "id": "msg_1",
                "type": "message",
                "model": "claude-opus-4",
                "usage": {"input_tokens": 7, "output_tokens": 3},
            },
        },
    }
    bad = {
        "custom_id": "m2",
        "result": {"type": "errored", "error": {"type": "error", "error": {"type": "invalid_request_error"}}},
    }
    expired = {"custom_id": "m3", "result": {"type": "expired"}}
    rows = rows_from_batch_output("\n".join(json.dumps(x) for x in (ok, bad, expired)))
    assert (rows[0]["endpoint"], rows[0]["input_tokens"], rows[0]["status_code"]) == ("/v1/messages", 7, 200)
    assert rows[1]["error_code"] == "invalid_request_error"
    assert rows[2]["error_code"] == "expired"


def test_captured_at_fallback_and_flavor() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    line = {"id": "x", "custom_id": "c", "response": {"status_code": 200, "body": {"model": "glm-4.7:batch"}}}
    row = rows_from_batch_output(json.dumps(line), captured_at=when)[0]
    assert row["captured_at"] == when and row["flavor"] == "batch"


def test_incremental_reader_in_tiny_pieces_matches_whole() -> None:
    data = ("\r\n".join([chat_line(i) for i in range(5)]) + "\r\n").encode()
    reader = BatchLines(batch_id="f")
    got = []
    for i in range(0, len(data), 7):
        got += reader.feed(data[i : i + 7])
    got += reader.close()
    whole = rows_from_batch_output(data, batch_id="f")
    assert [r["dedup_key"] for r in got] == [r["dedup_key"] for r in whole]
    assert [r["input_tokens"] for r in got] == [10, 11, 12, 13, 14]
