"""The Melious model catalogue with prices: ``GET /v1/models?include_meta=true``, cached.

Prices are ``_meta.pricing.input_cost_per_million_eur`` / ``output_cost_per_million_eur``
(seen in third-party clients, not in the Melious API documentation), read as
exact decimals. They are the bare-model price; per-flavor hub prices can differ, so
observed history (``cost_of(history=...)``) is the better source once you have it.
A model without pricing is kept with ``None`` prices; :func:`~melious_impact.forecasting.costs.cost_of`
names it if a workload needs it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from melious_impact.errors import ForecastError
from melious_impact.forecasting.costs import to_decimal

#: How long a cached catalogue is used before it is fetched again (the API itself caches
#: /v1/models for 5 minutes; prices change far less often).
DEFAULT_MAX_AGE_S = 24 * 3600


def fetch_catalogue(
    client: Any, *, cache_path: str | Path | None = None, max_age_s: float = DEFAULT_MAX_AGE_S
) -> list[dict[str, Any]]:
    """The model list (``data`` of ``GET /v1/models?include_meta=true``) through ``client``.

    ``client``: an ``httpx.Client`` or ``httpx2.Client`` whose ``base_url`` is the API root
    (with or without ``/v1``) and carries the auth header, or an OpenAI SDK client
    (``openai.OpenAI(base_url=".../v1", api_key=...)``). With ``cache_path``, a copy younger
    than ``max_age_s`` seconds is used instead of the network, and a fresh fetch is written
    there atomically. Raises :class:`~melious_impact.errors.ForecastError` on an HTTP error
    or a body that is not a model list.
    """
    cache = Path(cache_path) if cache_path is not None else None
    if cache is not None and cache.exists():
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
            if time.time() - float(cached["fetched_at"]) <= max_age_s:
                return parse_catalogue(cached["body"])
        except (ValueError, KeyError, TypeError):
            pass  # a damaged cache is just stale: fetch again
    body = _get_models(client)
    models = parse_catalogue(body)
    if cache is not None:
        _write_atomically(cache, json.dumps({"fetched_at": time.time(), "body": body}))
    return models


def _get_models(client: Any) -> str:
    params = {"include_meta": "true"}
    models_api = getattr(client, "models", None)
    if models_api is not None and hasattr(models_api, "with_raw_response"):  # OpenAI SDK
        try:
            raw = models_api.with_raw_response.list(extra_query=params)
        except Exception as exc:  # the SDK's APIError family, without importing openai
            raise ForecastError(f"GET /v1/models failed: {exc}") from exc
        return str(raw.http_response.text)
    if not callable(getattr(client, "get", None)):
        raise TypeError("client must be an httpx / httpx2 Client or an OpenAI client")
    base = str(getattr(client, "base_url", "")).rstrip("/")
    # httpx joins a relative path onto base_url's path, so "/v1" must not be doubled.
    path = "models" if base.endswith("/v1") else "v1/models"
    response = client.get(path, params=params)
    if response.status_code >= 400:
        raise ForecastError(f"GET /v1/models answered HTTP {response.status_code}: {response.text[:200]}")
    return str(response.text)


def parse_catalogue(body: str | bytes | Mapping[str, Any] | list[Any]) -> list[dict[str, Any]]:
    """The list of model objects from a ``/v1/models`` body (numbers kept as ``Decimal``)."""
    if isinstance(body, (str, bytes)):
        try:
            data: Any = json.loads(body, parse_float=Decimal)
        except ValueError as exc:
            raise ForecastError(f"the model catalogue is not JSON: {exc}") from exc
    else:
        data = body
    if isinstance(data, Mapping):
        data = data.get("data")
    if not isinstance(data, list) or not all(isinstance(m, Mapping) and "id" in m for m in data):
        raise ForecastError("the model catalogue has no 'data' list of models with an 'id'")
    return [dict(m) for m in data]


def catalogue_prices(
    catalogue: Iterable[Mapping[str, Any]],
) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    """``{model id: (input EUR per million, output EUR per million)}``; ``None`` where absent."""
    if isinstance(catalogue, (str, bytes, Mapping)):
        catalogue = parse_catalogue(catalogue)
    out: dict[str, tuple[Decimal | None, Decimal | None]] = {}
    for model in catalogue:
        meta = model.get("_meta")
        pricing = meta.get("pricing") if isinstance(meta, Mapping) else None
        if not isinstance(pricing, Mapping):
            out[str(model["id"])] = (None, None)
            continue
        p_in = to_decimal(pricing.get("input_cost_per_million_eur"))
        p_out = to_decimal(pricing.get("output_cost_per_million_eur"))
        out[str(model["id"])] = (
            p_in if p_in is not None and p_in >= 0 else None,
            p_out if p_out is not None and p_out >= 0 else None,
        )
    return out


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
