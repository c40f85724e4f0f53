"""Truncated or corrupted store files are set aside with a warning; the rest stays queryable."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from melious_impact.records import empty_row

DAYS = 6
ROWS_PER_DAY = 200


def _rows(day: int) -> list[dict[str, Any]]:
    start = datetime(2026, 1, 10, tzinfo=UTC) + timedelta(days=day)
    rows = []
    for i in range(ROWS_PER_DAY):
        row = empty_row()
        row.update(
            captured_at=start + timedelta(seconds=60 * i),
            endpoint="/v1/chat/completions",
            status_code=200,
            request_id=f"d{day}-{i}",
            model="glm-4.7",
            input_tokens=i,
            output_tokens=1,
            energy_kwh=0.001,
            billing_credits=Decimal("0.5"),
            billing_paid_with="credits",
            team="t",
            record_id=f"{day:08x}{i:024x}",
        )
        rows.append(row)
    return rows


def _truncate(path: Path, rng: random.Random) -> str:
    data = path.read_bytes()
    path.write_bytes(data[: rng.randrange(1, max(2, len(data) // 2))])
    return "truncated"


def _break_footer(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    data[-4:] = b"XXXX"  # the trailing PAR1 magic
    path.write_bytes(bytes(data))
    return "footer"


def _zero_length(path: Path, rng: random.Random) -> str:
    path.write_bytes(b"")
    return "empty"


def _junk(path: Path, rng: random.Random) -> str:
    path.write_bytes(rng.randbytes(4096))
    return "junk"


def _scribble_pages(path: Path, rng: random.Random) -> str:
    # Keep the footer (metadata reads fine) and overwrite the data pages: only reading
    # the pages can tell, which is what a deep check or a query does.
    data = bytearray(path.read_bytes())
    footer_len = int.from_bytes(data[-8:-4], "little") + 8
    end = len(data) - footer_len
    for i in range(4, end):
        data[i] = rng.randrange(256)
    path.write_bytes(bytes(data))
    return "pages"


DAMAGES = (_truncate, _break_footer, _zero_length, _junk, _scribble_pages)


def test_damaged_parquet_files_are_set_aside(
    tmp_path: Path, impact_store_cls: Any, figures: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(11)
    root = tmp_path / "store"
    store = impact_store_cls(root)
    for day in range(DAYS):
        store.append(_rows(day))
    store.flush()
    store.close()
    files = sorted((root / "requests").rglob("*.parquet"))
    assert len(files) >= DAYS
    victims = rng.sample(files, len(DAMAGES))
    lost_ids: set[str] = set()
    kinds = []
    for victim, damage in zip(victims, DAMAGES, strict=True):
        lost_ids |= set(pq.read_table(victim, columns=["request_id"]).column(0).to_pylist())
        kinds.append(damage(victim, rng))
    expected = {r["request_id"] for day in range(DAYS) for r in _rows(day)} - lost_ids

    with caplog.at_level(logging.WARNING, logger="melious_impact"):
        store = impact_store_cls(root)  # opens with no repair step
        try:
            got = store.sql("select request_id from requests")
            frame = store.to_pandas()
        finally:
            store.close()
    ids = set(got["request_id"])
    assert expected <= ids, f"{len(expected - ids)} rows of intact files became unreadable"
    assert len(frame) == len(ids)
    # the damaged files are not in the table any more (moved aside, not silently half-read)
    left = {p for p in (root / "requests").rglob("*.parquet")}
    still_there = [v.name for v in victims if v in left]
    quarantined = (
        [p for p in (root / "_quarantine").rglob("*") if p.is_file()]
        if (root / "_quarantine").exists()
        else []
    )
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    figures.update(
        files=len(files),
        files_corrupted=len(victims),
        corruption_kinds=",".join(kinds),
        files_quarantined=len(quarantined),
        rows_in_damaged_files=len(lost_ids),
        rows_lost_from_intact_files=len(expected - ids),
        warnings=len(warnings),
    )
    assert not still_there, f"damaged files left in the table: {still_there}"
    assert len(quarantined) >= len(victims)
    assert warnings, "setting files aside must be logged"


def test_damaged_journal_segment_of_a_dead_writer(
    tmp_path: Path,
    impact_store_cls: Any,
    child_cmd: list[str],
    child_env: dict[str, str],
    figures: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = tmp_path / "store"
    log = tmp_path / "returned.log"
    err = tmp_path / "child.stderr"
    with open(err, "wb") as err_fh:
        proc = subprocess.Popen([*child_cmd, "store", str(root), str(log), "1"], env=child_env, stderr=err_fh)
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text().count("\n") > 300):
        assert proc.poll() is None, err.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    returned = [x for x in log.read_text().split("\n")[:-1] if not x.startswith("#")]
    segments = sorted((root / "_journal").glob("*.seg"))
    if not segments:
        pytest.skip("the writer had already converted its journal; nothing to damage")
    seg = max(segments, key=lambda p: p.stat().st_size)
    size = seg.stat().st_size
    # cut the segment in the middle of a record and append garbage after it
    with open(seg, "r+b") as fh:
        fh.truncate(size - 7)
    with open(seg, "ab") as fh:
        fh.write(os.urandom(300))

    with caplog.at_level(logging.WARNING, logger="melious_impact"):
        store = impact_store_cls(root)
        try:
            ids = set(store.sql("select request_id from requests")["request_id"])
        finally:
            store.close()
    missing = [r for r in returned if r not in ids]
    figures.update(
        processes=1,
        requests=len(returned),
        kills=1,
        files_corrupted=1,
        segment_bytes=size,
        rows_lost=len(missing),
    )
    # Damage hit only the tail: at most the last (cut) record may be lost.
    assert len(missing) <= 1, f"{len(missing)} rows lost from a segment damaged only at its end"
