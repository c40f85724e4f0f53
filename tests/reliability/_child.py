"""Child process of the reliability suite (run as a script, never collected by pytest).

Modes (argv[1]):

``store ROOT LOG WORKER``
    write rows straight into ``ImpactStore(ROOT).writer()`` in a loop; after each ``write``
    returns, append the row's request id to LOG (one ``write(2)``, so a SIGKILL leaves only
    whole lines, or a torn last line that the parent ignores).
``capture ROOT LOG WORKER BASE_URL [STREAM_EVERY]``
    call the emulator's loopback server through the real OpenAI SDK with a Recorder's
    client; after each SDK call returns, log the response id.
``compact ROOT LOG``
    compact the store in a loop (to be killed in the middle of a compaction).
``rlimit ROOT LOG LIMIT_BYTES N``
    like ``store`` but under ``RLIMIT_FSIZE`` (SIGXFSZ ignored, so writes fail with EFBIG like
    a full disk); then raises the limit again ("space returns"), flushes, and prints the
    writer's stats as JSON.

The loop modes run until killed (or ``MAX_SECONDS``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

MAX_SECONDS = 300  # a child nobody kills still ends
BURST = 50  # store mode: rows between 10 ms pauses (up to ~5k rows/s per process: load, bounded volume)


def _row(worker: str, i: int) -> dict[str, Any]:
    from melious_impact.records import empty_row

    row = empty_row()
    row.update(
        captured_at=datetime.now(UTC),
        endpoint="/v1/chat/completions",
        status_code=200,
        request_id=f"w{worker}-{os.getpid()}-{i}",
        model="glm-4.7",
        input_tokens=10 + i % 50,
        output_tokens=5 + i % 20,
        energy_kwh=0.0001,
        carbon_g_co2=0.02,
        impact_reported=True,
        billing_credits=Decimal("0.000012"),
        billing_energy=Decimal("0.12"),
        billing_paid_with="credits",
        team=f"team{worker}",
        tags="{}",
        record_id=f"{os.getpid():08x}{i:024x}",
    )
    return row


def _log(fd: int, text: str) -> None:
    os.write(fd, (text + "\n").encode())


def run_store(root: str, log: str, worker: str) -> None:
    from melious_impact.store.impact_store import ImpactStore

    # MELIOUS_TEST_FLUSH_S: convert often, so that many small files exist to compact
    interval = float(os.environ.get("MELIOUS_TEST_FLUSH_S", "5"))
    writer = ImpactStore(root, flush_interval_s=interval).writer()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    _log(fd, "#ready")
    deadline = time.monotonic() + MAX_SECONDS
    i = 0
    while time.monotonic() < deadline:
        row = _row(worker, i)
        writer.write(row)
        _log(fd, row["request_id"])
        i += 1
        if i % BURST == 0:
            time.sleep(0.01)


def run_capture(root: str, log: str, worker: str, base_url: str, stream_every: int = 3) -> None:
    from openai import OpenAI

    import melious_impact as mi

    store = mi.ImpactStore(root)
    rec = mi.Recorder(store, tags={"team": f"team{worker}"})
    client = OpenAI(base_url=base_url + "/v1", api_key="sk-mel-reliability", http_client=rec.http_client())
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    _log(fd, "#ready")
    deadline = time.monotonic() + MAX_SECONDS
    i = -1
    while time.monotonic() < deadline:
        i += 1
        messages = [{"role": "user", "content": f"hello {i}"}]
        if stream_every and i % stream_every == 0:
            stream = client.chat.completions.create(
                model="glm-4.7",
                messages=messages,
                max_tokens=8,
                stream=True,
                stream_options={"include_usage": True},
            )
            ids = {chunk.id for chunk in stream}
            stream.close()
            response_id = ids.pop() if len(ids) == 1 else None
        else:
            response_id = client.chat.completions.create(model="glm-4.7", messages=messages, max_tokens=8).id
        _log(fd, response_id or "#noid")


def run_compact(root: str, log: str) -> None:
    from melious_impact.store.impact_store import ImpactStore

    store = ImpactStore(root)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    _log(fd, "#ready")
    deadline = time.monotonic() + MAX_SECONDS
    while time.monotonic() < deadline:
        result = store.compact(min_files=2)
        _log(fd, "#compacted " + json.dumps(result, default=str))
        time.sleep(0.02)


def run_rlimit(root: str, log: str, limit: int, n: int) -> None:
    import resource
    import signal

    from melious_impact.store.impact_store import ImpactStore

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death: a full disk
    store = ImpactStore(root)
    writer = store.writer()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    t0 = time.perf_counter()
    for i in range(n):
        writer.write(_row("x", i))  # must never raise
    call_s = time.perf_counter() - t0
    during = dict(getattr(writer, "stats", {}) or {})
    time.sleep(0.5)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space returns
    writer.flush()
    store.flush()
    after = dict(getattr(writer, "stats", {}) or {})
    print(json.dumps({"calls": n, "call_seconds": call_s, "during": during, "after": after}, default=str))
    store.close()


def main(argv: list[str]) -> None:
    mode = argv[1]
    if mode == "store":
        run_store(argv[2], argv[3], argv[4])
    elif mode == "capture":
        run_capture(argv[2], argv[3], argv[4], argv[5], int(argv[6]) if len(argv) > 6 else 3)
    elif mode == "compact":
        run_compact(argv[2], argv[3])
    elif mode == "rlimit":
        run_rlimit(argv[2], argv[3], int(argv[4]), int(argv[5]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv)
