"""LiteLLM through integrations.litellm.install, against the emulator's loopback server:
openai/ and anthropic/ routes, sync, async, streaming, embeddings, tags, clients cached
before install and clients rebuilt after it."""

from __future__ import annotations

import asyncio
import time
import warnings
from typing import Any

import pytest
from integration_support import LITELLM_WARNING_FILTERS, rows, tags_of, warnings_of

from melious_impact.capture.instrument import InstrumentWarning
from melious_impact.capture.recorder import Recorder
from melious_impact.capture.tags import tags
from melious_impact.integrations import litellm as mi_litellm
from melious_impact.store.impact_store import ImpactStore

litellm = pytest.importorskip("litellm")

pytestmark = LITELLM_WARNING_FILTERS

M = [{"role": "user", "content": "hello"}]


def openai_kw(url: str) -> dict[str, Any]:
    return {"model": "openai/glm-4.7:eco", "api_base": url + "/v1", "api_key": "k", "messages": M}


def anthropic_kw(url: str) -> dict[str, Any]:
    return {
        "model": "anthropic/claude-sonnet-4",
        "api_base": url,
        "api_key": "k",
        "messages": M,
        "max_tokens": 40,
    }


def test_clients_cached_before_install_are_captured_after_it(
    rec: Recorder, store: ImpactStore, base_url: str
) -> None:
    litellm.in_memory_llm_clients_cache.flush_cache()
    litellm.completion(**openai_kw(base_url))  # before install: this one is not captured
    litellm.completion(**anthropic_kw(base_url))
    assert mi_litellm.install(rec) >= 2
    assert mi_litellm.installed(rec)
    with tags(feature="litellm"):
        r = litellm.completion(**openai_kw(base_url))
        litellm.completion(**anthropic_kw(base_url))
    df = rows(store)
    assert list(df["endpoint"]) == ["/v1/chat/completions", "/v1/messages"]
    assert df.loc[0, "request_id"] == r.id and df.loc[0, "output_tokens"] == r.usage.completion_tokens
    assert df.loc[0, "flavor"] == "eco" and df["impact_reported"].all()
    assert all(tags_of(row) == {"feature": "litellm"} for _, row in df.iterrows())


def test_sync_async_streams_and_rebuilt_clients(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    mi_litellm.install(rec)
    for _ in litellm.completion(**openai_kw(base_url), stream=True, stream_options={"include_usage": True}):
        pass
    for _ in litellm.completion(**anthropic_kw(base_url), stream=True):
        pass
    litellm.embedding(model="openai/bge-m3", api_base=base_url + "/v1", api_key="k", input=["a", "b"])
    # Cached clients expire and are rebuilt: the new ones capture too.
    litellm.in_memory_llm_clients_cache.flush_cache()

    async def main() -> None:
        with tags(feature="async"):
            await litellm.acompletion(**openai_kw(base_url))
            await litellm.acompletion(**anthropic_kw(base_url))
            stream = await litellm.acompletion(**anthropic_kw(base_url), stream=True)
            async for _ in stream:
                pass
        litellm.in_memory_llm_clients_cache.flush_cache()

    asyncio.run(main())
    df = rows(store)
    assert list(df["endpoint"]) == [
        "/v1/chat/completions",
        "/v1/messages",
        "/v1/embeddings",
        "/v1/chat/completions",
        "/v1/messages",
        "/v1/messages",
    ]
    assert list(df["stream"]) == [True, True, False, False, False, True]
    assert df["impact_reported"].all() and df["output_tokens"].notna().all()
    assert not any("stream_no_usage" in warnings_of(r) for _, r in df.iterrows())
    assert [tags_of(r) for _, r in df.iterrows()][3:] == [{"feature": "async"}] * 3


def test_a_second_recorder_is_refused_unless_replacing(
    rec: Recorder, store: ImpactStore, tmp_path: Any, base_url: str
) -> None:
    mi_litellm.install(rec)
    other_store = ImpactStore(tmp_path / "other")
    other = Recorder(other_store)
    with pytest.warns(InstrumentWarning, match="already captures into another Recorder"):
        assert mi_litellm.install(other) == 0
    litellm.completion(**openai_kw(base_url))
    assert len(rows(store)) == 1 and len(rows(other_store)) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mi_litellm.install(other, replace=True)
    litellm.completion(**openai_kw(base_url))
    assert len(rows(store)) == 1 and len(rows(other_store)) == 1
    other.close()
    other_store.close()


def test_a_success_callback_can_record_the_response_object(
    store: ImpactStore, tmp_path: Any, base_url: str
) -> None:
    # Where the transport is not reachable (a per-call client=, the Rust path), LiteLLM's
    # callback carries the response object, environment_impact included.
    cb_store = ImpactStore(tmp_path / "cb")
    cb_rec = Recorder(cb_store)

    def on_success(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        cb_rec.record_response(response, model=kwargs.get("model"))

    litellm.success_callback = [on_success]
    try:
        r = litellm.completion(**openai_kw(base_url))
        # LiteLLM runs success callbacks on a worker thread, after the call returns.
        deadline = time.monotonic() + 20
        while cb_rec.stats.captured == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        litellm.success_callback = []
    cb_rec.flush()
    df = rows(cb_store)
    assert list(df["request_id"]) == [r.id] and bool(df.loc[0, "impact_reported"])
    assert df.loc[0, "carbon_g_co2"] == pytest.approx(r.environment_impact["carbon_g_co2"])
    assert "from_response_object" in warnings_of(df.loc[0])
    cb_rec.close()
    cb_store.close()
