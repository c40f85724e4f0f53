"""scenario() on a store (totals aggregated in DuckDB) gives the frame's answers, and both
give what scenario() gave before the store path existed (pinned in data/scenario_golden.json,
written by the frame implementation of that time on the sample store and a generated frame).

Floats agree to 1e-9 relative (sums are added in another order; the 90% bounds are
quantiles of the same 4,000 draws), exact decimals and counts exactly, warnings exactly.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_model_predict_store import odd_requests
from test_model_sql_fit import messy_requests

import melious_impact as mi

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[1] / "data" / "sample"
GOLDEN = json.loads((HERE / "data" / "scenario_golden.json").read_text())


def _decode(v: Any) -> Any:
    if isinstance(v, dict):
        return Decimal(v["decimal"])
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def assert_same_value(got: Any, want: Any, where: str) -> None:
    if isinstance(want, Decimal) or isinstance(got, Decimal):
        assert got == want and str(got) == str(want), where  # exact, same normalised form
    elif want is None:
        assert got is None or (isinstance(got, float) and math.isnan(got)), where
    elif isinstance(want, float):
        g = float(got)
        if math.isnan(want):
            assert math.isnan(g), where
        else:
            assert g == pytest.approx(want, rel=1e-9, abs=1e-12), where
    else:
        assert got == want, where


def assert_same_scenario(new: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(new.columns) == list(ref.columns)
    assert list(new["metric"]) == list(ref["metric"])
    for (_, a), (_, b) in zip(new.iterrows(), ref.iterrows(), strict=True):
        for c in ref.columns:
            want = b[c]
            if isinstance(want, float | np.floating):
                want = float(want)
            assert_same_value(a[c], want, f"{b['metric']}.{c}")
    assert [(w.code, w.rows) for w in new.attrs["impact_warnings"]] == [
        (w.code, w.rows) for w in ref.attrs["impact_warnings"]
    ]
    assert new.attrs["description"] == ref.attrs["description"]


def assert_matches_golden(out: pd.DataFrame, key: str) -> None:
    g = GOLDEN[key]
    assert len(out) == len(g["rows"])
    for got, want in zip(out.to_dict("records"), g["rows"], strict=True):
        assert set(got) == set(want)
        for c, v in want.items():
            assert_same_value(got[c], _decode(v), f"{key} {want['metric']}.{c}")
    assert [[w.code, w.rows] for w in out.attrs["impact_warnings"]] == g["warnings"]
    assert out.attrs["description"] == g["description"]


SAMPLE_SPECS: list[dict[str, Any]] = [
    {"location": "FR"},
    {"provider_id": "nebius"},
    {"flavor": "eco"},
    {"flavor": "price"},
    {"shift_to_clean_hours": True},
    {"location": "SE", "models": ["glm-4.7"]},
    {},
]
MESSY_SPECS: list[dict[str, Any]] = [
    {"location": "FR"},
    {"provider_id": "infercom"},
    {"flavor": "eco"},
    {"flavor": "price"},
    {"shift_to_clean_hours": True},
    {"location": "DE", "models": ["gpt-oss-20b"], "shift_to_clean_hours": True},
    {"location": "eu-west", "provider_id": "x"},
    {},
]


@pytest.fixture(scope="module")
def sample() -> tuple[mi.ImpactStore, pd.DataFrame, Any]:
    store = mi.ImpactStore(SAMPLE)
    df = store.to_pandas()
    return store, df, mi.fit_intensity(df)


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> tuple[mi.ImpactStore, pd.DataFrame, Any]:
    df = messy_requests(3000, seed=11)
    store = mi.ImpactStore(tmp_path_factory.mktemp("messy") / "s")
    store.append(df)
    store.flush()
    return store, df, mi.fit_intensity(df)


@pytest.mark.parametrize("spec", SAMPLE_SPECS, ids=json.dumps)
def test_sample_frame_and_store_as_pinned(sample: Any, spec: dict[str, Any]) -> None:
    store, df, m = sample
    key = "sample:" + json.dumps(spec, sort_keys=True)
    frame = mi.scenario(df, m, **spec)
    assert_matches_golden(frame, key)
    assert_same_scenario(mi.scenario(store, m, **spec), frame)


@pytest.mark.parametrize("spec", MESSY_SPECS, ids=json.dumps)
def test_generated_frame_and_store_as_pinned(messy: Any, spec: dict[str, Any]) -> None:
    store, df, m = messy
    key = "messy:" + json.dumps(spec, sort_keys=True)
    frame = mi.scenario(df, m, **spec)
    assert_matches_golden(frame, key)
    assert_same_scenario(mi.scenario(store, m, **spec), mi.scenario(store.to_pandas(), m, **spec))


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    n=st.integers(60, 1200),
    seed=st.integers(0, 10_000),
    spec=st.sampled_from(
        [
            {"location": "FR"},
            {"provider_id": "infercom", "shift_to_clean_hours": True},
            {"location": "IT", "provider_id": "regolo", "models": ["bge-m3"]},
            {"shift_to_clean_hours": True, "start": "2025-04-01", "end": "2025-07-31"},
        ]
    ),
)
def test_property_store_same_as_frame(
    tmp_path_factory: pytest.TempPathFactory, n: int, seed: int, spec: dict[str, Any]
) -> None:
    """Random generated stores (spellings, rows without keys or impact, unknown sites):
    the store's table is the frame's, whatever moves, shifts or period."""
    df = messy_requests(n, seed)
    try:
        m = mi.fit_intensity(messy_requests(1500, seed + 1))
    except mi.ModelError:
        return
    store = mi.ImpactStore(tmp_path_factory.mktemp("p") / "s")
    store.append(df)
    store.flush()
    assert_same_scenario(mi.scenario(store, m, **spec), mi.scenario(store.to_pandas(), m, **spec))


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    n=st.integers(20, 800),
    seed=st.integers(0, 10_000),
    spec=st.sampled_from(
        [
            {"location": "FR", "shift_to_clean_hours": True},
            {"location": "DE", "models": ["gpt-oss-20b", "mystery-13b"]},
            {"provider_id": "scaleway", "location": "atlantis"},
            {"shift_to_clean_hours": True},
        ]
    ),
)
def test_odd_keys_store_same_as_frame(
    tmp_path_factory: pytest.TempPathFactory, n: int, seed: int, spec: dict[str, Any]
) -> None:
    """Stores of odd keys (unknown and missing models, rows without time, tokens, provider or
    location, traffic mixes that match no cell): the store's table is the frame's, the
    traffic-mix rows moved, left or shifted."""
    try:
        m = mi.fit_intensity(messy_requests(1500, seed + 1))
    except mi.ModelError:
        return
    store = mi.ImpactStore(tmp_path_factory.mktemp("o") / "s")
    store.append(odd_requests(n, seed))
    store.flush()
    assert_same_scenario(mi.scenario(store, m, **spec), mi.scenario(store.to_pandas(), m, **spec))
