"""The cube the report and dashboards read gives what the rows give.

Every query of the pages runs once over the rows (``connect(frame)``) and once over a
:class:`~melious_impact.charts.source.Cube` of them: integers, exact decimals and text must
be equal, floats equal to 1e-12 relative (sums of the same doubles in another order). The
frames come from the charts' own generator with untidy rows added (missing keys, tokens on
one side, zero energy, PUE below 1, no renewable share).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "charts"))
from synth import own_requests

import melious_impact as mi
from melious_impact.charts.grid import provider_factors
from melious_impact.charts.impact import impact_series
from melious_impact.charts.intensity import model_efficiency
from melious_impact.charts.source import Cube, connect, query
from melious_impact.reporting import _figures
from melious_impact.reporting._aggregate import daily_rows, hourly_workload, unreported_workload
from melious_impact.reporting._boundary_sections import ENERGY_SQL, coverage
from melious_impact.reporting._model_sections import estimates_section, model_section
from melious_impact.reporting.rows import history_rows

START = datetime(2026, 10, 1, tzinfo=UTC)


def _untidy(seed: int, n: int = 1500) -> pd.DataFrame:
    df = own_requests(n, days=40, seed=seed, teams=("search", "support", "research", ""))
    rng = np.random.default_rng(seed)
    pick = rng.random(len(df))
    df.loc[pick < 0.02, "model"] = None
    df.loc[(pick >= 0.02) & (pick < 0.04), "provider_id"] = None
    df.loc[(pick >= 0.04) & (pick < 0.06), "output_tokens"] = None
    df.loc[(pick >= 0.06) & (pick < 0.08), "energy_kwh"] = 0.0
    df.loc[(pick >= 0.08) & (pick < 0.10), "pue"] = 0.9
    df.loc[(pick >= 0.10) & (pick < 0.12), "renewable_percent"] = None
    df.loc[(pick >= 0.12) & (pick < 0.14), "location"] = "Frankreich"
    return df


def _same_frames(got: pd.DataFrame, want: pd.DataFrame, what: str) -> None:
    got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    assert list(got.columns) == list(want.columns), what
    assert len(got) == len(want), what
    for col in want.columns:
        for i, (a, b) in enumerate(zip(got[col], want[col], strict=True)):
            where = (what, col, i)
            if isinstance(b, float) and not isinstance(b, bool):
                if np.isnan(b):
                    assert a is None or np.isnan(a), where
                else:
                    assert a == pytest.approx(b, rel=1e-12, abs=1e-15), where
            elif b is None or (not isinstance(b, str | Decimal) and pd.isna(b)):
                assert a is None or pd.isna(a), where
            else:
                assert a == b and type(a) is type(b), where


def _pages_queries(data: object, lo: datetime, hi: datetime) -> dict[str, pd.DataFrame]:
    """Every aggregate a page reads, keyed by name."""
    prev = lo - (hi - lo)
    out: dict[str, pd.DataFrame] = {}
    for name, (s, e) in {"period": (lo, hi), "before": (prev, lo), "history": (None, hi)}.items():
        con = connect(data, start=s, end=e)
        for by in _figures.BREAKDOWNS:
            out[f"{name}-by-{by}"] = _figures.breakdown(con, by)
        out[f"{name}-per-token"] = _figures.per_token(con)
        out[f"{name}-quality"] = pd.DataFrame([_figures.quality(con)])
        out[f"{name}-coverage"] = pd.DataFrame(coverage(con)).T
        out[f"{name}-energy"] = query(con, ENERGY_SQL)
        out[f"{name}-daily"] = daily_rows(con)
        out[f"{name}-providers"] = provider_factors(data, start=s, end=e)
        out[f"{name}-efficiency"] = model_efficiency(data, start=s, end=e)
        for metric in ("carbon_g_co2", "cost_eur", "requests"):
            out[f"{name}-series-{metric}"] = impact_series(data, metric, start=s, end=e, freq="day")
            out[f"{name}-series-{metric}-model"] = impact_series(data, metric, by="model", start=s, end=e)
    summary = _figures.summary(data, lo, hi)
    out["summary"] = pd.DataFrame([(f.key, f.value, f.previous) for f in summary])
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_page_query_reads_the_cube_as_the_rows(seed: int) -> None:
    df = _untidy(seed)
    lo = START + timedelta(days=13, hours=5, minutes=41, seconds=7)  # off the hour on purpose
    hi = START + timedelta(days=31, hours=2, minutes=3)
    cube = Cube(df, lo, hi)
    rows = _pages_queries(df, lo, hi)
    cubed = _pages_queries(cube, lo, hi)
    assert len(cube) < len(df)
    for name, want in rows.items():
        _same_frames(cubed[name], want, name)
    # the scenarios' workload, from the groups by hour of day kept in the same pass
    want = hourly_workload(connect(df, start=lo, end=hi))
    _same_frames(hourly_workload(cube.by_hour_of_day(lo, hi)), want, "workload")
    # each team's slice, as a team page reads it
    for team in ("search", "(untagged)"):
        con_rows = connect(df, start=lo, end=hi, team=team)
        con_cube = connect(cube.for_team(team), start=lo, end=hi)
        _same_frames(_figures.breakdown(con_cube, "model"), _figures.breakdown(con_rows, "model"), team)


def test_a_short_team_goes_by_the_hour_and_a_day_cube_refuses_an_hourly_query() -> None:
    df = _untidy(4)
    night = df.iloc[:6].copy()
    night["team"] = "night"
    night["captured_at"] = [START + timedelta(days=20, hours=13, minutes=9 * i) for i in range(6)]
    night["record_id"] = [f"night{i}" for i in range(6)]
    df = pd.concat([df, night], ignore_index=True)
    lo, hi = START, START + timedelta(days=40)
    cube = Cube(df, lo, hi)
    want = impact_series(df[df["team"] == "night"], "energy_kwh", by="model", start=lo, end=hi)
    assert want.attrs["freq"] == "hour"
    got = impact_series(cube.for_team("night"), "energy_kwh", by="model", start=lo, end=hi)
    assert got.attrs["freq"] == "hour"
    _same_frames(got, want, "night")
    with pytest.raises(ValueError, match="summed by the day"):
        impact_series(cube, "energy_kwh", freq="hour", start=lo, end=hi)
    with pytest.raises(ValueError, match="summed by the day"):
        hourly_workload(connect(cube, start=lo, end=hi))
    # the workload over the rows themselves
    assert len(hourly_workload(connect(df, start=lo, end=hi))) > 0


def test_a_period_the_cube_was_not_cut_at_reads_the_rows() -> None:
    df = _untidy(5)
    cube = Cube(df, START + timedelta(days=10), START + timedelta(days=30))
    other = (START + timedelta(days=3, hours=2), START + timedelta(days=12))
    got = _figures.breakdown(connect(cube, start=other[0], end=other[1]), "team")
    want = _figures.breakdown(connect(df, start=other[0], end=other[1]), "team")
    _same_frames(got, want, "other period")


def test_the_cube_grows_with_its_groups_not_its_rows() -> None:
    df = _untidy(6)
    five = pd.concat([df] * 5, ignore_index=True)
    five["record_id"] = [f"{i:032x}" for i in range(len(five))]
    lo, hi = START + timedelta(days=5), START + timedelta(days=35)
    one, many = Cube(df, lo, hi), Cube(five, lo, hi)
    assert len(many) == len(one)
    a = _figures.breakdown(connect(one, start=lo, end=hi), "team").set_index("key")
    b = _figures.breakdown(connect(many, start=lo, end=hi), "team").set_index("key")
    assert (b["requests"] == 5 * a["requests"]).all()
    assert [x * 5 for x in a["cost_eur"]] == list(b["cost_eur"])  # exact decimals


def test_estimates_over_groups_of_like_requests_equal_those_over_every_request(tmp_path: Path) -> None:
    df = _untidy(7, n=2500)
    df.loc[df.index % 17 == 0, "impact_reported"] = False  # more to estimate, some with one token side
    lo, hi = START + timedelta(days=2, hours=7, minutes=30), START + timedelta(days=38)
    model = model_section(df, hi)
    assert model.ok, model.note
    store = mi.ImpactStore(tmp_path / "store")
    store.append(df)
    store.flush()
    want = estimates_section(model, history_rows(df, start=lo, end=hi, unreported_only=True))
    for data in (df, store):
        got = estimates_section(model, unreported_workload(connect(data), lo, hi))
        assert got.ok and want.ok, (got.note, want.note)
        for key in ("rows", "unreported", "estimated"):
            assert got.facts[key] == want.facts[key], key
        assert want.facts["rows"] > 0
        for key in ("energy_kwh", "carbon_kg", "water_l"):
            assert got.facts[key] == pytest.approx(want.facts[key], rel=1e-12), key
        assert got.tables["basis"] == want.tables["basis"]
