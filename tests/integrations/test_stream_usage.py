"""Recorder(include_usage=True): streamed chat requests ask for usage unless the caller decided."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from integration_support import rows, warnings_of

from melious_impact.capture.recorder import Recorder
from melious_impact.capture.stream_usage import with_usage
from melious_impact.store.impact_store import ImpactStore

CHAT = {"model": "glm-4.7", "messages": [{"role": "user", "content": "count to ten"}]}

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
extra_keys = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda k: k not in ("stream", "stream_options")),
    scalars,
    max_size=5,
)


@given(extra=extra_keys, indent=st.sampled_from([None, 2]))
def test_a_streamed_request_without_stream_options_gains_only_include_usage(
    extra: dict[str, Any], indent: int | None
) -> None:
    body = json.dumps({**extra, "stream": True}, indent=indent).encode()
    out = with_usage(body)
    assert out is not None
    assert json.loads(out) == {**extra, "stream": True, "stream_options": {"include_usage": True}}
    assert out.endswith(body[1:])  # the caller's bytes follow unchanged


@given(extra=extra_keys, opts=st.dictionaries(st.sampled_from(["a", "b"]), scalars, max_size=2))
def test_stream_options_without_include_usage_are_kept_and_completed(
    extra: dict[str, Any], opts: dict[str, Any]
) -> None:
    out = with_usage(json.dumps({**extra, "stream": True, "stream_options": opts}).encode())
    assert out is not None
    assert json.loads(out) == {**extra, "stream": True, "stream_options": {**opts, "include_usage": True}}


@given(choice=st.booleans(), stream=st.sampled_from([False, None, "true", 1]))
def test_the_callers_choice_and_unstreamed_requests_are_left_alone(choice: bool, stream: Any) -> None:
    assert (
        with_usage(json.dumps({"stream": True, "stream_options": {"include_usage": choice}}).encode()) is None
    )
    assert with_usage(json.dumps({"model": "m", "stream": stream}).encode()) is None
    assert with_usage(b'{"stream": tru') is None
    assert with_usage(b'["stream", true]') is None


def chat_stream(client: openai.OpenAI, **kw: Any) -> None:
    for _ in client.chat.completions.create(**CHAT, stream=True, **kw):
        pass


def test_option_off_by_default_and_on_when_asked(tmp_path: Any, base_url: str) -> None:
    store = ImpactStore(tmp_path / "s")
    results: dict[str, pd.DataFrame] = {}
    for name, option in (("off", False), ("on", True)):
        with Recorder(store, include_usage=option) as rec:
            client = openai.OpenAI(
                base_url=base_url + "/v1", api_key="k", max_retries=0, http_client=rec.http_client()
            )
            with __import__("melious_impact").tags(run=name):
                chat_stream(client)  # no stream_options at all
                chat_stream(client, stream_options={"include_usage": False})  # the caller said no
                client.chat.completions.create(**CHAT)  # not a stream
            client.close()
        df = rows(store)
        results[name] = df[df["tags"] == json.dumps({"run": name}, separators=(",", ":"))].reset_index()
    off, on = results["off"], results["on"]
    assert off["output_tokens"].isna().tolist() == [True, True, False]
    assert [("stream_no_usage" in warnings_of(r)) for _, r in off.iterrows()] == [True, True, False]
    # With the option: the first stream asked for usage and has tokens; the caller's "no" stands.
    assert on["output_tokens"].isna().tolist() == [False, True, False]
    assert [("stream_no_usage" in warnings_of(r)) for _, r in on.iterrows()] == [False, True, False]
    assert on["impact_reported"].all() and off["impact_reported"].all()
    store.close()


def test_async_clients_ask_too(tmp_path: Any, base_url: str) -> None:
    store = ImpactStore(tmp_path / "s")

    async def main(rec: Recorder) -> None:
        client = rec.instrument(openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="k", max_retries=0))
        async for _ in await client.chat.completions.create(**CHAT, stream=True):
            pass
        await client.close()

    with Recorder(store, include_usage=True) as rec:
        asyncio.run(main(rec))
    df = rows(store)
    assert len(df) == 1 and bool(df.loc[0, "stream"]) and pd.notna(df.loc[0, "output_tokens"])
    assert "stream_no_usage" not in warnings_of(df.loc[0])
    store.close()


def test_a_client_moved_to_another_recorder_follows_its_option(tmp_path: Any, base_url: str) -> None:
    store = ImpactStore(tmp_path / "s")
    asking, plain = Recorder(store, include_usage=True), Recorder(store)
    client = asking.instrument(openai.OpenAI(base_url=base_url + "/v1", api_key="k", max_retries=0))
    chat_stream(client)
    plain.instrument(client, replace=True)
    chat_stream(client)
    client.close()
    asking.close()
    plain.close()
    df = rows(store)
    assert df["output_tokens"].notna().tolist() == [True, False]
    store.close()
