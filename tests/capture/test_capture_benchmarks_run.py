"""The capture benchmarks still run (the documented figures are measured with them).

Only that they run and report sane numbers: speed is measured by the benchmarks
themselves, never asserted here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_capture_overhead_quick_run_reports_every_case() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "capture_overhead.py"), "--quick", "--rounds", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    cases = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line.split()[:1]}
    for case in ("chat", "embeddings", "stream"):
        ratio = float(cases[case][3])
        assert 0.5 < ratio < 3.0, cases[case]
    assert "'capture_errors': 0" in out.stdout and "'dropped': 0" in out.stdout
