"""SIGKILL at random moments under load, several processes writing into one store.

Each child logs an id after its call returned (``_child.py``); the parent kills children at
random moments, starts replacements, and finally kills them all. Then a fresh
``ImpactStore`` opened on the folder (no repair step) must hold every logged id exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

SEED = int(os.environ.get("MELIOUS_RELIABILITY_SEED", "20260301"))


def need(module: str) -> Any:
    return pytest.importorskip(module, reason=f"{module} is not written yet")


def _logged_ids(logs: list[Path]) -> list[str]:
    """Whole lines only: a SIGKILL may tear the last line of a log, never an earlier one."""
    ids: list[str] = []
    for log in logs:
        if not log.exists():
            continue
        text = log.read_text()
        lines = text.split("\n")[:-1]  # the part after the last newline is torn or empty
        ids.extend(line for line in lines if line and not line.startswith("#"))
    return ids


def _stderr_of(log: Path) -> str:
    err = log.with_suffix(".stderr")
    return err.read_text(errors="replace")[-3000:] if err.exists() else ""


def _wait_ready(log: Path, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().startswith("#ready"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"child exited with {proc.returncode} before starting:\n{_stderr_of(log)}")
        time.sleep(0.02)
    raise AssertionError(f"child did not start within {timeout_s}s")


def kill_campaign(
    tmp_path: Path,
    argv_for: Any,
    env: dict[str, str],
    *,
    processes: int,
    kills: int,
    seed: int = SEED,
    between: Any = None,
) -> dict[str, Any]:
    """Run ``processes`` children at a time, SIGKILL ``kills`` of them at random moments."""
    rng = random.Random(seed)
    logs: list[Path] = []
    live: list[tuple[subprocess.Popen[bytes], Path]] = []
    count = 0

    def spawn() -> None:
        log = tmp_path / f"returned-{len(logs)}.log"
        logs.append(log)
        # stderr to a file, not a pipe: a chatty child must never block on a full pipe
        with open(log.with_suffix(".stderr"), "wb") as err:
            proc = subprocess.Popen(
                argv_for(str(len(logs)), log), env=env, stdout=subprocess.DEVNULL, stderr=err
            )
        live.append((proc, log))  # not waited for: replacements start while others run

    for _ in range(processes):
        spawn()
    done_kills = 0
    try:
        while done_kills < kills:
            index = rng.randrange(len(live))
            _wait_ready(live[index][1], live[index][0])  # it is capturing...
            time.sleep(rng.uniform(0.05, 0.5))  # ...and dies at a random moment of that
            victim, victim_log = live.pop(index)
            assert victim.poll() is None, f"child died before its kill:\n{_stderr_of(victim_log)}"
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            done_kills += 1
            if between is not None:
                between()
            if done_kills + len(live) < kills:
                spawn()
        count = done_kills
    finally:
        for proc, _ in live:  # whatever is left dies the same way
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                count += 1
            proc.wait()
    return {"logs": logs, "kills": count, "spawned": len(logs)}


def check_store(impact_store_cls: Any, root: Path, returned: list[str]) -> dict[str, int]:
    """Reopen the store as a user would and compare with what the callers saw returned."""
    store = impact_store_cls(root)
    try:
        counts = store.sql("select request_id, count(*) as n from requests group by request_id")
    finally:
        store.close()
    # opening recovered every dead writer's journal: nothing is left for a manual repair
    leftover = (
        sorted(p.name for p in (root / "_journal").glob("*.seg")) if (root / "_journal").exists() else []
    )
    assert not leftover, f"journal segments left after reopening: {leftover[:5]}"
    stored = dict(zip(counts["request_id"], counts["n"], strict=True))
    missing = [rid for rid in returned if rid not in stored]
    duplicated = {rid: n for rid, n in stored.items() if n > 1}
    assert len(set(returned)) == len(returned), "a child logged an id twice (test bug)"
    assert not missing, f"{len(missing)} rows lost after SIGKILL, e.g. {missing[:5]}"
    assert not duplicated, f"{len(duplicated)} rows duplicated, e.g. {list(duplicated.items())[:5]}"
    return {
        "rows_stored": int(sum(stored.values())),
        "rows_lost": len(missing),
        "duplicates": len(duplicated),
        "segments_left": len(leftover),
    }


@pytest.mark.slow
def test_sigkill_store_writers(
    tmp_path: Path,
    impact_store_cls: Any,
    child_cmd: list[str],
    child_env: dict[str, str],
    figures: dict[str, Any],
) -> None:
    root = tmp_path / "store"
    campaign = kill_campaign(
        tmp_path,
        lambda worker, log: [*child_cmd, "store", str(root), str(log), worker],
        child_env,
        processes=3,
        kills=8,
    )
    returned = _logged_ids(campaign["logs"])
    result = check_store(impact_store_cls, root, returned)
    figures.update(
        processes=campaign["spawned"], requests=len(returned), kills=campaign["kills"], seed=SEED, **result
    )
    assert len(returned) > 100, "children wrote too little for the test to mean anything"


@pytest.mark.slow
def test_sigkill_recorder_through_openai_sdk(
    tmp_path: Path,
    impact_store_cls: Any,
    child_cmd: list[str],
    child_env: dict[str, str],
    figures: dict[str, Any],
) -> None:
    need("melious_impact.capture.recorder")
    pytest.importorskip("openai")
    server = need("melious_impact.emulator.server")
    root = tmp_path / "store"
    with server.serve(seed=7) as base_url:
        campaign = kill_campaign(
            tmp_path,
            lambda worker, log: [*child_cmd, "capture", str(root), str(log), worker, base_url, "3"],
            child_env,
            processes=3,
            kills=6,
        )
    returned = _logged_ids(campaign["logs"])
    result = check_store(impact_store_cls, root, returned)
    figures.update(
        processes=campaign["spawned"], requests=len(returned), kills=campaign["kills"], seed=SEED, **result
    )
    assert len(returned) > 20, "children made too few SDK calls for the test to mean anything"


@pytest.mark.slow
def test_sigkill_during_compaction_with_readers(
    tmp_path: Path,
    impact_store_cls: Any,
    child_cmd: list[str],
    child_env: dict[str, str],
    figures: dict[str, Any],
) -> None:
    """Writers converting every 0.2 s, a compactor merging their files, both killed at random
    moments, and a reader querying between kills: no loss, no duplicate, no failed query."""
    root = tmp_path / "store"
    env = {**child_env, "MELIOUS_TEST_FLUSH_S": "0.2"}
    reads: list[int] = []
    duplicates_seen: list[int] = []

    def argv_for(worker: str, log: Path) -> list[str]:
        if int(worker) % 3 == 1:
            return [*child_cmd, "compact", str(root), str(log)]
        return [*child_cmd, "store", str(root), str(log), worker]

    def read() -> None:
        reader = impact_store_cls(root, recover_on_open=False)  # a notebook next to live writers
        try:
            got = reader.sql("select count(*) as n, count(distinct record_id) as d from requests")
            reads.append(int(got["n"][0]))
            duplicates_seen.append(int(got["n"][0] - got["d"][0]))
        finally:
            reader.close()

    campaign = kill_campaign(tmp_path, argv_for, env, processes=3, kills=8, between=read)
    returned = _logged_ids(campaign["logs"])
    compactions = sum(log.read_text().count("#compacted") for log in campaign["logs"] if log.exists())
    result = check_store(impact_store_cls, root, returned)
    figures.update(
        processes=campaign["spawned"],
        requests=len(returned),
        kills=campaign["kills"],
        compaction_passes=compactions,
        reader_queries=len(reads),
        duplicates_seen_by_readers=sum(duplicates_seen),
        seed=SEED,
        **result,
    )
    assert compactions > 0
    assert len(reads) == 8  # one query after every kill of the campaign
    assert sum(duplicates_seen) == 0, f"readers saw rows twice during compaction: {duplicates_seen}"
