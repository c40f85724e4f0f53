"""Every response is a row: a body the HTTP library cannot decode (a broken gzip stream)
raises to the caller exactly as it does without capture, and is still stored, with
``body_undecodable`` and whatever the status and headers carried (Melious may have billed it).

Real httpx, httpx2 and OpenAI SDK clients against a loopback server; each case is run once
without a recorder to learn what the caller must see, then with one.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import httpx2
import openai
import pytest
from capture_support import Canned, CannedServer, MemorySink, canned_server

from melious_impact.capture.recorder import Recorder

CHAT = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-oss-120b",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi " * 400}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 400, "total_tokens": 409},
    }
).encode()
SSE = (
    b"".join(
        b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"w%d "}}]}\n\n'
        % i
        for i in range(300)
    )
    + b"data: [DONE]\n\n"
)
HEADERS = [
    ("content-encoding", "gzip"),
    ("x-request-id", "req-undecodable"),
    ("x-melious-energy-kwh", "0.0042"),
    ("x-melious-billing-energy", "0.000123"),
]


def _broken(body: bytes) -> list[bytes]:
    """Half of the body as valid gzip, then a deflate block of the invalid type 3, sent in
    several chunks: the library decodes the first half, then fails."""
    co = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    head = co.compress(body[: len(body) // 2]) + co.flush(zlib.Z_FULL_FLUSH)  # byte-aligned
    data = head + b"\x07" + b"\x00" * 64  # BFINAL=1, BTYPE=11: "invalid block type"
    return [data[i : i + 256] for i in range(0, len(data), 256)]


@pytest.fixture(scope="module")
def server() -> Iterator[CannedServer]:
    with canned_server() as s:
        s.routes[("POST", "/v1/chat/completions")] = Canned(
            headers=[("content-type", "application/json"), *HEADERS], chunks=_broken(CHAT)
        )
        s.routes[("POST", "/v1/stream/chat/completions")] = Canned(
            headers=[("content-type", "text/event-stream"), *HEADERS], chunks=_broken(SSE)
        )
        yield s


def _outcome(fn: Callable[[], Any]) -> tuple[type[BaseException], str] | None:
    try:
        fn()
    except Exception as exc:
        return type(exc), str(exc)
    return None


def _check_row(sink: MemorySink, *, stream: bool) -> None:
    assert len(sink.rows) == 1, sink.rows
    row = sink.rows[0]
    assert "body_undecodable" in row["parse_warnings"].split(",")
    assert row["status_code"] == 200 and row["request_id"] == "req-undecodable"
    assert row["energy_kwh"] == pytest.approx(0.0042)
    assert Decimal(str(row["billing_energy"])) == Decimal("0.000123")  # exact
    assert row["stream"] is stream
    if stream:
        assert row["stream_completed"] is False  # no terminal event was read
    assert row["response_bytes"] > 0


def _clients(lib: str, rec: Recorder | None, asynchronous: bool) -> Any:
    mod = httpx if lib == "httpx" else httpx2
    if rec is None:
        return (mod.AsyncClient if asynchronous else mod.Client)()
    name = ("async_" if asynchronous else "") + ("httpx_client" if lib == "httpx" else "http_client")
    return getattr(rec, name)()


def _sync_call(client: Any, url: str, how: str) -> None:
    with client:
        if how == "read":
            client.post(url + "/v1/chat/completions", json={"model": "m"})
        else:
            with client.stream(
                "POST", url + "/v1/stream/chat/completions", json={"model": "m", "stream": True}
            ) as r:
                for _ in r.iter_lines():
                    pass


def _async_call(client: Any, url: str, how: str) -> None:
    async def main() -> None:
        async with client:
            if how == "read":
                await client.post(url + "/v1/chat/completions", json={"model": "m"})
            else:
                body = {"model": "m", "stream": True}
                async with client.stream("POST", url + "/v1/stream/chat/completions", json=body) as r:
                    async for _ in r.aiter_lines():
                        pass

    asyncio.run(main())


@pytest.mark.parametrize("lib", ["httpx", "httpx2"])
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("how", ["read", "stream"])
def test_http_clients_raise_as_before_and_keep_the_row(
    server: CannedServer, lib: str, asynchronous: bool, how: str
) -> None:
    call = _async_call if asynchronous else _sync_call
    expected = _outcome(lambda: call(_clients(lib, None, asynchronous), server.url, how))
    assert expected is not None and expected[0].__name__ == "DecodingError"  # the case is real
    rec = Recorder(sink := MemorySink())
    got = _outcome(lambda: call(_clients(lib, rec, asynchronous), server.url, how))
    assert got == expected  # the same exception type and message reach the caller
    _check_row(sink, stream=how == "stream")
    assert rec.stats.capture_errors == 0


def _openai(rec: Recorder | None, url: str, asynchronous: bool) -> Any:
    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    kw: dict[str, Any] = {"base_url": url + "/v1", "api_key": "sk-test", "max_retries": 0}
    if rec is not None:
        kw["http_client"] = rec.async_http_client() if asynchronous else rec.http_client()
    return cls(**kw)


def _openai_call(client: Any, how: str, asynchronous: bool) -> None:
    msgs = [{"role": "user", "content": "x"}]
    if how == "stream":  # a server that streams under the same path shape as chat
        client = client.with_options(base_url=str(client.base_url) + "stream/")
    if not asynchronous:
        with client:
            if how == "read":
                client.chat.completions.create(model="m", messages=msgs)
            else:
                for _ in client.chat.completions.create(model="m", messages=msgs, stream=True):
                    pass
        return

    async def main() -> None:
        async with client:
            if how == "read":
                await client.chat.completions.create(model="m", messages=msgs)
            else:
                async for _ in await client.chat.completions.create(model="m", messages=msgs, stream=True):
                    pass

    asyncio.run(main())


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("how", ["read", "stream"])
def test_openai_sdk_raises_as_before_and_keeps_the_row(
    server: CannedServer, asynchronous: bool, how: str
) -> None:
    expected = _outcome(lambda: _openai_call(_openai(None, server.url, asynchronous), how, asynchronous))
    assert expected is not None
    rec = Recorder(sink := MemorySink())
    got = _outcome(lambda: _openai_call(_openai(rec, server.url, asynchronous), how, asynchronous))
    assert got == expected
    _check_row(sink, stream=how == "stream")
