"""Helpers shared by the store tests and their child processes (a unique module name:
test folders have no __init__.py, so basenames must not collide across folders)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from melious_impact.records import empty_row

BASE = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def make_row(i: int, tag: str = "t", *, day: int = 0, team: str = "search") -> dict[str, Any]:
    """A fully populated row; ``request_id`` = f"{tag}-{i}" identifies it in assertions."""
    row = empty_row()
    row.update(
        captured_at=BASE + timedelta(days=day, microseconds=i),
        endpoint="/v1/chat/completions",
        status_code=200,
        request_id=f"{tag}-{i}",
        model="gpt-oss-120b",
        stream=i % 2 == 0,
        input_tokens=100 + i,
        output_tokens=20 + i % 7,
        energy_kwh=0.000123 * (1 + i % 5),
        carbon_g_co2=0.05,
        water_liters=0.0002,
        renewable_percent=42.5,
        pue=1.2,
        provider_id="ovhcloud",
        location="FR",
        impact_reported=True,
        billing_energy=Decimal("1.234567890123456789"),
        billing_credits=Decimal("0.000123400000000001"),
        billing_paid_with="credits",
        latency_ms=12.5,
        team=team,
        project="rag",
        tags='{"feature": "x"}',
        source="live",
        attempt=0,
        stream_completed=True,
    )
    return row


HERE = Path(__file__).resolve().parent
CHILD = HERE / "child.py"


def child(*args: object, env: dict[str, str] | None = None, **kw: object) -> subprocess.Popen[str]:
    """Start tests/store/child.py in a fresh interpreter (``env`` adds variables)."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent.parent), full_env.get("PYTHONPATH", "")])
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        [sys.executable, str(CHILD), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
        env=full_env,
        **kw,
    )


# -- workers of multiprocessing pools (importable by name, so spawned workers find them) --


def pool_task(args: tuple[str, int, str]) -> int:
    """Write one row from a pool worker through its own store object (opened on first use
    in each worker, as a module-level client would be)."""
    from melious_impact.store.impact_store import ImpactStore

    root, i, tag = args
    store = _WORKER_STORES.get(root)
    if store is None:
        store = _WORKER_STORES[root] = ImpactStore(root, flush_interval_s=3600)
    store.writer().write(make_row(i, tag))
    return os.getpid()


_WORKER_STORES: dict[str, Any] = {}


class Churn:
    """Passes made so far by :func:`back_to_back_compactions`."""

    passes = 0


@contextlib.contextmanager
def back_to_back_compactions(store: Any) -> Iterator[Churn]:
    """A thread compacting ``store`` without pause while the block runs: each pass rewrites
    every partition (``min_files=1``) and deletes what the last one wrote."""
    churn, stop = Churn(), threading.Event()

    def run() -> None:
        while not stop.is_set():
            store.compact(min_files=1)
            churn.passes += 1

    t = threading.Thread(target=run)
    t.start()
    try:
        yield churn
    finally:
        stop.set()
        t.join()
