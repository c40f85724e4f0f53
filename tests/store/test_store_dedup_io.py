"""Deduplication, import (Parquet, CSV, JSONL: twice counts once), export, batch output."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from store_support import make_row

from melious_impact.store.impact_store import ImpactStore


def _batch_rows(n: int, key_prefix: str = "b") -> list[dict[str, object]]:
    rows = []
    for i in range(n):
        r = make_row(i, "batch")
        r.update(source="batch", custom_id=f"req-{i}", dedup_key=f"{key_prefix}-{i}")
        rows.append(r)
    return rows


def test_same_dedup_key_counts_once(store: ImpactStore) -> None:
    assert store.append(_batch_rows(10)) == 10
    assert store.append(_batch_rows(10)) == 0  # write-time check against the partition
    assert store.append(_batch_rows(10), dedup=False) == 10  # forced duplicates on disk...
    w = store.writer()
    for r in _batch_rows(3):  # ...and through the live path
        w.write(r)
    store.flush()
    assert len(store) == 10  # ...still appear once
    assert store.sql("SELECT count(DISTINCT dedup_key) AS n FROM requests")["n"].iloc[0] == 10
    live = [make_row(i, "live") for i in range(5)]  # rows without a key are never merged...
    store.append(live)
    store.append(live)
    assert len(store) == 10 + 10
    for i, r in enumerate(live):  # ...but an exported row (own record_id) re-appended is
        r["record_id"] = f"{i:032x}"
    assert store.append(live) == 5
    assert store.append(live) == 0
    assert len(store) == 25


def test_duplicates_within_one_append(store: ImpactStore) -> None:
    assert store.append(_batch_rows(5) + _batch_rows(5)) == 5


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_import_round_trip_and_twice_counts_once(tmp_path: Path, fmt: str) -> None:
    src = ImpactStore(tmp_path / "src")
    src.append([make_row(i, "x", day=i % 3, team=f"t{i % 2}") for i in range(60)])
    out = tmp_path / f"rows.{fmt}"
    assert src.export(out) == 60
    dst = ImpactStore(tmp_path / "dst")
    assert dst.import_file(out) == 60
    assert dst.import_file(out) == 0
    assert src.import_file(out) == 0  # its own export: known record ids
    a = src.to_pandas().drop(columns=["dedup_key"]).reset_index(drop=True)
    b = dst.to_pandas().drop(columns=["dedup_key"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert isinstance(b["billing_energy"].iloc[0], Decimal)
    assert b["billing_energy"].iloc[0] == Decimal("1.234567890123456789")
    assert len(src) == 60 and len(dst) == 60


def test_import_without_ids_twice_counts_once(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    with path.open("w") as fh:
        for i in range(20):
            fh.write(
                json.dumps(
                    {
                        "captured_at": f"2026-02-0{1 + i % 3}T10:00:00Z",
                        "team": "ops",
                        "input_tokens": i,
                        "billing_credits": 0.000123456789012345678,
                    }
                )
                + "\n"
            )
    s = ImpactStore(tmp_path / "s")
    assert s.import_file(path) == 20
    assert s.import_file(path) == 0
    df = s.to_pandas()
    assert len(df) == 20 and set(df["source"]) == {"live"}
    # parsed as a decimal, not through float, then quantized to 18 places
    assert df["billing_credits"].iloc[0] == Decimal("0.000123456789012346")


def test_import_rejects_bad_input(tmp_path: Path) -> None:
    s = ImpactStore(tmp_path / "s")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json}\n")
    from melious_impact.errors import ParseError

    with pytest.raises(ParseError, match="line 1"):
        s.import_file(bad)
    with pytest.raises(ValueError, match="format"):
        s.import_file(tmp_path / "x.xlsx")
    with pytest.raises(FileNotFoundError):
        s.import_file(tmp_path / "missing.csv")


def test_import_batch_output(tmp_path: Path) -> None:
    pytest.importorskip("melious_impact.parse.batch")
    from melious_impact.capture.batch_file import import_batch_output

    lines = []
    for i in range(4):
        body = {
            "id": f"chatcmpl-{i}",
            "object": "chat.completion",
            "model": "gpt-oss-120b",
            "usage": {"prompt_tokens": 10 + i, "completion_tokens": 5, "total_tokens": 15 + i},
        }
        lines.append(
            json.dumps(
                {
                    "id": f"batch_req_{i}",
                    "custom_id": f"c-{i}",
                    "response": {"status_code": 200, "request_id": f"r{i}", "body": body},
                    "error": None,
                }
            )
        )
    data = ("\n".join(lines) + "\n").encode()
    s = ImpactStore(tmp_path / "s")
    assert import_batch_output(s, data, batch_id="batch_1") == 4
    path = tmp_path / "out.jsonl"
    path.write_bytes(data)
    assert import_batch_output(s, path, batch_id="batch_1") == 0
    df = s.to_pandas()
    assert len(df) == 4 and set(df["source"]) == {"batch"}
    assert set(df["custom_id"]) == {f"c-{i}" for i in range(4)}


def test_the_former_store_location_of_import_batch_output_warns_and_still_works(tmp_path: Path) -> None:
    from melious_impact.store.batch_import import import_batch_output

    line = {
        "id": "batch_req_x",
        "custom_id": "c-x",
        "response": {
            "status_code": 200,
            "request_id": "rx",
            "body": {"id": "c", "object": "chat.completion"},
        },
    }
    s = ImpactStore(tmp_path / "s")
    with pytest.warns(DeprecationWarning, match="capture.batch_file"):
        assert import_batch_output(s, (json.dumps(line) + "\n").encode(), batch_id="b") == 1
    s.close()
