"""Compaction under a concurrent writer and reader; retention."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

from store_support import make_row

from melious_impact.store.impact_store import ImpactStore


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
