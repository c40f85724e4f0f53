"""requests through integrations.requests.RecordingAdapter, against the emulator's loopback
server: JSON, a streamed chat read line by line, compressed bodies, tags, bytes unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from integration_support import rows, tags_of

from melious_impact.capture.recorder import Recorder
from melious_impact.capture.tags import tags
from melious_impact.integrations.requests import RecordingAdapter
from melious_impact.store.impact_store import ImpactStore

AUTH = {"authorization": "Bearer k"}


def session(rec: Recorder, url: str) -> requests.Session:
    s = requests.Session()
    s.mount(url + "/", RecordingAdapter(rec))
    return s


def test_json_and_streamed_chat(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    s = session(rec, base_url)
    chat = {"model": "glm-4.7:eco", "messages": [{"role": "user", "content": "hi"}]}
    with tags(feature="requests"):
        body = s.post(base_url + "/v1/chat/completions", json=chat, headers=AUTH).json()
        lines = []
        with s.post(
            base_url + "/v1/chat/completions",
            json={**chat, "stream": True, "stream_options": {"include_usage": True}},
            headers=AUTH,
            stream=True,
        ) as r:
            lines = [line for line in r.iter_lines() if line]
    emb = s.post(base_url + "/v1/embeddings", json={"model": "bge-m3", "input": "x"}, headers=AUTH).json()
    assert s.get(base_url + "/v1/models", headers=AUTH).status_code == 200  # passes through, no row
    s.close()
    df = rows(store)
    assert list(df["endpoint"]) == ["/v1/chat/completions", "/v1/chat/completions", "/v1/embeddings"]
    assert (
        df.loc[0, "request_id"] == body["id"]
        and df.loc[0, "output_tokens"] == body["usage"]["completion_tokens"]
    )
    assert df.loc[0, "carbon_g_co2"] == pytest.approx(body["environment_impact"]["carbon_g_co2"])
    events = [json.loads(line[len(b"data: ") :]) for line in lines if line != b"data: [DONE]"]
    usage = next(e["usage"] for e in events if e.get("usage"))
    assert bool(df.loc[1, "stream"]) and bool(df.loc[1, "stream_completed"])
    assert df.loc[1, "output_tokens"] == usage["completion_tokens"]
    assert df.loc[2, "input_tokens"] == emb["usage"].get("prompt_tokens", emb["usage"].get("total_tokens"))
    assert [tags_of(r) for _, r in df.iterrows()] == [{"feature": "requests"}] * 2 + [{}]
    assert df["impact_reported"].all() and (df["team"] == "search").all()


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
def test_compressed_bodies_reach_the_caller_as_urllib3_decodes_them(
    encoding: str, rec: Recorder, store: ImpactStore, base_url: str
) -> None:
    chat = {"model": "glm-4.7", "messages": [{"role": "user", "content": "hi"}]}
    plain = requests.post(
        base_url + "/v1/chat/completions", json=chat, headers={**AUTH, "accept-encoding": encoding}
    )
    s = session(rec, base_url)
    r = s.post(base_url + "/v1/chat/completions", json=chat, headers={**AUTH, "accept-encoding": encoding})
    assert r.headers.get("content-encoding") == plain.headers.get("content-encoding") == encoding
    assert r.json().keys() == plain.json().keys()
    s.close()
    df = rows(store)
    assert list(df["request_id"]) == [r.json()["id"]] and bool(df.loc[0, "impact_reported"])
    assert df.loc[0, "response_bytes"] == len(r.content)  # decoded size


def test_a_response_dropped_unread_is_still_a_row(rec: Recorder, store: ImpactStore, base_url: str) -> None:
    s = session(rec, base_url)
    chat: dict[str, Any] = {
        "model": "glm-4.7",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    r = s.post(base_url + "/v1/chat/completions", json=chat, headers=AUTH, stream=True)
    r.close()
    s.close()
    df = rows(store)
    assert len(df) == 1 and bool(df.loc[0, "stream"]) and not bool(df.loc[0, "stream_completed"])
