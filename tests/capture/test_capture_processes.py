"""A recorder made before a fork: the child's calls are captured into a journal of its
own, and show up in the parent once the child has gone (through os._exit, as pool,
gunicorn and Celery workers leave), with nothing called."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from melious_impact import emulator
from melious_impact.capture.recorder import Recorder
from melious_impact.store.impact_store import ImpactStore

# Forking a process that runs threads (the store's writer) is the case under test; Python
# 3.12+ warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")

_SHARED: dict[str, Any] = {}


def _child_calls(n: int) -> None:
    client = _SHARED["client"]  # the parent's client and recorder, inherited by fork
    for i in range(n):
        client.post(
            "/chat/completions",
            json={"model": "gpt-oss-120b", "messages": [{"role": "user", "content": f"c{i}"}]},
        )
    os._exit(0)  # no atexit, no flush


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_recorder_created_before_fork(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELIOUS_IMPACT_HOME", str(tmp_path / "home"))
    store = ImpactStore(tmp_path / "s", flush_interval_s=3600)
    rec = Recorder(store)
    client = rec.httpx_client(
        base_url="https://api.melious.ai/v1",
        headers={"authorization": "Bearer sk-test"},
        transport=emulator.transport(lib="httpx", seed=5),
    )
    _SHARED["client"] = client
    with client:
        client.post(
            "/chat/completions",
            json={"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "p"}]},
        )
        ctx = multiprocessing.get_context("fork")
        kids = [ctx.Process(target=_child_calls, args=(4,)) for _ in range(2)]
        for k in kids:
            k.start()
        for k in kids:
            k.join(60)
            assert k.exitcode == 0
        assert len(store) == 8  # the children's rows; the parent's own row waits for its flush
        rec.flush()
        df = store.to_pandas(columns=["record_id", "status_code"])
        assert len(df) == 9 and df["record_id"].nunique() == 9 and (df["status_code"] == 200).all()
    rec.close()
    store.close()
