"""Benchmark: analysis at the store's scale, next to the bare DuckDB query of each step.

Builds a store of N generated requests (a year of a company's traffic: several teams,
models, providers and locations, growing over the year, some rows without impact or
billing) straight into the store's Parquet layout with DuckDB (``requests/date=.../*.parquet``,
the schema of :mod:`melious_impact.records`), not through the SDK. Then runs each operation
in a fresh Python process and reads that process's peak RSS (its ``VmHWM``), interleaving
the repeats so the shared machine's load hits every case alike.

Each operation is paired with its *floor*: the SQL that computes the aggregates the
operation needs, run bare on a connection to the same store. The ratio ``op / floor`` says
how far an operation is from costing what its aggregation costs.

    python benchmarks/scale.py                       # quick: 200k rows, fit and floors
    python benchmarks/scale.py --rows 1M,10M --ops all --repeats 3
    python benchmarks/scale.py --rows 10M --ops fit,predict --keep /tmp/stores

``--keep DIR`` keeps (and reuses) generated stores under DIR; sizes accept k and M.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# -- the generated store --------------------------------------------------------------------

# (model, kWh per 1k input, kWh per 1k output, EUR per million input, output, share)
MODELS = [
    ("gpt-oss-20b", 0.00004, 0.0004, "0.05", "0.20", 0.22),
    ("gpt-oss-120b", 0.0002, 0.0016, "0.15", "0.60", 0.12),
    ("mistral-small-3.2-24b-instruct", 0.00005, 0.0005, "0.10", "0.30", 0.18),
    ("llama-3.3-70b-instruct", 0.00015, 0.0012, "0.60", "0.60", 0.08),
    ("qwen3-235b-a22b-instruct", 0.0001, 0.0009, "0.20", "0.80", 0.08),
    ("glm-4.7", 0.0003, 0.0025, "0.40", "1.60", 0.07),
    ("bge-m3", 0.00001, 0.0, "0.01", "0.00", 0.17),
    ("qwen3-embedding-8b", 0.00002, 0.0, "0.02", "0.00", 0.08),
]
# (provider_id, location, pue, water L per kWh, grid g/kWh, hour swing)
SITES = [
    ("ovhcloud", "FR", 1.2, 0.9, 45.0, 0.25),
    ("scaleway", "FR", 1.25, 1.1, 45.0, 0.25),
    ("infercom", "DE", 1.3, 1.4, 350.0, 0.3),
    ("regolo", "IT", 1.35, 1.8, 280.0, 0.2),
    ("nebius", "FI", 1.1, 0.6, 70.0, 0.15),
    ("tensorix", "IE", 1.4, 1.2, 290.0, 0.2),
]
CHUNK_ROWS = 5_000_000
TEAMS = ["search", "support", "ads", "platform", "research", "growth", "legal", "ops"]


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v + "'" for v in values) + "]"


def generate_sql(start: int, stop: int, out: str, seed: int = 7) -> str:
    """One COPY statement writing requests ``start``..``stop - 1``, partitioned by UTC day."""
    cum, acc = [], 0.0
    for m in MODELS:
        acc += m[5]
        cum.append(acc / sum(x[5] for x in MODELS))
    model_case = " ".join(f"WHEN u_model < {c!r} THEN {i}" for i, c in enumerate(cum[:-1]))

    def by_model(col: int, cast: str = "DOUBLE") -> str:
        return f"CAST({_sql_list([str(m[col]) for m in MODELS])}[mi + 1] AS {cast})"

    def by_site(col: int) -> str:
        return f"CAST({_sql_list([str(s[col]) for s in SITES])}[si + 1] AS DOUBLE)"

    # uniform numbers from a hash of the row number: deterministic and parallel
    def u(k: int) -> str:
        return f"((hash(i * 7919 + {k * 104729 + seed}) % 1000000007) / 1000000007.0)"

    return f"""
    COPY (
    WITH base AS (
        SELECT i,
            {u(1)} AS u_model, {u(2)} AS u_site, {u(3)} AS u_team, {u(4)} AS u_day,
            {u(5)} AS u_sec, {u(6)} AS u_in, {u(7)} AS u_out, {u(8)} AS u_noise,
            {u(9)} AS u_rep, {u(10)} AS u_pay
        FROM range({start}, {stop}) t(i)
    ), keyed AS (
        SELECT *,
            CASE {model_case} ELSE {len(MODELS) - 1} END AS mi,
            CAST(floor(u_site * {len(SITES)}) AS INTEGER) AS si,
            CAST(floor(u_team * u_team * {len(TEAMS)}) AS INTEGER) AS ti,
            -- traffic grows linearly over the year: day = 365 * sqrt(u)
            TIMESTAMPTZ '2025-01-01 00:00:00+00'
              + to_microseconds(CAST(floor(sqrt(u_day) * 365 * 86400e6) AS BIGINT)) AS ts
        FROM base
    ), tokens AS (
        SELECT *,
            CAST(floor(50 + 4000 * u_in * u_in) AS BIGINT) AS tin,
            CASE WHEN {by_model(2)} = 0 THEN 0 ELSE CAST(floor(10 + 1500 * u_out * u_out) AS BIGINT) END
              AS tout,
            u_rep >= 0.04 AS reported
        FROM keyed
    ), physics AS (
        SELECT *,
            ({by_model(1)} * tin / 1000.0 + {by_model(2)} * tout / 1000.0) * {by_site(2)}
              * (1 + 0.03 * (u_noise - 0.5)) AS e,
            {by_site(4)} * (1 + {by_site(5)} * sin(2 * pi() * (hour(ts) - 6) / 24.0))
              * (1 + 0.1 * cos(2 * pi() * month(ts) / 12.0)) AS g,
            CAST(({by_model(3, "DECIMAL(38,18)")} * tin + {by_model(4, "DECIMAL(38,18)")} * tout)
              / 1000000 AS DECIMAL(38,18)) AS price
        FROM tokens
    )
    SELECT
        ts AS captured_at,
        CASE WHEN {by_model(2)} = 0 THEN '/v1/embeddings' ELSE '/v1/chat/completions' END AS endpoint,
        CAST(200 AS BIGINT) AS status_code,
        'gen-' || CAST(i AS VARCHAR) AS request_id,
        {_sql_list([m[0] for m in MODELS])}[mi + 1] AS model,
        u_pay < 0.3 AS stream,
        tin AS input_tokens, tout AS output_tokens,
        CASE WHEN reported THEN e END AS energy_kwh,
        CASE WHEN reported THEN e * g END AS carbon_g_co2,
        CASE WHEN reported THEN e * {by_site(3)} END AS water_liters,
        CASE WHEN reported THEN 30.0 + 40 * u_sec END AS renewable_percent,
        CASE WHEN reported THEN {by_site(2)} END AS pue,
        CASE WHEN reported THEN {_sql_list([s[0] for s in SITES])}[si + 1] END AS provider_id,
        CASE WHEN reported THEN {_sql_list([s[1] for s in SITES])}[si + 1] END AS location,
        reported AS impact_reported,
        CASE WHEN u_pay >= 0.9 AND u_pay < 0.98 THEN CAST(price * 10000 AS DECIMAL(38,18)) END
          AS billing_energy,
        CASE WHEN u_pay < 0.9 THEN price END AS billing_credits,
        CASE WHEN u_pay < 0.9 THEN 'credits' WHEN u_pay < 0.98 THEN 'energy' END AS billing_paid_with,
        CAST(NULL AS VARCHAR) AS error_code,
        200.0 + 3000 * u_out AS latency_ms,
        CASE WHEN u_noise < 0.01 THEN NULL ELSE {_sql_list(TEAMS)}[ti + 1] END AS team,
        'p' || CAST(ti * 3 + CAST(floor(u_in * 3) AS INTEGER) AS VARCHAR) AS project,
        CAST(NULL AS VARCHAR) AS tags,
        'generated' AS source,
        CAST(NULL AS VARCHAR) AS custom_id,
        'r' || CAST(i AS VARCHAR) AS record_id,
        CAST(NULL AS VARCHAR) AS dedup_key,
        {_sql_list([m[0] for m in MODELS])}[mi + 1] AS requested_model,
        CAST(NULL AS VARCHAR) AS flavor,
        'POST' AS method, 'openai' AS api_shape,
        CAST(NULL AS BIGINT) AS cached_tokens, CAST(NULL AS BIGINT) AS reasoning_tokens,
        CAST(NULL AS VARCHAR) AS error_type,
        CASE WHEN u_pay < 0.3 THEN 80.0 + 200 * u_in END AS ttft_ms,
        CAST(1 AS BIGINT) AS attempt,
        CAST(NULL AS BIGINT) AS ratelimit_limit_requests,
        CAST(NULL AS BIGINT) AS ratelimit_remaining_requests,
        CAST(400 + tout * 4 AS BIGINT) AS response_bytes,
        CASE WHEN u_pay < 0.3 THEN TRUE END AS stream_completed,
        CAST(NULL AS VARCHAR) AS parse_warnings,
        CAST(NULL AS VARCHAR) AS batch_id,
        CAST(2 AS BIGINT) AS schema_version,
        CAST(NULL AS VARCHAR) AS environment_impact_json,
        CAST(NULL AS VARCHAR) AS billing_cost_json,
        strftime(ts, '%Y-%m-%d') AS date
    FROM physics
    ) TO '{out}' (FORMAT parquet, PARTITION_BY (date), FILENAME_PATTERN 'gen-{start}-{{i}}', COMPRESSION zstd,
        OVERWRITE_OR_IGNORE true)
    """


def build_store(root: Path, rows: int) -> float:
    """Write ``rows`` generated requests into ``root`` (a new store folder); seconds taken."""
    import duckdb

    t = time.perf_counter()
    (root / "requests").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("SET preserve_insertion_order=false")
    con.execute("SET enable_progress_bar=false")
    con.execute("SET memory_limit='1GB'")
    # what spills goes beside the store, not into a .tmp of the caller's folder
    con.execute("SET temp_directory=?", [str(root.parent / f".spill-{root.name}")])
    # in chunks: one COPY holds a buffer per open partition, so its memory grows with rows
    for start in range(0, rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, rows)
        con.execute(generate_sql(start, stop, str(root / "requests")))
    con.close()
    return time.perf_counter() - t


# -- operations and their floors ---------------------------------------------------------

_PRELUDE = """
import time, json, sys


def peak_mb():
    # This process image's own high-water mark. Not getrusage's ru_maxrss: on Linux a child
    # started with vfork and exec inherits its parent's peak there (a parent that generated
    # a store would make every case look as big as the generation).
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmHWM:')) / 1024


import melious_impact as mi
root, out = sys.argv[1], sys.argv[2]
store = mi.ImpactStore(root)
"""

# The fit's three aggregations: per cell the first weighted pass's sums, count and median
# PUE; per site water and PUE; per location x month x UTC hour the grid sums (slots from the
# instant's microseconds, as the fit takes them: month()/hour() of a TIMESTAMPTZ go through
# the time-zone calendar and cost about twice as much). The fit's later weighted passes
# re-read its own compact table and are its cost, not the floor's.
_FIT_FLOOR = """
con = store.connect()
con.sql('''SELECT model, provider_id, location, count(*), median(pue),
    sum(x1 * x1 * w0), sum(x1 * x2 * w0), sum(x2 * x2 * w0), sum(x1 * y * w0), sum(x2 * y * w0)
    FROM (SELECT *, input_tokens / 1000.0 AS x1, output_tokens / 1000.0 AS x2, energy_kwh / pue AS y,
          1.0 / ((energy_kwh / pue) * (energy_kwh / pue)) AS w0
          FROM requests WHERE impact_reported AND energy_kwh > 0 AND pue >= 1) GROUP BY ALL''').fetchall()
con.sql('''SELECT provider_id, location, count(*), sum(water_liters), sum(energy_kwh),
    sum(ln(water_liters / energy_kwh)), sum(ln(water_liters / energy_kwh) ^ 2), median(pue)
    FROM requests WHERE impact_reported AND energy_kwh > 0 AND water_liters > 0 GROUP BY ALL''').fetchall()
con.sql('''SELECT location, month(make_timestamp(epoch_us(captured_at))), hour(make_timestamp(epoch_us(captured_at))),
    count(*), sum(energy_kwh), sum(carbon_g_co2), sum(ln(carbon_g_co2 / energy_kwh)),
    sum(ln(carbon_g_co2 / energy_kwh) ^ 2) FROM requests WHERE energy_kwh > 0 GROUP BY ALL''').fetchall()
"""

# forecast: one metric's daily sums per team. The UTC day is an integer division of the
# instant: CAST(captured_at AS DATE) looks each row up in the time zone library and costs
# about twice as much
_FORECAST_FLOOR = """
con = store.connect()
con.sql('''SELECT team, epoch_us(captured_at) // 86400000000, sum(carbon_g_co2) FROM requests
    GROUP BY ALL''').fetchall()
"""

# budget_status: the budgeted metrics' daily sums per team up to as_of's day, with the
# coverage counts (requests, requests carrying each metric)
_BUDGET_FLOOR = """
con = store.connect()
con.sql('''SELECT team, epoch_us(captured_at) // 86400000000, count(*), sum(carbon_g_co2), count(carbon_g_co2),
    sum(CASE WHEN billing_paid_with = 'energy' THEN billing_energy * 0.0001 ELSE billing_credits END),
    count(CASE WHEN billing_paid_with = 'energy' THEN billing_energy * 0.0001 ELSE billing_credits END)
    FROM requests WHERE captured_at < TIMESTAMPTZ '2025-12-21 00:00:00+00' GROUP BY ALL''').fetchall()
"""

_COST_FLOOR = """
con = store.connect()
con.sql('''SELECT team, sum(CASE WHEN billing_paid_with = 'energy' THEN billing_energy * 0.0001
    ELSE billing_credits END) FROM requests GROUP BY ALL''').fetchall()
"""

# FOCUS at day granularity: a charge per day x model (or the requested one) x provider x
# location x balance x team x project x tags, with the endpoints it used, its requests, errors
# and impact-reported requests, tokens, cost, billed amounts and impact sums
_FOCUS_FLOOR = """
con = store.connect()
con.sql('''SELECT CAST(captured_at AS DATE), team, project, coalesce(model, requested_model),
    provider_id, location, billing_paid_with, tags, endpoint, count(*),
    count(*) FILTER (WHERE error_code IS NOT NULL OR status_code >= 400),
    count(*) FILTER (WHERE impact_reported), sum(input_tokens), sum(output_tokens),
    sum(CASE WHEN billing_paid_with = 'energy' THEN billing_energy * 0.0001 ELSE billing_credits END),
    sum(billing_credits), sum(billing_energy), sum(energy_kwh), sum(carbon_g_co2), sum(water_liters)
    FROM requests GROUP BY ALL''').fetchall()
"""

# predict(store, by='team'): tokens per team x key x month x UTC hour (a prediction is per
# row, but these are the columns and groups it reads)
_PREDICT_FLOOR = """
con = store.connect()
con.sql('''SELECT team, model, provider_id, location, month(make_timestamp(epoch_us(captured_at))),
    hour(make_timestamp(epoch_us(captured_at))), count(*), sum(input_tokens), sum(output_tokens)
    FROM requests GROUP BY ALL''').fetchall()
"""

# scenario: tokens per key x month x UTC hour, and the reported totals and billed euros it
# shows beside the predictions
_SCENARIO_FLOOR = """
con = store.connect()
con.sql('''SELECT model, provider_id, location, month(make_timestamp(epoch_us(captured_at))),
    hour(make_timestamp(epoch_us(captured_at))), count(*), sum(input_tokens), sum(output_tokens),
    sum(energy_kwh), sum(carbon_g_co2), sum(water_liters),
    sum(billing_credits) FILTER (WHERE billing_paid_with = 'credits'),
    sum(billing_energy) FILTER (WHERE billing_paid_with = 'energy') FROM requests GROUP BY ALL''').fetchall()
"""

_REPORT_FLOOR = """
con = store.connect()
con.sql('''SELECT count(*), sum(energy_kwh), sum(carbon_g_co2), sum(water_liters),
    sum(CASE WHEN billing_paid_with = 'energy' THEN billing_energy * 0.0001 ELSE billing_credits END)
    FROM requests''').fetchall()
for by in ('team', 'model', 'provider_id', 'location', 'CAST(captured_at AS DATE)'):
    con.sql(f'SELECT {by}, count(*), sum(energy_kwh), sum(carbon_g_co2), sum(water_liters) '
            'FROM requests GROUP BY 1').fetchall()
""" + _FIT_FLOOR.replace("con = store.connect()\n", "")

# name -> (operation code, floor code); each runs after _PRELUDE in a fresh process
OPS: dict[str, tuple[str, str]] = {
    "fit": ("m = mi.fit_intensity(store)", _FIT_FLOOR),
    "predict": (
        "m = mi.fit_intensity(store)\nt0 = time.perf_counter()\nm.predict(store, by='team', errors='coerce')",
        _PREDICT_FLOOR,
    ),
    "forecast": ("mi.forecast(store, metric='carbon_g_co2', by='team')", _FORECAST_FLOOR),
    "budget_status": (
        "mi.budget_status(store, {t: {'carbon_g_co2': 1e9, 'cost_eur': 1e6} for t in "
        "['search', 'support', 'ads', 'platform']}, as_of='2025-12-20')",
        _BUDGET_FLOOR,
    ),
    "costs": (
        "from melious_impact.forecasting.costs import add_cost_eur, sum_decimal\n"
        "df = add_cost_eur(store.to_pandas(columns=['team', 'billing_paid_with', 'billing_credits', "
        "'billing_energy']))\n[sum_decimal(g) for _, g in df.groupby('team')['cost_eur']]",
        _COST_FLOOR,
    ),
    "cost_totals": (
        "from melious_impact.forecasting.costs import cost_totals\ncost_totals(store, 'team')",
        _COST_FLOOR,
    ),
    "focus": (
        "from melious_impact.export.focus import to_focus\nto_focus(store, granularity='day')",
        _FOCUS_FLOOR,
    ),
    "scenario": (
        "m = mi.fit_intensity(store)\nt0 = time.perf_counter()\nmi.scenario(store, m, location='FR')",
        _SCENARIO_FLOOR,
    ),
    "report": ("mi.report(store, out + '/r.html')", _REPORT_FLOOR),
    "dashboard": ("mi.dashboard(store, out + '/d')", _REPORT_FLOOR),
}

QUICK_OPS = ["fit", "predict"]


def _child_code(body: str) -> str:
    # t0 may be reset inside body (to time only the step after a fit it depends on)
    return (
        _PRELUDE
        + "t0 = time.perf_counter()\n"
        + body
        + "\nprint(json.dumps({'seconds': time.perf_counter() - t0}))\n"
    )


def run_case(code: str, root: Path, out: Path, timeout: float) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one fresh process running ``code``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(root), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return float("nan"), float("nan")
    # the child reports its own peak RSS (getrusage(RUSAGE_SELF) as it ends): RUSAGE_CHILDREN
    # of this process would be the maximum over every child run so far
    if proc.returncode != 0:
        print(stderr[-2000:], file=sys.stderr)
        return float("nan"), float("nan")
    info = json.loads(stdout.strip().splitlines()[-1])
    return float(info["seconds"]), float(info["peak_mb"])


def _with_peak(code: str) -> str:
    return code.replace(
        "print(json.dumps({'seconds': time.perf_counter() - t0}))",
        "print(json.dumps({'seconds': time.perf_counter() - t0, 'peak_mb': peak_mb()}))",
    )


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * mult)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="200k", help="comma-separated sizes, e.g. 1M,10M (default 200k)")
    parser.add_argument(
        "--ops", default=",".join(QUICK_OPS), help=f"comma-separated of {', '.join(OPS)} or all"
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs of each case (medians reported)")
    parser.add_argument("--keep", default=None, help="folder to keep and reuse generated stores in")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a case is abandoned")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare DuckDB floors")
    parser.add_argument("--json", default=None, help="append results as JSON lines to this file")
    args = parser.parse_args()
    ops = list(OPS) if args.ops == "all" else [o.strip() for o in args.ops.split(",")]
    unknown = [o for o in ops if o not in OPS]
    if unknown:
        parser.error(f"unknown operation(s) {unknown}; choose from {', '.join(OPS)}")
    sizes = [parse_size(s) for s in args.rows.split(",")]
    with tempfile.TemporaryDirectory(prefix="mi-bench-scale-") as tmp:
        base = Path(args.keep) if args.keep else Path(tmp)
        for rows in sizes:
            root = base / f"store-{rows}"
            if not (root / "requests").exists():
                secs = build_store(root, rows)
                print(f"generated {rows:,} rows in {secs:.1f} s -> {root}")
            size_mb = sum(f.stat().st_size for f in (root / "requests").rglob("*.parquet")) / 1e6
            print(f"\n{rows:,} rows ({size_mb:.0f} MB of Parquet)")
            print(
                f"{'operation':<14} {'median s':>9} {'peak MB':>8} {'floor s':>8} {'floor MB':>8} {'ratio':>6}"
            )
            for op in ops:
                body, floor = OPS[op]
                cases = {"op": _with_peak(_child_code(body))}
                if not args.no_floor:
                    cases["floor"] = _with_peak(_child_code(floor))
                res: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
                for _ in range(args.repeats):
                    for k, code in cases.items():
                        out = Path(tmp) / f"out-{op}"
                        out.mkdir(exist_ok=True)
                        res[k].append(run_case(code, root, out, args.timeout))
                med = {k: statistics.median(t for t, _ in v) for k, v in res.items()}
                peak = {k: max(m for _, m in v) for k, v in res.items()}
                fl, fm = med.get("floor", float("nan")), peak.get("floor", float("nan"))
                print(
                    f"{op:<14} {med['op']:>9.2f} {peak['op']:>8.0f} {fl:>8.2f} {fm:>8.0f} {med['op'] / fl:>6.1f}"
                )
                if args.json:
                    with open(args.json, "a") as fh:
                        fh.write(
                            json.dumps(
                                {
                                    "rows": rows,
                                    "op": op,
                                    "seconds": med["op"],
                                    "peak_mb": peak["op"],
                                    "floor_seconds": fl,
                                    "floor_peak_mb": fm,
                                    "runs": res,
                                    "cores": os.cpu_count(),
                                }
                            )
                            + "\n"
                        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
