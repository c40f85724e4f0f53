"""anomalies(): injected faults are found with the right reason; clean data stays quiet."""

from __future__ import annotations

import pandas as pd

import melious_impact as mi


def test_injected_anomalies_found_with_reasons(small_df, small_model):
    df = small_df.copy()
    # a PUE change reported consistently (energy follows the new PUE)
    df.loc[10, "energy_kwh"] *= 1.45 / df.loc[10, "pue"]
    df.loc[10, "pue"] = 1.45
    # energy per token drift: +25% with the same PUE
    for c in ("energy_kwh", "carbon_g_co2", "water_liters"):
        df.loc[20, c] *= 1.25
    # grid intensity outlier: carbon doubled
    df.loc[30, "carbon_g_co2"] *= 2
    a = small_model.anomalies(df)
    reasons = a.set_index(a.index)["reason"].to_dict()
    assert reasons[10] == "pue_change"
    assert reasons[20] == "energy_per_token_drift"
    assert reasons[30] == "grid_intensity_outlier"
    assert (a["score"] > 5).all()
    assert a["score"].is_monotonic_decreasing


def test_clean_data_has_few_false_alarms(emu_df, emu_model):
    a = emu_model.anomalies(emu_df)
    assert len(a) <= 0.001 * emu_df["impact_reported"].sum()


def test_anomalies_edge_cases(small_model):
    assert len(small_model.anomalies(pd.DataFrame())) == 0
    assert list(small_model.anomalies(pd.DataFrame({"model": []})).columns)[-4:] == [
        "reason",
        "score",
        "expected",
        "observed",
    ]


def test_fit_is_robust_to_the_odd_corrupted_row(small_df):
    df = small_df.copy()
    df.loc[:4, "energy_kwh"] *= 100
    m = mi.fit_intensity(df)
    clean = mi.fit_intensity(small_df)
    a, b = m.table(), clean.table()
    assert (abs(a["kwh_per_1k_output"] / b["kwh_per_1k_output"] - 1) < 0.01).all()
