"""Child-process scenarios for the store tests: ``python child.py MODE ROOT [ARGS...]``.

Run as a separate interpreter so a test can SIGKILL it, limit its file sizes or drop its
privileges without touching the test process.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_support import make_row

from melious_impact.store.impact_store import ImpactStore as _ImpactStore


def write_threads(store: _ImpactStore, n: int, threads: int, tag: str) -> None:
    w = store.writer()

    def work(t: int) -> None:
        for i in range(n):
            w.write(make_row(i, f"{tag}-{t}"))

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def ImpactStore(root: str, **kw: object) -> _ImpactStore:
    # Object-store tests pass their endpoint and keys through the environment.
    opts = os.environ.get("MI_TEST_STORAGE_OPTIONS")
    if opts and "://" in root:
        kw["storage_options"] = json.loads(opts)
        kw["spool_dir"] = os.environ["MI_TEST_SPOOL"]
    return _ImpactStore(root, **kw)  # type: ignore[arg-type]


def main() -> None:
    mode, root = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    if mode == "write-and-wait":  # N rows, report, then wait to be killed
        n, threads, tag = int(args[0]), int(args[1]), args[2]
        interval = float(args[3]) if len(args) > 3 else 3600.0
        buffer_rows = int(args[4]) if len(args) > 4 else max(1, n // 3)
        store = ImpactStore(root, flush_interval_s=interval, buffer_rows=buffer_rows)
        write_threads(store, n, threads, tag)
        print("READY", flush=True)
        time.sleep(3600)
    elif mode == "ack":  # write forever; print i after write(i) returned (every 10 rows)
        tag = args[0]
        store = ImpactStore(root, flush_interval_s=0.05, buffer_rows=200)
        w = store.writer()
        i = 0
        while True:
            w.write(make_row(i, tag))
            if i % 10 == 9:
                sys.stdout.write(f"{i}\n")
                sys.stdout.flush()
            i += 1
    elif mode == "worker":  # N rows x threads, then a clean exit (atexit flushes)
        n, threads, tag = int(args[0]), int(args[1]), args[2]
        store = ImpactStore(root, flush_interval_s=0.2, buffer_rows=500)
        write_threads(store, n, threads, tag)
    elif mode == "fork-then-wait":  # N rows, fork a child that outlives us, wait to be killed
        n = int(args[0])
        store = ImpactStore(root, flush_interval_s=3600)
        write_threads(store, n, 1, "parent")
        pid = os.fork()
        if pid == 0:  # the child: holds whatever it inherited, writes nothing, lives on
            time.sleep(3600)
            os._exit(0)
        print(f"READY {pid}", flush=True)
        time.sleep(3600)
    elif mode == "kill-in-commit":  # die inside the Parquet commit, at a chosen point
        n, where = int(args[0]), args[1]
        store = ImpactStore(root, flush_interval_s=3600)
        backend = store._backend
        real_write = backend.write_table

        def dying_write(table, partition, name, *, fsync=False):  # type: ignore[no-untyped-def]
            if where == "after-rename":
                real_write(table, partition, name, fsync=fsync)
            else:  # half a temporary file on disk, never renamed
                folder = Path(root) / "requests" / partition
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f".{name}.dead.tmp").write_bytes(b"PAR1" + b"\0" * 100)
            os.kill(os.getpid(), signal.SIGKILL)

        backend.write_table = dying_write
        w = store.writer()
        for i in range(n):
            w.write(make_row(i, "k"))
        print("READY", flush=True)
        store.flush()
    elif mode == "disk-full":  # writes fail with EFBIG, then space "returns"
        n, bound = int(args[0]), int(args[1])
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        store = ImpactStore(root, flush_interval_s=3600, max_pending_rows=bound)
        w = store.writer()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
        for i in range(n):
            w.write(make_row(i, "full"))
        store.flush()
        during = store.stats
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        for i in range(n, n + 10):
            w.write(make_row(i, "full"))
        store.flush()
        print(json.dumps({"during": during, "after": store.stats}), flush=True)
        store.close()
    elif mode == "read-only":  # a folder this (unprivileged) process cannot write
        n = int(args[0])
        uid = int(args[1])
        if os.getuid() == 0:
            os.setgid(uid)
            os.setuid(uid)
        store = ImpactStore(root, flush_interval_s=3600, max_pending_rows=n // 2)
        w = store.writer()
        for i in range(n):
            w.write(make_row(i, "ro"))
        store.flush()
        print(json.dumps(store.stats), flush=True)
        # Wait for the test to make the folder writable, then flush again.
        sys.stdin.readline()
        store.flush()
        print(json.dumps(store.stats), flush=True)
        store.close()
    elif mode == "hold-connection":  # a reader in another process: connect, count, wait for a line
        store = ImpactStore(root, auto_compact_files=None)
        con = store.connect()
        print(con.sql("SELECT count(*) FROM requests").fetchall()[0][0], flush=True)
        sys.stdin.readline()
        print(con.sql("SELECT count(*) FROM requests").fetchall()[0][0], flush=True)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
