"""Benchmark: forecasting 50 teams x 2 years of daily data (target: under 10 s on 2 cores).

Times ``mi.forecast`` (daily aggregation, per-team backtest of ETS against seasonal naive,
final forecasts) side by side with the seasonal-naive baseline alone
(``method="snaive"``: the same aggregation and output, no model fitting), over several
repeats, and prints the medians and their ratio; then the same with ``n_jobs=2``.
Also prints the accuracy of both on the 28 days held out after the history.

    .venv/bin/python benchmarks/forecast.py [--teams 50] [--days 730] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pandas as pd

import melious_impact as mi

HORIZON = 28


def team_series(seed: int, n: int) -> np.ndarray:
    """A team's daily carbon: linear trend x weekly pattern (team-specific) + 4% noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    level = rng.uniform(50, 500)
    slope = level * rng.uniform(-0.0005, 0.002)
    week = np.array([1.0, 1.05, 1.1, 1.08, 1.0, 0.6, 0.5])
    season = 1 + rng.uniform(0.5, 1.0) * (week[(t + rng.integers(7)) % 7] / week.mean() - 1)
    return np.maximum((level + slope * t) * season + rng.normal(0, 0.04 * level, n), 0.0)


def growing_series(seed: int, n: int) -> np.ndarray:
    """A young team's daily carbon: doubling every 120 days x weekly pattern, 5% noise."""
    rng = np.random.default_rng(10_000 + seed)
    t = np.arange(n)
    week = np.array([1.0, 1.05, 1.1, 1.08, 1.0, 0.6, 0.5])
    season = 1 + rng.uniform(0.5, 1.0) * (week[(t + rng.integers(7)) % 7] / week.mean() - 1)
    return rng.uniform(50, 500) * 2 ** (t / 120) * season * (1 + rng.normal(0, 0.05, n))


def request_rows(series: dict[str, np.ndarray], start: str = "2023-01-01") -> pd.DataFrame:
    """One request row per team and day (captured at noon UTC) carrying the day's total."""
    frames = []
    for team, values in series.items():
        days = pd.date_range(start, periods=len(values), freq="D", tz="UTC") + pd.Timedelta(hours=12)
        frames.append(pd.DataFrame({"captured_at": days, "team": team, "carbon_g_co2": values}))
    return pd.concat(frames, ignore_index=True)


def timed(rows: pd.DataFrame, repeats: int, **kwargs: object) -> tuple[float, pd.DataFrame, float]:
    """Median wall time, the last forecast, and the median CPU time of this process.

    On a shared machine wall time follows the load; CPU time much less so (it leaves out
    worker processes, so it means nothing with ``n_jobs`` > 1).
    """
    times, cpu, fc = [], [], pd.DataFrame()
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fc = mi.forecast(rows, metric="carbon_g_co2", horizon_days=HORIZON, **kwargs)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), fc, statistics.median(cpu)


def accuracy(fc: pd.DataFrame, truth: dict[str, np.ndarray]) -> tuple[float, float]:
    mape, cover = [], []
    for team, g in fc.groupby("team"):
        actual = truth[str(team)]
        mape.append(np.mean(np.abs(g["mean"].to_numpy() - actual) / actual))
        cover.append(np.mean((actual >= g["low"].to_numpy()) & (actual <= g["high"].to_numpy())))
    return float(np.mean(mape)), float(np.mean(cover))


def statsforecast_run(
    series: dict[str, np.ndarray], repeats: int
) -> tuple[float, pd.DataFrame, float] | None:
    """AutoETS on the daily series (median time, forecast frame renamed like ours); None if absent."""
    try:
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS
    except ImportError:
        return None
    frame = pd.concat(
        pd.DataFrame({"unique_id": k, "ds": pd.date_range("2023-01-01", periods=len(v), freq="D"), "y": v})
        for k, v in series.items()
    )
    times, cpu, out = [], [], pd.DataFrame()
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        sf = StatsForecast(models=[AutoETS(season_length=7)], freq="D", n_jobs=1)
        out = sf.forecast(df=frame, h=HORIZON, level=[80])
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    out = out.rename(
        columns={"unique_id": "team", "AutoETS": "mean", "AutoETS-lo-80": "low", "AutoETS-hi-80": "high"}
    )
    return statistics.median(times), out, statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=50, help="number of teams (default 50)")
    parser.add_argument("--days", type=int, default=730, help="days of history per team (default 730)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats; the median is reported")
    args = parser.parse_args()

    full = {f"team{i:03d}": team_series(i, args.days + HORIZON) for i in range(args.teams)}
    history = {k: v[: args.days] for k, v in full.items()}
    rows = request_rows(history)
    truth = {k: v[args.days :] for k, v in full.items()}
    print(
        f"{args.teams} teams x {args.days} days ({len(rows):,} rows), horizon {HORIZON} days, cpus {os.cpu_count()}"
    )

    mi.forecast(rows.iloc[:800], metric="carbon_g_co2", horizon_days=HORIZON)  # warm imports
    t_naive, fc_naive, c_naive = timed(rows, args.repeats, method="snaive")
    t_auto, fc_auto, c_auto = timed(rows, args.repeats, method="auto")
    t_par, _, _ = timed(rows, args.repeats, method="auto", n_jobs=2)
    mape_auto, cover_auto = accuracy(fc_auto, truth)
    mape_naive, cover_naive = accuracy(fc_naive, truth)
    chosen = fc_auto.drop_duplicates("team")["method"].value_counts().to_dict()
    forms = (
        pd.Series({k: v.get("model", "?") for k, v in fc_auto.attrs["backtest"].items()})
        .value_counts()
        .to_dict()
    )

    print(
        f"seasonal naive      median {t_naive:6.2f} s (CPU {c_naive:5.2f} s)   MAPE {mape_naive:6.2%}   80% interval coverage {cover_naive:6.1%}"
    )
    print(
        f"auto (ETS|snaive)   median {t_auto:6.2f} s (CPU {c_auto:5.2f} s)   MAPE {mape_auto:6.2%}   80% interval coverage {cover_auto:6.1%}"
    )
    print(f"auto, n_jobs=2      median {t_par:6.2f} s")
    print(
        f"ratio auto / naive  {t_auto / t_naive:6.1f}x (CPU {c_auto / c_naive:4.1f}x)   methods chosen: {chosen}"
    )
    print(f"ETS forms: {forms}")
    peer = statsforecast_run(history, args.repeats)
    if peer is None:
        print("statsforecast AutoETS: not installed (it needs pandas < 3; run in its own environment)")
    else:
        mape_sf, cover_sf = accuracy(peer[1], truth)
        print(
            f"statsforecast AutoETS median {peer[0]:6.2f} s (CPU {peer[2]:5.2f} s)   MAPE {mape_sf:6.2%}   80% interval coverage {cover_sf:6.1%}"
            "   (daily series given: no aggregation)"
        )

    young_days = 180
    young = {f"team{i:03d}": growing_series(i, young_days + HORIZON) for i in range(args.teams)}
    young_rows = request_rows({k: v[:young_days] for k, v in young.items()})
    young_truth = {k: v[young_days:] for k, v in young.items()}
    print(f"growing teams: {args.teams} teams x {young_days} days, doubling every 120 days")
    for label, method in (("seasonal naive", "snaive"), ("auto (ETS|snaive)", "auto")):
        t, fc, c = timed(young_rows, 1, method=method)
        mape, cover = accuracy(fc, young_truth)
        print(
            f"  {label:20s} {t:6.2f} s (CPU {c:5.2f} s)   MAPE {mape:6.2%}   80% interval coverage {cover:6.1%}"
        )
    peer = statsforecast_run({k: v[:young_days] for k, v in young.items()}, 1)
    if peer is not None:
        mape, cover = accuracy(peer[1], young_truth)
        print(
            f"  {'statsforecast AutoETS':20s} {peer[0]:6.2f} s (CPU {peer[2]:5.2f} s)   MAPE {mape:6.2%}   80% interval coverage {cover:6.1%}"
        )


if __name__ == "__main__":
    main()
