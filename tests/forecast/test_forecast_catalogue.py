"""The model catalogue through real clients against a loopback server, cached on disk."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pandas as pd
import pytest

import melious_impact as mi
from melious_impact.errors import ForecastError
from melious_impact.forecasting.catalogue import catalogue_prices, fetch_catalogue


@pytest.mark.parametrize("suffix", ["", "/v1"])
def test_fetch_with_httpx_parses_exact_prices(catalogue_server: dict[str, Any], suffix: str) -> None:
    with httpx.Client(base_url=catalogue_server["url"] + suffix) as client:
        models = fetch_catalogue(client)
    assert catalogue_server["paths"] == ["/v1/models?include_meta=true"]
    prices = catalogue_prices(models)
    assert prices["glm-4.7"] == (Decimal("0.45"), Decimal("1.9"))  # JSON number read as a decimal
    assert prices["bge-m3"] == (Decimal("0.01"), None)
    assert prices["mystery-model"] == (None, None)


def test_fetch_with_httpx2_and_openai(catalogue_server: dict[str, Any]) -> None:
    with httpx2.Client(base_url=catalogue_server["url"]) as client:
        assert [m["id"] for m in fetch_catalogue(client)][:2] == ["glm-4.7", "bge-m3"]
    sdk = openai.OpenAI(base_url=catalogue_server["url"] + "/v1", api_key="test", max_retries=0)
    try:
        assert len(fetch_catalogue(sdk)) == 3
    finally:
        sdk.close()
    assert catalogue_server["paths"][-1] == "/v1/models?include_meta=true"


def test_cache_is_used_until_it_is_old(catalogue_server: dict[str, Any], tmp_path: Path) -> None:
    cache = tmp_path / "sub" / "catalogue.json"
    with httpx.Client(base_url=catalogue_server["url"]) as client:
        first = fetch_catalogue(client, cache_path=cache)
        second = fetch_catalogue(client, cache_path=cache)
        assert catalogue_server["hits"] == 1 and first == second
        fetch_catalogue(client, cache_path=cache, max_age_s=-1)  # too old: fetch again
        assert catalogue_server["hits"] == 2
        cache.write_text("not json")  # a damaged cache is refetched, not an error
        fetch_catalogue(client, cache_path=cache)
        assert catalogue_server["hits"] == 3
    assert json.loads(cache.read_text())["body"]


def test_http_error_is_a_forecast_error(catalogue_server: dict[str, Any]) -> None:
    catalogue_server["status"] = 503
    with httpx.Client(base_url=catalogue_server["url"]) as client, pytest.raises(ForecastError, match="503"):
        fetch_catalogue(client)


def test_cost_of_from_catalogue(catalogue_server: dict[str, Any]) -> None:
    with httpx.Client(base_url=catalogue_server["url"]) as client:
        catalogue = fetch_catalogue(client)
    workload = pd.DataFrame(
        {
            "model": ["glm-4.7", "bge-m3"],
            "input_tokens": [1_000_000, 3_000_000],
            "output_tokens": [500_000, 0],
        }
    )
    out = mi.cost_of(workload, catalogue=catalogue)
    assert list(out["cost_eur"]) == [Decimal("1.4"), Decimal("0.03")]  # 0.45 + 0.95; 3 x 0.01
    assert set(out["price_basis"]) == {"catalogue"}
    # bge-m3 lists no output price: fine while no output tokens are planned, an error naming it otherwise.
    with pytest.raises(ForecastError, match="bge-m3"):
        mi.cost_of(
            pd.DataFrame({"model": ["bge-m3"], "input_tokens": [1], "output_tokens": [1]}),
            catalogue=catalogue,
        )
    with pytest.raises(ForecastError, match=r"mystery-model \(in the catalogue without _meta.pricing\)"):
        mi.cost_of(
            pd.DataFrame({"model": ["mystery-model"], "input_tokens": [1], "output_tokens": [1]}),
            catalogue=catalogue,
        )


def test_bad_bodies_are_clear() -> None:
    with pytest.raises(ForecastError, match="not JSON"):
        catalogue_prices("<html>")
    with pytest.raises(ForecastError, match="'data' list"):
        catalogue_prices('{"object": "list"}')


def test_history_side_never_seen_falls_back_to_the_catalogue(catalogue_server: dict[str, Any]) -> None:
    with httpx.Client(base_url=catalogue_server["url"]) as client:
        catalogue = fetch_catalogue(client)
    # glm-4.7 seen only without output tokens: its input price from history, output from the catalogue.
    history = pd.DataFrame(
        {
            "model": ["glm-4.7"] * 3,
            "input_tokens": [1_000_000, 2_000_000, 500_000],
            "output_tokens": [0, 0, 0],
            "billing_paid_with": ["credits"] * 3,
            "billing_credits": [Decimal("0.5"), Decimal("1.0"), Decimal("0.25")],
        }
    )
    workload = pd.DataFrame({"model": ["glm-4.7"], "input_tokens": [1_000_000], "output_tokens": [1_000_000]})
    out = mi.cost_of(workload, history=history, catalogue=catalogue)
    assert out["price_basis"].iloc[0] == "history+catalogue"
    assert out["cost_eur"].iloc[0] == Decimal("0.5") + Decimal("1.9")
