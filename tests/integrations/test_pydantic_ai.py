"""pydantic-ai with instrumented OpenAI and Anthropic clients, against the emulator's loopback
server: run_sync, run, run_stream, tags."""

from __future__ import annotations

import asyncio

import anthropic
import openai
import pytest
from integration_support import rows, tags_of

from melious_impact.capture.recorder import Recorder
from melious_impact.capture.tags import tags
from melious_impact.store.impact_store import ImpactStore

pydantic_ai = pytest.importorskip("pydantic_ai")
from pydantic_ai.models.anthropic import AnthropicModel  # noqa: E402
from pydantic_ai.models.openai import OpenAIChatModel  # noqa: E402
from pydantic_ai.providers.anthropic import AnthropicProvider  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402


def openai_agent(rec: Recorder, url: str) -> pydantic_ai.Agent:
    client = rec.instrument(openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0))
    return pydantic_ai.Agent(OpenAIChatModel("glm-4.7", provider=OpenAIProvider(openai_client=client)))


def test_run_sync(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    agent = openai_agent(rec, base_url)
    with tags(feature="pai"):
        result = agent.run_sync("hello")
    df = rows(store)
    assert len(df) == 1 and bool(df.loc[0, "impact_reported"])
    assert df.loc[0, "output_tokens"] == result.usage.output_tokens
    assert tags_of(df.loc[0]) == {"feature": "pai"}


def test_run_stream_and_anthropic(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    async def main() -> None:
        agent = openai_agent(rec, base_url)
        with tags(feature="pai-async"):
            await agent.run("hello")
            async with agent.run_stream("hello") as stream:
                async for _ in stream.stream_text():
                    pass
        an = rec.instrument(anthropic.AsyncAnthropic(base_url=base_url, api_key="k", max_retries=0))
        claude = pydantic_ai.Agent(
            AnthropicModel("claude-sonnet-4", provider=AnthropicProvider(anthropic_client=an))
        )
        await claude.run("hello")
        async with claude.run_stream("hello") as stream:
            async for _ in stream.stream_text():
                pass

    asyncio.run(main())
    df = rows(store)
    assert list(df["endpoint"]) == ["/v1/chat/completions"] * 2 + ["/v1/messages"] * 2
    assert list(df["stream"]) == [False, True, False, True]
    # pydantic-ai asks OpenAI-shaped streams for their usage: every row has its tokens.
    assert df["impact_reported"].all() and df["output_tokens"].notna().all()
    assert [tags_of(r) for _, r in df.iterrows()] == [{"feature": "pai-async"}] * 2 + [{}] * 2
