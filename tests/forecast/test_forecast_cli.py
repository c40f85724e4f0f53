"""melious-impact forecast / budgets against a real store on disk."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from melious_impact.cli import main
from melious_impact.records import empty_row


@pytest.fixture
def store_dir(tmp_path: Path, synth: Callable[..., np.ndarray]) -> Path:
    from melious_impact import ImpactStore

    rows = []
    for team, seed in (("search", 1), ("ads", 2)):
        values = synth(seed, 60) / 100  # euros a day
        for day, value in zip(pd.date_range("2025-01-01T12:00Z", periods=60, freq="D"), values, strict=True):
            row = empty_row()
            row.update(
                captured_at=day.to_pydatetime(),
                record_id=uuid.uuid4().hex,
                team=team,
                model="glm-4.7",
                input_tokens=1000,
                output_tokens=200,
                carbon_g_co2=float(value) * 10,
                billing_paid_with="credits",
                billing_credits=Decimal(f"{value:.6f}"),
                billing_energy=Decimal("0"),
            )
            rows.append(row)
    store = ImpactStore(tmp_path / "store")
    store.append(rows)
    store.close()
    return tmp_path / "store"


def test_forecast_command(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["forecast", "--store", str(store_dir), "--metric", "cost_eur", "--by", "team", "--horizon", "7"]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Date", "Team", "Expected", "Low", "High", "Method", "Note"]
    assert len(lines) == 1 + 2 * 7 and lines[1].startswith("2025-03-02")
    assert main(["forecast", "--store", str(store_dir), "--metric", "carbon_g_co2", "--total"]) == 0
    out = capsys.readouterr().out
    assert "ads" in out and "search" in out


def test_budgets_command(store_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    budgets = tmp_path / "budgets.toml"
    budgets.write_text("[search]\ncost_eur = 1\ncarbon_g_co2 = 1e9\n")
    assert main(["budgets", "--store", str(store_dir), "--budgets", str(budgets)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("period 2025-03-01 to 2025-03-31, as of 2025-03-01")
    assert "Cost" in out and "Carbon" in out and "cost_eur" not in out
    budgets.write_text("[search]\ndollars = 1\n")
    assert main(["budgets", "--store", str(store_dir), "--budgets", str(budgets)]) == 1
    assert "unknown metric 'dollars'" in capsys.readouterr().err


def test_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from melious_impact import ImpactStore

    ImpactStore(tmp_path / "empty").close()  # a store with no rows yet (a missing one is an error)
    assert main(["forecast", "--store", str(tmp_path / "empty")]) == 0
    assert "nothing to forecast" in capsys.readouterr().out
