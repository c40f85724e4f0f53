"""Capture overhead: the OpenAI SDK over an in-process transport, bare vs wrapped.

The harshest setting for capture: no network latency hides its cost. Three cases,
run side by side in one process, interleaved (bare, wrapped, wrapped, bare, ...) with
many repetitions, medians reported:

- ``chat``: a small chat completion (JSON, ~0.6 kB);
- ``embeddings``: a ~1 MB embeddings body (JSON, delivered in 64 kB chunks);
- ``stream``: a 300-chunk SSE chat stream with include_usage (one event per chunk).

The wrapped client writes every row into a real ImpactStore (a temporary folder) unless
``--sink null``. The ratio column is the median of per-round wrapped/bare ratios, which
is robust to the machine getting faster or slower during the run. Then records/s
sustained into the store: rows through ``store.writer().write`` alone, and whole SDK
calls through the recorder.

Three measures are reported: CPU time of the whole process (the store's background
writer included), CPU time of the calling thread (what the caller itself pays), and wall
time. On a quiet machine they agree; on a shared one, wall time also counts other
processes' time slices, and CPU time is the faithful measure of what capture costs.

Peers, side by side on the same SDK calls (the ``bench`` extra pins them). Each patches
the SDK's methods for the whole process, so each runs in a process of its own
(``--peer NAME``), where the bare calls go through the patched methods' ``__wrapped__``
originals, interleaved the same way, over the same canned transport and bodies, whose
responses name ``gpt-4o-mini``:

- EcoLogits (``ecologits==0.11.3``): a model it knows, so it computes its impacts; it
  instruments chat completions, not embeddings.
- Langfuse (``langfuse==5.0.4``, ``from langfuse.openai import OpenAI``): every call becomes
  an OpenTelemetry span, batched and exported by a background thread over HTTP. Its server
  here is a small collector on 127.0.0.1 in a process of its own (so its work is not
  counted as Langfuse's), reached through ``LANGFUSE_BASE_URL``/``LANGFUSE_HOST`` with dummy
  keys; it answers every request with ``{}`` and decodes the OTLP bodies to count the
  spans, which are reported beside the requests and bytes so the traces are seen to be
  real. Langfuse also replaces ``openai.Stream.__iter__`` for every stream; the bare stream
  case iterates through the original. The exporter's batches land in a few rounds only,
  which the median of per-round ratios passes over, so the *all-in* ratio adds to the
  caller's-thread ratio the CPU of every other thread over the whole case and of the flush
  that ends it (the spans still queued: serialised, compressed, sent), per instrumented
  call, over the bare call's: the counterpart of the store's conversion for capture.

    python benchmarks/capture_overhead.py            # full run (about a minute)
    python benchmarks/capture_overhead.py --quick    # a few seconds, noisier
    python benchmarks/capture_overhead.py --no-peers # melious-impact only
    python benchmarks/capture_overhead.py --peer langfuse  # one peer's side alone (JSON)
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
from openai import OpenAI

from melious_impact.capture.recorder import Recorder

IMPACT = (
    '{"energy_kwh": 0.00015, "carbon_g_co2": 0.06, "water_liters": 0.0002, "renewable_percent": 85,'
    ' "pue": 1.18, "provider_id": "ovhcloud", "location": "FR"}'
)
BILLING = '{"energy": "0.0008", "credits": "0.00000008", "paid_with": "energy"}'


def chat_body(model: str = "glm-4.7") -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "system_fingerprint": "vllm-0.22.0-tp4",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 9,
            "total_tokens": 21,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }
    return (
        json.dumps(body)[:-1].encode()
        + f', "environment_impact": {IMPACT}, "billing_cost": {BILLING}}}'.encode()
    )


def embeddings_body(target_bytes: int = 1_000_000) -> bytes:
    rnd = random.Random(0)
    data, size, i = [], 0, 0
    while size < target_bytes:
        vec = [round(rnd.uniform(-1, 1), 8) for _ in range(1024)]
        item = {"object": "embedding", "index": i, "embedding": vec}
        size += len(json.dumps(item))
        data.append(item)
        i += 1
    body = {
        "object": "list",
        "data": data,
        "model": "bge-m3",
        "usage": {"prompt_tokens": 8 * i, "total_tokens": 8 * i},
    }
    return (
        json.dumps(body)[:-1].encode()
        + f', "environment_impact": {IMPACT}, "billing_cost": {BILLING}}}'.encode()
    )


def stream_chunks(n: int = 300, model: str = "glm-4.7") -> list[bytes]:
    base = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
    }
    events = [
        {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
            "usage": None,
        }
    ]
    for k in range(n - 4):
        events.append(
            {
                **base,
                "choices": [{"index": 0, "delta": {"content": f" word{k}"}, "finish_reason": None}],
                "usage": None,
            }
        )
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None})
    chunks = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events]
    usage = {
        **base,
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": n - 4, "total_tokens": n + 8},
    }
    chunks.append(
        b"data: "
        + json.dumps(usage)[:-1].encode()
        + f', "environment_impact": {IMPACT}, "billing_cost": {BILLING}}}'.encode()
        + b"\n\n"
    )
    chunks.append(b"data: [DONE]\n\n")
    assert len(chunks) == n
    return chunks


class _Chunks(httpx2.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks


class CannedTransport(httpx2.BaseTransport):
    """Serves canned bytes in-process, streamed in chunks as a socket would deliver them."""

    def __init__(self, model: str = "glm-4.7") -> None:
        self.chat = [chat_body(model)]
        emb = embeddings_body()
        self.emb = [emb[i : i + 65536] for i in range(0, len(emb), 65536)]
        self.emb_size = len(emb)
        self.sse = stream_chunks(model=model)
        self.json_h = [
            ("content-type", "application/json"),
            ("x-ratelimit-limit-requests", "600"),
            ("x-ratelimit-remaining-requests", "599"),
            ("x-request-id", "req_bench"),
        ]
        self.sse_h = [("content-type", "text/event-stream"), *self.json_h[1:]]

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/embeddings"):
            return httpx2.Response(200, headers=self.json_h, stream=_Chunks(self.emb))
        if b'"stream":true' in request.content or b'"stream": true' in request.content:
            return httpx2.Response(200, headers=self.sse_h, stream=_Chunks(self.sse))
        return httpx2.Response(200, headers=self.json_h, stream=_Chunks(self.chat))


class NullSink:
    def writer(self) -> NullSink:
        return self

    def write(self, row: dict[str, Any]) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def make_cases(
    client: OpenAI,
    model: str = "glm-4.7",
    *,
    unwrapped: bool = False,
    iterate: Callable[[Any], Any] = iter,
) -> dict[str, Callable[[], None]]:
    """The three SDK calls. ``unwrapped``: call the SDK methods' ``__wrapped__`` originals
    (the bare side when a peer has patched the methods for the whole process); ``iterate``:
    how the stream is iterated (the original ``Stream.__iter__`` when a peer replaced it)."""
    msgs = [{"role": "user", "content": "Hello there"}]
    chat_create: Any = client.chat.completions.create
    emb_create: Any = client.embeddings.create
    if unwrapped:
        completions, embeddings_res = client.chat.completions, client.embeddings
        chat_fn = getattr(type(completions).create, "__wrapped__", type(completions).create)
        emb_fn = getattr(type(embeddings_res).create, "__wrapped__", type(embeddings_res).create)

        def chat_create(**kw: Any) -> Any:
            return chat_fn(completions, **kw)

        def emb_create(**kw: Any) -> Any:
            return emb_fn(embeddings_res, **kw)

    def chat() -> None:
        chat_create(model=model, messages=msgs)

    def embeddings() -> None:
        emb_create(model="bge-m3", input=["some text to embed"] * 8)

    def stream() -> None:
        for _ in iterate(
            chat_create(
                model=model,
                messages=msgs,
                stream=True,
                stream_options={"include_usage": True},
            )
        ):
            pass

    return {"chat": chat, "embeddings": embeddings, "stream": stream}


MEASURES = ("cpu", "thread", "wall")


def timed(fn: Callable[[], None], n: int) -> tuple[float, float, float]:
    """(process CPU, caller-thread CPU, wall) seconds per call.

    Process CPU counts every thread, so the store's background writer is included;
    caller-thread CPU is what the calling thread itself pays; wall time also holds
    whatever else the machine was doing, which on a shared machine can dwarf a few
    percent.
    """
    gc.collect()
    c0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
    for _ in range(n):
        fn()
    return (time.process_time() - c0) / n, (time.thread_time() - t0) / n, (time.perf_counter() - w0) / n


def compare(bare: Callable[[], None], wrapped: Callable[[], None], n: int, rounds: int) -> dict[str, float]:
    for _ in range(max(2, n // 4)):  # warm both paths (imports, caches, pydantic models)
        bare()
        wrapped()
    tb: list[tuple[float, float, float]] = []
    tw: list[tuple[float, float, float]] = []
    for r in range(rounds):
        if r % 2 == 0:
            b, w = timed(bare, n), timed(wrapped, n)
        else:
            w, b = timed(wrapped, n), timed(bare, n)
        tb.append(b)
        tw.append(w)
    out: dict[str, float] = {}
    for i, kind in enumerate(MEASURES):
        out[f"bare_{kind}_ms"] = statistics.median(t[i] for t in tb) * 1e3
        out[f"wrapped_{kind}_ms"] = statistics.median(t[i] for t in tw) * 1e3
        # Per-round ratios cancel slow drifts of the machine; their median is the figure.
        out[f"ratio_{kind}"] = statistics.median(w[i] / b[i] for b, w in zip(tb, tw, strict=True) if b[i] > 0)
    return out


def conversion(store: Any, rows: int, res: dict[str, float]) -> dict[str, float]:
    """Process CPU of converting the case's journaled rows to Parquet, per row; the all-in
    ratio adds it to the wrapped call. Zero for a store that converts nothing."""
    gc.collect()
    c0 = time.process_time()
    store.flush()
    per_row_ms = (time.process_time() - c0) / max(rows, 1) * 1e3
    return {
        "conversion_us_per_row": per_row_ms * 1e3,
        # the per-round ratio plus the conversion over a bare call (medians of the calls'
        # times alone may disagree with the ratio when the machine's speed drifts)
        "ratio_all_in": res["ratio_cpu"] + per_row_ms / res["bare_cpu_ms"],
    }


def writer_rate(store: Any, n: int) -> float:
    """Rows per second through store.writer().write alone (a row as capture makes it)."""
    sink = _CollectOne()
    rec = Recorder(sink)
    client = OpenAI(
        base_url="http://bench.local/v1",
        api_key="sk-bench",
        max_retries=0,
        http_client=rec.http_client(transport=CannedTransport()),
    )
    make_cases(client)["chat"]()
    template = sink.row
    rows = []
    for i in range(n):
        row = dict(template)
        row["record_id"] = f"{i:032x}"
        rows.append(row)
    w = store.writer()
    t0 = time.perf_counter()
    for row in rows:
        w.write(row)
    return n / (time.perf_counter() - t0)


class _CollectOne(NullSink):
    def __init__(self) -> None:
        self.row: dict[str, Any] = {}

    def write(self, row: dict[str, Any]) -> None:
        self.row = row


PEER_MODEL = "gpt-4o-mini"  # a model EcoLogits knows (it skips the rest for unknown ones)


PEERS = ("ecologits", "langfuse")


def run_peer(name: str, rounds: int, per_round: dict[str, int]) -> dict[str, Any]:
    """Bare vs the peer's instrumentation of the same calls, in this process (see the doc)."""
    if name == "ecologits":
        return _run_ecologits(rounds, per_round)
    if name == "langfuse":
        return _run_langfuse(rounds, per_round)
    raise SystemExit(f"unknown peer {name!r}")


def _run_ecologits(rounds: int, per_round: dict[str, int]) -> dict[str, Any]:
    import logging

    from ecologits import EcoLogits

    logging.getLogger("ecologits").setLevel(logging.CRITICAL)  # no warning per call
    EcoLogits.init(providers=["openai"])
    transport = CannedTransport(model=PEER_MODEL)
    common: dict[str, Any] = {"base_url": "http://bench.local/v1", "api_key": "sk-bench", "max_retries": 0}
    client = OpenAI(http_client=httpx2.Client(transport=transport), **common)
    check = client.chat.completions.create(model=PEER_MODEL, messages=[{"role": "user", "content": "x"}])
    impacts = getattr(check, "impacts", None)
    if impacts is None or impacts.energy is None:
        raise SystemExit("EcoLogits computed no impacts: the comparison would not be fair")
    bare, wrapped = make_cases(client, PEER_MODEL, unwrapped=True), make_cases(client, PEER_MODEL)
    results: dict[str, Any] = {"peer": "ecologits", "version": _version("ecologits")}
    for case in ("chat", "embeddings", "stream"):
        results[case] = compare(bare[case], wrapped[case], per_round[case], rounds)
    return results


def _run_langfuse(rounds: int, per_round: dict[str, int]) -> dict[str, Any]:
    """Langfuse's OpenAI integration, exporting to a loopback collector (see the doc)."""
    ctx = multiprocessing.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    collector = ctx.Process(target=_collector, args=(child_conn,), daemon=True)
    collector.start()
    try:
        port = conn.recv()
        base_url = f"http://127.0.0.1:{port}"
        for key in [k for k in os.environ if k.startswith(("LANGFUSE_", "OTEL_"))]:
            del os.environ[key]  # nothing from the caller's environment redirects the export
        os.environ.update(
            {
                "LANGFUSE_PUBLIC_KEY": "pk-lf-bench",
                "LANGFUSE_SECRET_KEY": "sk-lf-bench",
                "LANGFUSE_BASE_URL": base_url,
                "LANGFUSE_HOST": base_url,
                "NO_PROXY": "127.0.0.1",
                "no_proxy": "127.0.0.1",
            }
        )
        import openai

        original_stream_iter = openai.Stream.__iter__  # Langfuse replaces it for every stream
        from langfuse import Langfuse
        from langfuse.openai import OpenAI as LangfuseOpenAI  # type: ignore[attr-defined]

        langfuse = Langfuse()  # from the environment, as a user configures it
        transport = CannedTransport(model=PEER_MODEL)
        client = LangfuseOpenAI(
            base_url="http://bench.local/v1",
            api_key="sk-bench",
            max_retries=0,
            http_client=httpx2.Client(transport=transport),
        )
        client.chat.completions.create(model=PEER_MODEL, messages=[{"role": "user", "content": "x"}])
        langfuse.flush()
        seen = _ask(conn, "counts")
        if seen["spans"] < 1:
            raise SystemExit(f"Langfuse exported no span to the collector ({seen}): not a fair comparison")
        bare = make_cases(client, PEER_MODEL, unwrapped=True, iterate=original_stream_iter)
        wrapped = make_cases(client, PEER_MODEL)
        results: dict[str, Any] = {"peer": "langfuse", "version": _version("langfuse"), "check_calls": 1}
        for case in ("chat", "embeddings", "stream"):
            n = per_round[case]
            langfuse.flush()
            before = _ask(conn, "counts")
            p0, t0 = time.process_time(), time.thread_time()
            res = compare(bare[case], wrapped[case], n, rounds)
            # The exporter's batches land in a few rounds only, which the median of per-round
            # ratios passes over: count every other thread's CPU over the whole case instead.
            others_s = (time.process_time() - p0) - (time.thread_time() - t0)
            gc.collect()
            p0 = time.process_time()
            langfuse.flush()
            flush_s = time.process_time() - p0
            after = _ask(conn, "counts")
            calls = max(2, n // 4) + rounds * n  # the wrapped calls compare() made
            background_ms = (others_s + flush_s) / calls * 1e3
            res.update(
                {
                    "instrumented_calls": calls,
                    "spans_exported": after["spans"] - before["spans"],
                    "export_requests": after["requests"] - before["requests"],
                    "export_bytes": after["bytes"] - before["bytes"],
                    "background_threads_us_per_call": others_s / calls * 1e6,
                    "final_flush_us_per_call": flush_s / calls * 1e6,
                    # The caller's-thread ratio plus all background work per call, over a bare call.
                    "ratio_all_in": res["ratio_thread"] + background_ms / res["bare_thread_ms"],
                }
            )
            results[case] = res
        langfuse.shutdown()
        results["collector"] = _ask(conn, "stop")
        return results
    finally:
        collector.join(timeout=10)
        if collector.is_alive():
            collector.terminate()


def _ask(conn: Any, message: str) -> dict[str, Any]:
    conn.send(message)
    counts: dict[str, Any] = conn.recv()
    return counts


def _collector(conn: Any) -> None:
    """A stand-in Langfuse server on 127.0.0.1, in a process of its own: answers every
    request with ``{}`` (207 for the batch ingestion route, 200 otherwise), counts requests
    and body bytes, and decodes OTLP trace bodies to count their spans."""
    import gzip
    import threading
    import zlib
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    # Installed with Langfuse (its OTLP exporter's dependency).
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    counts = {"requests": 0, "bytes": 0, "spans": 0, "undecoded": 0}
    paths: dict[str, int] = {}
    lock = threading.Lock()

    def spans_in(body: bytes, encoding: str) -> int | None:
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            req = ExportTraceServiceRequest.FromString(body)
        except Exception:
            return None
        return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _read_body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                parts: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def _answer(self, body: bytes) -> None:
            path = self.path.split("?")[0]
            spans = spans_in(body, self.headers.get("content-encoding", "")) if "/traces" in path else 0
            with lock:
                counts["requests"] += 1
                counts["bytes"] += len(body)
                paths[path] = paths.get(path, 0) + 1
                if spans is None:
                    counts["undecoded"] += 1
                else:
                    counts["spans"] += spans
            self.send_response(207 if path.endswith("/ingestion") else 200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def do_POST(self) -> None:
            self._answer(self._read_body())

        def do_GET(self) -> None:
            self._answer(b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_address[1])
    while True:
        message = conn.recv()
        with lock:
            reply: dict[str, Any] = {**counts, "paths": dict(paths)}
        conn.send(reply)
        if message == "stop":
            break
    server.shutdown()


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def peer_results(name: str, rounds: int, quick: bool) -> dict[str, Any] | None:
    """Run ``--peer name`` in a child process; None when the peer is not installed."""
    if importlib.util.find_spec(name) is None:
        print(f"{name}: not installed (pip install -e '.[bench]'), skipped")
        return None
    cmd = [sys.executable, __file__, "--peer", name, "--rounds", str(rounds)] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        print(f"{name}: failed ({out.stderr.strip().splitlines()[-1:]}), skipped")
        return None
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def print_peer_rows(label: str, res: dict[str, Any]) -> None:
    cases = ("chat", "embeddings", "stream")
    rows = [("process CPU", "ratio_cpu"), ("caller thread", "ratio_thread"), ("wall", "ratio_wall")]
    if "ratio_all_in" in res["chat"]:
        rows.append(("all-in", "ratio_all_in"))
    for i, (measure, key) in enumerate(rows):
        print(
            f"{label if i == 0 else '':<20}{measure:<16}{res[cases[0]][key]:>8.3f}"
            f"{res[cases[1]][key]:>12.3f}{res[cases[2]][key]:>8.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a few seconds, noisier)")
    ap.add_argument("--peer", choices=PEERS, default=None, help="measure this peer only (child process)")
    ap.add_argument("--no-peers", action="store_true", help="skip the peers' side-by-side runs")
    ap.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds per case (default 31, quick 7)"
    )
    ap.add_argument(
        "--sink",
        choices=["store", "null"],
        default="store",
        help="where the wrapped client's rows go: a real ImpactStore (default) or nowhere",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    rounds = args.rounds or (7 if args.quick else 31)
    per_round = {"chat": 40, "embeddings": 2, "stream": 4}
    if args.quick:
        per_round = {"chat": 20, "embeddings": 1, "stream": 2}
    if args.peer:
        print(json.dumps(run_peer(args.peer, rounds, per_round)))
        return 0

    with tempfile.TemporaryDirectory(prefix="melious-bench-") as tmp:
        store: Any
        if args.sink == "store":
            from melious_impact.store.impact_store import ImpactStore

            # No conversion during the rounds: it is timed on its own after each case
            # (process CPU per row), so the caller's share and the background's are both seen.
            store = ImpactStore(Path(tmp) / "store", flush_interval_s=3600, buffer_rows=10**9)
        else:
            store = NullSink()
        rec = Recorder(store)
        transport = CannedTransport()
        common = {"base_url": "http://bench.local/v1", "api_key": "sk-bench", "max_retries": 0}
        bare = OpenAI(http_client=httpx2.Client(transport=transport), **common)
        wrapped = OpenAI(http_client=rec.http_client(transport=transport), **common)
        bare_cases, wrapped_cases = make_cases(bare), make_cases(wrapped)

        print(
            f"capture overhead: OpenAI SDK over an in-process transport; sink={args.sink}; "
            f"{rounds} interleaved rounds; python {sys.version.split()[0]}"
        )
        print(
            f"embeddings body: {transport.emb_size / 1e6:.2f} MB in {len(transport.emb)} chunks; "
            f"stream: {len(transport.sse)} chunks"
        )
        print()
        print(f"{'':<12}{'process CPU ms':>22}{'wrapped/bare ratio':>32}{'conversion':>24}")
        print(
            f"{'case':<12}{'bare':>11}{'wrapped':>11}{'process CPU':>13}{'caller thread':>15}{'wall':>8}"
            f"{'us/row':>10}{'all-in':>14}"
        )
        results: dict[str, Any] = {}
        for name in ("chat", "embeddings", "stream"):
            store.flush()
            before = rec.stats.captured
            res = compare(bare_cases[name], wrapped_cases[name], per_round[name], rounds)
            res.update(conversion(store, rec.stats.captured - before, res))
            results[name] = res
            print(
                f"{name:<12}{res['bare_cpu_ms']:>11.3f}{res['wrapped_cpu_ms']:>11.3f}{res['ratio_cpu']:>13.3f}"
                f"{res['ratio_thread']:>15.3f}{res['ratio_wall']:>8.3f}{res['conversion_us_per_row']:>10.1f}"
                f"{res['ratio_all_in']:>14.3f}"
            )
        print(
            "(conversion: the store's background work per row, journal to Parquet, timed apart; "
            "all-in: the process CPU ratio plus the conversion over a bare call)"
        )

        captured_before = rec.stats.captured
        n_calls = 300 if args.quick else 2000
        t0 = time.perf_counter()
        for _ in range(n_calls):
            wrapped_cases["chat"]()
        calls_per_s = n_calls / (time.perf_counter() - t0)
        assert rec.stats.captured - captured_before == n_calls
        n_rows = 20_000 if args.quick else 100_000
        rows_per_s = writer_rate(store, n_rows)
        t0 = time.perf_counter()
        store.flush()
        flush_s = time.perf_counter() - t0
        print()
        print(
            f"records/s into the store: {rows_per_s:,.0f} rows/s through writer().write ({n_rows:,} rows; "
            f"flush to Parquet after: {flush_s:.2f} s)"
        )
        print(
            f"                          {calls_per_s:,.0f} SDK chat calls/s end to end through the recorder"
        )
        stats = rec.stats
        print(f"recorder stats: {stats.as_dict()}")
        results["records_per_s_writer"] = rows_per_s
        results["sdk_calls_per_s"] = calls_per_s
        rec.close()
        store.close()
        if not args.no_peers:
            print()
            print(
                "peers: wrapped/bare on the same SDK calls, each peer in a process of its own "
                "(medians of per-round ratios)"
            )
            print(f"{'':<20}{'':<16}{'chat':>8}{'embeddings':>12}{'stream':>8}")
            print_peer_rows("melious-impact", results)
            for peer in PEERS:
                peer_res = peer_results(peer, rounds, args.quick)
                if peer_res is None:
                    continue
                results[f"peer_{peer}"] = peer_res
                print_peer_rows(f"{peer} {peer_res['version']}", peer_res)
                if "collector" in peer_res:
                    col = peer_res["collector"]
                    calls = sum(peer_res[c]["instrumented_calls"] for c in ("chat", "embeddings", "stream"))
                    print(
                        f"{'':<20}(exported to the loopback collector: {col['requests']} requests, "
                        f"{col['bytes'] / 1e6:.2f} MB, {col['spans']:,} spans for "
                        f"{calls + peer_res['check_calls']:,} instrumented calls; all-in: caller's-thread "
                        "ratio + every other thread's CPU and the final flush per call / bare)"
                    )
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0 if stats.capture_errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
