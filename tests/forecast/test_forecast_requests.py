"""Forecasts and budgets of the ``requests`` metric: daily request counts per team, counted in
DuckDB (per team and UTC bucket, then per local day), are the counts of the rows, over a
store and over the same rows as a frame, in UTC and in zones whose days start off the UTC
hour (half-hour and 45-minute offsets, summer time changes).

The rows come from a generator of this file: bursts around local midnights and around the
summer-time changes of 2026, teams that start late or stop early, empty team names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

import melious_impact as mi
from melious_impact.forecasting.daily import UNTAGGED, daily_totals, local_dates
from melious_impact.records import empty_row

ZONES = ["UTC", "Europe/Paris", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"]
#: The summer-time changes of 2026 in Europe and North America, and some local midnights.
_EDGES = [
    datetime(2026, 3, 8, 5, 30, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 2, 14, 18, 30, tzinfo=UTC),  # midnight in Kolkata
    datetime(2026, 2, 14, 18, 15, tzinfo=UTC),  # midnight in Kathmandu
    datetime(2026, 2, 14, 23, 0, tzinfo=UTC),  # midnight in Paris (winter)
]


def request_rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    first = datetime(2026, 1, 5, tzinfo=UTC)
    days = 90
    rows = []
    for i in range(n):
        team = ["search", "ads", "late", "early", "", None][int(rng.integers(6))]
        if i % 7 == 0:  # a burst within a minute of an edge, on either side
            at = _EDGES[i % len(_EDGES)] + timedelta(seconds=float(rng.uniform(-60, 60)))
        else:
            at = first + timedelta(days=float(rng.random() * days))
        if team == "late" and at < first + timedelta(days=40):
            at += timedelta(days=40)
        if team == "early" and at > first + timedelta(days=30):
            at -= timedelta(days=30)
        row = empty_row()
        row.update(
            captured_at=at,
            team=team,
            model="glm-4.7",
            input_tokens=int(rng.integers(1, 900)),
            output_tokens=int(rng.integers(0, 300)),
            record_id=f"{seed:04x}{i:028x}",
        )
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def requests_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = mi.ImpactStore(str(tmp_path_factory.mktemp("requests")))
    store.append(request_rows(2500, seed=23))
    store.flush()
    yield store
    store.close()


def counted_by_hand(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Rows per (team, local date), counted in pandas."""
    team = frame["team"].astype(object)
    work = pd.DataFrame(
        {
            "team": team.where(team.notna() & (team.astype(str) != ""), UNTAGGED).astype(str),
            "date": local_dates(frame["captured_at"], tz),
        }
    )
    counts = work.groupby(["team", "date"], sort=True).size().rename("requests").astype(float)
    return counts.reset_index()[["date", "team", "requests"]]


@pytest.mark.parametrize("tz", ZONES)
def test_daily_request_counts_of_a_store_and_a_frame(requests_store: Any, tz: str) -> None:
    frame = requests_store.to_pandas()
    want = counted_by_hand(frame, tz)
    for source in (requests_store, frame):
        got = daily_totals(source, ["requests"], by="team", tz=tz)
        assert got["date"].tolist() == want["date"].tolist()
        assert got["team"].tolist() == want["team"].tolist()
        assert got["requests"].tolist() == want["requests"].tolist()  # whole numbers, exactly
    assert want["requests"].sum() == len(frame)


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kathmandu", "America/St_Johns"])
def test_forecast_and_budgets_of_requests_are_those_of_the_frame(requests_store: Any, tz: str) -> None:
    frame = requests_store.to_pandas()
    kw = {"metric": "requests", "by": "team", "horizon_days": 14, "tz": tz}
    got, want = mi.forecast(requests_store, **kw), mi.forecast(frame, **kw)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9)
    assert got.attrs["backtest"].keys() == want.attrs["backtest"].keys()
    budgets = {"search": {"requests": 300}, "late": {"requests": 50}, "early": {"requests": 10}}
    for as_of in ("2026-02-14", "2026-03-29"):
        a = mi.budget_status(requests_store, budgets, as_of=as_of, tz=tz)
        b = mi.budget_status(frame, budgets, as_of=as_of, tz=tz)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
        counts = counted_by_hand(frame, tz)
        day = pd.Timestamp(as_of)
        for team in budgets:
            sel = counts[
                (counts["team"] == team) & (counts["date"] >= day.replace(day=1)) & (counts["date"] <= day)
            ]
            spent = a.loc[a["team"] == team, "spent"].iloc[0]
            assert spent == float(sel["requests"].sum())
            assert a.loc[a["team"] == team, "spent_covered_percent"].iloc[0] == 100.0


def test_request_counts_of_a_period_read_only_its_rows(requests_store: Any) -> None:
    frame = requests_store.to_pandas()
    start, end = "2026-02-14T18:30Z", "2026-03-29T01:00Z"
    got = daily_totals(requests_store, ["requests"], tz="Asia/Kolkata", start=start, end=end)
    inside = frame[(frame["captured_at"] >= pd.Timestamp(start)) & (frame["captured_at"] < pd.Timestamp(end))]
    want = counted_by_hand(inside, "Asia/Kolkata")
    assert got["requests"].tolist() == want["requests"].tolist()
    assert got["date"].tolist() == want["date"].tolist()


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
def test_an_end_reads_the_history_as_it_stood_then(requests_store: Any, tz: str) -> None:
    """``end=`` over a store gives the answers of the rows captured before it, as a frame."""
    frame = requests_store.to_pandas()
    end = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)
    before = frame[frame["captured_at"] < pd.Timestamp(end)].reset_index(drop=True)
    kw = {"metric": "requests", "by": "team", "horizon_days": 10, "tz": tz}
    got = mi.forecast(requests_store, end=end, **kw)
    pd.testing.assert_frame_equal(got, mi.forecast(before, **kw), check_exact=False, rtol=1e-9)
    assert got["date"].min() > pd.Timestamp("2026-02-28")
    assert got["date"].min() < pd.Timestamp("2026-03-03")
    budgets = {"search": {"requests": 300, "input_tokens": 10**5}, "late": {"requests": 50}}
    for as_of in (None, "2026-02-20"):
        a = mi.budget_status(requests_store, budgets, as_of=as_of, tz=tz, end=end)
        b = mi.budget_status(before, budgets, as_of=as_of, tz=tz)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    assert a["as_of"].iloc[0] == pd.Timestamp("2026-02-20")


def test_daily_rows_of_a_report_count_the_requests_they_stand_for(requests_store: Any) -> None:
    """Reports and dashboards hand forecasts and budgets one pre-summed row per (UTC day,
    team), never the requests: each stands for ``n_requests`` of them, also when the metric
    is the request count itself (a summed row counted once would be a wrong number that
    looks right)."""
    from melious_impact.charts.source import Cube, connect
    from melious_impact.reporting._aggregate import daily_rows

    frame = requests_store.to_pandas()
    lo, hi = datetime(2026, 1, 20, tzinfo=UTC), datetime(2026, 3, 20, 7, tzinfo=UTC)
    daily = daily_rows(connect(Cube(requests_store, lo, hi), end=hi))
    assert len(daily) < len(frame) / 5  # summed, not the rows
    before = frame[frame["captured_at"] < pd.Timestamp(hi)].reset_index(drop=True)
    got = daily_totals(daily, ["requests", "input_tokens"], by="team")
    want = daily_totals(before, ["requests", "input_tokens"], by="team")
    pd.testing.assert_frame_equal(got, want)
    kw = {"metric": "requests", "by": "team", "horizon_days": 14}
    pd.testing.assert_frame_equal(
        mi.forecast(daily, **kw), mi.forecast(before, **kw), check_exact=False, rtol=1e-9
    )
    budgets = {"search": {"requests": 300}, "late": {"requests": 50, "output_tokens": 9000}}
    for as_of in ("2026-02-14", "2026-03-19"):
        a = mi.budget_status(daily, budgets, as_of=as_of)
        b = mi.budget_status(before, budgets, as_of=as_of)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


def test_cost_totals_of_pre_summed_rows_count_the_requests_they_stand_for(requests_store: Any) -> None:
    """Exact cost totals from one row per (day, team) with its counts equal those of the rows;
    pre-summed rows that do not say how many of their requests carry a cost are refused."""
    from melious_impact.forecasting.costs import cost_totals

    frame = requests_store.to_pandas()
    rng = np.random.default_rng(5)
    billed = rng.random(len(frame)) < 0.8  # a fifth of the requests without a usable amount
    frame["billing_paid_with"] = np.where(billed, "credits", None)
    frame["billing_credits"] = [
        Decimal(int(v)) / Decimal(10**9) if b else None
        for v, b in zip(rng.integers(1, 10**6, len(frame)), billed, strict=True)
    ]
    daily = daily_totals(frame, ["cost_eur"], by="team", counts=True)
    assert len(daily) < len(frame) / 5 and {"n_requests", "n_cost_eur"} <= set(daily.columns)
    daily["captured_at"] = pd.to_datetime(daily["date"]).dt.tz_localize("UTC")
    want = cost_totals(frame, "team")
    got = cost_totals(daily, "team")
    pd.testing.assert_frame_equal(got, want)
    assert int(got["requests"].sum()) == len(frame)
    assert int(got["unbilled_requests"].sum()) == int((~billed).sum())
    with pytest.raises(ValueError, match="n_cost_eur"):
        cost_totals(daily.drop(columns="n_cost_eur"), "team")
