"""One period convention: the parser's properties, and every reader counting a period's end day."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from melious_impact.periods import Period, parse_bound, period

DAYS = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
NAIVE = st.datetimes(min_value=datetime(1990, 1, 2), max_value=datetime(2100, 12, 30))


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


# -- the parser ------------------------------------------------------------------------


@given(DAYS)
def test_a_date_end_counts_its_whole_day(d: date) -> None:
    p = period(end=d)
    assert p.end == _midnight(d) + timedelta(days=1)
    assert p.contains(datetime.combine(d, time(23, 59, 59, 999_999), tzinfo=UTC))
    assert not p.contains(_midnight(d) + timedelta(days=1))
    assert p.last_day == d
    # The string, the date, and the pandas spelling of a date-only string agree.
    assert period(end=d.isoformat()) == p
    assert period(start=d.isoformat()).start == _midnight(d)


@given(NAIVE, OFFSETS)
def test_a_datetime_end_is_exclusive_and_naive_means_utc(naive: datetime, tz: timezone) -> None:
    aware = naive.replace(tzinfo=tz)
    p = period(end=aware)
    assert p.end == aware.astimezone(UTC)
    assert not p.contains(aware.astimezone(UTC))
    assert p.contains(aware.astimezone(UTC) - timedelta(microseconds=1))
    # Every spelling of the same instant gives the same bound.
    assert period(end=aware.isoformat()) == p
    assert period(end=pd.Timestamp(aware)) == p
    assert period(end=naive) == period(end=naive.replace(tzinfo=UTC))
    assert period(end=np.datetime64(naive.replace(tzinfo=None), "us")) == period(end=naive)


@given(NAIVE, NAIVE, NAIVE)
def test_membership_is_start_included_end_excluded(a: datetime, b: datetime, t: datetime) -> None:
    lo, hi = sorted((a, b))
    if lo == hi:
        with pytest.raises(ValueError, match="period is empty"):
            period(lo, hi)
        return
    p = period(lo, hi)
    assert p.contains(t) == (lo <= t < hi)
    assert bool(p.mask(pd.Series([t]))[0]) == (lo <= t < hi)


@given(DAYS, DAYS)
def test_reversed_ranges_are_errors_and_a_one_day_range_is_not(a: date, b: date) -> None:
    if a > b:
        with pytest.raises(ValueError, match="period is empty"):
            period(a, b)
    else:
        p = period(a, b)  # start == end as dates: that one whole day
        assert p.end is not None and p.start is not None
        assert p.end - p.start == timedelta(days=(b - a).days + 1)


def test_bad_bounds_say_what_to_write() -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        period(end="31/10/2026")
    with pytest.raises(TypeError, match="period bound"):
        period(end=20261031)
    with pytest.raises(ValueError, match="NaT"):
        period(end=pd.NaT)
    assert period() == Period(None, None)
    assert parse_bound(None, end=True) is None
    assert period("2026-10-01", "2026-10-31").label() == "2026-10-01 to 2026-10-31"


# -- every reader counts the end day ---------------------------------------------------

FIRST, LAST = date(2026, 10, 1), date(2026, 10, 31)


def _rows() -> pd.DataFrame:
    """A month of rows (made here, not by the emulator) whose last row is at 23:59 of its
    last day, plus one row just before the start and one at the midnight after the end."""
    from melious_impact.records import COLUMN_NAMES, empty_row

    stamps = [datetime(2026, 9, 30, 23, 59, tzinfo=UTC)]
    stamps += [datetime(2026, 10, d, 9, 30, tzinfo=UTC) for d in range(1, 32)]
    stamps += [datetime(2026, 10, 31, 23, 59, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)]
    rows = []
    for i, at in enumerate(stamps):
        row = empty_row()
        row.update(
            captured_at=at,
            record_id=f"period-{i:04d}",
            endpoint="/v1/chat/completions",
            status_code=200,
            model="glm-4.7",
            provider_id="ovhcloud",
            location="FR",
            team="search",
            input_tokens=100 + i,
            output_tokens=50 + i,
            impact_reported=True,
            energy_kwh=0.001,
            carbon_g_co2=0.05,
            water_liters=0.002,
            renewable_percent=30.0,
            pue=1.2,
            billing_paid_with="credits",
            billing_credits=Decimal("0.01"),
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMN_NAMES))


@pytest.fixture(scope="module")
def month_store(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from melious_impact import ImpactStore

    store = ImpactStore(tmp_path_factory.mktemp("periods-store"))
    store.append(_rows())
    store.flush()
    yield store
    store.close()


IN_PERIOD = 32  # 31 mornings and the 23:59 row of 31 October


def _page_requests(path: Path) -> float:
    m = re.search(r'id="kpi-requests"[^>]*data-value="([^"]*)"', path.read_text(encoding="utf-8"))
    assert m, f"no requests figure in {path.name}"
    return float(m.group(1))


def test_every_reader_counts_the_end_day(
    month_store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    import melious_impact as mi
    from melious_impact import charts
    from melious_impact.charts.source import connect
    from melious_impact.cli import main

    s, e = FIRST.isoformat(), LAST.isoformat()
    counted: dict[str, float] = {}
    # library
    counted["to_pandas"] = len(month_store.to_pandas(start=s, end=e))
    counted["to_pandas(date)"] = len(month_store.to_pandas(start=FIRST, end=LAST))
    counted["to_arrow"] = month_store.to_arrow(start=s, end=e).num_rows
    counted["export"] = month_store.export(tmp_path / "rows.parquet", start=s, end=e)
    counted["export file"] = pq.read_table(tmp_path / "rows.parquet").num_rows
    # charts (their aggregate, and the chart's own data)
    counted["facts view"] = (
        connect(month_store, start=s, end=e).sql("SELECT count(*) FROM facts").fetchall()[0][0]
    )
    series = charts.impact.impact_series(month_store, "requests", start=s, end=e)
    counted["impact_series"] = float(series["value"].sum())
    spec = charts.impact_over_time(month_store, "requests", start=s, end=e).to_dict()
    counted["impact_over_time"] = sum(r["value"] for rows in spec["datasets"].values() for r in rows)
    counted["provider chart"] = float(
        charts.grid.provider_factors(month_store, start=s, end=e)["requests"].sum()
    )
    # report and dashboards
    counted["report"] = _page_requests(
        mi.report(month_store, tmp_path / "r.html", start=s, end=e, render="static")
    )
    counted["dashboard"] = _page_requests(
        mi.dashboard(month_store, tmp_path / "dash", start=s, end=e, render="static")
    )
    counted["dashboard team"] = _page_requests(tmp_path / "dash" / "team-search.html")
    # the command line
    root = str(month_store.root)
    assert main(["export", "--store", root, str(tmp_path / "cli.csv"), "--start", s, "--end", e]) == 0
    counted["cli export"] = len(pd.read_csv(tmp_path / "cli.csv"))
    assert main(["export-focus", "--store", root, str(tmp_path / "focus.csv"), "--start", s, "--end", e]) == 0
    counted["cli export-focus"] = float(re.findall(r"from (\d+) requests", capsys.readouterr().out)[-1])
    assert (
        main(
            ["report", "--store", root, "--out", str(tmp_path / "c.html"), "--from", s, "--to", e, "--static"]
        )
        == 0
    )
    counted["cli report"] = _page_requests(tmp_path / "c.html")
    assert (
        main(
            [
                "dashboard",
                "--store",
                root,
                "--out",
                str(tmp_path / "cd"),
                "--start",
                s,
                "--end",
                e,
                "--static",
            ]
        )
        == 0
    )
    counted["cli dashboard"] = _page_requests(tmp_path / "cd" / "index.html")

    assert counted == dict.fromkeys(counted, IN_PERIOD)


def test_an_instant_end_is_exclusive_for_every_reader(month_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import melious_impact as mi
    from melious_impact import charts

    end = "2026-10-31T23:59:00+00:00"  # excludes the 23:59 row and everything after
    assert len(month_store.to_pandas(start=FIRST, end=end)) == IN_PERIOD - 1
    series = charts.impact.impact_series(month_store, "requests", start=FIRST, end=end)
    assert series["value"].sum() == IN_PERIOD - 1
    page = mi.report(month_store, tmp_path / "r.html", start=FIRST, end=end, render="static")
    assert _page_requests(page) == IN_PERIOD - 1
