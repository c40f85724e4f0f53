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
