"""Compaction under a concurrent writer and reader; retention."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from store_support import back_to_back_compactions, make_row

from melious_impact.store import leases
from melious_impact.store.impact_store import ImpactStore

CHILD = Path(__file__).resolve().parent / "child.py"


def _files(root: Path) -> int:
    return len(list(root.glob("requests/*/*.parquet")))


def test_compaction_merges_and_keeps_every_row_once(tmp_path: Path) -> None:
    s = ImpactStore(tmp_path / "s")
    for k in range(6):
        s.append([make_row(i, f"c{k}", day=i % 2) for i in range(50)])
    before = s.to_pandas().sort_values("request_id").reset_index(drop=True)
    res = s.compact()
    assert res["files_merged"] == 12 and res["files_deleted"] == 12 and res["partitions"] == 2
    files = list(Path(s.root).glob("requests/*/*.parquet"))
    assert len(files) == 2 and all(f.name.startswith("compact-") for f in files)
    after = s.to_pandas().sort_values("request_id").reset_index(drop=True)
    assert before.equals(after)
    s.append([make_row(i, "late") for i in range(5)])
    assert s.compact()["files_merged"] == 2  # the compacted file and the new one
    assert len(s) == 305


def test_reader_never_sees_replaced_files_during_grace(tmp_path: Path) -> None:
    s = ImpactStore(tmp_path / "s")
    for k in range(3):
        s.append([make_row(i, f"g{k}") for i in range(10)])
    con = s.connect()  # a long-lived snapshot
    res = s.compact(grace_s=3600)
    assert res["files_deleted"] == 0
    assert len(list(Path(s.root).glob("requests/*/*.parquet"))) == 4  # old files still there...
    assert len(s) == 30  # ...but dead for every new listing
    assert con.sql("SELECT count(*) FROM requests").fetchall() == [(30,)]  # old snapshot works
    con.close()
    del con  # its read lease ends when the connection is dropped
    assert s.compact(grace_s=0)["files_deleted"] == 3


def test_compaction_concurrent_with_writer_and_reader(tmp_path: Path) -> None:
    root = tmp_path / "s"
    writer_store = ImpactStore(root, flush_interval_s=0.02, buffer_rows=50)
    reader_store = ImpactStore(root)
    compactor = ImpactStore(root)
    stop = threading.Event()
    written = 0
    seen: list[tuple[int, int]] = []  # (rows written before the read, rows read)
    errors: list[BaseException] = []

    def write() -> None:
        nonlocal written
        w = writer_store.writer()
        while not stop.is_set():
            for _ in range(20):
                w.write(make_row(written, "cw"))
                written += 1
            time.sleep(0.002)

    def read() -> None:
        try:
            while not stop.is_set():
                flushed_before = writer_store.stats["rows_flushed"]
                df = reader_store.sql("SELECT request_id FROM requests")
                seen.append((flushed_before, len(df)))
                assert df["request_id"].is_unique, "a row appeared twice"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    compactions = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        compactor.compact()
        compactions += 1
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    writer_store.close()
    # never a row twice, never fewer rows than were committed before the read began
    assert all(n_read >= flushed for flushed, n_read in seen)
    assert len(seen) >= 3 and compactions > 3
    ids = reader_store.sql("SELECT request_id FROM requests")["request_id"]
    assert len(ids) == written and ids.is_unique
    compactor.compact()
    assert len(list(root.glob("requests/*/*.parquet"))) == 1


def test_second_compactor_backs_off(tmp_path: Path) -> None:
    import fcntl
    import os

    s = ImpactStore(tmp_path / "s")
    s.append([make_row(1)])
    s.append([make_row(2)])
    (tmp_path / "s" / "_locks").mkdir(exist_ok=True)
    fd = os.open(tmp_path / "s" / "_locks" / "compact.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert s.compact()["skipped_locked"] == 1
    finally:
        os.close(fd)
    assert s.compact()["files_merged"] == 2


def test_retention_drops_old_partitions(tmp_path: Path) -> None:
    s = ImpactStore(tmp_path / "s")
    for d in range(10):  # 2026-03-01 .. 2026-03-10
        s.append([make_row(i, f"r{d}", day=d) for i in range(3)])
    dropped = s.retain(5, today=date(2026, 3, 10))  # older than 5 days: before 03-05
    assert dropped == [f"date=2026-03-0{d}" for d in range(1, 5)]
    assert len(s) == 18
    assert s.to_pandas()["captured_at"].min().date() == date(2026, 3, 5)
    assert s.retain(5, today=date(2026, 3, 10)) == []


def test_dead_writers_file_is_not_compacted_before_its_segment_is_recovered(tmp_path: Path) -> None:
    # A writer killed after writing its Parquet file but before deleting its journal
    # segment: recovery will rewrite that file. Two compactions in between used to merge
    # it, delete it, then merge the compacted file away, so nothing named it any more
    # and the rewrite came back as live rows beside their merged copies.
    from melious_impact.store import paths
    from melious_impact.store.codec import encode_row, header_record
    from melious_impact.store.commit import commit_segment

    root = tmp_path / "s"
    # (no recovery by readers, no background compaction: the segment must outlive both compactions)
    s = ImpactStore(root, recover_on_open=False, recover_on_read=False, auto_compact_files=None)
    s.append([make_row(i, "a") for i in range(20)])
    seg_id = "deadhost-1-" + "0" * 32
    data = header_record() + b"".join(encode_row(make_row(i, "dead")) for i in range(30))
    journal = paths.ensure_private_dir(root / paths.JOURNAL_DIR)
    (journal / f"{seg_id}{paths.SEGMENT_SUFFIX}").write_bytes(data)
    commit_segment(s._backend, seg_id, data)  # converted, then killed before the delete
    assert len(s) == 50
    s.compact()
    s.append([make_row(i, "b") for i in range(10)])
    s.compact()
    s.close()
    reopened = ImpactStore(root)  # recovers the dead writer's segment
    try:
        ids = list(reopened.sql("select request_id from requests")["request_id"])
        assert len(ids) == 60 and len(set(ids)) == 60
        assert not list(journal.glob(f"*{paths.SEGMENT_SUFFIX}"))
        reopened.compact()
        assert len(reopened) == 60  # and once recovered, the file is merged like any other
        assert all(f.name.startswith("compact-") for f in Path(reopened.root).glob("requests/*/*.parquet"))
    finally:
        reopened.close()


def test_readers_outlast_back_to_back_compactions(tmp_path: Path) -> None:
    # A compactor that never pauses (each pass rewrites the partition and deletes the file
    # the last pass wrote) makes a reader's listing stale again and again; every read must
    # still succeed with every row once (its lease keeps the files it listed).
    root = tmp_path / "s"
    for k in range(4):
        ImpactStore(root).append([make_row(i, f"b{k}", day=k % 2) for i in range(25)])
    compactor, reader = ImpactStore(root, auto_compact_files=None), ImpactStore(root, auto_compact_files=None)
    counts = []
    deadline = time.monotonic() + 120
    with back_to_back_compactions(compactor) as churn:  # read all along forty passes at least
        while (churn.passes < 40 or len(counts) < 40) and time.monotonic() < deadline:
            counts.append(reader.sql("SELECT count(*) AS n, count(DISTINCT request_id) AS d FROM requests"))
    assert churn.passes >= 40 and len(counts) >= 40
    assert all(int(c["n"].iloc[0]) == int(c["d"].iloc[0]) == 100 for c in counts)


def _three_files(root: Path) -> ImpactStore:
    s = ImpactStore(root, auto_compact_files=None)
    for k in range(3):
        s.append([make_row(i, f"l{k}") for i in range(10)])
    return s


def test_a_connection_keeps_its_files_until_it_is_dropped(tmp_path: Path) -> None:
    s = _three_files(tmp_path / "s")
    con = s.connect()
    res = s.compact()
    assert res["files_merged"] == 3 and res["files_deleted"] == 0 and res["files_waiting"] == 3
    assert len(s) == 30  # new listings see the compacted file only
    assert con.sql("SELECT count(*) FROM requests").fetchall() == [(30,)]  # the old snapshot still reads
    del con
    gc.collect()
    res = s.compact()
    assert res["files_merged"] == 0 and res["files_deleted"] == 3 and res["files_waiting"] == 0
    assert _files(tmp_path / "s") == 1 and len(s) == 30


def test_a_reader_in_another_process_holds_back_deletion(tmp_path: Path) -> None:
    root = tmp_path / "s"
    s = _three_files(root)
    env = {**os.environ, "PYTHONPATH": str(CHILD.parent)}
    with subprocess.Popen(
        [sys.executable, str(CHILD), "hold-connection", str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as child:
        try:
            assert child.stdout is not None and child.stdin is not None
            assert child.stdout.readline().strip() == "30"
            res = s.compact()
            assert res["files_deleted"] == 0 and res["files_waiting"] == 3
            child.stdin.write("\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "30"  # its snapshot read the replaced files
            assert child.wait(30) == 0
        finally:
            child.kill()
    assert s.compact()["files_deleted"] == 3 and _files(root) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_does_not_inherit_the_lease(tmp_path: Path) -> None:
    s = _three_files(tmp_path / "s")
    con = s.connect()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child outlives the parent's connection
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    try:
        del con
        gc.collect()
        assert s.compact()["files_deleted"] == 3
    finally:
        os.write(w, b"x")
        os.close(w)
        os.waitpid(pid, 0)


def test_a_lease_held_too_long_stops_holding_files_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _three_files(tmp_path / "s")
    con = s.connect()
    monkeypatch.setattr("melious_impact.store.compaction.MAX_DEFER_S", 0.0)
    assert s.compact()["files_deleted"] == 3  # the connection may now fail: it was warned
    del con


def test_the_background_compactor_deletes_held_files_once_the_reader_lets_go(tmp_path: Path) -> None:
    root = tmp_path / "s"
    s = ImpactStore(root, auto_compact_files=2, flush_interval_s=3600)
    s.append([make_row(0, "a")])
    con = s.connect()
    s.append([make_row(1, "a")])  # reaches the bound: compacted in the background
    deadline = time.monotonic() + 10
    while s._compactor is not None and s._compactor.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(s) == 2 and _files(root) == 3  # the compacted file and the two it replaced
    del con
    gc.collect()
    deadline = time.monotonic() + 5 * leases.SWEEP_RETRY_S + 5
    while _files(root) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _files(root) == 1 and len(s) == 2
    s.close()


def test_reading_writes_nothing_into_the_store(tmp_path: Path) -> None:
    # The lease is a lock on the folder itself: a store shipped read-only reads the same way.
    root = tmp_path / "s"
    s = _three_files(root)
    s.close()
    before = sorted((p.relative_to(root), p.stat().st_mtime_ns) for p in root.rglob("*"))
    reader = ImpactStore(root, auto_compact_files=None)
    assert len(reader) == 30
    con = reader.connect()
    assert con.sql("SELECT count(*) FROM requests").fetchall() == [(30,)]
    del con
    assert sorted((p.relative_to(root), p.stat().st_mtime_ns) for p in root.rglob("*")) == before


def _ten_days(root: Path) -> ImpactStore:
    s = ImpactStore(root, auto_compact_files=None)
    for d in range(10):  # 2026-03-01 .. 2026-03-10
        s.append([make_row(i, f"r{d}", day=d) for i in range(3)])
    return s


def test_retention_waits_for_a_reader_to_let_go(tmp_path: Path) -> None:
    s = _ten_days(tmp_path / "s")
    con = s.connect()
    dropped: list[list[str]] = []
    t = threading.Thread(target=lambda: dropped.append(s.retain(5, today=date(2026, 3, 10))))
    t.start()
    time.sleep(0.5)
    assert not dropped and len(list((tmp_path / "s" / "requests").iterdir())) == 10
    assert con.sql("SELECT count(*) FROM requests").fetchall() == [(30,)]  # the old days still read
    del con
    gc.collect()
    t.join(10)
    assert dropped == [[f"date=2026-03-0{d}" for d in range(1, 5)]] and len(s) == 18


def test_retention_drops_anyway_after_its_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    s = _ten_days(tmp_path / "s")
    con = s.connect()
    monkeypatch.setattr("melious_impact.store.compaction.RETAIN_WAIT_S", 0.2)
    t0 = time.monotonic()
    assert len(s.retain(5, today=date(2026, 3, 10))) == 4
    assert 0.2 <= time.monotonic() - t0 < 5
    assert "readers held the store" in caplog.text
    del con
    assert len(s) == 18


def test_a_connect_that_fails_holds_no_lease(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _three_files(tmp_path / "s")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("not a file error")

    monkeypatch.setattr("melious_impact.store.impact_store.define_requests", broken)
    with pytest.raises(RuntimeError, match="not a file error"):
        s.connect()
    monkeypatch.undo()
    assert s.compact()["files_deleted"] == 3  # nothing left holding the files back
