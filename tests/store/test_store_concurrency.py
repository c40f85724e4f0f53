"""Several processes x threads capturing into one folder: exact counts, no duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_support import child

from melious_impact.store.impact_store import ImpactStore


@pytest.mark.slow
def test_four_processes_two_threads_exact_counts(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    procs, threads, n = 4, 2, 3000
    ps = [child("worker", root, n, threads, f"p{p}") for p in range(procs)]
    for p in ps:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "Traceback" not in err
    store = ImpactStore(root)
    ids = store.sql("SELECT request_id FROM requests")["request_id"]
    assert len(ids) == procs * threads * n
    assert ids.is_unique
    assert set(ids) == {f"p{p}-{t}-{i}" for p in range(procs) for t in range(threads) for i in range(n)}
    assert not list((root / "_journal").glob("*.seg"))
    store.close()
