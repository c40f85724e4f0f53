"""LlamaIndex's OpenAILike with recording HTTP clients, against the emulator's loopback server.

llama-index-llms-openai pins the OpenAI SDK below 3 (it hands the SDK httpx 0.28 clients), so
this runs in the separate compat environment that ``.ci/run`` builds; elsewhere it is skipped.
"""

from __future__ import annotations

import asyncio

import pytest
from integration_support import rows, tags_of, warnings_of

from melious_impact.capture.recorder import Recorder
from melious_impact.capture.tags import tags
from melious_impact.store.impact_store import ImpactStore

openai_like = pytest.importorskip("llama_index.llms.openai_like")
from llama_index.core.llms import ChatMessage  # noqa: E402


def make(rec: Recorder, url: str) -> object:
    return openai_like.OpenAILike(
        model="glm-4.7:eco",
        api_base=url + "/v1",
        api_key="k",
        is_chat_model=True,
        http_client=rec.httpx_client(),
        async_http_client=rec.async_httpx_client(),
    )


def test_sync_async_and_streams(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    llm: object = make(rec, base_url)
    msgs = [ChatMessage(role="user", content="hello")]
    with tags(feature="llamaindex"):
        llm.complete("hello")  # type: ignore[attr-defined]
        llm.chat(msgs)  # type: ignore[attr-defined]
        for _ in llm.stream_chat(msgs):  # type: ignore[attr-defined]
            pass

    async def main() -> None:
        await llm.achat(msgs)  # type: ignore[attr-defined]
        async for _ in await llm.astream_chat(msgs):  # type: ignore[attr-defined]
            pass

    asyncio.run(main())
    df = rows(store)
    assert list(df["stream"]) == [False, False, True, False, True]
    assert df["impact_reported"].all() and (df["flavor"] == "eco").all()
    assert [tags_of(r) for _, r in df.iterrows()] == [{"feature": "llamaindex"}] * 3 + [{}] * 2
    # Its streams do not ask for usage: tokens null on those rows, and the rows say why.
    assert df["output_tokens"].isna().tolist() == [False, False, True, False, True]
    assert ["stream_no_usage" in warnings_of(r) for _, r in df.iterrows()] == [
        False,
        False,
        True,
        False,
        True,
    ]
