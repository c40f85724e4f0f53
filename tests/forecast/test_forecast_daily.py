"""Daily totals: calendar days in the user's time zone, exact money, additive metrics."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from melious_impact.forecasting.daily import UNTAGGED, daily_totals, series_matrix


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            # 23:30 UTC on Jan 1 is 00:30 on Jan 2 in Paris.
            "captured_at": pd.to_datetime(
                ["2025-01-01T10:00Z", "2025-01-01T23:30Z", "2025-01-03T12:00Z"], utc=True
            ),
            "team": ["search", "search", None],
            "energy_kwh": [0.5, 0.25, 1.0],
            "input_tokens": [10, 20, 30],
            "billing_paid_with": ["credits", "energy", "credits"],
            "billing_credits": [Decimal("0.100000000000000001"), Decimal("9"), Decimal("0.2")],
            "billing_energy": [Decimal("5"), Decimal("3"), Decimal("0")],
        }
    )


def test_days_follow_the_time_zone() -> None:
    utc = daily_totals(_rows(), ["energy_kwh", "requests"], tz="UTC")
    paris = daily_totals(_rows(), ["energy_kwh", "requests"], tz="Europe/Paris")
    assert utc[utc.team == "search"]["requests"].tolist() == [2.0]
    assert paris[paris.team == "search"]["date"].dt.strftime("%m-%d").tolist() == ["01-01", "01-02"]
    assert paris["energy_kwh"].sum() == pytest.approx(1.75)


def test_cost_sums_stay_exact_and_untagged_rows_are_labelled() -> None:
    t = daily_totals(_rows(), ["cost_eur", "input_tokens"], tz="UTC")
    search = t[t.team == "search"]["cost_eur"].iloc[0]
    assert search == Decimal("0.100000000000000001") + Decimal("3") * Decimal("0.0001")
    assert isinstance(search, Decimal)
    assert UNTAGGED in set(t.team)
    everything = daily_totals(_rows(), ["input_tokens"], by=None)
    assert everything["group"].unique().tolist() == ["all"] and everything["input_tokens"].sum() == 60


def test_gaps_inside_a_history_are_zero_days() -> None:
    t = daily_totals(_rows(), ["energy_kwh"])
    series = series_matrix(t, "energy_kwh", "team")
    assert series["search"].tolist() == [0.75, 0.0, 0.0]  # runs to the last day of any team
    assert series[UNTAGGED].tolist() == [1.0]  # starts on its own first day


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        daily_totals(_rows(), ["dollars"])
    with pytest.raises(ValueError, match="time zone"):
        daily_totals(_rows(), ["energy_kwh"], tz="Mars/Olympus")
    with pytest.raises(ValueError, match="group by"):
        daily_totals(_rows(), ["energy_kwh"], by="squad")
    with pytest.raises(TypeError, match="DataFrame"):
        daily_totals([1, 2], ["energy_kwh"])
    empty = daily_totals(_rows().iloc[:0], ["energy_kwh"])
    assert list(empty.columns) == ["date", "team", "energy_kwh"] and len(empty) == 0
