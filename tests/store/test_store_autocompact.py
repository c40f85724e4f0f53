"""Small files are compacted on their own, in the background, with a bounded file count:
a notebook loop of call, flush and query keeps its query time flat."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import pytest
from store_support import make_row

from melious_impact.store.autocompact import AutoCompactor
from melious_impact.store.impact_store import ImpactStore


def _live_files(store: ImpactStore) -> int:
    return len(store._catalog.snapshot())


def test_notebook_loop_of_call_flush_query_keeps_query_time_and_file_count_flat(tmp_path: Path) -> None:
    from melious_impact import emulator
    from melious_impact.capture.recorder import Recorder

    store = ImpactStore(tmp_path / "s", flush_interval_s=3600)
    assert store._compactor is not None
    bound = store._compactor.max_files
    rec = Recorder(store)
    client = rec.httpx_client(
        base_url="https://api.melious.ai/v1",
        headers={"authorization": "Bearer sk-test"},
        transport=emulator.transport(lib="httpx", seed=3),
    )
    times: list[float] = []
    files: list[int] = []
    rounds = 1000
    with client:
        for i in range(rounds):
            r = client.post(
                "/chat/completions",
                json={"model": "gpt-oss-120b", "messages": [{"role": "user", "content": f"q{i}"}]},
            )
            assert r.status_code == 200
            rec.flush()
            t0 = time.perf_counter()
            n = store.count()
            times.append(time.perf_counter() - t0)
            assert n == i + 1  # every round sees its own row, and each row once
            files.append(_live_files(store))
    ratio = statistics.median(times[-100:]) / statistics.median(times[:100])
    print(
        f"notebook loop: rounds={rounds} query_ms_first100={statistics.median(times[:100]) * 1e3:.2f} "
        f"query_ms_last100={statistics.median(times[-100:]) * 1e3:.2f} ratio={ratio:.2f} "
        f"max_live_files={max(files)} final_live_files={files[-1]} compactions={store._compactor.runs}"
    )
    assert ratio < 2.0, f"median query time grew {ratio:.2f}x"
    # Fewer than `bound` files, plus those flushed while a compaction of the day ran.
    assert max(files) <= 2 * bound, max(files)
    assert files[-1] <= 2 * bound
    assert store._compactor.runs >= rounds // (2 * bound)
    ids = store.sql("select record_id from requests")["record_id"]
    assert len(ids) == rounds and ids.nunique() == rounds
    rec.close()
    store.close()


def test_compaction_waits_for_the_bound_and_counts_each_partition(tmp_path: Path) -> None:
    store = ImpactStore(tmp_path / "s", flush_interval_s=3600, auto_compact_files=4)
    for i in range(3):  # day 0: 3 files, below the bound
        store.append([make_row(i, "a")])
    for i in range(4):  # day 1: reaches it
        store.append([make_row(i, "b", day=1)])
    store.close()  # stops the thread after the compaction it was asked for
    assert store._compactor is not None and store._compactor.runs == 1
    days = sorted(p.name for p in (tmp_path / "s" / "requests").iterdir())
    per_day = {d: sorted(f.name for f in (tmp_path / "s" / "requests" / d).glob("*.parquet")) for d in days}
    assert len(per_day["date=2026-03-01"]) == 3
    assert len(per_day["date=2026-03-02"]) == 1 and per_day["date=2026-03-02"][0].startswith("compact-")
    assert len(ImpactStore(tmp_path / "s")) == 7


def test_auto_compaction_off(tmp_path: Path) -> None:
    store = ImpactStore(tmp_path / "s", auto_compact_files=None)
    for i in range(20):
        store.append([make_row(i, "a")])
    assert _live_files(store) == 20
    with pytest.raises(ValueError, match="auto_compact_files"):
        ImpactStore(tmp_path / "t", auto_compact_files=1)


def test_background_compaction_with_concurrent_writers_and_readers(tmp_path: Path) -> None:
    root = tmp_path / "s"
    store = ImpactStore(root, flush_interval_s=3600, auto_compact_files=3)
    stop = threading.Event()
    bad: list[str] = []

    def read() -> None:
        other = ImpactStore(root, auto_compact_files=None)
        while not stop.is_set():
            n, d = other.sql("select count(*), count(distinct request_id) from requests").iloc[0]
            if n != d:
                bad.append(f"{n} rows, {d} distinct")

    def write(t: int) -> None:
        w = store.writer()
        for i in range(60):
            w.write(make_row(i, f"t{t}"))
            if i % 3 == 2:
                store.flush()

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(t,)) for t in range(3)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(120)
    stop.set()
    for t in readers:
        t.join(60)
    assert not bad
    store.flush()
    ids = store.sql("select request_id from requests")["request_id"]
    assert sorted(ids) == sorted(f"t{t}-{i}" for t in range(3) for i in range(60))
    assert store._compactor is not None and store._compactor.runs >= 1
    store.close()
    assert _live_files(ImpactStore(root, auto_compact_files=None)) <= 2 * 3


def test_compactor_is_stopped_by_close_and_ignores_later_notices(tmp_path: Path) -> None:
    store = ImpactStore(tmp_path / "s", auto_compact_files=2)
    compactor = store._compactor
    assert isinstance(compactor, AutoCompactor)
    store.close()
    store.append([make_row(0, "a")])
    store.append([make_row(1, "a")])
    time.sleep(0.2)
    assert compactor.runs == 0 and _live_files(store) == 2
