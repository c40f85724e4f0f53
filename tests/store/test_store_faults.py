"""Damaged files set aside; full disk and read-only folder: counted, logged, resumed."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest
from store_support import child, make_row

from melious_impact.store.impact_store import ImpactStore


def _three_files(store: ImpactStore) -> list[Path]:
    for d in range(3):
        store.append([make_row(i, f"d{d}", day=d) for i in range(100)])
    files = sorted(Path(store.root).glob("requests/*/*.parquet"))
    assert len(files) == 3
    return files


@pytest.mark.parametrize("damage", ["truncate", "garbage-footer", "not-parquet", "empty"])
def test_damaged_file_is_quarantined_rest_readable(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = ImpactStore(tmp_path / "s")
    files = _three_files(store)
    victim = files[1]
    data = victim.read_bytes()
    victim.write_bytes(
        {
            "truncate": data[: len(data) // 2],
            "garbage-footer": data[:-12] + b"\x00" * 8 + b"PAR1",
            "not-parquet": b"hello, I am not parquet",
            "empty": b"",
        }[damage]
    )
    fresh = ImpactStore(tmp_path / "s")  # a new process-eye view: nothing cached
    with caplog.at_level("WARNING", logger="melious_impact"):
        assert len(fresh) == 200
    assert "moved to" in caplog.text
    assert not victim.exists()
    assert list((tmp_path / "s" / "_quarantine").rglob(victim.name))
    assert fresh.info()["quarantined_files"] == 1
    assert fresh.stats["files_quarantined"] == 1


def test_damaged_data_page_with_intact_footer(tmp_path: Path) -> None:
    store = ImpactStore(tmp_path / "s")
    files = _three_files(store)
    victim = files[0]
    data = bytearray(victim.read_bytes())
    for i in range(8, min(len(data) // 2, 2000)):  # scribble over the column chunks
        data[i] = 0xAB
    victim.write_bytes(bytes(data))
    fresh = ImpactStore(tmp_path / "s")
    assert len(fresh.to_pandas()) == 200
    assert not victim.exists()


def test_disk_full_counted_logged_once_and_resumes(tmp_path: Path) -> None:
    # RLIMIT_FSIZE = 0 in the child: every write to a file fails with EFBIG, like a full disk.
    root = tmp_path / "s"
    n, bound = 300, 100
    p = child("disk-full", root, n, bound)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    during, after = stats["during"], stats["after"]
    assert during["rows_dropped"] == n - bound  # beyond the bound: oldest dropped, counted
    assert during["errors_file_too_large"] >= 1
    # Space returned: the kept rows are written (the 10 rows written before the next retry
    # still queued behind the bound, pushing out 10 more of the oldest).
    assert after["rows_flushed"] == bound
    assert after["rows_dropped"] == n - bound + 10
    assert err.count("failed (file_too_large") == 1  # logged once per kind, not per row
    assert "works again" in err
    s = ImpactStore(root)
    ids = set(s.sql("SELECT request_id FROM requests")["request_id"])
    assert ids == {f"full-{i}" for i in range(n - bound + 10, n + 10)}
    s.close()


@pytest.mark.skipif(os.getuid() != 0 and not hasattr(os, "setuid"), reason="needs POSIX")
def test_read_only_folder_counted_and_resumes(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    ImpactStore(root).close()  # exists, then made unwritable for the writer
    if os.getuid() == 0:
        uid = pwd.getpwnam("nobody").pw_uid
        # The writer runs as 'nobody' (root ignores permissions): it owns the store but
        # the folder is read-only for it; the parents must be traversable.
        for p in (tmp_path, tmp_path.parent, tmp_path.parent.parent):
            os.chmod(p, 0o755)
        for p in [root, *root.rglob("*")]:
            os.chown(p, uid, uid)
    else:
        uid = os.getuid()
    os.chmod(root, 0o500)
    p = child("read-only", root, 200, uid, cwd=str(tmp_path))
    assert p.stdout is not None and p.stdin is not None
    line = p.stdout.readline()
    first = json.loads(line)
    assert first["rows_written"] == 200 and first["rows_dropped"] == 100
    assert first["errors_permission_denied"] >= 1
    os.chmod(root, 0o700)
    p.stdin.write("go\n")
    p.stdin.flush()
    second = json.loads(p.stdout.readline())
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert second["rows_flushed"] == 100
    assert err.count("failed (permission_denied") == 1
    s = ImpactStore(root)
    assert len(s) == 100
    s.close()


@pytest.mark.skipif(os.getuid() != 0 or shutil.which("mount") is None, reason="needs root to mount a tmpfs")
def test_tiny_tmpfs_really_full(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("mount not permitted here")
    store = ImpactStore(mnt / "s", flush_interval_s=3600, max_pending_rows=50_000)
    try:
        filler = mnt / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:  # take all the space
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        w = store.writer()
        for i in range(500):
            w.write(make_row(i, "tmpfs"))  # never raises
        store.flush()
        assert store.stats.get("errors_disk_full", 0) >= 1
        filler.unlink()  # space returns
        store.flush()
        assert len(store) == 500
        assert store.stats["rows_dropped"] == 0
    finally:
        store.close()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
