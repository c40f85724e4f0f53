"""LangChain (langchain-openai, langchain-anthropic) through integrations.langchain.instrument,
against the emulator's loopback server: sync, async, streaming, batch, tags."""

from __future__ import annotations

import asyncio

import pytest
from integration_support import rows, tags_of, warnings_of

from melious_impact.capture.recorder import Recorder
from melious_impact.capture.tags import tags
from melious_impact.integrations.langchain import instrument
from melious_impact.store.impact_store import ImpactStore

langchain_openai = pytest.importorskip("langchain_openai")
langchain_anthropic = pytest.importorskip("langchain_anthropic")


def test_chat_openai_sync_async_stream_batch(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    llm = instrument(
        rec, langchain_openai.ChatOpenAI(model="glm-4.7:eco", base_url=base_url + "/v1", api_key="k")
    )
    assert llm.stream_usage is True  # turned on: the stream's row gets its tokens
    with tags(feature="lc"):
        first = llm.invoke("hello")
        streamed = list(llm.stream("hello"))
        llm.batch(["a", "b"])  # a thread pool: the tags go along (LangChain copies the context)

    async def in_a_loop() -> None:
        with tags(feature="lc"):
            await llm.ainvoke("hello")
        async for _ in llm.astream("hello"):
            pass
        await llm.root_async_client.close()

    asyncio.run(in_a_loop())
    llm.root_client.close()
    df = rows(store)
    assert len(df) == 6 and df["impact_reported"].all()
    assert list(df["stream"]) == [
        False,
        True,
        False,
        False,
        False,
        True,
    ]  # invoke, stream, batch x2, ainvoke, astream
    assert df.loc[0, "output_tokens"] == first.usage_metadata["output_tokens"]
    total = sum(c.usage_metadata["output_tokens"] for c in streamed if c.usage_metadata)
    assert df.loc[1, "output_tokens"] == total
    assert df["output_tokens"].notna().all()
    assert not any("stream_no_usage" in warnings_of(r) for _, r in df.iterrows())
    assert [tags_of(r) for _, r in df.iterrows()][:5] == [{"feature": "lc"}] * 5
    assert tags_of(df.loc[5]) == {} and (df["team"] == "search").all()


def test_stream_usage_left_off_when_asked(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    llm = instrument(
        rec,
        langchain_openai.ChatOpenAI(model="glm-4.7", base_url=base_url + "/v1", api_key="k"),
        stream_usage=False,
    )
    list(llm.stream("hello"))
    df = rows(store)
    assert df["output_tokens"].isna().all() and "stream_no_usage" in warnings_of(df.loc[0])


def test_a_users_own_http_client_is_instrumented_in_place(
    rec: Recorder, store: ImpactStore, base_url: str
) -> None:
    import httpx2

    http = httpx2.Client()
    llm = instrument(
        rec,
        langchain_openai.ChatOpenAI(
            model="glm-4.7", base_url=base_url + "/v1", api_key="k", http_client=http
        ),
    )
    assert llm.root_client._client is http
    llm.invoke("hello")
    http.close()
    assert len(rows(store)) == 1


def test_openai_embeddings(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    emb = instrument(
        rec,
        langchain_openai.OpenAIEmbeddings(
            model="bge-m3", base_url=base_url + "/v1", api_key="k", check_embedding_ctx_length=False
        ),
    )
    with tags(feature="emb"):
        assert len(emb.embed_documents(["a", "b", "c"])) == 3

        async def in_a_loop() -> None:
            await emb.aembed_query("q")
            await emb.async_client._client.close()

        asyncio.run(in_a_loop())
    emb.client._client.close()
    df = rows(store)
    assert list(df["endpoint"]) == ["/v1/embeddings"] * 2 and df["impact_reported"].all()
    assert df["input_tokens"].notna().all() and tags_of(df.loc[1]) == {"feature": "emb"}


def test_chat_anthropic_and_other_instances_on_the_shared_client(
    rec: Recorder, store: ImpactStore, base_url: str
) -> None:
    kw = {"model": "claude-sonnet-4", "base_url": base_url, "api_key": "k"}
    bystander = langchain_anthropic.ChatAnthropic(**kw)
    bystander.invoke("before")  # builds the cached default HTTP client first
    llm = instrument(rec, langchain_anthropic.ChatAnthropic(**kw))
    with tags(feature="claude"):
        msg = llm.invoke("hello")
        list(llm.stream("hello"))

        async def in_a_loop() -> None:
            await llm.ainvoke("hello")
            await llm._async_client.close()

        asyncio.run(in_a_loop())
    llm._client.close()
    bystander.invoke("after")  # shares the cached client: not captured, not broken
    langchain_anthropic.ChatAnthropic(**kw).invoke("new")
    df = rows(store)
    assert list(df["endpoint"]) == ["/v1/messages"] * 3 and list(df["stream"]) == [False, True, False]
    assert df.loc[0, "output_tokens"] == msg.usage_metadata["output_tokens"]
    assert df["output_tokens"].notna().all() and df["impact_reported"].all()
    assert all(tags_of(r) == {"feature": "claude"} for _, r in df.iterrows())


def test_other_models_are_refused(rec: Recorder) -> None:
    with pytest.raises(TypeError, match="ChatOpenAI, OpenAIEmbeddings or ChatAnthropic"):
        instrument(rec, object())
