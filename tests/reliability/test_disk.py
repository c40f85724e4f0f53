"""Disk full and read-only folder: the caller's calls all succeed, the loss is counted and
logged, and writing resumes when space returns.

Where ``mount -t tmpfs`` works (root on Linux, as in CI), the store lives on a small tmpfs:
a filler file makes it really full (ENOSPC), and ``mount -o remount,ro`` makes it really
read-only (EROFS) while the writer runs. Elsewhere the disk-full case falls back to
``RLIMIT_FSIZE`` in a child process (EFBIG, SIGXFSZ ignored) and the read-only case is skipped.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from melious_impact.records import empty_row

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


def need(module: str) -> Any:
    return pytest.importorskip(module, reason=f"{module} is not written yet")


def _row(i: int, tag: str) -> dict[str, Any]:
    row = empty_row()
    row.update(
        captured_at=datetime.now(UTC),
        endpoint="/v1/chat/completions",
        status_code=200,
        request_id=f"{tag}-{i}",
        model="glm-4.7",
        input_tokens=i,
        output_tokens=1,
        billing_credits=Decimal("0.001"),
        billing_paid_with="credits",
        team="disk",
        record_id=uuid.uuid4().hex,
    )
    return row


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "8m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); see the RLIMIT_FSIZE test")
    try:
        yield path
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(path)], capture_output=True)
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(folder: Path) -> Path:
    """Write a filler file until the file system is full."""
    filler = folder / "filler.bin"
    block = b"\0" * (1 << 16)
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(block)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    # leave not even a page: small writes must fail too
    with contextlib.suppress(OSError), open(folder / "crumbs.bin", "wb") as fh:
        while True:
            fh.write(b"\0" * 512)
            fh.flush()
    return filler


def _stored_ids(store_cls: Any, root: Path) -> set[str]:
    store = store_cls(root)
    try:
        return set(store.sql("select request_id from requests")["request_id"])
    finally:
        store.close()


def _wait(predicate: Any, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _campaign(
    tmp_path: Path,
    store_cls: Any,
    figures: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    *,
    break_fs: Any,
    repair_fs: Any,
    kind: str,
    reopen: bool = False,
) -> None:
    mnt = tmp_path / "mnt"
    with small_tmpfs(mnt):
        root = mnt / "store"
        store = store_cls(root, flush_interval_s=0.2)
        writer = store.writer()
        before = [_row(i, "before") for i in range(200)]
        for row in before:
            writer.write(row)
        store.flush()
        with caplog.at_level(logging.WARNING, logger="melious_impact"):
            if reopen:
                # Linux refuses a read-only remount while a file is open for writing (our
                # journal segment), so the process starts again on a read-only folder.
                store.close()
                state = break_fs(mnt)
                store = store_cls(root, flush_interval_s=0.2)
                writer = store.writer()
            else:
                state = break_fs(mnt)
            during = [_row(i, "during") for i in range(3000)]
            t0 = time.perf_counter()
            for row in during:
                writer.write(row)  # must never raise, nor block
            call_s = time.perf_counter() - t0
            time.sleep(0.6)  # a few background attempts fail too
            stats_during = dict(writer.stats)
            repair_fs(mnt, state)  # space returns / folder writable again
            after = [_row(i, "after") for i in range(200)]
            for row in after:
                writer.write(row)
            store.flush()
            _wait(lambda: writer.stats.get("rows_pending", 0) == 0)
            stats_after = dict(writer.stats)
        store.close()
        ids = _stored_ids(store_cls, root)
    returned = [r["request_id"] for r in before + during + after]
    lost = [r for r in returned if r not in ids]
    dropped = stats_after.get("rows_dropped", 0)
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    figures.update(
        kind=kind,
        requests=len(returned),
        rows_lost=len(lost),
        rows_dropped_counted=dropped,
        write_calls_seconds=round(call_s, 3),
        errors_during={k: v for k, v in stats_during.items() if k.startswith("errors_")},
        warnings=len(problems),
    )
    assert any(k.startswith("errors_") and v for k, v in stats_during.items()), (
        f"the {kind} condition was not noticed: {stats_during}"
    )
    assert problems, "the problem must be logged"
    assert len(lost) == dropped, f"{len(lost)} rows missing but {dropped} counted as dropped"
    assert not [r for r in lost if r.startswith("after")], "writing did not resume"
    assert call_s < 3.0, f"writes blocked the caller: {call_s:.2f}s for {len(during)} rows"


def test_disk_full_then_space_returns(
    tmp_path: Path, impact_store_cls: Any, figures: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    def break_fs(mnt: Path) -> Any:
        return _fill(mnt)

    def repair_fs(mnt: Path, filler: Path) -> None:
        filler.unlink()
        (mnt / "crumbs.bin").unlink(missing_ok=True)

    _campaign(
        tmp_path, impact_store_cls, figures, caplog, break_fs=break_fs, repair_fs=repair_fs, kind="ENOSPC"
    )


def test_read_only_folder_then_writable(
    tmp_path: Path, impact_store_cls: Any, figures: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    def break_fs(mnt: Path) -> None:
        done = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot remount read-only: {done.stderr.decode().strip()}")

    def repair_fs(mnt: Path, _: Any) -> None:
        subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True, capture_output=True)

    _campaign(
        tmp_path,
        impact_store_cls,
        figures,
        caplog,
        break_fs=break_fs,
        repair_fs=repair_fs,
        kind="EROFS",
        reopen=True,
    )


def test_file_size_limit_in_a_child(
    tmp_path: Path,
    impact_store_cls: Any,
    child_cmd: list[str],
    child_env: dict[str, str],
    figures: dict[str, Any],
) -> None:
    """RLIMIT_FSIZE: works without root; EFBIG on every write past the limit."""
    root = tmp_path / "store"
    impact_store_cls(root).close()  # create the folder before the limit applies
    n = 5000
    done = subprocess.run(
        [*child_cmd, "rlimit", str(root), str(tmp_path / "unused.log"), str(64 * 1024), str(n)],
        env=child_env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    ids = _stored_ids(impact_store_cls, root)
    lost = n - len(ids)
    dropped = report["after"].get("rows_dropped", 0)
    figures.update(
        kind="EFBIG",
        requests=n,
        rows_lost=lost,
        rows_dropped_counted=dropped,
        write_calls_seconds=round(report["call_seconds"], 3),
        errors_during={k: v for k, v in report["during"].items() if k.startswith("errors_")},
    )
    assert any(k.startswith("errors_") and v for k, v in report["during"].items()), report
    assert lost == dropped, f"{lost} rows missing but {dropped} counted as dropped"
    assert b"Traceback" not in done.stderr, done.stderr.decode()[-3000:]
