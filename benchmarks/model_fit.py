"""Benchmark: fit the intensity model on 1M emulated requests and predict 1M, against a
naive baseline (pandas groupby mean of energy per token per cell, then a merge).

    python benchmarks/model_fit.py [--rows 1000000] [--repeats 5] [--table]

Prints median wall times of ``repeats`` runs and the ratio to the baseline. ``--table``
also prints the recovered-vs-true table (markdown) used in docs/model.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import melious_impact as mi
from melious_impact.emulator.simulate import simulate_requests

KEY = ["model", "provider_id", "location"]
WORKLOAD = [*KEY, "input_tokens", "output_tokens", "captured_at"]


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def naive_fit(df: pd.DataFrame) -> pd.DataFrame:
    """What one would write first: mean kWh per token per cell (no input/output split)."""
    rep = df[df["impact_reported"]]
    per_token = rep["energy_kwh"] / (rep["input_tokens"] + rep["output_tokens"]).astype(float)
    return per_token.groupby([rep[k] for k in KEY]).mean().rename("kwh_per_token").reset_index()


def naive_predict(table: pd.DataFrame, w: pd.DataFrame) -> pd.DataFrame:
    out = w.merge(table, on=KEY, how="left")
    out["energy_kwh"] = out["kwh_per_token"] * (out["input_tokens"] + out["output_tokens"]).astype(float)
    return out


def recovery_table(seed: int = 1) -> str:
    df = simulate_requests(days=90, seed=seed)
    m = mi.fit_intensity(df)
    truth = (
        df[df["impact_reported"]]
        .groupby(KEY)[["true_kwh_per_1k_input", "true_kwh_per_1k_output", "true_pue"]]
        .first()
        .reset_index()
    )
    t = m.table().merge(truth, on=KEY)
    lines = [
        "| model | provider | n | basis | kWh/1k in (fit [90%]) | true | kWh/1k out (fit [90%]) | true | PUE fit / true |",
        "|---|---|---:|---|---|---|---|---|---|",
    ]

    def fmt(v: float) -> str:
        return "–" if not np.isfinite(v) else f"{v:.3e}"

    for r in t.itertuples():
        lines.append(
            f"| {r.model} | {r.provider_id} | {r.n_requests} | {r.basis} "
            f"| {fmt(r.kwh_per_1k_input)} [{fmt(r.kwh_per_1k_input_low)}, {fmt(r.kwh_per_1k_input_high)}] "
            f"| {fmt(r.true_kwh_per_1k_input)} "
            f"| {fmt(r.kwh_per_1k_output)} [{fmt(r.kwh_per_1k_output_low)}, {fmt(r.kwh_per_1k_output_high)}] "
            f"| {fmt(r.true_kwh_per_1k_output)} | {r.pue:.2f} / {r.true_pue:.2f} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="emulated requests (default 1,000,000)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per step; the median is printed")
    ap.add_argument("--table", action="store_true", help="also print the recovered-vs-true table")
    args = ap.parse_args()

    df = simulate_requests(args.rows, days=90, seed=1)
    w = df[WORKLOAD]
    print(f"rows: {len(df):,}  cores: {os.cpu_count()}  repeats: {args.repeats} (medians)")
    mi.fit_intensity(df.head(10_000))  # warm imports (scipy, pyarrow compute) outside the timing
    fit_s, model = timed(lambda: mi.fit_intensity(df), args.repeats)
    naive_fit_s, table = timed(lambda: naive_fit(df), args.repeats)
    pred_s, pred = timed(lambda: model.predict(w, errors="coerce"), args.repeats)
    naive_pred_s, npred = timed(lambda: naive_predict(table, w), args.repeats)

    rep = df["impact_reported"].to_numpy()
    mape = float(np.mean(np.abs(pred["energy_kwh"].to_numpy()[rep] / df["energy_kwh"].to_numpy()[rep] - 1)))
    naive_mape = float(
        np.mean(np.abs(npred["energy_kwh"].to_numpy()[rep] / df["energy_kwh"].to_numpy()[rep] - 1))
    )
    print(f"{'step':<10}{'model s':>10}{'naive s':>10}{'ratio':>8}   target")
    print(f"{'fit':<10}{fit_s:>10.2f}{naive_fit_s:>10.2f}{fit_s / naive_fit_s:>8.1f}   < 5 s")
    print(f"{'predict':<10}{pred_s:>10.2f}{naive_pred_s:>10.2f}{pred_s / naive_pred_s:>8.1f}   < 2 s")
    print(
        f"in-sample energy MAPE: model {mape:.2%}, naive {naive_mape:.2%} (model adds intervals, carbon, water)"
    )
    if args.table:
        print()
        print(recovery_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
