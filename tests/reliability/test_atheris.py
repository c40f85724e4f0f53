"""Runs the atheris harness briefly (fixed seed) when atheris is installed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HARNESS = Path(__file__).with_name("fuzz_atheris.py")
RUNS = 20_000


def test_atheris_parsers_briefly(tmp_path: Path, child_env: dict[str, str], figures: dict[str, Any]) -> None:
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")
    corpus = tmp_path / "corpus"
    corpus.mkdir()  # the harness seeds an empty corpus itself
    done = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            f"-runs={RUNS}",
            "-seed=1",
            "-max_len=8192",
            "-max_total_time=60",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        env=child_env,
        capture_output=True,
        timeout=180,
    )
    log = done.stderr.decode(errors="replace")
    executed = re.findall(r"#(\d+)\s+(?:DONE|INITED|NEW|pulse|REDUCE)", log)
    figures.update(inputs_fuzzed=int(executed[-1]) if executed else 0, engine="atheris", seed=1)
    assert done.returncode == 0, log[-4000:]
