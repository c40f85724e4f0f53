"""Every number the report and the dashboards put on their pages, pinned.

The pages' contexts (summary figures, tables as their exact ``data-value`` strings, section
facts, chart datasets) are captured on the way to the templates and compared with snapshots
in ``tests/report/snapshots/figures-<case>.json``, written by the code as it was before the
report stopped holding rows in memory. Exact values (integers, decimals, text) must match to
the last digit; floats to 1e-9 relative (a sum of the same doubles in another order differs
in its last bits). Rewrite the snapshots with ``MI_UPDATE_SNAPSHOTS=1`` only when a number is
meant to change.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from report_helpers import START, stored

import melious_impact as mi
from melious_impact.records import COLUMN_NAMES, empty_row

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE_ENV = "MI_UPDATE_SNAPSHOTS"
# Keys whose values depend on the clock or the version, not on the data.
_SKIP = {"generated_at", "version", "seconds", "mode"}


def _plain(value: Any) -> Any:
    """A JSON form that keeps the kind of each number: exact ones as text."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return {"int": int(value)}
    if isinstance(value, Decimal):
        return {"dec": format(value, "f")}
    if isinstance(value, float | np.floating):
        f = float(value)
        return None if math.isnan(f) else {"float": f}
    if isinstance(value, pd.Timestamp | datetime | date):
        return {"time": value.isoformat()}
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index(drop=True)
        return {"frame": [[_plain(v) for v in rec.values()] for rec in frame.to_dict("records")]} | {
            "columns": [str(c) for c in frame.columns]
        }
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if str(k) not in _SKIP and not callable(v)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if type(value).__name__ == "ChartSlot":
        spec = json.loads(value.spec_json)
        # datasets in order of appearance; their names are hashes of the data, not pinned
        # and rows in a stable order (ties of a chart's sort order come in any order)
        sets = [sorted(_plain(rows), key=_row_key) for rows in spec.get("datasets", {}).values()]
        return {"chart": value.name, "datasets": sets}
    if type(value).__name__ == "Section":
        return {
            "key": value.key,
            "ok": value.ok,
            "note": value.note,
            "tables": _plain(value.tables),
            "facts": _plain({k: v for k, v in value.facts.items() if k not in ("model", "outlook")}),
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return {"type": type(value).__name__}


def _row_key(row: Any) -> str:
    def rounded(v: Any) -> Any:
        if isinstance(v, dict) and set(v) == {"float"}:
            return float(f"{v['float']:.6g}")
        if isinstance(v, dict):
            return {k: rounded(x) for k, x in v.items()}
        return v

    return json.dumps(rounded(row), sort_keys=True)


def _rel(where: str) -> float:
    """1e-9 for sums and ratios; 1e-6 for forecasts and budget outlooks, whose fitted
    smoothing turns a daily total's last bit (another summing order) into the 8th digit."""
    return 1e-6 if "forecast" in where or "budget" in where else 1e-9


def _same(got: Any, want: Any, where: str = "") -> None:
    if isinstance(want, dict) and set(want) == {"float"} and isinstance(got, dict) and set(got) == {"float"}:
        assert got["float"] == pytest.approx(want["float"], rel=_rel(where), abs=1e-12), where
        return
    if isinstance(want, dict) and isinstance(got, dict):
        assert sorted(got) == sorted(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for k in want:
            _same(got[k], want[k], f"{where}.{k}")
        return
    if isinstance(want, list) and isinstance(got, list):
        assert len(got) == len(want), f"{where}: {len(got)} items, wanted {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{where}[{i}]")
        return
    if isinstance(want, str) and isinstance(got, str) and _floaty(want) and _floaty(got):
        # a float's repr in a table's data-value
        assert float(got) == pytest.approx(float(want), rel=_rel(where), abs=1e-12), where
        return
    assert got == want, where


def _floaty(text: str) -> bool:
    if "e" not in text.lower() and "." not in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return "e" in text.lower() or len(text.split(".")[-1]) > 6


def _is_decimal_text(text: str) -> bool:
    return "." in text and "e" not in text.lower()


class _Pages:
    """Captures what each page is rendered from."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pages: dict[str, Any] = {}
        import melious_impact.reporting.dashboard as dash_mod
        import melious_impact.reporting.report as report_mod

        for mod in (report_mod, dash_mod):
            real = mod.render_page

            def capture(template: str, out: Path, *, _real: Any = real, **context: Any) -> Path:
                if not Path(out).name.startswith("."):  # the PDF's static copy is the same page
                    self.pages[Path(out).name] = _plain(context)
                return Path(_real(template, out, **context))

            monkeypatch.setattr(mod, "render_page", capture)


def _check(name: str, pages: dict[str, Any]) -> None:
    path = SNAPSHOTS / f"figures-{name}.json"
    if os.environ.get(UPDATE_ENV) or not path.exists():
        if not os.environ.get(UPDATE_ENV) and os.environ.get("CI"):
            pytest.fail(f"missing snapshot {path.name}: run with {UPDATE_ENV}=1 and commit it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(pages, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    want = json.loads(path.read_text(encoding="utf-8"))
    got = json.loads(json.dumps(pages, sort_keys=True))
    _same(got, want, name)


def _short_team(n: int = 5) -> pd.DataFrame:
    """A team seen only on one afternoon (its own charts go by the hour)."""
    rows = []
    for i in range(n):
        row = empty_row()
        row.update(
            captured_at=START + timedelta(days=20, hours=13, minutes=7 * i),
            endpoint="/v1/chat/completions",
            status_code=200,
            model="glm-4.7",
            team="night",
            input_tokens=100 + i,
            output_tokens=40 + i,
            energy_kwh=0.0001 * (i + 1),
            carbon_g_co2=0.01 * (i + 1),
            water_liters=0.0002 * (i + 1),
            renewable_percent=50.0 + i,
            pue=1.2,
            provider_id="ovhcloud",
            location="FR",
            impact_reported=True,
            billing_paid_with="credits",
            billing_credits=Decimal("0.000123") * (i + 1),
            record_id=f"night{i:06d}",
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMN_NAMES))


@pytest.fixture(scope="module")
def with_night(sim: pd.DataFrame) -> pd.DataFrame:
    out = pd.concat([sim, _short_team().astype({"captured_at": sim["captured_at"].dtype})], ignore_index=True)
    return out.sort_values("captured_at").reset_index(drop=True)


BUDGETS = {"search": {"cost_eur": 5, "carbon_g_co2": 400}, "support": {"energy_kwh": 0.5}}


def test_report_over_the_store(
    store: mi.ImpactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = _Pages(monkeypatch)
    mi.report(store, tmp_path / "r.html", budgets=BUDGETS, lines=("offsite_water", "embodied_carbon"))
    _check("report-store", pages.pages)


def test_report_over_a_frame_with_bounds_off_the_hour(
    sim: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = _Pages(monkeypatch)
    lo = START + timedelta(days=9, hours=7, minutes=31, seconds=5)
    hi = START + timedelta(days=30, hours=18, minutes=2)
    mi.report(sim, tmp_path / "r.html", start=lo, end=hi, forecast_metric="carbon_g_co2")
    _check("report-frame-bounds", pages.pages)


def test_report_of_two_days_by_the_hour(
    store: mi.ImpactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = _Pages(monkeypatch)
    mi.report(store, tmp_path / "r.html", start="2026-01-20", end="2026-01-21")
    _check("report-two-days", pages.pages)


def test_report_on_the_workload_path(
    store: mi.ImpactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scenarios on the hourly workload (as above 200k requests) and a request-count budget."""
    import melious_impact.reporting._aggregate as agg

    monkeypatch.setattr(agg, "AGGREGATE_SCENARIOS_ABOVE", 0)
    pages = _Pages(monkeypatch)
    mi.report(
        store,
        tmp_path / "r.html",
        budgets={"search": {"requests": 3000}},
        start=datetime(2026, 1, 15, tzinfo=UTC),
    )
    _check("report-workload", pages.pages)


def test_dashboard_over_the_store(
    with_night: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = stored(with_night, tmp_path / "store")
    pages = _Pages(monkeypatch)
    mi.dashboard(
        store,
        tmp_path / "d",
        budgets=BUDGETS,
        market_factors={"ovhcloud": {"g_co2e_per_kwh": 30.0, "source": "test", "year": 2025}},
    )
    _check("dashboard-store", pages.pages)


def test_dashboard_over_a_frame_with_bounds(
    with_night: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = _Pages(monkeypatch)
    mi.dashboard(
        with_night, tmp_path / "d", start=START + timedelta(days=3, hours=5, minutes=17), end="2026-02-05"
    )
    _check("dashboard-frame-bounds", pages.pages)
