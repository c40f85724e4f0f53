"""`melious-impact intensity`."""

from __future__ import annotations

import io
import math
from contextlib import redirect_stdout

import pandas as pd

from melious_impact.cli import build_parser, main
from melious_impact.records import COLUMN_NAMES


def _store(tmp_path, df):
    from melious_impact.store.impact_store import ImpactStore

    frame = df.copy()
    for c in COLUMN_NAMES:
        if c not in frame.columns:
            frame[c] = None
    frame["tags"], frame["parse_warnings"], frame["source"], frame["schema_version"] = "{}", "", "import", 1
    store = ImpactStore(tmp_path / "s")
    store.append(frame[list(COLUMN_NAMES)])
    store.close()
    return tmp_path / "s"


def test_intensity_csv_and_text(tmp_path, small_df):
    root = _store(tmp_path, small_df.iloc[:2000])
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["intensity", "--store", str(root), "--csv"]) == 0
    table = pd.read_csv(io.StringIO(out.getvalue()))
    assert {"kwh_per_1k_output", "basis", "factor_version"} <= set(table.columns)
    assert table["n_requests"].sum() == 2000
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["intensity", "--store", str(root), "--cleanest-hours", "2"]) == 0
    assert "Hour (UTC)" in out.getvalue() and "glm-4.7" in out.getvalue()


def test_intensity_empty_store_is_a_clear_error(tmp_path, capsys):
    from melious_impact import ImpactStore

    ImpactStore(tmp_path / "empty").close()  # exists, holds no rows
    assert main(["intensity", "--store", str(tmp_path / "empty")]) == 1
    assert "nothing to fit" in capsys.readouterr().err


def test_every_option_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    p = sub.choices["intensity"]
    for action in p._actions:
        assert action.help, action.dest


def test_scenario_prints_covered_totals_with_their_share(tmp_path):
    """Emulator traffic holds speech requests of no known size: the full totals are missing,
    and the command prints the totals over the covered requests with their share."""
    from melious_impact.emulator.simulate import simulate_requests

    df = simulate_requests(2500, days=12, seed=2)
    unknown = int(df["model"].eq("tts-1").sum())
    assert unknown > 0
    root = _store(tmp_path, df)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["scenario", "--store", str(root), "--clean-hours"]) == 0
    text = out.getvalue()
    assert "shifted to the cleanest hour" in text
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["scenario", "--store", str(root), "--clean-hours", "--csv"]) == 0
    table = pd.read_csv(io.StringIO(out.getvalue())).set_index("metric")
    carbon = table.loc["carbon_g_co2"]
    assert pd.isna(carbon["baseline"]) and carbon["baseline_covered"] > 0
    missing = int(carbon["requests"] - carbon["covered_requests"])
    assert missing >= unknown  # speech at least; the model says which others it cannot estimate
    assert f"{missing:,} requests" in text and "Without an estimate" in text
    assert f"over {math.floor(1000 * carbon['covered_share']) / 10:.1f}%" in text
