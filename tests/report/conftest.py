"""Fixtures for report and dashboard tests: emulator data and a real store."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from report_helpers import START, errors_only_rows, stored

from melious_impact import ImpactStore
from melious_impact.emulator.simulate import simulate_requests
from melious_impact.records import COLUMN_NAMES


@pytest.fixture(scope="session")
def sim() -> pd.DataFrame:
    """42 days of emulator traffic plus a team ("ops") with only errors."""
    df = simulate_requests(6000, days=42, seed=3, start=START)
    df = df[list(COLUMN_NAMES)]
    ops = errors_only_rows("ops", 30)
    out = pd.concat([df, ops.astype({c: df[c].dtype for c in ("captured_at",)})], ignore_index=True)
    return out.sort_values("captured_at").reset_index(drop=True)


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory, sim: pd.DataFrame) -> ImpactStore:
    return stored(sim, tmp_path_factory.mktemp("store"))
