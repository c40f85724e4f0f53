"""The core without HTTP: determinism, compression, errors, headers, transports."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib

import brotli
import httpx
import httpx2
import pytest
from openai import OpenAI

from melious_impact.emulator import Emulator, SimClock, make_transport, serve, transport

CHAT = json.dumps({"model": "glm-4.7", "messages": [{"role": "user", "content": "hello " * 50}]}).encode()
AUTH = {"authorization": "Bearer sk-test"}


def _body(resp: object) -> bytes:
    return b"".join(resp.chunks)  # type: ignore[attr-defined]


def test_same_seed_same_bytes() -> None:
    a, b = Emulator(seed=3), Emulator(seed=3)
    for _ in range(3):
        assert _body(a.handle("POST", "/v1/chat/completions", AUTH, CHAT)) == _body(
            b.handle("POST", "/v1/chat/completions", AUTH, CHAT)
        )
    assert _body(Emulator(seed=4).handle("POST", "/v1/chat/completions", AUTH, CHAT)) != _body(
        Emulator(seed=3).handle("POST", "/v1/chat/completions", AUTH, CHAT)
    )


def test_simulated_clock_drives_created_and_carbon() -> None:
    clock = SimClock()
    emu = Emulator(seed=0, clock=clock, noise_sigma=0)
    first = json.loads(_body(emu.handle("POST", "/v1/chat/completions", AUTH, CHAT)))
    clock.advance(86400 * 180)
    later = json.loads(_body(emu.handle("POST", "/v1/chat/completions", AUTH, CHAT)))
    assert later["created"] - first["created"] == 86400 * 180
    with pytest.raises(ValueError):
        clock.advance(-1)


@pytest.mark.parametrize(
    ("encoding", "decode"),
    [("gzip", gzip.decompress), ("deflate", zlib.decompress), ("br", brotli.decompress)],
)
def test_compression_json(encoding: str, decode: object) -> None:
    emu = Emulator(seed=0)
    resp = emu.handle("POST", "/v1/chat/completions", {**AUTH, "accept-encoding": encoding}, CHAT)
    assert dict(resp.headers)["content-encoding"] == encoding
    assert json.loads(decode(_body(resp)))["object"] == "chat.completion"  # type: ignore[operator]


def test_compression_sse_is_flushed_per_event() -> None:
    emu = Emulator(seed=0)
    body = json.dumps(
        {"model": "glm-4.7", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    ).encode()
    resp = emu.handle("POST", "/v1/chat/completions", {**AUTH, "accept-encoding": "gzip"}, body)
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    first = d.decompress(next(resp.chunks))
    assert first.startswith(b"data: ") and first.endswith(b"\n\n")  # decodable on arrival
    rest = b"".join(d.decompress(c) for c in resp.chunks) + d.flush()
    assert rest.endswith(b"data: [DONE]\n\n")


def test_no_compression_when_disabled_or_not_accepted() -> None:
    assert "content-encoding" not in dict(
        Emulator(compression=False)
        .handle("POST", "/v1/chat/completions", {**AUTH, "accept-encoding": "gzip"}, CHAT)
        .headers
    )
    assert "content-encoding" not in dict(
        Emulator().handle("POST", "/v1/chat/completions", AUTH, CHAT).headers
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AUTH_1008", 401),
        ("BILLING_2003", 402),
        ("INFERENCE_3001", 404),
        ("INFERENCE_3207", 400),
        ("AUTH_1028", 429),
        ("INFERENCE_3103", 502),
    ],
)
def test_forced_errors_melious_envelope(code: str, status: int) -> None:
    emu = Emulator(seed=0, openai_style_error_share=0)
    resp = emu.handle("POST", "/v1/chat/completions", {**AUTH, "x-emulator-error": code}, CHAT)
    body = json.loads(_body(resp))
    assert resp.status == status and body["error"]["code"] == code and "environment_impact" not in body
    if code == "AUTH_1028":
        assert dict(resp.headers)["retry-after"] == "1"
    if code == "INFERENCE_3207":
        assert body["error"]["details"]["context_length"] == 131072


def test_openai_style_envelope_and_error_rate() -> None:
    emu = Emulator(seed=0, error_rate=0.5, openai_style_error_share=1.0)
    statuses, styles = [], set()
    for _ in range(60):
        resp = emu.handle("POST", "/v1/chat/completions", AUTH, CHAT)
        statuses.append(resp.status)
        if resp.status >= 400:
            err = json.loads(_body(resp))["error"]
            styles.add("type" in err and "param" in err)
    assert 15 < sum(s >= 400 for s in statuses) < 45
    assert styles == {True}


def test_real_errors() -> None:
    emu = Emulator(seed=0)
    assert emu.handle("POST", "/v1/chat/completions", {}, CHAT).status == 401  # AUTH_1007, no key
    bad = json.dumps({"model": "glm-4.7:turbo", "messages": [{"role": "user", "content": "x"}]}).encode()
    r = emu.handle("POST", "/v1/chat/completions", AUTH, bad)
    assert r.status == 404
    huge = json.dumps(
        {"model": "gpt-oss-20b", "messages": [{"role": "user", "content": "x" * 600_000}]}
    ).encode()
    r = emu.handle("POST", "/v1/chat/completions", AUTH, huge)
    assert r.status == 400 and b"INFERENCE_3207" in _body(r)
    r = emu.handle("POST", "/v1/messages", AUTH, CHAT)  # no anthropic-version
    assert r.status == 400


def test_rate_limit_and_request_id_headers() -> None:
    emu = Emulator(seed=0, ratelimit_headers="both")
    h1 = dict(emu.handle("GET", "/v1/models", AUTH, b"").headers)
    h2 = dict(emu.handle("GET", "/v1/models", AUTH, b"").headers)
    assert h1["X-RateLimit-Limit-Requests"] == "600"
    assert int(h1["X-RateLimit-Remaining-Requests"]) - int(h2["X-RateLimit-Remaining-Requests"]) == 1
    assert int(h1["x-ratelimit-reset"]) > 1_700_000_000  # epoch family
    assert h1["x-request-id"] != h2["x-request-id"]


def test_unreported_and_billing_modes() -> None:
    emu = Emulator(seed=0, unreported_rate=1.0)
    assert "environment_impact" not in json.loads(
        _body(emu.handle("POST", "/v1/chat/completions", AUTH, CHAT))
    )
    emu = Emulator(seed=0, paid_with="energy", both_nonzero=True)
    bill = json.loads(_body(emu.handle("POST", "/v1/chat/completions", AUTH, CHAT)))["billing_cost"]
    assert bill["paid_with"] == "energy"
    from decimal import Decimal

    assert Decimal(bill["energy"]) == Decimal(bill["credits"]) * 10_000 > 0


def test_no_prompt_echo() -> None:
    secret = "TOPSECRET-PROMPT-4242"
    body = json.dumps({"model": "glm-4.7", "messages": [{"role": "user", "content": secret}]}).encode()
    assert secret.encode() not in _body(Emulator(seed=0).handle("POST", "/v1/chat/completions", AUTH, body))


@pytest.mark.parametrize("lib", ["httpx2", "httpx"])
def test_in_process_transports_sync_and_async(lib: str) -> None:
    mod = httpx2 if lib == "httpx2" else httpx
    t = transport(lib=lib, seed=0)
    with mod.Client(transport=t, base_url="http://emulator") as c:
        r = c.post("/v1/chat/completions", headers=AUTH, json=json.loads(CHAT))
        assert r.json()["environment_impact"]["energy_kwh"] > 0  # gzip decoded by the client

    async def go() -> int:
        async with mod.AsyncClient(
            transport=transport(lib=lib, seed=0, asynchronous=True), base_url="http://emulator"
        ) as ac:
            n = 0
            async with ac.stream(
                "POST", "/v1/chat/completions", headers=AUTH, json={**json.loads(CHAT), "stream": True}
            ) as resp:
                async for line in resp.aiter_lines():
                    n += line.startswith("data: ")
            return n

    assert asyncio.run(go()) > 3


def test_openai_sdk_over_in_process_transport() -> None:
    emu = Emulator(seed=0)
    client = OpenAI(
        base_url="http://emulator/v1", api_key="k", http_client=httpx2.Client(transport=make_transport(emu))
    )
    r = client.chat.completions.create(model="glm-4.7", messages=[{"role": "user", "content": "hi"}])
    assert (r.model_extra or {})["billing_cost"]["paid_with"] == "credits"


def test_server_large_embeddings_body_compressed() -> None:
    with serve(seed=0) as url:
        r = httpx2.post(
            url + "/v1/embeddings",
            headers={**AUTH, "accept-encoding": "gzip"},
            json={"model": "qwen3-embedding-8b", "input": ["x"] * 64},
        )
        assert r.headers["content-encoding"] == "gzip"
        assert len(r.json()["data"]) == 64 and len(r.content) > 1_000_000


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="stream_impact"):
        Emulator(stream_impact="somewhere")
    with pytest.raises(ValueError, match="unknown error codes"):
        Emulator(error_weights={"NOPE_1": 1.0})
    with pytest.raises(TypeError):
        from melious_impact.emulator import EmulatorConfig

        Emulator(EmulatorConfig(), seed=1)


def test_files_pagination_and_batch_errors() -> None:
    emu = Emulator(seed=0)
    boundary = "b0undary"

    def upload(name: str) -> str:
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/jsonl\r\n\r\n"
            '{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"bge-m3","input":"x"}}\n'
            '{"custom_id":"b","method":"POST","url":"/v1/embeddings","body":{"model":"nope","input":"x"}}\n'
            f"\r\n--{boundary}--\r\n"
        ).encode()
        headers = {**AUTH, "content-type": f"multipart/form-data; boundary={boundary}"}
        return str(json.loads(_body(emu.handle("POST", "/v1/files", headers, body)))["id"])

    ids = [upload(f"f{i}.jsonl") for i in range(3)]
    page = json.loads(_body(emu.handle("GET", "/v1/files?limit=2&order=asc", AUTH, b"")))
    assert [f["id"] for f in page["data"]] == ids[:2] and page["has_more"]
    page2 = json.loads(_body(emu.handle("GET", f"/v1/files?limit=2&order=asc&after={ids[1]}", AUTH, b"")))
    assert [f["id"] for f in page2["data"]] == ids[2:] and not page2["has_more"]

    create = json.dumps({"input_file_id": ids[0], "endpoint": "/v1/embeddings"}).encode()
    batch = json.loads(_body(emu.handle("POST", "/v1/batches", AUTH, create)))
    done = json.loads(_body(emu.handle("GET", f"/v1/batches/{batch['id']}", AUTH, b"")))
    assert done["request_counts"] == {"processing": 0, "succeeded": 1, "errored": 1}
    err_lines = _body(emu.handle("GET", f"/v1/files/{done['error_file_id']}/content", AUTH, b"")).splitlines()
    failed = json.loads(err_lines[0])
    assert failed["custom_id"] == "b" and failed["response"]["status_code"] == 404
    out = json.loads(_body(emu.handle("GET", f"/v1/files/{done['output_file_id']}/content", AUTH, b"")))
    assert out["response"]["body"]["environment_impact"]["provider_id"] in {"ovhcloud", "infercom"}
    late_cancel = emu.handle("POST", f"/v1/batches/{batch['id']}/cancel", AUTH, b"")
    assert late_cancel.status == 400
    assert emu.handle("POST", "/v1/files", AUTH, b"{}").status == 400  # not multipart
