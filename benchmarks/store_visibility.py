"""How long a captured row takes to become visible to readers while its process captures
at full speed, and what the background conversion costs.

A capturing thread runs whole OpenAI SDK calls through a recorder over the in-process
emulator, as fast as it can, into a real store (default ``flush_interval_s``). Each
background conversion is timed (wall time, and CPU time of the converting thread); a
second thread polls a reader's ``count()`` and notes, for each row, when it first became
visible: the row's age at that moment is its time to visibility.

    python benchmarks/store_visibility.py            # 40 s of capture
    python benchmarks/store_visibility.py --seconds 15
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument(
        "--direct",
        action="store_true",
        help="write prebuilt rows through store.writer() instead of SDK calls (a faster capturer)",
    )
    args = ap.parse_args()

    from openai import OpenAI

    from melious_impact import emulator
    from melious_impact.capture.recorder import Recorder
    from melious_impact.store import writer as writer_mod
    from melious_impact.store.impact_store import ImpactStore

    conversions: list[tuple[float, float, int]] = []  # (wall s, thread cpu s, rows)
    real = writer_mod.RowWriter._convert_sealed

    def timed(self: Any) -> None:
        with self._lock:
            rows = sum(s.rows for s in self._sealed)
        w0, c0 = time.perf_counter(), time.thread_time()
        real(self)
        if rows:
            conversions.append((time.perf_counter() - w0, time.thread_time() - c0, rows))

    writer_mod.RowWriter._convert_sealed = timed  # type: ignore[method-assign]

    with tempfile.TemporaryDirectory() as tmp:
        store = ImpactStore(Path(tmp) / "s")
        rec = Recorder(store)
        client = OpenAI(
            base_url="https://api.melious.ai/v1",
            api_key="sk-test",
            max_retries=0,
            http_client=rec.http_client(transport=emulator.transport(lib="httpx2", seed=1)),
        )
        written: list[float] = []  # monotonic time each row's call returned
        stop = threading.Event()
        ages: list[float] = []

        def poll() -> None:
            reader = ImpactStore(Path(tmp) / "s", auto_compact_files=None)
            seen = 0
            while not stop.is_set():
                n = reader.count()
                now = time.monotonic()
                ages.extend(now - t for t in written[seen:n])
                seen = max(seen, n)
                time.sleep(0.1)

        poller = threading.Thread(target=poll)
        poller.start()
        t_end = time.monotonic() + args.seconds
        msgs = [{"role": "user", "content": "hello"}]
        if args.direct:
            from melious_impact.records import empty_row

            row = empty_row()
            row.update(endpoint="/v1/chat/completions", status_code=200, model="m", source="live")
            w = store.writer()
            while time.monotonic() < t_end:
                now = time.monotonic()
                for _ in range(100):
                    w.write(row)
                    written.append(now)
        else:
            while time.monotonic() < t_end:
                client.chat.completions.create(model="gpt-oss-120b", messages=msgs)
                written.append(time.monotonic())
        deadline = time.monotonic() + 120  # until every row was seen (or two minutes)
        while len(ages) < len(written) and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        poller.join()
        rec.close()
        store.close()

    n = len(written)
    print(f"calls: {n} in {args.seconds:.0f} s ({n / args.seconds:.0f}/s)")
    if conversions:
        walls = [c[0] for c in conversions]
        cpus = [c[1] for c in conversions]
        rows = [c[2] for c in conversions]
        print(
            f"conversions: {len(conversions)}, rows each median {statistics.median(rows):.0f}, "
            f"wall median {statistics.median(walls):.2f} s (max {max(walls):.2f}), "
            f"thread CPU median {statistics.median(cpus):.2f} s"
        )
    if ages:
        ages.sort()
        q = statistics.quantiles(ages, n=100)
        print(
            f"time to visibility: median {statistics.median(ages):.1f} s, p95 {q[94]:.1f} s, "
            f"max {ages[-1]:.1f} s ({len(ages)} rows seen)"
        )


if __name__ == "__main__":
    main()
