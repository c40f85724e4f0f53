"""Verbatim impact and billing objects kept with each row, and rows rebuilt from them.

A real store filled through the OpenAI SDK and the recorder (the corpus of small bodies,
over two days); files of the older layout without the verbatim columns beside them.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx2
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from store_support import make_row

from melious_impact.capture.recorder import Recorder
from melious_impact.cli import store_cmds
from melious_impact.parse.fields import loads
from melious_impact.rebuild import rebuild
from melious_impact.records import COLUMN_NAMES, arrow_schema
from melious_impact.store.impact_store import ImpactStore

sys.path.insert(0, str(Path(__file__).parents[1] / "parse"))
from body_corpus import CLEAN, UNUSUAL

BODIES = [b.encode() for b in CLEAN + UNUSUAL]
DAY0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _fill(root: Path) -> ImpactStore:
    """Every corpus body captured twice (JSON and as an SSE stream's last event), over two days."""
    store = ImpactStore(root, flush_interval_s=3600)
    clock = iter(DAY0 + timedelta(minutes=10 * i) for i in range(10_000))
    rec = Recorder(store, clock=lambda: next(clock))

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = BODIES[int(request.headers["x-case"])]
        if request.headers.get("x-sse"):
            stream = b'data: {"id":"c","object":"chat.completion.chunk","choices":[]}\n\n'
            return httpx2.Response(
                200,
                headers=[("content-type", "text/event-stream")],
                content=stream + b"data: " + body + b"\n\ndata: [DONE]\n\n",
            )
        return httpx2.Response(200, headers=[("content-type", "application/json")], content=body)

    with rec.http_client(transport=httpx2.MockTransport(handler)) as client:
        for i in range(len(BODIES)):
            for sse in ("", "1"):
                client.post(
                    "http://melious.test/v1/chat/completions",
                    json={"model": "glm-4.7", "messages": [{"role": "user", "content": "hi"}]},
                    headers={"x-case": str(i), "x-sse": sse},
                ).read()
    rec.close()
    return store


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / "requests").rglob("*.parquet"))


def _frame(store: ImpactStore) -> pd.DataFrame:
    return store.to_pandas().sort_values("record_id").reset_index(drop=True)


def test_rows_keep_the_objects_verbatim(tmp_path: Path) -> None:
    store = _fill(tmp_path / "s")
    df = store.to_pandas()
    assert len(df) == 2 * len(BODIES)
    for _, row in df.iterrows():
        for column in ("environment_impact_json", "billing_cost_json"):
            text = row[column]
            if text is None or pd.isna(text):
                continue
            # The text is the server's own bytes, and a JSON value on its own.
            assert any(text.encode() in body for body in BODIES), text
            loads(text)
    with_impact = df[df["impact_reported"]]
    assert with_impact["environment_impact_json"].notna().all()
    first = json.loads(df.loc[df["billing_credits"] == Decimal("0.00000008"), "billing_cost_json"].iloc[0])
    assert first == {"energy": "0.0008", "credits": "0.00000008", "paid_with": "energy"}
    store.close()


def test_rebuild_with_the_same_parser_changes_nothing(tmp_path: Path) -> None:
    store = _fill(tmp_path / "s")
    before, files = _frame(store), _files(tmp_path / "s")
    report = rebuild(store)
    assert report.rows_reparsed > len(BODIES) and report.rows_changed == 0
    assert report.partitions_rewritten == 0
    assert _files(tmp_path / "s") == files  # not a file written
    pd.testing.assert_frame_equal(_frame(store), before)
    store.close()


def test_rebuild_restores_what_parsing_gives_exactly_and_once(tmp_path: Path) -> None:
    good = _fill(tmp_path / "good")
    truth = _frame(good)
    good.close()
    # The same rows as a worse parser would have stored them: impact and billing columns
    # wrong or missing, warnings lost; the verbatim objects as sent.
    stale = truth.copy()
    impact, billing = stale["environment_impact_json"].notna(), stale["billing_cost_json"].notna()
    stale.loc[impact, "energy_kwh"] = 123.0
    stale.loc[impact, "provider_id"] = "stale"
    stale.loc[billing, "billing_credits"] = Decimal("9")
    stale.loc[impact | billing, "parse_warnings"] = ""
    store = ImpactStore(tmp_path / "stale")
    store.append(stale[list(COLUMN_NAMES)])
    report = rebuild(store)
    assert report.rows_changed == int((impact | billing).sum()) > 0
    assert report.partitions_rewritten == 2  # two days
    rebuilt = _frame(store)
    columns = [
        "energy_kwh",
        "carbon_g_co2",
        "provider_id",
        "impact_reported",
        "billing_energy",
        "billing_credits",
        "billing_paid_with",
    ]
    pd.testing.assert_frame_equal(rebuilt[columns], truth[columns])
    # The warnings of impact and billing come back; the others were lost with the stale rows.
    for got, want in zip(rebuilt["parse_warnings"], truth["parse_warnings"], strict=True):
        kept = {c for c in want.split(",") if "impact" in c or "billing" in c}
        assert kept <= set(got.split(",")), (got, want)
    files = _files(tmp_path / "stale")
    again = rebuild(store)
    assert again.rows_changed == 0 and again.partitions_rewritten == 0
    assert _files(tmp_path / "stale") == files
    store.close()


def test_files_without_the_verbatim_columns_read_as_null_and_are_left_alone(tmp_path: Path) -> None:
    store = ImpactStore(tmp_path / "s")
    store.append([make_row(i, day=0) for i in range(5)])
    old_schema = pa.schema([f for f in arrow_schema() if not f.name.endswith("_json")])
    rows = [make_row(100 + i, day=1) for i in range(3)]
    table = pa.Table.from_pylist([{k: r[k] for k in old_schema.names} for r in rows], schema=old_schema)
    folder = tmp_path / "s" / "requests" / f"date={rows[0]['captured_at']:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "written-by-an-older-version.parquet")
    df = store.to_pandas()
    assert len(df) == 8
    assert df["environment_impact_json"].isna().all() and df["billing_cost_json"].isna().all()
    assert rebuild(store).rows_reparsed == 0
    assert len(store.to_pandas()) == 8
    store.close()


def test_rebuild_command_reports_and_shows_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(tmp_path / "s").close()
    parser = store_cmds.argparse.ArgumentParser(prog="melious-impact")
    store_cmds.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["rebuild", "--store", str(tmp_path / "s")])
    assert args.func(args) == 0
    out = capsys.readouterr()
    assert "0 changed" in out.out and "0 partition(s) rewritten" in out.out
    assert "rebuild: 2/2 partitions" in out.err
