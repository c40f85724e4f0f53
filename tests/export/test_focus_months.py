"""A store's FOCUS charges, aggregated one UTC month at a time, are the charges of the whole
period: the same cells, in the same order, the same CSV bytes.

The rows come from a generator of this file (not the emulator, not the scale benchmark):
four months with traffic across the month ends (the last microsecond of a month, its first),
raw tags in several spellings, errors, credits, energy, a missing balance word, no billing
block, several endpoints, rows with only a requested model, huge and tiny amounts. Each table
is compared with the old pandas path (``focus_reference``, every cell exact, the CSV byte for
byte with the float sums blanked) and the store's table with the table of the same rows as a
frame (one pass over the rows, no months): that CSV is compared byte for byte, float sums
included (both sum them with a compensated sum, which does not depend on the order).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from focus_reference import reference_to_focus
from test_focus_db import assert_same_table

from melious_impact.export.focus import to_focus, write_focus
from melious_impact.records import empty_row, quantize_money

_TAGS = [
    None,
    "",
    '{"env": "prod", "feature": "rag"}',
    '{"feature":"rag","env":"prod"}',  # the same tags, spelled differently
    '{"env": "dev", "cost_center": 7}',
    '{"ünïcode": "välue"}',
    "not json",
]
_ENDPOINTS = ["/v1/chat/completions", "/v1/embeddings", "/v1/audio/transcriptions", None]
_MONTH_EDGES = [
    datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 2, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
]


def months_rows(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` rows from 2026-01-20 to 2026-04-10, some at the month edges."""
    rng = np.random.default_rng(seed)
    first = datetime(2026, 1, 20, tzinfo=UTC)
    span_us = int((datetime(2026, 4, 10, tzinfo=UTC) - first) / timedelta(microseconds=1))
    rows = []
    for i in range(n):
        row = empty_row()
        u = rng.random(8)
        at = (
            _MONTH_EDGES[i % len(_MONTH_EDGES)]
            if i % 17 == 0
            else first + timedelta(microseconds=int(rng.integers(span_us)))
        )
        model = ["glm-4.7", "bge-m3", "qwen3-coder", None][int(u[0] * 4)]
        balance = int(u[1] * 10)  # 0-5 credits, 6-7 energy, 8 no word, 9 no billing block
        credits = quantize_money(Decimal(int(rng.integers(1, 10**9))).scaleb(-int(rng.integers(6, 19))))
        energy = quantize_money(Decimal(int(rng.integers(1, 10**7))).scaleb(-int(rng.integers(0, 9))))
        error = u[2] < 0.08
        row.update(
            captured_at=at,
            endpoint=_ENDPOINTS[int(u[3] * len(_ENDPOINTS))],
            status_code=[500, 429, 200][i % 3] if error else 200,
            error_code="server_error" if error and i % 2 else None,
            request_id=f"req-{seed}-{i}",
            model=model,
            requested_model=model or ["glm-4.7:eco", None][i % 2],
            input_tokens=int(rng.integers(0, 5000)),
            output_tokens=0 if model == "bge-m3" else int(rng.integers(0, 2000)),
            energy_kwh=None if u[4] < 0.1 else float(rng.random() * 1e-3),
            carbon_g_co2=None if u[4] < 0.1 else float(rng.random() * 0.5),
            water_liters=None if u[4] < 0.1 else float(rng.random() * 1e-3),
            impact_reported=bool(u[4] >= 0.1),
            provider_id=["ovhcloud", "nebius", None][int(u[5] * 3)],
            location=["FR", "FI", "DE"][int(u[5] * 3)],
            billing_paid_with=("credits" if balance < 6 else "energy" if balance < 8 else None)
            if balance < 9
            else None,
            billing_credits=None if balance == 9 or (balance in (6, 7) and i % 2) else credits,
            billing_energy=None if balance == 9 or (balance < 6 and i % 3) else energy,
            latency_ms=float(rng.random() * 4000),
            team=["search", "ads", "platform", None, ""][int(u[6] * 5)],
            project=["rag", "banners", None][int(u[7] * 3)],
            tags=_TAGS[int(rng.integers(len(_TAGS)))],
            record_id=f"{seed:04x}{i:028x}",
            api_shape="openai",
        )
        rows.append(row)
    # the widest amounts the store holds, in one charge: its sums pass 38 digits
    big = Decimal("99999999999999999999.999999999999999999")
    for k in range(3):
        rows.append(
            {
                **rows[0],
                "captured_at": datetime(2026, 3, 15, 12, tzinfo=UTC),
                "request_id": f"big-{k}",
                "record_id": f"ffff{k:028x}",
                "billing_paid_with": "credits",
                "billing_credits": big,
                "team": "finance",
            }
        )
    return rows


@pytest.fixture(scope="module")
def months_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import melious_impact as mi

    store = mi.ImpactStore(str(tmp_path_factory.mktemp("months")))
    store.append(months_rows(1500, seed=11))
    store.flush()
    yield store
    store.close()


def _csv(frame: Any, path: Path) -> bytes:
    return write_focus(frame, path).read_bytes()


PRICES = {"glm-4.7": ("0.45", "1.8"), "bge-m3": ("0.01", "0")}


@pytest.mark.parametrize("granularity", ["day", "hour", "request"])
@pytest.mark.parametrize("unknown_cost", ["omit", "null"])
def test_months_give_the_table_of_the_whole_period(
    months_store: Any, tmp_path: Path, granularity: str, unknown_cost: str
) -> None:
    kw: dict[str, Any] = {
        "granularity": granularity,
        "unknown_cost": unknown_cost,
        "eur_per_energy_unit": "0.000137",
        "invoice_ids": {"2026-02": "INV-2"},
    }
    for prices in (None, PRICES):
        table = to_focus(months_store, prices=prices, **kw)
        assert len(set(table["ChargePeriodStart"].dt.strftime("%Y-%m"))) == 4
        assert_same_table(table, reference_to_focus(months_store, prices=prices, **kw))
        frame = months_store.to_pandas()  # ordered as the store orders its rows
        one_pass = to_focus(frame, prices=prices, **kw)
        assert_same_table(table, one_pass)
        assert _csv(table, tmp_path / "months.csv") == _csv(one_pass, tmp_path / "one.csv")


def test_the_big_charge_is_exact(months_store: Any) -> None:
    table = to_focus(months_store, teams=["finance"])
    assert table["BilledCost"].tolist() == [Decimal("299999999999999999999.999999999999999997")]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-01-31T23:00", "2026-03-01T00:00:00.5"),  # off the month edges
        ("2026-02-01", "2026-02-28"),  # one whole month (a date end counts its day)
        ("2026-03-31T12:00", None),
        (None, "2026-02-10T06:30"),
    ],
)
def test_a_period_across_months_gives_the_table_of_its_rows(
    months_store: Any, tmp_path: Path, start: Any, end: Any
) -> None:
    from melious_impact.periods import period

    teams = ["search", "platform"]
    frame = months_store.to_pandas()
    inside = frame[period(start, end).mask(frame["captured_at"]) & frame["team"].isin(teams)]
    for granularity in ("day", "request"):
        table = to_focus(months_store, granularity=granularity, start=start, end=end, teams=teams)
        want = reference_to_focus(inside.reset_index(drop=True), granularity=granularity)
        assert_same_table(table, want)
        one_pass = to_focus(frame, granularity=granularity, start=start, end=end, teams=teams)
        assert _csv(table, tmp_path / "a.csv") == _csv(one_pass, tmp_path / "b.csv")


def test_a_row_without_captured_at(tmp_path: Path) -> None:
    """Such a row has no charge period: with a known cost the export refuses, as before;
    with an unknown cost it is counted among the omitted requests."""
    import melious_impact as mi

    rows = months_rows(40, seed=3)
    store = mi.ImpactStore(str(tmp_path / "s"))
    try:
        store.append(rows)
        store.append([{**rows[1], "captured_at": None, "record_id": "e" * 32, "billing_paid_with": None,
                       "billing_credits": None, "billing_energy": None}])  # fmt: skip
        store.flush()
        table = to_focus(store)
        assert_same_table(table, reference_to_focus(store))
        without = to_focus([r for r in rows if r["captured_at"] is not None])
        assert table.attrs["unknown_cost_requests"] == without.attrs["unknown_cost_requests"] + 1
        with pytest.raises(ValueError, match="no captured_at"):
            to_focus(store, unknown_cost="null")
        store.append(
            [
                {
                    **rows[1],
                    "captured_at": None,
                    "record_id": "d" * 32,
                    "billing_paid_with": "credits",
                    "billing_credits": Decimal("0.5"),
                }
            ]
        )
        store.flush()
        with pytest.raises(ValueError, match="no captured_at"):
            to_focus(store)
    finally:
        store.close()


@pytest.mark.parametrize("granularity", ["day", "request"])
def test_export_focus_writes_the_file_of_the_whole_table_month_by_month(
    months_store: Any, tmp_path: Path, granularity: str
) -> None:
    from melious_impact.export.focus import export_focus

    for kw in ({}, {"prices": PRICES, "unknown_cost": "null", "start": "2026-02-03T04:05"}):
        table = to_focus(months_store, granularity=granularity, **kw)
        whole = write_focus(table, tmp_path / "whole.csv").read_bytes()
        written = export_focus(months_store, tmp_path / "parts.csv", granularity=granularity, **kw)
        assert written.path.read_bytes() == whole
        assert written.rows == len(table)
        assert written.requests == int(table["x_Requests"].sum())
        assert written.billed_cost == sum(v for v in table["BilledCost"] if v is not None)
        assert written.unknown_cost_requests == table.attrs["unknown_cost_requests"]
        assert (written.unknown_cost_requests > 0) == ("unknown_cost" not in kw)
        # Parquet holds 38 digits: without the finance team's 39-digit charge
        teams = ["search", "ads", "platform"]
        parquet = export_focus(
            months_store, tmp_path / "t.parquet", granularity=granularity, teams=teams, **kw
        )
        small = to_focus(months_store, granularity=granularity, teams=teams, **kw)
        assert parquet.path.read_bytes() == write_focus(small, tmp_path / "w.parquet").read_bytes()
        assert parquet.rows == len(small) > 0


def test_export_focus_of_nothing_and_of_a_failure(months_store: Any, tmp_path: Path) -> None:
    from melious_impact.export.focus import export_focus

    empty = export_focus(months_store, tmp_path / "none.csv", teams=["nobody"])
    assert empty.rows == 0 and empty.billed_cost == 0
    assert (
        empty.path.read_bytes()
        == write_focus(to_focus(months_store, teams=["nobody"]), tmp_path / "e.csv").read_bytes()
    )
    with pytest.raises(TypeError):
        export_focus(months_store, tmp_path / "x.csv", granularty="day")
    import melious_impact as mi

    store = mi.ImpactStore(str(tmp_path / "undated"))
    try:
        row = months_rows(1, seed=5)[0]
        store.append(
            [{**row, "captured_at": None, "billing_paid_with": "credits", "billing_credits": Decimal(1)}]
        )
        store.flush()
        with pytest.raises(ValueError, match="no captured_at"):
            export_focus(store, tmp_path / "out" / "f.csv")
        assert list((tmp_path / "out").iterdir()) == []  # no partial file
    finally:
        store.close()
