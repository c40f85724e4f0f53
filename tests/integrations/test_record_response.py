"""rec.record_response(obj): a response handed to user code becomes the same row as a captured one."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import openai
import pandas as pd
import pytest
from integration_support import rows, tags_of, warnings_of

from melious_impact.capture.recorder import Recorder
from melious_impact.capture.tags import tags
from melious_impact.store.impact_store import ImpactStore

BODY = (
    b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"glm-4.7","choices":[],'
    b'"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46},'
    b'"environment_impact":{"energy_kwh":0.00012,"carbon_g_co2":0.0301,"water_liters":0.0002,'
    b'"renewable_percent":41.5,"pue":1.2,"provider_id":"nebius","location":"FI"},'
    b'"billing_cost":{"energy":"0.000123456789012345678","credits":0,"paid_with":"energy"}}'
)


def body(n: int) -> bytes:
    return BODY.replace(b"chatcmpl-1", b"chatcmpl-%d" % n)


def test_raw_body_dict_and_sdk_object_give_the_same_row(rec: Recorder, store: ImpactStore) -> None:
    with tags(feature="cb"):
        rec.record_response(body(1), model="glm-4.7:eco")
    rec.record_response(json.loads(body(2)))
    rec.record_response(openai.types.chat.ChatCompletion.model_validate_json(body(3)))
    df = rows(store)
    assert list(df["request_id"]) == ["chatcmpl-1", "chatcmpl-2", "chatcmpl-3"]
    for _, r in df.iterrows():
        assert (r["input_tokens"], r["output_tokens"]) == (12, 34)
        assert r["endpoint"] == "/v1/chat/completions" and r["provider_id"] == "nebius"
        assert r["carbon_g_co2"] == pytest.approx(0.0301) and r["team"] == "search"
        assert r["dedup_key"] == "response:" + r["request_id"] and r["source"] == "live"
        assert pd.isna(r["latency_ms"]) and pd.isna(r["response_bytes"])
    # The raw body keeps money exact; a parsed object went through a float, and says so.
    assert df.loc[0, "billing_energy"] == Decimal("0.000123456789012345678").quantize(Decimal("1e-18"))
    assert df.loc[2, "billing_energy"] == Decimal("0.000123456789012346")
    assert "from_response_object" not in warnings_of(df.loc[0])
    assert "from_response_object" in warnings_of(df.loc[1]) and "from_response_object" in warnings_of(
        df.loc[2]
    )
    assert (df.loc[0, "flavor"], tags_of(df.loc[0])) == ("eco", {"feature": "cb"})


def test_one_response_recorded_twice_is_one_row(rec: Recorder, store: ImpactStore) -> None:
    rec.record_response(body(7))
    rec.record_response(json.loads(body(7)))
    assert rec.stats.captured == 2
    assert list(rows(store)["request_id"]) == ["chatcmpl-7"]


def test_endpoints_are_read_from_the_object_or_given(rec: Recorder, store: ImpactStore) -> None:
    rec.record_response({"type": "message", "id": "msg_1", "usage": {"input_tokens": 3, "output_tokens": 4}})
    rec.record_response(
        {
            "object": "list",
            "data": [{"object": "embedding", "embedding": [0.1]}],
            "usage": {"total_tokens": 5},
        }
    )
    rec.record_response({"results": [], "usage": {"total_tokens": 7}}, endpoint="/v1/rerank")
    df = rows(store)
    assert list(df["endpoint"]) == ["/v1/messages", "/v1/embeddings", "/v1/rerank"]
    assert list(df["input_tokens"]) == [3, 5, 7] and df.loc[0, "api_shape"] == "anthropic"
    with pytest.raises(ValueError, match="pass endpoint="):
        rec.record_response({"something": 1})
    with pytest.raises(ValueError, match="not an inference endpoint"):
        rec.record_response({"data": []}, endpoint="/v1/models", method="GET")
    with pytest.raises(TypeError, match="response body"):
        rec.record_response(42)


def test_after_close_nothing_is_recorded(store: ImpactStore) -> None:
    rec = Recorder(store)
    rec.close()
    assert rec.record_response(BODY) is None
    assert rec.stats.dropped == 1 and len(rows(store)) == 0


def test_a_callback_object_from_a_real_call(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="k", max_retries=0)
    r = client.chat.completions.create(model="glm-4.7", messages=[{"role": "user", "content": "hi"}])
    client.close()
    row: Any = rec.record_response(r)
    assert row["request_id"] == r.id and row["output_tokens"] == r.usage.completion_tokens
    assert row["energy_kwh"] == pytest.approx(r.model_extra["environment_impact"]["energy_kwh"])
    assert row["billing_credits"] == Decimal(str(r.model_extra["billing_cost"]["credits"])).quantize(
        Decimal("1e-18")
    )
