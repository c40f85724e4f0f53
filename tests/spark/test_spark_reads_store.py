"""PySpark reads the store's folder as-is and gets DuckDB's per-team totals.

The store's layout is plain Hive-partitioned Parquet (``requests/date=YYYY-MM-DD/*.parquet``),
so Spark needs no connector: ``spark.read.parquet(root / "requests")``. Spark runs in local
mode on one core, with no UI and bound to loopback, so the test needs no network.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

# pyspark warns (FutureWarning) that it does not fully support pandas 3 yet; harmless for reading Parquet.
pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning")]

TEAMS = ("search", "ads", "infra", "été")  # a non-ASCII team: partition-free but worth checking


def _spark_or_skip() -> Any:
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install pyspark)")
    if shutil.which("java") is None:
        pytest.skip("java is not on PATH: PySpark needs a JVM (Java 17+)")
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[1]")
        .appName("melious-impact-test")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "512m")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.executorEnv.PYSPARK_PYTHON", sys.executable)
        .getOrCreate()
    )


def _rows(n: int) -> list[dict[str, Any]]:
    from melious_impact.records import empty_row, quantize_money

    start = datetime(2026, 2, 27, 22, 0, tzinfo=UTC)  # spans a month end: several date partitions
    rows = []
    for i in range(n):
        row = empty_row()
        row.update(
            captured_at=start + timedelta(minutes=7 * i),
            endpoint="/v1/chat/completions",
            status_code=200,
            request_id=f"chatcmpl-{i}",
            model="glm-4.7",
            input_tokens=100 + i,
            output_tokens=10 + i % 17,
            energy_kwh=0.0001 * (1 + i % 13),
            carbon_g_co2=0.05 * (1 + i % 11),
            impact_reported=True,
            billing_energy=quantize_money(Decimal("1.234567") * (1 + i % 7)),
            billing_credits=quantize_money(Decimal("0.000123456789012345") * (1 + i % 5)),
            billing_paid_with="credits",
            team=TEAMS[i % len(TEAMS)],
            project="p",
            tags=json.dumps({"i": str(i % 3)}),
            record_id=f"{i:032x}",
        )
        rows.append(row)
    return rows


def _write_store(root: Path, rows: list[dict[str, Any]]) -> Any:
    """Write through the real ImpactStore; returns it."""
    store_mod = pytest.importorskip(
        "melious_impact.store.impact_store", reason="ImpactStore not available yet"
    )
    store = store_mod.ImpactStore(root)
    store.append(rows)
    store.flush()
    return store


def test_spark_per_team_totals_equal_duckdb(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    rows = _rows(600)
    store = _write_store(tmp_path / "store", rows)
    duck = store.sql(
        "select team, count(*) as n, sum(input_tokens) as input_tokens, "
        "sum(billing_credits) as credits, sum(energy_kwh) as energy from requests group by team order by team"
    )
    files = sorted((tmp_path / "store" / "requests").rglob("*.parquet"))
    assert files, "the store wrote no Parquet under requests/"

    t_jvm = time.perf_counter()
    spark = _spark_or_skip()
    t_read = time.perf_counter()
    try:
        df = spark.read.parquet(str(tmp_path / "store" / "requests"))
        assert "date" in df.columns  # Hive partition discovered from the folder names
        got = {
            r["team"]: r
            for r in df.groupBy("team")
            .agg({"*": "count", "input_tokens": "sum", "billing_credits": "sum", "energy_kwh": "sum"})
            .collect()
        }
        n_dates = df.select("date").distinct().count()
    finally:
        spark.stop()
    t_end = time.perf_counter()

    assert set(got) == set(duck["team"]) == set(TEAMS)
    for rec in duck.itertuples():
        s = got[rec.team]
        assert s["count(1)"] == rec.n
        assert s["sum(input_tokens)"] == rec.input_tokens
        assert Decimal(s["sum(billing_credits)"]) == Decimal(rec.credits)  # exact decimals both sides
        assert s["sum(energy_kwh)"] == pytest.approx(rec.energy, rel=1e-12)
    assert duck["n"].sum() == len(rows)
    assert n_dates >= 2
    print(
        f"\n[spark] rows={len(rows)} files={len(files)} dates={n_dates} teams={len(TEAMS)} "
        f"write+duckdb={t_jvm - t0:.1f}s jvm_start={t_read - t_jvm:.1f}s spark_read+agg={t_end - t_read:.1f}s "
        f"total={t_end - t0:.1f}s"
    )
