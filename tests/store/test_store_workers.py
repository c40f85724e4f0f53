"""Rows of every process show up by themselves: pool workers (fork and spawn), os._exit,
SIGKILL, a fork after the parent's writer exists; readers never need ``recover()``."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from store_support import child, make_row, pool_task

from melious_impact.store import paths
from melious_impact.store.impact_store import ImpactStore

# Forking a process that runs threads (the store's writer) is the case under test; Python
# 3.12+ warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


def _ids(store: ImpactStore) -> list[str]:
    return list(store.sql("select request_id from requests")["request_id"])


@pytest.mark.parametrize("method", ["fork", "spawn"])
@pytest.mark.parametrize("ending", ["close-join", "terminate"])
def test_pool_workers_rows_are_visible_without_recover(tmp_path: Path, method: str, ending: str) -> None:
    root = tmp_path / "s"
    reader = ImpactStore(root, flush_interval_s=3600)  # opened before the pool: no open-time recovery
    assert len(reader) == 0
    ctx = multiprocessing.get_context(method)
    pool = ctx.Pool(4)
    try:
        pids = set(pool.map(pool_task, [(str(root), i, "pool") for i in range(40)], chunksize=1))
    finally:
        if ending == "close-join":  # workers leave through os._exit: no atexit, no flush
            pool.close()
        else:  # SIGTERM to the workers (what `with Pool() as p:` does)
            pool.terminate()
        pool.join()
    assert pids  # (how the tasks spread over the workers is up to the pool)
    ids = _ids(reader)  # nothing called: the read itself picks up the dead workers' journals
    assert sorted(ids) == sorted(f"pool-{i}" for i in range(40))
    assert not list((root / paths.JOURNAL_DIR).glob(f"*{paths.SEGMENT_SUFFIX}"))
    assert len(reader) == 40  # and only once
    reader.close()


def _write_and_exit(root: str, n: int) -> None:
    store = ImpactStore(root, flush_interval_s=3600)
    w = store.writer()
    for i in range(n):
        w.write(make_row(i, f"exit-{os.getpid()}"))
    os._exit(0)  # as gunicorn, Celery and Pool workers leave: no atexit, nothing flushed


def test_os_exit_workers_rows_are_visible(tmp_path: Path) -> None:
    root = tmp_path / "s"
    reader = ImpactStore(root, flush_interval_s=3600)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_and_exit, args=(str(root), 25)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    ids = _ids(reader)
    assert len(ids) == 75 and len(set(ids)) == 75
    assert {i.rsplit("-", 1)[0] for i in ids} == {f"exit-{p.pid}" for p in procs}
    reader.close()


def test_sigkilled_writer_rows_are_visible_to_an_open_reader(tmp_path: Path) -> None:
    root = tmp_path / "s"
    reader = ImpactStore(root, flush_interval_s=3600)
    p = child("write-and-wait", root, 100, 2, "killed", 3600, 100_000)  # converts nothing itself
    assert p.stdout is not None and p.stdout.readline().strip() == "READY"
    assert len(reader) == 0  # alive: its journal is its own (its flush interval is an hour)
    os.kill(p.pid, signal.SIGKILL)
    p.communicate(timeout=30)
    t0 = time.monotonic()
    assert len(reader) == 200
    assert time.monotonic() - t0 < 30  # the very next read; generous for a loaded machine
    reader.close()


def _child_checks_fds(root: str, parent_segment: str, conn: multiprocessing.connection.Connection) -> None:
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            held.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    store = _FORKED_STORE[0]
    store.writer().write(make_row(0, "child"))  # the inherited store object, as a global client is
    seg = store.writer()._segment
    conn.send((parent_segment in held, seg.path.name if seg else None, os.getpid()))
    os._exit(0)


_FORKED_STORE: list[ImpactStore] = []


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_fork_after_writer_creation_does_not_share_the_segment(tmp_path: Path) -> None:
    root = tmp_path / "s"
    store = ImpactStore(root, flush_interval_s=3600)
    w = store.writer()
    for i in range(5):
        w.write(make_row(i, "parent"))
    seg = w._segment
    assert seg is not None
    _FORKED_STORE[:] = [store]
    ctx = multiprocessing.get_context("fork")
    here, there = ctx.Pipe()
    p = ctx.Process(target=_child_checks_fds, args=(str(root), str(seg.path), there))
    p.start()
    shared, child_segment, child_pid = here.recv()
    p.join(60)
    assert not shared  # the child closed its copy of the parent's segment descriptor
    assert child_segment is not None and f"-{child_pid}-" in child_segment
    assert w._segment is seg and not w.closed  # the parent's writer goes on
    w.write(make_row(5, "parent"))
    assert _ids(store) == ["child-0"]  # the child is gone; the parent's rows wait for its flush
    store.flush()
    assert sorted(_ids(store)) == sorted([*(f"parent-{i}" for i in range(6)), "child-0"])
    store.close()


def test_a_forked_child_that_outlives_its_parent_does_not_hide_the_parents_rows(tmp_path: Path) -> None:
    # Before the fork hook the child inherited the parent's locked segment descriptor:
    # after SIGKILL of the parent its segment still looked alive for as long as the child ran.
    root = tmp_path / "s"
    p = child("fork-then-wait", root, 30)
    assert p.stdout is not None
    line = p.stdout.readline().split()
    assert line[0] == "READY"
    grandchild = int(line[1])
    try:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)  # (its pipes stay open in the grandchild)
        reader = ImpactStore(root, recover_on_open=False)
        assert sorted(_ids(reader)) == sorted(f"parent-0-{i}" for i in range(30))
        reader.close()
    finally:
        os.kill(grandchild, signal.SIGKILL)
        p.communicate(timeout=30)


def test_reads_racing_recovery_and_compaction_never_show_a_row_twice(tmp_path: Path) -> None:
    root = tmp_path / "s"
    store = ImpactStore(root, flush_interval_s=3600, auto_compact_files=2)
    store.append([make_row(i, "base") for i in range(50)])
    kids = [child("write-and-wait", root, 60, 1, f"w{k}", 3600, 7) for k in range(3)]
    for k in kids:
        assert k.stdout is not None and k.stdout.readline().strip() == "READY"
    stop = threading.Event()
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def read() -> None:
        other = ImpactStore(root, flush_interval_s=3600)
        while not stop.is_set():
            try:
                n, distinct = other.sql("select count(*), count(distinct request_id) from requests").iloc[0]
                seen.append((int(n), int(distinct)))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
        other.close()

    def compact() -> None:
        while not stop.is_set():
            store.compact()

    threads = [threading.Thread(target=read), threading.Thread(target=read), threading.Thread(target=compact)]
    for t in threads:
        t.start()
    try:
        for k in kids:
            os.kill(k.pid, signal.SIGKILL)
            k.communicate(timeout=30)
            time.sleep(0.2)
    finally:
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors
    assert seen and all(n == d for n, d in seen)  # never a row twice, at any instant
    assert all(50 <= n <= 230 for n, _ in seen)
    ids = _ids(store)
    assert len(ids) == 230 and len(set(ids)) == 230
    store.close()


def test_readers_back_off_after_a_failed_recovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from melious_impact.store.codec import encode_row, header_record

    root = tmp_path / "s"
    store = ImpactStore(root, recover_on_open=False)
    journal = paths.ensure_private_dir(root / paths.JOURNAL_DIR)
    data = header_record() + b"".join(encode_row(make_row(i, "dead")) for i in range(5))
    (journal / f"deadhost-1-{'0' * 32}{paths.SEGMENT_SUFFIX}").write_bytes(data)  # no owner
    calls = []

    def refuse(*a: object, **k: object) -> None:
        calls.append(1)
        raise OSError(errno.EROFS, "read-only file system")

    real = store._backend.write_table
    monkeypatch.setattr(store._backend, "write_table", refuse)
    assert len(store) == 0 and len(calls) == 1  # the read still answers
    assert store.stats["errors_read_only"] == 1
    assert len(store) == 0 and len(calls) == 1  # not converted again on every query
    monkeypatch.setattr(store._backend, "write_table", real)
    store._recover_retry_at = 0.0  # the back-off is over
    assert len(store) == 5
    assert not list(journal.glob(f"*{paths.SEGMENT_SUFFIX}"))
    store.close()
