"""Benchmark: the sustainability report from 1 million requests (target: under 15 s).

Set-up (not timed): simulate N requests with the emulator's ``simulate_requests`` and
write them to an ``ImpactStore`` in a temporary folder, as ``melious-impact report
--store DIR`` would find them.

Timed, each run in a fresh Python process (so nothing is cached between runs, including
the ~0.9 MB Vega bundle that vl-convert builds), side by side:

- ``baseline``: plain aggregation without rendering: the summary and the four breakdowns
  as DuckDB SQL over the store, the floor any report has to pay;
- ``report``: ``mi.report(store, out)``, the whole interactive HTML report (fit, anomalies,
  estimates, scenarios, forecast, charts, page);
- ``dashboard``: ``mi.dashboard(store, out_dir)``, index plus one page per team.

Prints the median and every run of each. Usage::

    python benchmarks/report.py [--rows 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = """
import time, duckdb
import melious_impact as mi
t = time.perf_counter()
store = mi.ImpactStore({root!r})
con = store.connect()
con.sql("SELECT count(*), sum(energy_kwh), sum(carbon_g_co2), sum(water_liters), "
        "sum(renewable_percent * energy_kwh) / sum(energy_kwh), "
        "sum(CASE WHEN billing_paid_with = 'credits' THEN billing_credits ELSE billing_energy * 0.0001 END) "
        "FROM requests").fetchall()
for by in ("team", "model", "provider_id", "location"):
    con.sql(f"SELECT {{by}}, count(*), sum(energy_kwh), sum(carbon_g_co2), sum(water_liters) "
            f"FROM requests GROUP BY 1").fetchall()
print(time.perf_counter() - t)
"""

REPORT = """
import time
import melious_impact as mi
t = time.perf_counter()
mi.report(mi.ImpactStore({root!r}), {out!r})
print(time.perf_counter() - t)
"""

DASHBOARD = """
import time
import melious_impact as mi
t = time.perf_counter()
mi.dashboard(mi.ImpactStore({root!r}), {out!r})
print(time.perf_counter() - t)
"""


def build_store(root: Path, rows: int) -> float:
    from melious_impact import ImpactStore
    from melious_impact.emulator.simulate import simulate_requests
    from melious_impact.records import COLUMN_NAMES

    t = time.perf_counter()
    df = simulate_requests(rows, days=90, seed=1)[list(COLUMN_NAMES)]
    store = ImpactStore(root)
    store.append(df)
    store.flush()
    store.close()
    return time.perf_counter() - t


def run(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="requests to simulate")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each case (medians reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mi-bench-report-") as tmp:
        root = Path(tmp) / "store"
        setup = build_store(root, args.rows)
        print(f"set-up: {args.rows:,} simulated requests written to a store in {setup:.1f} s")
        cases = {
            "baseline (SQL aggregates, no rendering)": BASELINE.format(root=str(root)),
            "report (mi.report, interactive HTML)": REPORT.format(
                root=str(root), out=str(Path(tmp) / "r.html")
            ),
            "dashboard (mi.dashboard, all teams)": DASHBOARD.format(root=str(root), out=str(Path(tmp) / "d")),
        }
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):  # interleaved, so machine load hits every case alike
            for name, code in cases.items():
                results[name].append(run(code))
        size = (Path(tmp) / "r.html").stat().st_size / 1e6
        print(f"\n{'case':<44} {'median s':>9}   runs")
        for name, times in results.items():
            print(f"{name:<44} {statistics.median(times):>9.2f}   {', '.join(f'{t:.2f}' for t in times)}")
        print(f"\nreport page: {size:.2f} MB, self-contained")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
