"""Store benchmarks: capture write rate, bulk import rate, DuckDB vs pandas rollup.

    .venv/bin/python benchmarks/store.py              # full run (10 M-row rollup)
    .venv/bin/python benchmarks/store.py --quick      # smaller sizes, for a smoke run

1. Sustained capture rate: rows/s through ``RowWriter.write`` from 1, 2 and 4 processes
   writing into one folder at once (background Parquet conversion included: the clock
   stops when every row is in Parquet), plus the median cost of one ``write()`` call.
2. Bulk import rate: ``store.append`` of an Arrow table, and ``store.import_file`` of a
   Parquet file (deduplication keys computed and checked).
3. A daily per-team rollup (energy, carbon, water, exact billing sum, count) over N rows
   (default 10 M, generated with numpy and written with ``store.append``), timed with
   DuckDB (``store.sql`` on the Parquet files) against pandas on the same data (already in
   memory, and loaded from the store). Medians of several runs, side by side.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from melious_impact.records import empty_row
from melious_impact.store.impact_store import ImpactStore

TEAMS = ["search", "ads", "support", "rag", "legal", "ops", "growth", "data"]


def _row(i: int) -> dict[str, object]:
    from datetime import UTC, datetime
    from decimal import Decimal

    row = empty_row()
    row.update(
        captured_at=datetime.now(UTC),
        endpoint="/v1/chat/completions",
        status_code=200,
        request_id=f"chatcmpl-{i}",
        model="gpt-oss-120b",
        input_tokens=812,
        output_tokens=164,
        energy_kwh=0.000412,
        carbon_g_co2=0.021,
        water_liters=0.0007,
        renewable_percent=71.0,
        pue=1.18,
        provider_id="ovhcloud",
        location="FR",
        impact_reported=True,
        billing_energy=Decimal("4.12"),
        billing_credits=Decimal("0.000412"),
        billing_paid_with="credits",
        latency_ms=812.4,
        team=TEAMS[i % 8],
        project="rag",
        tags='{"feature": "x"}',
    )
    return row


def _writer_proc(root: str, n: int, start: mp.synchronize.Event, out: mp.Queue) -> None:  # type: ignore[type-arg]
    store = ImpactStore(root)
    w = store.writer()
    rows = [_row(i) for i in range(1000)]
    lat = []
    start.wait()
    t0 = time.perf_counter()
    for i in range(n):
        if i % 97 == 0:  # sample single-call latency without timing every call
            a = time.perf_counter_ns()
            w.write(rows[i % 1000])
            lat.append(time.perf_counter_ns() - a)
        else:
            w.write(rows[i % 1000])
    t_write = time.perf_counter() - t0
    store.close()  # flushes: the rows are in Parquet
    out.put((t_write, time.perf_counter() - t0, statistics.median(lat) / 1000))


def bench_capture(procs: int, n: int, repeats: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    rates, call_us, wr = [], [], []
    for _ in range(repeats):
        root = tempfile.mkdtemp(prefix="mi-bench-")
        start, out = ctx.Event(), ctx.Queue()
        ps = [ctx.Process(target=_writer_proc, args=(root, n, start, out)) for _ in range(procs)]
        for p in ps:
            p.start()
        time.sleep(2.0)  # let every process import and open the store
        start.set()
        res = [out.get(timeout=600) for _ in ps]
        for p in ps:
            p.join()
        total = procs * n
        rates.append(total / max(r[1] for r in res))
        wr.append(total / max(r[0] for r in res))
        call_us.append(statistics.median(r[2] for r in res))
        s = ImpactStore(root)
        assert len(s) == total, (len(s), total)
        shutil.rmtree(root)
    return {
        "rows_per_s": statistics.median(rates),
        "write_calls_per_s": statistics.median(wr),
        "write_call_us": statistics.median(call_us),
    }


def synthetic_table(n: int, seed: int = 7, days: int = 90) -> pa.Table:
    """n rows over ``days`` days, 8 teams; billing as exact decimal128(38, 18)."""
    rng = np.random.default_rng(seed)
    t0 = 1_767_225_600_000_000  # 2026-01-01 UTC, µs
    micros = np.sort(t0 + rng.integers(0, days * 86_400_000_000, n, dtype=np.int64))
    team_idx = rng.integers(0, len(TEAMS), n)
    inp = rng.integers(50, 4000, n)
    out = rng.integers(10, 1500, n)
    energy = (inp * 2.1e-7 + out * 1.3e-6) * 1.2
    nano_eur = rng.integers(1, 50_000, n, dtype=np.int64)  # billed amount in 1e-9 EUR
    # decimal128 with scale 18 = integer * 1e-18: build the 16-byte little-endian values.
    limbs = np.zeros((n, 2), dtype=np.int64)
    limbs[:, 0] = nano_eur * 1_000_000_000
    credits = pa.Array.from_buffers(pa.decimal128(38, 18), n, [None, pa.py_buffer(limbs.tobytes())])
    return pa.table(
        {
            "captured_at": pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "endpoint": pa.array(["/v1/chat/completions"] * 1, pa.string()).take(np.zeros(n, dtype=np.int64)),
            "status_code": pa.array(np.full(n, 200, dtype=np.int64)),
            "input_tokens": pa.array(inp),
            "output_tokens": pa.array(out),
            "energy_kwh": pa.array(energy),
            "carbon_g_co2": pa.array(energy * 55.0),
            "water_liters": pa.array(energy * 1.8),
            "billing_credits": credits,
            "team": pa.array(TEAMS, pa.string()).take(team_idx),
            "impact_reported": pa.array(np.ones(n, dtype=bool)),
        }
    )


ROLLUP_SQL = """
SELECT CAST(captured_at AS DATE) AS day, team, count(*) AS requests,
       sum(energy_kwh) AS energy_kwh, sum(carbon_g_co2) AS carbon_g_co2,
       sum(water_liters) AS water_liters, sum(billing_credits) AS billing_credits
FROM requests GROUP BY 1, 2 ORDER BY 1, 2
"""
ROLLUP_COLUMNS = ["captured_at", "team", "energy_kwh", "carbon_g_co2", "water_liters", "billing_credits"]


def pandas_rollup(df):  # type: ignore[no-untyped-def]
    g = df.assign(day=df["captured_at"].dt.floor("D")).groupby(["day", "team"], sort=True)
    return g.agg(
        requests=("team", "size"),
        energy_kwh=("energy_kwh", "sum"),
        carbon_g_co2=("carbon_g_co2", "sum"),
        water_liters=("water_liters", "sum"),
        billing_credits=("billing_credits", "sum"),
    )


def _median_time(fn, repeats: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows for the rollup (default 10 M)")
    ap.add_argument("--capture-rows", type=int, default=200_000, help="rows per process for capture")
    ap.add_argument("--repeats", type=int, default=3, help="runs per figure (median reported)")
    ap.add_argument("--skip-capture", action="store_true", help="skip the capture and bulk parts")
    args = ap.parse_args()
    if args.quick:
        args.rows, args.capture_rows, args.repeats = 500_000, 20_000, 1
    print(f"# melious_impact store benchmark  (cpus={os.cpu_count()}, python={sys.version.split()[0]})")

    if not args.skip_capture:
        capture_and_bulk(args)
    rollup(args)


def capture_and_bulk(args: argparse.Namespace) -> None:
    print("\n## capture: RowWriter.write into one folder (until all rows are in Parquet)")
    print(f"{'processes':>9} {'rows/s (to Parquet)':>20} {'write() calls/s':>16} {'median write() µs':>18}")
    for procs in (1, 2, 4):
        r = bench_capture(procs, args.capture_rows, args.repeats)
        print(
            f"{procs:>9} {r['rows_per_s']:>20,.0f} {r['write_calls_per_s']:>16,.0f} {r['write_call_us']:>18.1f}"
        )

    work = Path(tempfile.mkdtemp(prefix="mi-bench-"))
    try:
        n_imp = min(args.rows, 1_000_000)
        table = synthetic_table(n_imp, seed=1)
        t_append, _ = _median_time(
            lambda: ImpactStore(work / f"a{time.perf_counter_ns()}").append(table), args.repeats
        )
        import pyarrow.parquet as pq

        src = work / "import.parquet"
        pq.write_table(table, src)
        t_import, _ = _median_time(
            lambda: ImpactStore(work / f"i{time.perf_counter_ns()}").import_file(src), args.repeats
        )
        print(f"\n## bulk ({n_imp:,} rows)")
        print(f"store.append(Arrow table)     {n_imp / t_append:>12,.0f} rows/s")
        print(f"store.import_file(Parquet)    {n_imp / t_import:>12,.0f} rows/s  (content-hash dedup keys)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def rollup(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="mi-bench-"))
    try:
        print(f"\n## daily per-team rollup over {args.rows:,} rows")
        store = ImpactStore(work / "rollup")
        t = time.perf_counter()
        chunk = 2_000_000
        for k in range(0, args.rows, chunk):
            store.append(synthetic_table(min(chunk, args.rows - k), seed=100 + k), dedup=False)
        print(
            f"generated + written in {time.perf_counter() - t:.1f} s "
            f"({len(list((work / 'rollup').rglob('*.parquet')))} files)"
        )
        t_duck, duck = _median_time(lambda: store.sql(ROLLUP_SQL), args.repeats)
        float_sql = ROLLUP_SQL.replace("sum(billing_credits)", "sum(CAST(billing_credits AS DOUBLE))")
        t_duckf, _ = _median_time(lambda: store.sql(float_sql), args.repeats)
        t_load, df = _median_time(lambda: store.to_pandas(columns=ROLLUP_COLUMNS), 1)
        t_pd, pdres = _median_time(lambda: pandas_rollup(df), args.repeats)
        df_float = df.assign(billing_credits=df["billing_credits"].astype(float))
        t_pdf, _ = _median_time(lambda: pandas_rollup(df_float), args.repeats)
        assert len(duck) == len(pdres)
        assert duck["billing_credits"].sum() == pdres["billing_credits"].sum()  # exact, both
        t = time.perf_counter()
        store.compact()
        t_compact = time.perf_counter() - t
        t_duckc, duckc = _median_time(lambda: store.sql(ROLLUP_SQL), args.repeats)
        assert duckc["billing_credits"].sum() == duck["billing_credits"].sum()
        print(f"compact(): {t_compact:.1f} s ({len(list((work / 'rollup').rglob('*.parquet')))} files after)")
        print(f"{'engine':<50} {'median s':>9} {'vs DuckDB':>10}")
        rows = [
            ("DuckDB on the Parquet files (store.sql)", t_duck),
            ("DuckDB, billing summed as DOUBLE", t_duckf),
            ("DuckDB after compact() (1 file per day)", t_duckc),
            ("pandas groupby, frame in memory (exact Decimal)", t_pd),
            ("pandas groupby, frame in memory (billing float)", t_pdf),
            ("pandas: load from store + groupby (Decimal)", t_load + t_pd),
        ]
        for name, secs in rows:
            print(f"{name:<50} {secs:>9.2f} {secs / t_duck:>9.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
