"""Recorder clients (kwargs, proxies, mounts), tags on contextvars, recorder lifecycle."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import weakref
from datetime import UTC
from typing import Any

import httpx
import httpx2
import pytest
from capture_support import Canned, MemorySink, canned_server, forward_proxy

import melious_impact as mi
from melious_impact.capture.recorder import Recorder, _close_at_exit
from melious_impact.capture.tags import current_tags, tags

CHAT = b'{"id": "c1", "object": "chat.completion", "usage": {"prompt_tokens": 1, "completion_tokens": 2}}'


@pytest.fixture
def server() -> Any:
    with canned_server() as s:
        s.routes[("POST", "/v1/chat/completions")] = Canned(chunks=[CHAT])
        yield s


@pytest.mark.parametrize("factory", ["http_client", "httpx_client"])
def test_client_kwargs_are_kept_and_transport_wrapped(factory: str, server: Any) -> None:
    rec = Recorder(sink := MemorySink())
    client = getattr(rec, factory)(base_url=server.url, headers={"x-team-header": "1"}, timeout=7.5)
    lib = httpx2 if factory == "http_client" else httpx
    assert isinstance(client, lib.Client)
    assert client.timeout.read == 7.5 and client.headers["x-team-header"] == "1"
    assert type(client._transport).__name__.startswith("RecordingTransport")
    with client:
        assert client.post("/v1/chat/completions", json={"model": "m"}).content == CHAT
    assert server.seen[-1][2]["x-team-header"] == "1"
    assert len(sink.rows) == 1 and sink.rows[0]["output_tokens"] == 2


@pytest.mark.parametrize("factory", ["async_http_client", "async_httpx_client"])
def test_async_clients(factory: str, server: Any) -> None:
    rec = Recorder(sink := MemorySink())

    async def main() -> None:
        async with getattr(rec, factory)(base_url=server.url) as c:
            await asyncio.gather(*(c.post("/v1/chat/completions", json={"model": "m"}) for _ in range(5)))

    asyncio.run(main())
    assert len(sink.rows) == 5


@pytest.mark.parametrize("factory", ["http_client", "httpx_client"])
def test_proxy_argument_still_routes_through_the_proxy(factory: str, server: Any) -> None:
    rec = Recorder(sink := MemorySink())
    with forward_proxy() as proxy, getattr(rec, factory)(proxy=proxy.url) as client:
        assert all(t is not None for t in client._mounts.values())
        assert all(type(t).__name__.startswith("RecordingTransport") for t in client._mounts.values())
        assert client.post(server.url + "/v1/chat/completions", json={"model": "m"}).content == CHAT
        assert proxy.requests == [server.url + "/v1/chat/completions"]
    assert len(sink.rows) == 1


@pytest.mark.parametrize("factory", ["http_client", "httpx_client"])
def test_proxy_environment_is_honoured(factory: str, server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    rec = Recorder(sink := MemorySink())
    with forward_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        with getattr(rec, factory)() as client:
            client.post(server.url + "/v1/chat/completions", json={"model": "m"})
        assert proxy.requests == [server.url + "/v1/chat/completions"]
        with getattr(rec, factory)(trust_env=False) as client:
            client.post(server.url + "/v1/chat/completions", json={"model": "m"})
        assert len(proxy.requests) == 1  # trust_env=False still means no proxy
    assert len(sink.rows) == 2


def test_user_transport_and_mounts_are_wrapped(server: Any) -> None:
    rec = Recorder(sink := MemorySink())
    inner = httpx2.HTTPTransport()
    client = rec.http_client(transport=inner, mounts={"http://other.invalid": httpx2.HTTPTransport()})
    assert client._transport.inner is inner
    assert all(t.inner is not None for t in client._mounts.values())
    with client:
        client.post(server.url + "/v1/chat/completions", json={})
    assert len(sink.rows) == 1


def test_tags_columns_json_and_nesting(server: Any) -> None:
    rec = Recorder(sink := MemorySink(), tags={"team": "search", "project": "rag", "env": "prod"})
    with rec.http_client(base_url=server.url) as c:
        c.post("/v1/chat/completions", json={})
        with tags(team="ads", feature="banners", z=1):
            c.post("/v1/chat/completions", json={})
            with tags(feature=None, a=True, project=None):
                assert current_tags() == {"team": "ads", "z": 1, "a": True}
                c.post("/v1/chat/completions", json={})
        c.post("/v1/chat/completions", json={})
    got = [(r["team"], r["project"], r["tags"]) for r in sink.rows]
    assert got == [
        ("search", "rag", '{"env":"prod"}'),
        ("ads", "rag", '{"env":"prod","feature":"banners","z":1}'),
        ("ads", None, '{"a":true,"env":"prod","z":1}'),
        ("search", "rag", '{"env":"prod"}'),
    ]
    assert current_tags() == {}


def test_tags_reach_asyncio_tasks_and_threads_via_copy_context(server: Any) -> None:
    rec = Recorder(sink := MemorySink())

    async def one(c: Any, name: str) -> None:
        with tags(task=name):
            await asyncio.sleep(0)
            await c.post("/v1/chat/completions", json={})

    async def main() -> None:
        async with rec.async_http_client(base_url=server.url) as c:
            with tags(team="async-team"):
                await asyncio.gather(one(c, "a"), one(c, "b"))

    asyncio.run(main())
    assert sorted(r["tags"] for r in sink.rows) == ['{"task":"a"}', '{"task":"b"}']
    assert {r["team"] for r in sink.rows} == {"async-team"}

    sink.rows.clear()
    client = rec.http_client(base_url=server.url)

    def work() -> None:
        client.post("/v1/chat/completions", json={})

    with tags(team="threaded"):
        plain = threading.Thread(target=work)
        ctx = contextvars.copy_context()
        copied = threading.Thread(target=ctx.run, args=(work,))
        plain.start(), plain.join()
        copied.start(), copied.join()
    assert [r["team"] for r in sink.rows] == [None, "threaded"]
    client.close()


def test_bad_tags_and_options_are_refused() -> None:
    with pytest.raises(TypeError, match="must be a str"), tags(team=object()):  # type: ignore[arg-type]
        pass
    with pytest.raises(ValueError, match="finite"), tags(cost=float("nan")):
        pass
    with pytest.raises(TypeError):
        Recorder(MemorySink(), tags={"team": ["a"]})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="credentials"):
        Recorder(MemorySink(), capture_headers=["Authorization"])
    with pytest.raises(ValueError, match="credentials"):
        Recorder(MemorySink(), capture_headers=["x-api-key"])
    with pytest.raises(TypeError, match="list of header names"):
        Recorder(MemorySink(), capture_headers="x-request-id")
    with pytest.raises(TypeError, match="writer"):
        Recorder(object())
    with pytest.raises(TypeError, match="clock"):
        Recorder(MemorySink(), clock=42)  # type: ignore[arg-type]


def test_capture_headers_and_clock(server: Any) -> None:
    from datetime import datetime, timedelta, timezone

    server.routes[("POST", "/v1/chat/completions")] = Canned(
        headers=[("content-type", "application/json"), ("x-trace-id", "tr-9"), ("set-cookie", "s=1")],
        chunks=[CHAT],
    )
    plus2 = timezone(timedelta(hours=2))
    rec = Recorder(
        sink := MemorySink(),
        capture_headers=["X-Trace-Id", "x-missing"],
        clock=lambda: datetime(2025, 3, 1, 12, 0, tzinfo=plus2),
    )
    with rec.http_client(base_url=server.url) as c, tags(team="t", k="v"):
        c.post("/v1/chat/completions", json={})
    [row] = sink.rows
    assert json.loads(row["tags"]) == {"header.x-trace-id": "tr-9", "k": "v"}
    assert row["captured_at"] == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    assert row["captured_at"].utcoffset() == timedelta(0)
    assert "s=1" not in json.dumps(row, default=str)


def test_default_store_is_owned_and_closed(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, server: Any
) -> None:
    monkeypatch.setenv("MELIOUS_IMPACT_HOME", str(tmp_path / "home"))
    closed: list[object] = []
    real_close = mi.ImpactStore.close

    def spy(self: Any) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(mi.ImpactStore, "close", spy)
    rec = Recorder()
    assert isinstance(rec.store, mi.ImpactStore)
    with rec.http_client(base_url=server.url) as c:
        c.post("/v1/chat/completions", json={"model": "m"})
    rec.close()
    rec.close()
    assert rec.closed and closed == [rec.store]
    reopened = mi.ImpactStore(rec.store.root)
    assert len(reopened.to_pandas()) == 1  # the row was flushed before the store closed
    reopened.close()


def test_atexit_hook_closes_and_lets_the_recorder_be_collected() -> None:
    sink = MemorySink()
    rec = Recorder(sink)
    ref = weakref.ref(rec)
    _close_at_exit(ref)
    assert rec.closed and sink.flushes == 1
    del rec
    assert ref() is None  # the atexit registration holds no strong reference
    _close_at_exit(ref)  # a collected recorder is fine


def test_public_names() -> None:
    assert mi.Recorder is Recorder
    assert mi.tags is tags and mi.current_tags is current_tags
    rec = Recorder(MemorySink(), tags={"team": "x"})
    assert dict(rec.tags) == {"team": "x"} and "Recorder open" in repr(rec)
    assert rec.stats.as_dict() == {
        "captured": 0,
        "dropped": 0,
        "capture_errors": 0,
        "transport_errors": 0,
        "skipped": 0,
    }
    with rec:
        pass
    assert rec.closed


def test_extra_sinks_get_every_row_after_the_store(server: Any) -> None:
    order: list[str] = []

    class Store(MemorySink):
        def write(self, row: dict[str, Any]) -> None:
            order.append("store")
            super().write(row)

    class Sink(MemorySink):
        def write(self, row: dict[str, Any]) -> None:
            order.append("sink")
            super().write(row)

    class Broken:
        def write(self, row: dict[str, Any]) -> None:
            raise ValueError("collector down")

    store, sink = Store(), Sink()
    rec = Recorder(store, sinks=[sink, Broken()])
    with rec.http_client(base_url=server.url) as c:
        c.post("/v1/chat/completions", json={})
        c.post("/v1/chat/completions", json={})
    rec.flush()
    rec.close()
    assert order == ["store", "sink", "store", "sink"]
    assert sink.rows == store.rows and (sink.flushes, sink.closes) == (1, 1)
    assert rec.stats.captured == 2 and rec.stats.capture_errors == 2
    with pytest.raises(TypeError, match="write"):
        Recorder(MemorySink(), sinks=[object()])


def test_store_writer_drops_show_in_recorder_stats(server: Any) -> None:
    class DroppingSink(MemorySink):
        @property
        def stats(self) -> dict[str, int]:
            return {"rows_written": 5, "rows_dropped": 3}

    rec = Recorder(DroppingSink())
    assert rec.stats.dropped == 0  # no writer asked yet: none is started just to read stats
    with rec.http_client(base_url=server.url) as c:
        c.post("/v1/chat/completions", json={})
    assert (rec.stats.captured, rec.stats.dropped) == (1, 3)
