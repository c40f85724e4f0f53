"""Daily sums from UTC buckets (one time-zone conversion per bucket, not per row) are the
sums of the local days computed row by row: the same days, groups, counts and exact
decimals; for UTC the same floats to the last bit, for other zones to the last place or two
(the buckets' sums are added)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import melious_impact as mi
from melious_impact.forecasting import daily
from melious_impact.forecasting.daily import METRICS, bucket_seconds, daily_totals

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
FLOATS = ("energy_kwh", "carbon_g_co2", "water_liters", "input_tokens", "output_tokens", "requests")


def row_by_row(data: Any, metrics: list[str], by: str | None, tz: str, counts: bool) -> pd.DataFrame:
    """daily_totals with every row's instant converted to its local date (no buckets)."""
    original = daily.bucket_seconds
    daily.bucket_seconds = lambda tz: None  # type: ignore[assignment,return-value]
    try:
        return daily_totals(data, metrics, by=by, tz=tz, counts=counts)
    finally:
        daily.bucket_seconds = original


def assert_same(got: pd.DataFrame, want: pd.DataFrame, *, bitwise: bool) -> None:
    assert list(got.columns) == list(want.columns)
    assert got["date"].tolist() == want["date"].tolist()
    assert got.iloc[:, 1].tolist() == want.iloc[:, 1].tolist()
    for c in got.columns[2:]:
        if c == "cost_eur":
            assert got[c].tolist() == want[c].tolist()  # Decimal: exact
        elif c == "requests" or c.startswith("n_") or bitwise:
            np.testing.assert_array_equal(got[c].to_numpy(float), want[c].to_numpy(float))
        else:
            np.testing.assert_allclose(got[c].to_numpy(float), want[c].to_numpy(float), rtol=1e-15, atol=0)


def test_bucket_sizes_follow_the_zones_offsets() -> None:
    assert bucket_seconds("UTC") == 86_400
    assert bucket_seconds("Europe/Paris") == 3600  # +1 h and +2 h
    assert bucket_seconds("America/St_Johns") == 900  # -3:30 and -2:30
    assert bucket_seconds("Asia/Kathmandu") == 900  # +5:45


@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris", "America/Los_Angeles", "Asia/Kathmandu"])
@pytest.mark.parametrize("by", ["team", "model", "stream", None])
def test_the_sample_stores_days_from_buckets_and_row_by_row(tz: str, by: str | None) -> None:
    store = mi.ImpactStore(str(SAMPLE))
    metrics = list(METRICS)
    got = daily_totals(store, metrics, by=by, tz=tz, counts=True)
    assert len(got) > 20
    assert_same(got, row_by_row(store, metrics, by, tz, True), bitwise=tz == "UTC")


def test_instants_before_1970_fall_on_their_own_day() -> None:
    # integer division truncates towards zero: the bucket of a negative instant is floored
    df = pd.DataFrame(
        {
            "captured_at": pd.to_datetime(["1969-12-31 23:30:00+00:00", "1970-01-01 00:30:00+00:00"]),
            "team": ["a", "a"],
            "carbon_g_co2": [2.0, 3.0],
        }
    )
    got = daily_totals(df, ["carbon_g_co2"], tz="UTC")
    assert got["date"].tolist() == [pd.Timestamp("1969-12-31"), pd.Timestamp("1970-01-01")]
    assert got["carbon_g_co2"].tolist() == [2.0, 3.0]


def test_an_offset_off_the_buckets_is_dated_row_by_row() -> None:
    # Monrovia was 44 min 30 s behind UTC until 1972 (at UTC since): the UTC day of June
    # 1st 1971 holds local hours of May 31st and of June 1st
    df = pd.DataFrame(
        {
            "captured_at": pd.to_datetime(
                ["1971-06-01 00:30:00+00:00", "1971-06-01 12:00:00+00:00", "2025-06-01 00:30:00+00:00"]
            ),
            "team": ["a", "a", "a"],
            "carbon_g_co2": [2.0, 3.0, 5.0],
        }
    )
    assert bucket_seconds("Africa/Monrovia") == 86_400
    got = daily_totals(df, ["carbon_g_co2"], tz="Africa/Monrovia")
    days = ["1971-05-31", "1971-06-01", "2025-06-01"]
    assert got["date"].tolist() == [pd.Timestamp(d) for d in days]
    assert got["carbon_g_co2"].tolist() == [2.0, 3.0, 5.0]


_ROW = st.fixed_dictionaries(
    {
        # five days across a spring DST change, in seconds, and a few before 1970
        "second": st.one_of(
            st.integers(0, 5 * 86_400), st.integers(-2 * 86_400, 0).map(lambda s: s - 1_800_000_000)
        ),
        "team": st.sampled_from([None, "", "search", "ads"]),
        "carbon_g_co2": st.one_of(st.none(), st.floats(0, 1e4, allow_nan=False)),
        "billing_paid_with": st.sampled_from([None, "credits", "energy"]),
        "billing_credits": st.one_of(
            st.none(),
            st.decimals(min_value=0, max_value=100, places=18, allow_nan=False, allow_infinity=False),
        ),
        "billing_energy": st.one_of(
            st.none(),
            st.decimals(min_value=0, max_value=10**4, places=14, allow_nan=False, allow_infinity=False),
        ),
    }
)
_ZONES = [
    "UTC",
    "Europe/Paris",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Africa/Monrovia",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_ROW, min_size=1, max_size=80), tz=st.sampled_from(_ZONES))
def test_generated_rows_from_buckets_and_row_by_row(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, Any]], tz: str
) -> None:
    df = pd.DataFrame(rows)
    # 2025-03-28 00:00 UTC: the days around Europe's and Lord Howe's clock changes
    df["captured_at"] = pd.Timestamp("2025-03-28", tz="UTC") + pd.to_timedelta(df.pop("second"), unit="s")
    df["record_id"] = [f"r{i}" for i in range(len(df))]
    df["carbon_g_co2"] = df["carbon_g_co2"].astype(float)
    metrics = ["carbon_g_co2", "requests", "cost_eur"]
    assert_same(
        daily_totals(df, metrics, tz=tz, counts=True),
        row_by_row(df, metrics, "team", tz, True),
        bitwise=tz == "UTC",
    )
    store = mi.ImpactStore(str(tmp_path_factory.mktemp("store")))
    store.append(df)
    assert_same(
        daily_totals(store, metrics, tz=tz, counts=True),
        row_by_row(store, metrics, "team", tz, True),
        bitwise=tz == "UTC",
    )
    store.close()


def test_costs_sum_exactly_across_buckets() -> None:
    # two quarter-hours of one Kathmandu day, amounts that floats would round
    df = pd.DataFrame(
        {
            "captured_at": pd.to_datetime(["2025-05-01 03:00:00+00:00", "2025-05-01 03:20:00+00:00"]),
            "team": ["a", "a"],
            "billing_paid_with": ["credits", "credits"],
            "billing_credits": [Decimal("0.100000000000000001"), Decimal("0.200000000000000002")],
            "billing_energy": [None, None],
        }
    )
    got = daily_totals(df, ["cost_eur"], tz="Asia/Kathmandu")
    assert got["cost_eur"].tolist() == [Decimal("0.300000000000000003")]
