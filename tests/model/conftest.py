"""Fixtures for the model tests: emulator data with known truth, and a fitted model."""

from __future__ import annotations

import pandas as pd
import pytest

import melious_impact as mi
from melious_impact.model.fit import IntensityModel


@pytest.fixture(scope="session")
def emu_df() -> pd.DataFrame:
    from melious_impact.emulator.simulate import simulate_requests

    return simulate_requests(days=90, seed=1)


@pytest.fixture(scope="session")
def emu_model(emu_df: pd.DataFrame) -> IntensityModel:
    return mi.fit_intensity(emu_df)


@pytest.fixture(scope="session")
def small_df() -> pd.DataFrame:
    from model_synth import simulate

    return simulate(6_000, seed=3)


@pytest.fixture(scope="session")
def small_model(small_df: pd.DataFrame) -> IntensityModel:
    return mi.fit_intensity(small_df)
