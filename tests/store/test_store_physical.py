"""Values that make no physical sense are rejected on the row, whichever way it comes in."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import melious_impact as mi


def test_unphysical_values_become_null_with_a_warning(tmp_path: Path) -> None:
    store = mi.ImpactStore(tmp_path / "s")
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"captured_at":"2026-03-01T10:00:00Z","team":"imp","energy_kwh":-5,'
        '"billing_credits":-1,"input_tokens":-3,"pue":0.5}\n'
    )
    assert store.import_file(src) == 1
    store.append([{"team": "app", "energy_kwh": -5.0, "carbon_g_co2": math.inf, "billing_credits": "-3"}])
    store.writer().write(
        {
            "team": "wr",
            "energy_kwh": math.nan,
            "water_liters": math.inf,
            "billing_energy": Decimal("-3"),
            "input_tokens": -4,
            "renewable_percent": 140.0,
            "carbon_g_co2": 0.25,  # a good value on a bad row stays
        }
    )
    store.flush()
    df = store.to_pandas().set_index("team")
    for col in ("energy_kwh", "water_liters", "billing_energy", "billing_credits", "input_tokens", "pue"):
        assert df[col].isna().all(), col
    assert df.loc["wr", "carbon_g_co2"] == 0.25
    assert "invalid_energy_kwh" in df.loc["imp", "parse_warnings"]
    assert "invalid_renewable_percent" in df.loc["wr", "parse_warnings"]
    assert "invalid_carbon_g_co2" in df.loc["app", "parse_warnings"]
    total = store.sql("select sum(carbon_g_co2) as c from requests")["c"].iloc[0]
    assert math.isfinite(total)
    store.close()
