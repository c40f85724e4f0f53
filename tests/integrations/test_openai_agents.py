"""The OpenAI Agents SDK (chat completions model) with an instrumented AsyncOpenAI client,
against the emulator's loopback server: run_sync, run, run_streamed, tags."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest
from integration_support import rows, tags_of, warnings_of

from melious_impact.capture.recorder import Recorder
from melious_impact.capture.tags import tags
from melious_impact.store.impact_store import ImpactStore

agents = pytest.importorskip("agents")


@pytest.fixture(autouse=True)
def no_tracing() -> Iterator[None]:
    # The SDK exports traces to OpenAI's servers by default: off (and offline).
    agents.set_tracing_disabled(True)
    yield


def make_agent(rec: Recorder, url: str, **settings: bool) -> agents.Agent:
    client = rec.instrument(openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0))
    model = agents.OpenAIChatCompletionsModel(model="glm-4.7:eco", openai_client=client)
    return agents.Agent(
        name="a", instructions="answer", model=model, model_settings=agents.ModelSettings(**settings)
    )


def test_run_sync(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    with tags(feature="agents"):
        result = agents.Runner.run_sync(make_agent(rec, base_url), "hello")
    df = rows(store)
    assert len(df) == 1 and bool(df.loc[0, "impact_reported"]) and df.loc[0, "flavor"] == "eco"
    assert df.loc[0, "output_tokens"] == result.context_wrapper.usage.output_tokens
    assert tags_of(df.loc[0]) == {"feature": "agents"}


def test_run_and_run_streamed(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    async def main() -> None:
        agent = make_agent(rec, base_url)
        with tags(feature="agents-async"):
            await agents.Runner.run(agent, "hello")
            for a in (agent, make_agent(rec, base_url, include_usage=True)):
                streamed = agents.Runner.run_streamed(a, "hello")
                async for _ in streamed.stream_events():
                    pass

    asyncio.run(main())
    df = rows(store)
    assert list(df["stream"]) == [False, True, True] and df["impact_reported"].all()
    assert all(tags_of(r) == {"feature": "agents-async"} for _, r in df.iterrows())
    # Its streams ask for usage only with ModelSettings(include_usage=True).
    assert df["output_tokens"].notna().tolist() == [True, False, True]
    assert "stream_no_usage" in warnings_of(df.loc[1])
