"""``ImpactStore.connect(start, end)``: the rows of a period, read from its partitions only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from melious_impact.records import empty_row
from melious_impact.store.impact_store import ImpactStore

# two rows on each side of every midnight from 1 to 4 March, and two far-away days
EDGES = [
    datetime(2026, 2, 20, 12, 0, tzinfo=UTC),
    *(
        datetime(2026, 3, day, tzinfo=UTC) + shift
        for day in (1, 2, 3, 4)
        for shift in (timedelta(0), timedelta(days=1, microseconds=-1))
    ),
    datetime(2026, 3, 20, 12, 0, tzinfo=UTC),
]


def _row(i: int, when: datetime) -> dict[str, object]:
    row = empty_row()
    row.update(captured_at=when, record_id=f"{i:032x}", request_id=f"r{i}", model="m", team="t")
    return row


@pytest.fixture
def filled(store: ImpactStore) -> Iterator[ImpactStore]:
    store.append([_row(i, when) for i, when in enumerate(EDGES)])
    yield store


def _ids(store: ImpactStore, start: object = None, end: object = None) -> list[str]:
    con = store.connect(start, end)  # type: ignore[arg-type]
    try:
        return [r[0] for r in con.sql("SELECT request_id FROM requests ORDER BY captured_at").fetchall()]
    finally:
        con.close()


def _expected(start: datetime | None, end: datetime | None) -> list[str]:
    return [
        f"r{i}"
        for i, when in enumerate(EDGES)
        if (start is None or when >= start) and (end is None or when < end)
    ]


def test_a_date_end_counts_its_whole_day(filled: ImpactStore) -> None:
    ids = _ids(filled, "2026-03-02", "2026-03-03")
    assert ids == _expected(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC))
    assert len(ids) == 4  # 00:00 and 23:59:59.999999 of each day
    # a datetime end is excluded: midnight of the 4th is not in [.., 2026-03-04T00:00)
    assert _ids(filled, "2026-03-02", "2026-03-04T00:00") == ids
    assert _ids(filled, "2026-03-02", datetime(2026, 3, 3, 23, 59, 59, 999999)) == ids[:-1]


def test_consecutive_periods_count_each_row_once(filled: ImpactStore) -> None:
    days = [datetime(2026, 2, 1, tzinfo=UTC) + timedelta(days=d) for d in range(60)]
    seen = [i for lo, hi in pairwise(days) for i in _ids(filled, lo, hi)]
    assert sorted(seen) == sorted(_ids(filled)) == sorted(f"r{i}" for i in range(len(EDGES)))
    # hours, across a midnight, with naive times (UTC) and an aware one in another zone
    assert _ids(filled, "2026-03-01T23:00", "2026-03-02T00:00") == ["r2"]
    assert _ids(filled, "2026-03-02T01:00+01:00", "2026-03-02T02:00+01:00") == ["r3"]
    assert _ids(filled, "2026-03-01T23:59:59.999999", "2026-03-02T00:00:00.000001") == ["r2", "r3"]


def test_partitions_outside_the_period_are_not_read(filled: ImpactStore) -> None:
    root = Path(filled.root)
    outside = next((root / "requests" / "date=2026-02-20").glob("*.parquet"))
    outside.write_bytes(b"not parquet at all")  # damaged: reading it would fail or set it aside
    assert _ids(filled, "2026-03-01", "2026-03-20") == _expected(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 21, tzinfo=UTC)
    )
    assert outside.exists()  # never opened: not even its footer was checked
    con = filled.connect(start="2026-03-02", end="2026-03-02")
    try:
        # the files the view scans, as written in its definition
        views = con.sql("SELECT sql FROM duckdb_views() WHERE view_name LIKE '_requests_files%'").fetchall()
    finally:
        con.close()
    scanned = "\n".join(str(v[0]) for v in views)
    assert "date=2026-03-02" in scanned
    assert "date=2026-03-01" not in scanned and "date=2026-03-03" not in scanned
    # a read of everything opens it (and sets the damaged file aside)
    assert len(_ids(filled)) == len(EDGES) - 1
    assert not outside.exists()


def test_rows_written_by_the_writer_are_seen(store: ImpactStore) -> None:
    store.writer().write(_row(1, datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=UTC)))
    store.flush()
    assert _ids(store, "2026-03-02", "2026-03-02") == ["r1"]
    assert _ids(store, "2026-03-03") == []


def test_an_empty_period_is_refused(store: ImpactStore) -> None:
    with pytest.raises(ValueError, match="empty"):
        store.connect("2026-03-02", "2026-03-01T00:00")


def test_readers_given_a_period_read_only_its_partitions(filled: ImpactStore) -> None:
    from melious_impact.export.focus import to_focus
    from melious_impact.forecasting.costs import cost_totals

    filled.append(
        [
            {**_row(100 + i, when), "billing_credits": "0.25", "billing_paid_with": "credits"}
            for i, when in enumerate(EDGES)
        ]
    )
    whole_focus = to_focus(filled, start="2026-03-02", end="2026-03-03")
    whole_costs = cost_totals(filled, start="2026-03-02", end="2026-03-03")
    assert whole_focus["x_Requests"].sum() == 4 and whole_costs["requests"].sum() == 8
    damaged = [
        f
        for day in ("2026-02-20", "2026-03-20")
        for f in (Path(filled.root) / "requests" / f"date={day}").glob("*.parquet")
    ]
    assert len(damaged) == 4
    for f in damaged:
        f.write_bytes(b"damaged")
    assert to_focus(filled, start="2026-03-02", end="2026-03-03").equals(whole_focus)
    assert cost_totals(filled, start="2026-03-02", end="2026-03-03").equals(whole_costs)
    assert all(f.exists() for f in damaged)  # never opened, so never set aside
    to_focus(filled)  # a read of everything opens them, and sets them aside
    assert not any(f.exists() for f in damaged)
