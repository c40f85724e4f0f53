"""The demo end to end: real SDKs -> emulator -> recorder -> store, then the summary."""

from __future__ import annotations

from pathlib import Path

import pytest

import melious_impact as mi
from melious_impact.cli import demo as demo_mod
from melious_impact.cli import main


@pytest.mark.slow
def test_demo_small_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_dir = tmp_path / "store"
    assert (
        main(
            [
                "demo",
                "--store",
                str(store_dir),
                "--days",
                "6",
                "--seed",
                "3",
                "--end",
                "2026-06-30",
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Per team" in out and "Captured" in out
    store = mi.ImpactStore(store_dir)
    df = store.to_pandas()
    assert len(df) > 100
    assert set(df["team"].dropna()) >= {"search", "support", "ads", "research", "platform"}
    assert (df["source"] == "batch").sum() >= 35  # the nightly batch, one row per output line
    assert df["captured_at"].min().date().isoformat() == "2026-06-25"
    assert df["captured_at"].max().date().isoformat() == "2026-06-30"
    assert {"/v1/chat/completions", "/v1/messages", "/v1/embeddings"} <= set(df["endpoint"])
    assert df["stream"].any() and df["impact_reported"].mean() > 0.8
    store.close()


def test_steps_are_appendable() -> None:
    names = [s.__name__ for s in demo_mod.STEPS]
    assert names[0] == "setup" and names[-1] == "close" and "summary" in names


def test_demo_scenario_shows_covered_totals_with_their_share(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Emulator traffic has speech requests of no known size: the full totals are missing,
    and the demo prints the covered ones with the share of requests they cover."""
    from datetime import UTC, datetime

    from melious_impact.emulator.simulate import simulate_requests

    df = simulate_requests(3000, days=20, seed=5)
    assert (df["model"] == "tts-1").any()
    ctx = demo_mod.DemoContext(
        store_path=tmp_path, days=20, seed=5, requests_per_day=150.0, start=datetime(2026, 1, 1, tzinfo=UTC)
    )
    ctx.results["frame"] = df
    demo_mod.intensity(ctx)
    out = capsys.readouterr().out
    scen = ctx.results["scenario"].set_index("metric")
    carbon = scen.loc["carbon_g_co2"]
    assert carbon["baseline"] != carbon["baseline"]  # NaN: the documented invariant
    missing = int(carbon["requests"] - carbon["covered_requests"])
    assert missing == int(df["model"].eq("tts-1").sum())
    assert f"{missing:,} without an estimate" in out and "carbon " in out.split("As run, over")[1]
    assert "% of requests" in out.split("Scenario:")[1]


def test_demo_total_says_what_it_covers() -> None:
    import pandas as pd

    df = pd.DataFrame(
        {
            "energy_kwh": [1.0, 2.0, None, 1.0],
            "carbon_g_co2": [5.0, None, None, 1.0],
            "water_liters": [0.1, 0.2, None, 0.1],
            "cost_eur": [1, 2, 3, None],
        }
    )
    text = demo_mod._total_coverage(df)
    assert "energy covers 75.0% (1 without it)" in text
    assert "carbon covers 50.0% (2 without it)" in text
    assert "cost covers 75.0% (1 without a billed cost)" in text
