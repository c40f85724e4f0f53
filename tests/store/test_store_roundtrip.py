"""Rows in, the same rows out: every column type, exact decimals, UTC timestamps, dtypes."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from store_support import BASE, make_row

from melious_impact.records import COLUMN_NAMES, COLUMNS, quantize_money
from melious_impact.store.impact_store import ImpactStore, default_store_path


def test_every_column_round_trips_exactly(store: ImpactStore) -> None:
    rows = [make_row(i) for i in range(5)]
    w = store.writer()
    for r in rows:
        w.write(r)
    store.flush()
    df = store.to_pandas()
    assert list(df.columns) == list(COLUMN_NAMES)
    assert len(df) == 5
    for r, (_, got) in zip(rows, df.iterrows(), strict=True):
        for col in COLUMNS:
            want, have = r[col.name], got[col.name]
            if col.name == "record_id":
                assert isinstance(have, str) and len(have) == 32
            elif col.kind == "decimal":
                assert isinstance(have, Decimal) and have == quantize_money(want)
                assert have.as_tuple().exponent == -18
            elif col.kind == "timestamp":
                assert have.to_pydatetime() == want and str(have.tz) == "UTC"
            elif want is None:
                assert pd.isna(have), col.name
            else:
                assert have == want, col.name


def test_dtypes_same_for_empty_and_full_stores(store: ImpactStore, tmp_path: Path) -> None:
    empty = store.to_pandas()
    assert len(empty) == 0 and list(empty.columns) == list(COLUMN_NAMES)
    store.writer().write(make_row(1))
    store.flush()
    full = store.to_pandas()
    assert dict(empty.dtypes) == dict(full.dtypes)
    assert str(full["captured_at"].dtype) == "datetime64[us, UTC]"
    assert full["billing_credits"].dtype == object
    assert isinstance(full["billing_credits"].iloc[0], Decimal)
    assert str(full["input_tokens"].dtype) == "Int64"
    assert str(full["stream"].dtype) == "boolean"
    # Sums in SQL stay exact decimals too.
    out = store.sql("SELECT sum(billing_credits) AS c FROM requests")
    assert out["c"].iloc[0] == Decimal("0.000123400000000001")


def test_missing_keys_are_null_and_odd_types_coerced(store: ImpactStore) -> None:
    w = store.writer()
    w.write({"captured_at": datetime(2026, 1, 2, 3, 4, 5), "status_code": "200"})  # naive = UTC
    w.write(
        {
            "captured_at": datetime(2026, 1, 2, 6, 0, tzinfo=timezone(timedelta(hours=2))),
            "input_tokens": np.int64(7),
            "energy_kwh": "0.5",
            "billing_credits": 0.1,
            "stream": "true",
            "tags": {"b": 1, "a": 2},
            "status_code": "not a number",
        }
    )
    w.write({"endpoint": "/v1/embeddings"})  # no time: stamped at write time
    store.flush()
    df = store.to_pandas()
    assert len(df) == 3
    first, second = df.iloc[0], df.iloc[1]
    assert first["captured_at"] == pd.Timestamp("2026-01-02 03:04:05", tz="UTC")
    assert first["status_code"] == 200
    assert first["tags"] == "{}" and first["parse_warnings"] == "" and first["source"] == "live"
    assert pd.isna(first["model"]) and pd.isna(first["billing_credits"])
    assert second["captured_at"] == pd.Timestamp("2026-01-02 04:00:00", tz="UTC")
    assert second["input_tokens"] == 7 and second["energy_kwh"] == 0.5
    assert second["billing_credits"] == Decimal("0.1")
    assert bool(second["stream"]) is True
    assert json.loads(second["tags"]) == {"a": 2, "b": 1}
    assert pd.isna(second["status_code"])
    assert df.iloc[2]["captured_at"].date() == datetime.now(UTC).date()


def test_filters_and_parameterised_sql(store: ImpactStore) -> None:
    for d in range(4):
        store.append([make_row(i, f"d{d}", day=d, team=("a" if i % 2 else "b")) for i in range(10)])
    assert store.count() == len(store) == 40
    assert (
        len(store.to_pandas(start=BASE.date() + timedelta(days=1), end=BASE.date() + timedelta(days=2))) == 20
    )
    assert len(store.to_pandas(start="2026-03-02", end="2026-03-02")) == 10
    assert len(store.to_pandas(teams=["a"])) == 20
    assert list(store.to_pandas(columns=["team", "input_tokens"]).columns) == ["team", "input_tokens"]
    with pytest.raises(ValueError, match="unknown column"):
        store.to_pandas(columns=["team; drop table x"])
    hostile = "a' OR '1'='1"
    assert store.sql("SELECT count(*) AS n FROM requests WHERE team = ?", [hostile])["n"].iloc[0] == 0
    assert store.sql("SELECT count(*) AS n FROM requests WHERE team = $t", {"t": "a"})["n"].iloc[0] == 20
    con = store.connect()
    assert con.sql("SELECT count(DISTINCT team) FROM requests").fetchall() == [(2,)]
    con.close()
    assert store.to_arrow(teams="a").num_rows == 20


def test_layout_permissions_and_hive_partitions(tmp_path: Path) -> None:
    root = tmp_path / "new" / "store"
    s = ImpactStore(root, flush_interval_s=3600)
    s.writer().write(make_row(1, team="../../etc"))
    s.writer().write(make_row(2, team="/etc/passwd"))
    s.flush()
    s.close()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and all(root in p.parents for p in files)
    for p in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
    parquet = list((root / "requests").glob("date=*/*.parquet"))
    assert [p.parent.name for p in parquet] == ["date=2026-03-01"]
    assert set(ImpactStore(root).to_pandas()["team"]) == {"../../etc", "/etc/passwd"}


def test_default_store_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MELIOUS_IMPACT_HOME", str(tmp_path / "h"))
    assert default_store_path() == tmp_path / "h"
    s = ImpactStore()
    assert Path(s.root) == tmp_path / "h" and (tmp_path / "h").is_dir()
    s.close()
    monkeypatch.delenv("MELIOUS_IMPACT_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_path() == tmp_path / "xdg" / "melious-impact"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_store_path() == Path.home() / ".local" / "share" / "melious-impact"


def test_older_schema_files_still_read(store: ImpactStore) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(store.root) / "requests" / "date=2025-12-31"
    folder.mkdir(parents=True)
    old = pa.table(
        {
            "captured_at": pa.array([datetime(2025, 12, 31, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
            "team": ["legacy"],
            "input_tokens": pa.array([5], pa.int32()),
        }
    )
    pq.write_table(old, folder / "old.parquet")
    store.append([make_row(1)])
    df = store.to_pandas()
    assert len(df) == 2
    legacy = df[df["team"] == "legacy"].iloc[0]
    assert legacy["input_tokens"] == 5 and pd.isna(legacy["energy_kwh"])


def test_close_is_idempotent_and_writes_after_close_are_counted(tmp_path: Path) -> None:
    s = ImpactStore(tmp_path / "s", flush_interval_s=3600)
    w = s.writer()
    w.write(make_row(1))
    s.close()
    s.close()
    w.write(make_row(2))  # never raises
    assert w.stats["rows_dropped"] == 1
    assert len(s) == 1
    # writer() after close gives a fresh, working writer
    s.writer().write(make_row(3))
    s.flush()
    assert len(s) == 2
    s.close()
    assert not list((tmp_path / "s" / "_journal").glob("*.seg"))


def test_background_thread_flushes_by_time_and_size(tmp_path: Path) -> None:
    s = ImpactStore(tmp_path / "s", flush_interval_s=0.1, buffer_rows=10_000)
    for i in range(5):
        s.writer().write(make_row(i))
    deadline = datetime.now() + timedelta(seconds=10)
    while len(s) < 5 and datetime.now() < deadline:
        pass
    assert len(s) == 5
    s.close()
    s2 = ImpactStore(tmp_path / "s2", flush_interval_s=3600, buffer_rows=100)
    for i in range(250):
        s2.writer().write(make_row(i))
    deadline = datetime.now() + timedelta(seconds=10)
    while s2.stats["rows_flushed"] < 200 and datetime.now() < deadline:
        pass
    assert s2.stats["rows_flushed"] >= 200
    s2.close()
    assert len(s2) == 250


def test_date_bounds_use_utc(store: ImpactStore) -> None:
    store.append([make_row(0)])
    assert len(store.to_pandas(start=date(2026, 3, 1), end=date(2026, 3, 1))) == 1
    assert len(store.to_pandas(end=datetime(2026, 3, 1, 12, tzinfo=UTC))) == 0
    assert os.environ["MELIOUS_IMPACT_HOME"]


def test_fsync_mode_and_context_manager(tmp_path: Path) -> None:
    with ImpactStore(tmp_path / "s", fsync=True, flush_interval_s=3600) as s:
        for i in range(20):
            s.writer().write(make_row(i))
    assert len(ImpactStore(tmp_path / "s")) == 20


def test_bad_arguments_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flush_interval_s"):
        ImpactStore(tmp_path / "s", flush_interval_s=0)


def test_public_names() -> None:
    import melious_impact as mi
    import melious_impact.store as st

    assert mi.ImpactStore is st.ImpactStore and mi.default_store_path is st.default_store_path
    assert callable(mi.import_batch_output)
    assert set(st.__all__) == {"ImpactStore", "RowWriter", "default_store_path"}


def test_large_and_odd_billing_amounts_stay_exact(store: ImpactStore) -> None:
    amounts = [
        Decimal("12345678901234567890.123456789012345678"),  # 38 digits: the widest that fits
        Decimal("1E-7"),
        Decimal("0.0000000000000000004"),  # below 18 places: rounded to the scale
        "99.5",  # text, as some responses send it
        1.25,  # a float: converted through its text, not its binary value
    ]
    w = store.writer()
    for i, amount in enumerate(amounts):
        row = make_row(i)
        row["billing_credits"] = amount
        w.write(row)
    store.flush()
    got = list(store.to_pandas()["billing_credits"])
    assert got == [
        Decimal("12345678901234567890.123456789012345678"),
        Decimal("0.0000001"),
        Decimal("0"),
        Decimal("99.5"),
        Decimal("1.25"),
    ]
