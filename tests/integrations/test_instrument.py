"""rec.instrument(client): the OpenAI 3.x and Anthropic 2.x SDKs and bare httpx/httpx2 clients,
instrumented after they were built, against the emulator's loopback server into a real store."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest
from integration_support import rows, tags_of, warnings_of

from melious_impact.capture.instrument import InstrumentWarning, is_instrumented
from melious_impact.capture.recorder import Recorder
from melious_impact.capture.tags import tags
from melious_impact.store.impact_store import ImpactStore

CHAT = {"model": "glm-4.7:eco", "messages": [{"role": "user", "content": "hello there"}]}


def test_sdk_major_versions_keep_their_http_client_in_client_attribute(base_url: str) -> None:
    # instrument() reaches the SDKs' private `_client`: this pins it for the majors we support.
    assert openai.__version__.split(".")[0] == "3"
    assert anthropic.__version__.split(".")[0] == "2"
    for client in (
        openai.OpenAI(base_url=base_url + "/v1", api_key="k"),
        anthropic.Anthropic(base_url=base_url, api_key="k"),
    ):
        assert isinstance(client._client, httpx2.Client)
        client.close()
    for aclient in (
        openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="k"),
        anthropic.AsyncAnthropic(base_url=base_url, api_key="k"),
    ):
        assert isinstance(aclient._client, httpx2.AsyncClient)


def test_openai_sync_json_stream_and_tags(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="k", max_retries=0)
    assert rec.instrument(client) is client
    assert is_instrumented(client, rec) and is_instrumented(client)
    r = client.chat.completions.create(**CHAT)
    with tags(feature="stream"):
        chunks = list(client.chat.completions.create(**CHAT, stream=True))
    client.embeddings.create(model="bge-m3", input=["a", "b"])
    client.close()
    df = rows(store)
    assert list(df["endpoint"]) == ["/v1/chat/completions", "/v1/chat/completions", "/v1/embeddings"]
    assert df.loc[0, "request_id"] == r.id and df.loc[0, "output_tokens"] == r.usage.completion_tokens
    assert df.loc[0, "carbon_g_co2"] == pytest.approx(r.model_extra["environment_impact"]["carbon_g_co2"])
    assert df.loc[1, "request_id"] == chunks[0].id and bool(df.loc[1, "stream"])
    assert tags_of(df.loc[1]) == {"feature": "stream"} and list(df["team"]) == ["search"] * 3
    # A stream without include_usage: impact stored, tokens null, and the row says why.
    assert bool(df.loc[1, "impact_reported"]) and pd_isnull(df.loc[1, "output_tokens"])
    assert "stream_no_usage" in warnings_of(df.loc[1])
    assert "stream_no_usage" not in warnings_of(df.loc[0])


def pd_isnull(v: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(v))


def test_async_clients_of_both_sdks(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    async def main() -> None:
        oa = rec.instrument(openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="k", max_retries=0))
        an = rec.instrument(anthropic.AsyncAnthropic(base_url=base_url, api_key="k", max_retries=0))
        await oa.chat.completions.create(**CHAT)
        stream = await oa.chat.completions.create(**CHAT, stream=True, stream_options={"include_usage": True})
        async for _ in stream:
            pass
        m = await an.messages.create(
            model="claude-sonnet-4", max_tokens=30, messages=[{"role": "user", "content": "hi"}]
        )
        assert m.usage.output_tokens > 0
        async with an.messages.stream(
            model="claude-sonnet-4", max_tokens=30, messages=[{"role": "user", "content": "hi"}]
        ) as s:
            async for _ in s:
                pass
        await oa.close()
        await an.close()

    asyncio.run(main())
    df = rows(store)
    assert list(df["endpoint"]) == ["/v1/chat/completions"] * 2 + ["/v1/messages"] * 2
    assert list(df["stream"]) == [False, True, False, True]
    assert df["output_tokens"].notna().all() and df["impact_reported"].all()
    assert not any("stream_no_usage" in warnings_of(r) for _, r in df.iterrows())


def test_anthropic_sync_and_with_options_copies_share_capture(
    rec: Recorder, store: ImpactStore, base_url: str
) -> None:
    client = rec.instrument(anthropic.Anthropic(base_url=base_url, api_key="k", max_retries=0))
    client.messages.create(model="claude-opus-4", max_tokens=20, messages=[{"role": "user", "content": "x"}])
    client.with_options(timeout=30).messages.create(
        model="claude-opus-4", max_tokens=20, messages=[{"role": "user", "content": "y"}]
    )
    client.close()
    df = rows(store)
    assert len(df) == 2 and df["impact_reported"].all()


def test_instrumenting_twice_records_once(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="k", max_retries=0)
    rec.instrument(client)
    rec.instrument(client)
    rec.instrument(client._client)
    client.chat.completions.create(**CHAT)
    client.close()
    assert len(rows(store)) == 1


def test_a_second_recorder_warns_and_each_response_is_recorded_once(
    rec: Recorder, store: ImpactStore, tmp_path: Any, base_url: str
) -> None:
    other_store = ImpactStore(tmp_path / "other")
    other = Recorder(other_store)
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="k", max_retries=0)
    rec.instrument(client)
    with pytest.warns(InstrumentWarning, match="already instrumented by another Recorder"):
        other.instrument(client)
    client.chat.completions.create(**CHAT)
    assert len(rows(store)) == 1 and len(rows(other_store)) == 0
    # replace=True moves the client: the next response goes to the second recorder only.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        other.instrument(client, replace=True)
    assert is_instrumented(client, other) and not is_instrumented(client, rec)
    client.chat.completions.create(**CHAT)
    client.close()
    assert len(rows(store)) == 1 and len(rows(other_store)) == 1
    other.close()
    other_store.close()


def test_a_client_made_by_the_recorder_is_already_instrumented(
    rec: Recorder, store: ImpactStore, base_url: str
) -> None:
    http = rec.http_client()
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="k", max_retries=0, http_client=http)
    rec.instrument(client)
    client.chat.completions.create(**CHAT)
    client.close()
    assert len(rows(store)) == 1


@pytest.mark.parametrize("lib", [httpx, httpx2])
def test_bare_http_clients(lib: Any, rec: Recorder, store: ImpactStore, base_url: str) -> None:
    auth = {"authorization": "Bearer k"}
    client = rec.instrument(lib.Client(base_url=base_url, headers=auth))
    first = client.post("/v1/chat/completions", json=CHAT).json()
    client.close()

    async def main() -> dict[str, Any]:
        async with rec.instrument(lib.AsyncClient(base_url=base_url, headers=auth)) as ac:
            r = await ac.post("/v1/embeddings", json={"model": "bge-m3", "input": "x"})
            return dict(r.json())

    second = asyncio.run(main())
    df = rows(store)
    assert list(df["endpoint"]) == ["/v1/chat/completions", "/v1/embeddings"]
    assert list(df["request_id"]) == [first["id"], second.get("id", df.loc[1, "request_id"])]
    assert df["impact_reported"].all() and df["input_tokens"].notna().all()


def test_what_cannot_be_instrumented_is_refused(rec: Recorder) -> None:
    with pytest.raises(TypeError, match="OpenAI, AsyncOpenAI, Anthropic or AsyncAnthropic"):
        rec.instrument(object())
