"""Fixtures for the forecast tests: request rows built from known daily series."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pandas as pd
import pytest

RowsFactory = Callable[..., pd.DataFrame]


def rows_from_daily(
    daily: dict[str, np.ndarray | list[float]],
    *,
    start: str = "2025-01-01",
    metric: str = "carbon_g_co2",
    hour: int = 12,
) -> pd.DataFrame:
    """One request row per (team, day) carrying that day's value, captured at ``hour`` UTC.

    Days given as NaN get no row (a gap). For ``cost_eur`` the value is written as exact
    credits (paid_with='credits').
    """
    frames = []
    for team, values in daily.items():
        values = np.asarray(values, dtype=float)
        days = pd.date_range(start, periods=len(values), freq="D", tz="UTC") + pd.Timedelta(hours=hour)
        keep = ~np.isnan(values)
        f = pd.DataFrame({"captured_at": days[keep], "team": team})
        if metric == "cost_eur":
            f["billing_credits"] = [Decimal(repr(round(float(v), 6))) for v in values[keep]]
            f["billing_energy"] = [Decimal("0")] * int(keep.sum())
            f["billing_paid_with"] = "credits"
        else:
            f[metric] = values[keep]
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def synthetic_series(seed: int, n: int, *, noise: float = 0.04) -> np.ndarray:
    """Known linear trend x weekly pattern + Gaussian noise (sd = noise x level)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    level = rng.uniform(50, 500)
    slope = level * rng.uniform(-0.0005, 0.002)
    week = np.array([1.0, 1.05, 1.1, 1.08, 1.0, 0.6, 0.5])
    week = week / week.mean()
    amplitude = rng.uniform(0.5, 1.0)
    season = 1 + amplitude * (week[(t + rng.integers(7)) % 7] - 1)
    y = (level + slope * t) * season + rng.normal(0, noise * level, n)
    return np.maximum(y, 0.0)


def growth_series(
    trend: str, direction: str, shape: str, seed: int, n: int, *, noise: float = 0.04, days: int = 120
) -> np.ndarray:
    """A daily series with known growth or decline and a weekly shape (not the emulator's).

    ``trend``: ``"linear"`` or ``"exponential"``; ``direction``: ``"growth"`` (the level
    doubles every ``days``; a linear one adds the starting level every ``days``) or
    ``"decline"`` (an exponential one halves every ``days``; a linear one loses half the
    starting level over the ``n`` days, so it stays positive). ``shape``: ``"additive"``
    (the weekly swing is the same number of units whatever the level; sized on the lowest
    level so no day goes below zero; noise of constant sd) or ``"multiplicative"`` (swing
    and noise proportional to the level). ``noise`` is the sd as a share of the level of the
    last four weeks (where the forecast is judged). The weekly pattern, its phase and the
    starting level (10 to 10,000 units) are drawn from ``seed``.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    start = float(10 ** rng.uniform(1, 4))
    if trend == "exponential":
        level = start * (2.0 if direction == "growth" else 0.5) ** (t / days)
    elif direction == "growth":
        level = start * (1 + t / days)
    else:
        level = start * (1 - 0.5 * t / n)
    weekdays = rng.uniform(0.85, 1.15, 5)
    weekend = rng.uniform(0.25, 0.8, 2)
    week = np.roll(np.concatenate([weekdays, weekend]), int(rng.integers(7)))
    week = week / week.mean() - 1  # mean zero
    weekly = week[np.arange(n) % 7]
    end_level = float(level[-28:].mean())
    if shape == "multiplicative":
        y = level * (1 + weekly) * (1 + rng.normal(0, noise, n))
    else:
        y = level + float(level.min()) * weekly + rng.normal(0, noise * end_level, n)
    return np.maximum(y, 0.0)


@pytest.fixture
def catalogue_server() -> Iterator[dict[str, Any]]:
    """A loopback HTTP server answering GET /v1/models?include_meta=true; counts hits."""
    body = {
        "object": "list",
        "data": [
            {
                "id": "glm-4.7",
                "object": "model",
                "_meta": {
                    "type": "chat",
                    "pricing": {"input_cost_per_million_eur": 0.45, "output_cost_per_million_eur": "1.9"},
                },
            },
            {
                "id": "bge-m3",
                "object": "model",
                "_meta": {"type": "embeddings", "pricing": {"input_cost_per_million_eur": 0.01}},
            },
            {"id": "mystery-model", "object": "model", "_meta": {"type": "chat"}},
        ],
    }
    state: dict[str, Any] = {"hits": 0, "paths": [], "status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["hits"] += 1
            state["paths"].append(self.path)
            payload = json.dumps(body).encode() if state["status"] == 200 else b'{"error": "nope"}'
            self.send_response(state["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# Session-scoped (they are pure functions) so module-scoped fixtures can use them too.
@pytest.fixture(scope="session")
def make_rows() -> RowsFactory:
    return rows_from_daily


@pytest.fixture(scope="session")
def synth() -> Callable[..., np.ndarray]:
    return synthetic_series


@pytest.fixture(scope="session")
def growth() -> Callable[..., np.ndarray]:
    return growth_series
