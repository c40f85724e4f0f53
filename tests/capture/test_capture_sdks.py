"""End to end: the real OpenAI 3.x and Anthropic 2.x SDKs and raw httpx 0.28, through the
recorder, against the emulator's loopback HTTP server, into a real ImpactStore.

Every stored value is checked against what the server sent: a tap under the recorder
keeps the raw bytes of each response, decoded here with the standard library.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx2
import pandas as pd
import pytest
from anthropic import Anthropic, AsyncAnthropic
from capture_support import Tapped, install_tap
from openai import AsyncOpenAI, BadRequestError, OpenAI

from melious_impact.capture.recorder import Recorder
from melious_impact.capture.tags import tags
from melious_impact.store.impact_store import ImpactStore

IMPACT_FLOATS = ("energy_kwh", "carbon_g_co2", "water_liters", "renewable_percent", "pue")


@pytest.fixture(scope="module")
def emulator_seed() -> int:
    return 11


class ClosingRecorder(Recorder):
    """Closes every client it made at the end of the test (no leaked sockets)."""

    made: list[Any]

    def _instrument(self, client: Any) -> Any:
        self.made.append(client)
        return super()._instrument(client)


@pytest.fixture
def rec(store: ImpactStore) -> Iterator[Recorder]:
    r = ClosingRecorder(store, tags={"team": "search", "project": "rag"})
    r.made = []
    yield r
    for c in r.made:
        if hasattr(c, "aclose"):
            asyncio.run(c.aclose())
        else:
            c.close()
    r.close()


def rows(store: ImpactStore) -> pd.DataFrame:
    store.flush()
    return store.to_pandas().sort_values("captured_at", kind="stable").reset_index(drop=True)


def dec(v: Any) -> Decimal:
    return Decimal(str(v)).quantize(Decimal("1e-18"))


def check_melious(row: pd.Series, obj: dict[str, Any]) -> None:
    """The row's impact and billing equal the objects in ``obj`` (parsed with Decimal floats)."""
    imp, bill = obj.get("environment_impact"), obj.get("billing_cost")
    assert bool(row["impact_reported"]) is (imp is not None)
    if imp is not None:
        for k in IMPACT_FLOATS:
            assert row[k] == float(imp[k]), k
        assert (row["provider_id"], row["location"]) == (imp["provider_id"], imp["location"])
    if bill is not None:
        assert row["billing_energy"] == dec(bill["energy"]) and row["billing_credits"] == dec(bill["credits"])
        assert row["billing_paid_with"] == bill["paid_with"]


def check_json_row(row: pd.Series, tap: Tapped) -> dict[str, Any]:
    body = tap.json()
    assert row["status_code"] == tap.status and row["endpoint"] == tap.path
    assert row["request_id"] == body.get("id", tap.headers.get("x-request-id"))
    usage = body.get("usage") or {}
    if "prompt_tokens" in usage:
        assert (row["input_tokens"], row["output_tokens"]) == (
            usage["prompt_tokens"],
            usage.get("completion_tokens", 0),
        )
    elif "input_tokens" in usage:
        assert (row["input_tokens"], row["output_tokens"]) == (usage["input_tokens"], usage["output_tokens"])
    assert row["response_bytes"] == sum(len(c) for c in tap.raw)
    assert row["ratelimit_limit_requests"] == int(tap.headers["x-ratelimit-limit-requests"])
    check_melious(row, body)
    return body


def oa(rec: Recorder, url: str, **kw: Any) -> tuple[OpenAI, list[Tapped]]:
    http = rec.http_client()
    return OpenAI(
        base_url=url + "/v1", api_key="sk-test", max_retries=0, http_client=http, **kw
    ), install_tap(http)


def test_openai_sync_json_and_stream(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    client, taps = oa(rec, base_url)
    r = client.chat.completions.create(
        model="glm-4.7:eco", messages=[{"role": "user", "content": "prompt-text " * 50}]
    )
    with tags(feature="chat-stream"):
        chunks = list(
            client.chat.completions.create(
                model="deepseek-v3.2",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    df = rows(store)
    assert len(df) == 2
    first = df.iloc[0]
    body = check_json_row(first, taps[0])
    assert taps[0].headers.get("content-encoding") in (
        "br",
        "gzip",
        "deflate",
    )  # a compressed body, decoded for us
    assert (
        first["requested_model"] == "glm-4.7:eco" and first["flavor"] == "eco" and first["model"] == r.model
    )
    assert (first["team"], first["project"], first["tags"]) == ("search", "rag", "{}")
    assert body["usage"]["prompt_tokens"] == r.usage.prompt_tokens  # type: ignore[union-attr]

    s = df.iloc[1]
    events = taps[1].events()
    usage = next(e["usage"] for e in events if e.get("usage"))
    assert s["stream"] and s["stream_completed"] and s["tags"] == '{"feature":"chat-stream"}'
    assert (s["input_tokens"], s["output_tokens"]) == (usage["prompt_tokens"], usage["completion_tokens"])
    carrier = [e for e in events if "environment_impact" in e][-1]
    check_melious(s, carrier)
    assert s["request_id"] == chunks[0].id and s["ttft_ms"] <= s["latency_ms"]


def test_openai_async_json_and_stream(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    http = rec.async_http_client()
    taps = install_tap(http)
    client = AsyncOpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=0, http_client=http)

    async def main() -> None:
        with tags(team="async"):
            await client.chat.completions.create(model="glm-4.7", messages=[{"role": "user", "content": "x"}])
            stream = await client.chat.completions.create(
                model="glm-4.7",
                messages=[{"role": "user", "content": "y"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            async for _ in stream:
                pass
        await client.close()

    asyncio.run(main())
    df = rows(store)
    assert list(df["team"]) == ["async", "async"]
    check_json_row(df.iloc[0], taps[0])
    s = df.iloc[1]
    check_melious(s, [e for e in taps[1].events() if "environment_impact" in e][-1])
    assert s["stream_completed"]


def test_openai_other_endpoints(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    client, taps = oa(rec, base_url)
    client.embeddings.create(model="bge-m3", input=["alpha " * 300, "beta"])
    client.images.generate(model="flux-schnell", prompt="a tree", n=1, size="1024x1024")
    client.audio.speech.create(model="tts-1", voice="alloy", input="hello world").read()
    client.audio.transcriptions.create(
        model="whisper-large-v3", file=("a.mp3", io.BytesIO(b"\0" * 8000)), response_format="verbose_json"
    )
    client.audio.transcriptions.create(
        model="whisper-large-v3", file=("a.mp3", io.BytesIO(b"\0" * 8000)), response_format="text"
    )
    http = client._client
    http.post(
        base_url + "/v1/rerank",
        headers={"authorization": "Bearer k"},
        json={"model": "bge-reranker-v2-m3", "query": "q", "documents": ["a", "b"]},
    )
    df = rows(store)
    by_endpoint = {e: df[df["endpoint"] == e] for e in df["endpoint"].unique()}
    emb = by_endpoint["/v1/embeddings"].iloc[0]
    check_json_row(emb, taps[0])
    assert emb["output_tokens"] == 0 and emb["input_tokens"] > 0
    check_json_row(by_endpoint["/v1/images/generations"].iloc[0], taps[1])
    speech = by_endpoint["/v1/audio/speech"].iloc[0]
    assert not speech["impact_reported"] and speech["model"] == "tts-1" and speech["status_code"] == 200
    verbose, text = by_endpoint["/v1/audio/transcriptions"].itertuples()
    assert verbose.impact_reported and verbose.model == "whisper-large-v3" and verbose.input_tokens == 50
    assert not text.impact_reported and text.parse_warnings == ""
    rerank = by_endpoint["/v1/rerank"].iloc[0]
    check_melious(rerank, taps[-1].json())
    assert rerank["output_tokens"] == 0


def test_anthropic_sync_async_stream(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    http = rec.http_client()
    taps = install_tap(http)
    an = Anthropic(base_url=base_url, api_key="sk-test", max_retries=0, http_client=http)
    m = an.messages.create(model="claude-opus-4", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    with an.messages.stream(
        model="claude-sonnet-4", max_tokens=64, messages=[{"role": "user", "content": "yo"}]
    ) as st:
        for _ in st.text_stream:
            pass

    ahttp = rec.async_http_client()
    ataps = install_tap(ahttp)

    async def main() -> None:
        aan = AsyncAnthropic(base_url=base_url, api_key="sk-test", max_retries=0, http_client=ahttp)
        await aan.messages.create(model="glm-4.7", max_tokens=32, messages=[{"role": "user", "content": "a"}])
        stream = await aan.messages.create(
            model="glm-4.7", max_tokens=32, messages=[{"role": "user", "content": "b"}], stream=True
        )
        async for _ in stream:
            pass
        await aan.close()

    asyncio.run(main())
    df = rows(store)
    assert list(df["api_shape"]) == ["anthropic"] * 4
    j = df.iloc[0]
    check_json_row(j, taps[0])
    assert j["model"] == m.model == "claude-opus-4"
    for row, tap in ((df.iloc[1], taps[1]), (df.iloc[3], ataps[1])):
        events = tap.events()
        start = next(e for e in events if e.get("type") == "message_start")["message"]["usage"]
        delta = [e for e in events if e.get("type") == "message_delta"][-1]["usage"]
        assert row["input_tokens"] == start["input_tokens"] + start.get("cache_read_input_tokens", 0)
        assert row["output_tokens"] == delta["output_tokens"]
        check_melious(row, [e for e in events if "environment_impact" in e][-1])
        assert row["stream"] and row["stream_completed"]
    check_json_row(df.iloc[2], ataps[0])


def test_raw_httpx_028_sync_and_async(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    with rec.httpx_client(base_url=base_url, headers={"authorization": "Bearer k"}) as c:
        taps = install_tap(c)
        c.post(
            "/v1/chat/completions", json={"model": "glm-4.7", "messages": [{"role": "user", "content": "z"}]}
        )

    async def main() -> list[Tapped]:
        async with rec.async_httpx_client(base_url=base_url, headers={"authorization": "Bearer k"}) as c:
            t = install_tap(c)
            await c.post("/v1/embeddings", json={"model": "bge-m3", "input": "hello"})
            return t

    ataps = asyncio.run(main())
    df = rows(store)
    check_json_row(df.iloc[0], taps[0])
    check_json_row(df.iloc[1], ataps[0])


def test_errors_abandoned_streams_and_non_inference(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    client, _taps = oa(rec, base_url)
    with pytest.raises(BadRequestError):
        client.chat.completions.create(
            model="glm-4.7",
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-emulator-error": "INFERENCE_3207"},
        )
    with pytest.raises(BadRequestError):
        client.chat.completions.create(
            model="glm-4.7",
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-emulator-error": "INFERENCE_3207", "x-emulator-error-style": "openai"},
        )
    stream = client.chat.completions.create(
        model="glm-4.7",
        messages=[{"role": "user", "content": "long " * 10}],
        max_tokens=400,
        stream=True,
        stream_options={"include_usage": True},
    )
    next(iter(stream))
    stream.close()
    client.models.list()
    an = Anthropic(base_url=base_url, api_key="sk-test", max_retries=0, http_client=client._client)
    an.messages.count_tokens(model="glm-4.7", messages=[{"role": "user", "content": "count me"}])
    df = rows(store)
    assert len(df) == 3  # models.list and count_tokens give no rows
    melious, openai_style, abandoned = df.itertuples()
    assert (melious.status_code, melious.error_code, melious.impact_reported) == (
        400,
        "INFERENCE_3207",
        False,
    )
    assert (
        openai_style.error_code == "context_length_exceeded"
        and openai_style.error_type == "invalid_request_error"
    )
    assert abandoned.stream and abandoned.stream_completed is not pd.NA and not abandoned.stream_completed
    assert not abandoned.impact_reported and pd.isna(abandoned.energy_kwh)
    assert rec.stats.skipped == 2


def test_batch_output_download_dedups(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    client, _ = oa(rec, base_url)
    lines = [
        json.dumps(
            {
                "custom_id": f"r{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "glm-4.7:batch", "messages": [{"role": "user", "content": "hi"}]},
            }
        )
        for i in range(3)
    ]
    f = client.files.create(file=("in.jsonl", "\n".join(lines).encode()), purpose="batch")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    done = client.batches.retrieve(b.id)
    assert done.output_file_id
    client.files.content(f.id).read()  # the input file: not batch output, no rows
    out = client.files.content(done.output_file_id).text
    client.files.content(done.output_file_id).read()  # the same lines a second time
    df = rows(store)
    assert len(df) == 3  # lines downloaded twice count once
    assert sorted(df["custom_id"]) == ["r0", "r1", "r2"] and set(df["source"]) == {"batch"}
    assert set(df["batch_id"]) == {done.output_file_id} and set(df["team"]) == {"search"}
    for line in out.strip().splitlines():
        obj = json.loads(line, parse_float=Decimal)
        row = df[df["custom_id"] == obj["custom_id"]].iloc[0]
        body = obj["response"]["body"]
        assert (row["input_tokens"], row["output_tokens"]) == (
            body["usage"]["prompt_tokens"],
            body["usage"]["completion_tokens"],
        )
        check_melious(row, body)
    assert store.sql("select count(*) as n from requests where source = 'batch'")["n"][0] == 3


def test_query_by_team_with_duckdb(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    client, _ = oa(rec, base_url)
    for team in ("ads", "ads", "search"):
        with tags(team=team):
            client.chat.completions.create(model="glm-4.7", messages=[{"role": "user", "content": "q"}])
    rec.flush()
    top = store.sql(
        "select team, count(*) as n, sum(carbon_g_co2) as c from requests group by team order by team"
    )
    assert list(top["team"]) == ["ads", "search"] and list(top["n"]) == [2, 1]
    assert (top["c"] > 0).all()
    assert httpx2.__name__ == "httpx2"


def test_sdk_retries_are_rows_with_their_attempt_number(
    rec: Recorder, store: ImpactStore, base_url: str
) -> None:
    http = rec.http_client()
    client = OpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=1, http_client=http)
    from openai import InternalServerError

    with pytest.raises(InternalServerError):
        client.chat.completions.create(
            model="glm-4.7",
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-emulator-error": "INFERENCE_3103"},
        )
    df = rows(store)
    assert list(df["attempt"]) == [0, 1]
    assert list(df["status_code"]) == [502, 502] and set(df["error_code"]) == {"INFERENCE_3103"}
