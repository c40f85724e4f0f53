"""Every endpoint and shape, served over loopback and read with the real OpenAI/Anthropic SDKs."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import httpx2
import numpy as np
import openai
import pytest
from anthropic import Anthropic, AsyncAnthropic
from api_keys import IMPACT_KEYS
from openai import AsyncOpenAI, OpenAI

from melious_impact.emulator import serve


def oa(url: str) -> OpenAI:
    return OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)


def test_chat_json(base_url: str) -> None:
    r = oa(base_url).chat.completions.create(
        model="glm-4.7", messages=[{"role": "user", "content": "x" * 400}], max_tokens=2000
    )
    extra = r.model_extra or {}
    assert set(extra["environment_impact"]) == set(IMPACT_KEYS)
    assert r.usage is not None and r.usage.prompt_tokens == 100 + 4  # 400 chars / 4 + message overhead
    assert r.model == "glm-4.7"
    assert extra["environment_impact"]["provider_id"] in {"ovhcloud", "nebius", "regolo"}
    bill = extra["billing_cost"]
    assert bill["paid_with"] == "credits" and bill["energy"] == "0" and float(bill["credits"]) > 0


def test_chat_max_tokens_caps_output(base_url: str) -> None:
    r = oa(base_url).chat.completions.create(
        model="gpt-oss-20b", messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )
    assert r.usage is not None and r.usage.completion_tokens == 5
    assert r.choices[0].finish_reason == "length"


def test_chat_stream_with_usage_carries_impact_on_usage_chunk(base_url: str) -> None:
    chunks = list(
        oa(base_url).chat.completions.create(
            model="deepseek-v3.2:eco",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage is not None
    assert "environment_impact" in (usage_chunk.model_extra or {})
    assert all("environment_impact" not in (c.model_extra or {}) for c in chunks[:-1])
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == usage_chunk.usage.completion_tokens


def test_chat_stream_without_usage_puts_impact_on_finish_chunk(base_url: str) -> None:
    chunks = list(
        oa(base_url).chat.completions.create(
            model="gpt-oss-120b", messages=[{"role": "user", "content": "hello"}], stream=True
        )
    )
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert "billing_cost" in (chunks[-1].model_extra or {})


@pytest.mark.parametrize("placement", ["finish", "trailing", "none"])
def test_stream_placement_configurable(placement: str) -> None:
    with serve(seed=1, stream_impact=placement) as url:
        chunks = list(
            oa(url).chat.completions.create(
                model="glm-4.7",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    carrying = [i for i, c in enumerate(chunks) if "environment_impact" in (c.model_extra or {})]
    expected = {"finish": [len(chunks) - 2], "trailing": [len(chunks) - 1], "none": []}[placement]
    assert carrying == expected


def test_async_openai(base_url: str) -> None:
    async def go() -> float:
        client = AsyncOpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=0)
        r = await client.chat.completions.create(
            model="kimi-k2-thinking", messages=[{"role": "user", "content": "q"}]
        )
        await client.close()
        return float((r.model_extra or {})["environment_impact"]["energy_kwh"])

    assert asyncio.run(go()) > 0


def test_messages_json_and_claude_mapping(base_url: str) -> None:
    an = Anthropic(base_url=base_url, api_key="sk-test", max_retries=0)
    m = an.messages.create(
        model="claude-opus-4-7", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert m.model == "claude-opus-4-7"  # echoed as requested
    extra = m.model_extra or {}
    # opus maps to glm-4.7 (as the Melious API documents), so it routes to a glm-4.7 provider
    assert extra["environment_impact"]["provider_id"] in {"ovhcloud", "nebius", "regolo"}
    assert m.usage.input_tokens == 5


def test_messages_stream_impact_on_message_delta(base_url: str) -> None:
    an = Anthropic(base_url=base_url, api_key="sk-test", max_retries=0)
    events = list(
        an.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=40,
            stream=True,
            messages=[{"role": "user", "content": "hi"}],
        )
    )
    types = [e.type for e in events]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert {"content_block_start", "content_block_delta", "content_block_stop", "message_delta"} <= set(types)
    delta = next(e for e in events if e.type == "message_delta")
    assert "environment_impact" in (delta.model_extra or {})
    assert delta.usage.output_tokens == sum(
        len(e.delta.text.split()) for e in events if e.type == "content_block_delta"
    )


def test_async_anthropic_stream(base_url: str) -> None:
    async def go() -> int:
        an = AsyncAnthropic(base_url=base_url, api_key="sk-test", max_retries=0)
        async with an.messages.stream(
            model="deepseek-v3.2", max_tokens=30, messages=[{"role": "user", "content": "hi"}]
        ) as s:
            msg = await s.get_final_message()
        await an.close()
        return msg.usage.output_tokens

    assert 1 <= asyncio.run(go()) <= 30


def test_count_tokens_has_no_impact(base_url: str) -> None:
    raw = httpx2.post(
        base_url + "/v1/messages/count_tokens",
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        json={"messages": [{"role": "user", "content": "abcdefgh"}]},
    )
    assert raw.json() == {"input_tokens": 2 + 4}


def test_embeddings_float_and_base64(base_url: str) -> None:
    client = oa(base_url)
    f = client.embeddings.create(model="qwen3-embedding-8b", input=["a" * 40, "b"])
    assert len(f.data) == 2 and len(f.data[0].embedding) == 4096
    assert f.usage.prompt_tokens == 11
    raw = httpx2.post(
        base_url + "/v1/embeddings",
        headers={"authorization": "Bearer k"},
        json={"model": "bge-m3", "input": "hi", "encoding_format": "base64"},
    )
    vec = np.frombuffer(base64.b64decode(raw.json()["data"][0]["embedding"]), dtype="<f4")
    assert vec.shape == (1024,) and abs(float(np.linalg.norm(vec)) - 1) < 1e-5
    assert raw.json()["environment_impact"]["provider_id"] == "ovhcloud"  # price flavor by default


def test_rerank(base_url: str) -> None:
    r = httpx2.post(
        base_url + "/v1/rerank",
        headers={"authorization": "Bearer k"},
        json={"model": "bge-reranker-v2-m3", "query": "q", "documents": ["a", "b", "c"], "top_n": 2},
    )
    body = r.json()
    assert [x["relevance_score"] for x in body["results"]] == sorted(
        (x["relevance_score"] for x in body["results"]), reverse=True
    )
    assert len(body["results"]) == 2 and body["environment_impact"]["location"] == "DE"


def test_images_b64(base_url: str) -> None:
    r = oa(base_url).images.generate(model="flux-schnell", prompt="a tree", n=2, size="1024x1024")
    assert r.data is not None and len(r.data) == 2
    assert base64.b64decode(r.data[0].b64_json or "").startswith(b"\x89PNG")
    assert (r.model_extra or {})["environment_impact"]["energy_kwh"] > 0


def test_speech_is_binary_without_impact(base_url: str) -> None:
    audio = oa(base_url).audio.speech.create(model="tts-1", voice="alloy", input="hello world")
    assert audio.response.headers["content-type"] == "audio/mpeg"
    assert audio.content.startswith(b"ID3")


@pytest.mark.parametrize("fmt", ["json", "verbose_json", "text"])
def test_transcriptions(base_url: str, fmt: str) -> None:
    client = oa(base_url)
    out = client.audio.transcriptions.create(
        model="whisper-large-v3", file=("a.mp3", io.BytesIO(b"\0" * 8000)), response_format=fmt
    )  # type: ignore[call-overload]
    if fmt == "text":
        assert isinstance(out, str) and out
    else:
        extra = out.model_extra or {}
        assert extra["environment_impact"]["energy_kwh"] > 0
        usage = out.usage
        assert usage is not None and getattr(usage, "input_tokens", None) == 50  # 2 s of audio at 25 tokens/s


def test_models_with_meta(base_url: str) -> None:
    client = oa(base_url)
    ids = [m.id for m in client.models.list()]
    assert "glm-4.7" in ids and "bge-m3" in ids
    raw = httpx2.get(base_url + "/v1/models?include_meta=true", headers={"authorization": "Bearer k"}).json()
    glm = next(m for m in raw["data"] if m["id"] == "glm-4.7")
    assert glm["_meta"]["pricing"]["input_cost_per_million_eur"] == 0.55
    assert glm["_meta"]["type"] == "chat" and glm["_meta"]["context_length"] == 202752
    assert client.models.retrieve("bge-m3").owned_by == "baai"


def test_files_and_batch_flow(base_url: str) -> None:
    client = oa(base_url)
    lines = [
        json.dumps(
            {
                "custom_id": f"r{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "glm-4.7", "messages": [{"role": "user", "content": "hi"}]},
            }
        )
        for i in range(3)
    ]
    f = client.files.create(file=("in.jsonl", "\n".join(lines).encode()), purpose="batch")
    assert client.files.retrieve(f.id).bytes == len("\n".join(lines))
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert b.status == "queued"
    done = client.batches.retrieve(b.id)
    assert done.status == "succeeded" and done.output_file_id
    out = client.files.content(done.output_file_id).text.strip().splitlines()
    assert [json.loads(x)["custom_id"] for x in out] == ["r0", "r1", "r2"]
    body = json.loads(out[0])["response"]["body"]
    assert {"environment_impact", "billing_cost", "usage"} <= set(body)
    assert json.loads(out[0])["response"]["status_code"] == 200
    assert any(x.id == b.id for x in client.batches.list())
    assert client.files.delete(f.id).deleted
    b2 = client.batches.create(
        input_file_id=done.output_file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert client.batches.cancel(b2.id).status == "cancelled"
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)
