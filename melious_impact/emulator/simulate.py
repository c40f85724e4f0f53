"""Fast vectorised simulation of captured rows, straight from the physics (no HTTP).

``simulate_requests`` returns a pandas DataFrame with every column of
:mod:`melious_impact.records` plus ``true_*`` columns holding the truth each row was made
from, so model validation can check what it recovers. One million rows take a few seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from melious_impact.billing import EUR_PER_ENERGY_UNIT
from melious_impact.emulator import physics
from melious_impact.emulator.catalogue import (
    CATALOGUE_VERSION,
    GRID_PROFILES,
    MODELS,
    PROVIDERS,
    SERVING,
)
from melious_impact.emulator.teams import DEFAULT_TEAMS, KIND_ENDPOINT, TeamSpec
from melious_impact.records import COLUMN_NAMES, SCHEMA_VERSION

DEFAULT_SIM_START = datetime(2026, 1, 1, tzinfo=UTC)
# Office-hours traffic shape by UTC hour (relative weights), a documented assumption.
HOURLY_TRAFFIC = np.array(
    [
        0.25,
        0.2,
        0.18,
        0.18,
        0.22,
        0.35,
        0.6,
        0.9,
        1.2,
        1.4,
        1.45,
        1.4,
        1.3,
        1.4,
        1.45,
        1.4,
        1.3,
        1.1,
        0.9,
        0.75,
        0.6,
        0.5,
        0.4,
        0.3,
    ]
)
WEEKEND_FACTOR = 0.35
TOKEN_SIGMA = 0.7  # lognormal sigma of token counts around each usage's median


def _provider_arrays() -> tuple[list[str], dict[str, int]]:
    ids = list(PROVIDERS)
    return ids, {p: i for i, p in enumerate(ids)}


def _grid_matrix(countries: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(country x month x hour) intensity and renewable share, from the grid profiles."""
    from melious_impact.emulator.grid import grid_arrays

    inten = np.empty((len(countries), 12, 24))
    ren = np.empty_like(inten)
    for i, c in enumerate(countries):
        months, hours = grid_arrays(c)
        shape = months[:, None] * hours[None, :]
        p = GRID_PROFILES[c]
        inten[i] = p.annual_g_per_kwh * shape
        ren[i] = np.clip(p.annual_renewable_percent * (1.0 - 0.5 * (shape - 1.0)), 0, 100)
    return inten, ren


def _timestamps(rng: np.random.Generator, n: int, days: int, start: datetime, growth: float) -> np.ndarray:
    """n sorted UTC timestamps (ns since epoch) with growth, weekly and daily seasonality."""
    day_idx = np.arange(days)
    dow = (start.weekday() + day_idx) % 7
    w = (1.0 + growth * day_idx / max(days - 1, 1)) * np.where(dow >= 5, WEEKEND_FACTOR, 1.0)
    days_drawn = rng.choice(days, size=n, p=w / w.sum())
    hours = rng.choice(24, size=n, p=HOURLY_TRAFFIC / HOURLY_TRAFFIC.sum())
    secs = rng.random(n) * 3600.0
    t0 = int(pd.Timestamp(start).value)
    ns = (
        t0
        + (days_drawn.astype(np.int64) * 86400 + hours.astype(np.int64) * 3600) * 1_000_000_000
        + (secs * 1e9).astype(np.int64)
    )
    ns = (ns // 1000) * 1000  # microseconds, like the store
    ns.sort()
    return ns


def simulate_requests(
    n: int | None = None,
    *,
    days: int = 90,
    seed: int = 0,
    teams: Sequence[TeamSpec] | None = None,
    start: datetime | None = None,
    growth: float = 0.3,
    noise_sigma: float = physics.DEFAULT_NOISE_SIGMA,
    error_rate: float = 0.01,
    unreported_rate: float = 0.02,
    paid_with: str = "credits",
    both_nonzero: bool = False,
    with_billing: bool = True,
) -> pd.DataFrame:
    """Simulate ``n`` captured rows (default: the teams' volume over ``days``).

    Rows follow the emulator's physics exactly (times a mean-one lognormal noise of
    ``noise_sigma``; 0 for exact physics): energy from tokens, per-token factors and PUE;
    carbon from the country's grid at the row's hour; water from WUE; billing from prices.
    ``error_rate`` of rows are errors (no tokens, no impact); ``unreported_rate`` of the
    successful rows carry no impact or billing (``impact_reported`` False) while their
    ``true_*`` columns still hold the truth. ``growth`` is the relative traffic increase
    from the first to the last day.
    """
    if days < 1:
        raise ValueError("days must be >= 1")
    teams = tuple(teams or DEFAULT_TEAMS)
    start = (start or DEFAULT_SIM_START).astimezone(UTC)
    rng = np.random.default_rng(seed)
    team_rate = np.array([t.daily_requests for t in teams])
    if n is None:
        weekly_mean = (5 + 2 * WEEKEND_FACTOR) / 7
        n = round(team_rate.sum() * days * weekly_mean * (1 + growth / 2))
    if n < 0:
        raise ValueError("n must be >= 0")

    ts = _timestamps(rng, n, days, start, growth)
    month = pd.DatetimeIndex(ts).month.to_numpy() - 1
    hour = ((ts // 3_600_000_000_000) % 24).astype(np.int64)

    # --- who sent what ------------------------------------------------------------------
    team_i = rng.choice(len(teams), size=n, p=team_rate / team_rate.sum())
    usages = [(ti, u) for ti, t in enumerate(teams) for u in t.usages]
    usage_i = np.empty(n, dtype=np.int64)
    flavor = np.empty(n, dtype=object)
    for ti, t in enumerate(teams):
        rows = np.flatnonzero(team_i == ti)
        idx = [k for k, (tj, _) in enumerate(usages) if tj == ti]
        shares = np.array([usages[k][1].share for k in idx])
        usage_i[rows] = np.array(idx)[rng.choice(len(idx), size=rows.size, p=shares / shares.sum())]
        names = list(t.flavors)
        fw = np.array([t.flavors[f] for f in names])
        flavor[rows] = np.array(names, dtype=object)[rng.choice(len(names), size=rows.size, p=fw / fw.sum())]

    model_ids = [u.model for _, u in usages]
    kinds = np.array([MODELS[m].kind for m in model_ids], dtype=object)[usage_i]
    in_med = np.array([u.input_median for _, u in usages], dtype=float)[usage_i]
    out_med = np.array([u.output_median for _, u in usages], dtype=float)[usage_i]
    input_tokens = np.maximum(1, np.round(in_med * rng.lognormal(0, TOKEN_SIGMA, n))).astype(np.int64)
    out_draw = np.round(out_med * rng.lognormal(0, TOKEN_SIGMA, n))
    output_tokens = np.where(kinds == "image", out_med, np.maximum(out_med > 0, out_draw)).astype(np.int64)
    stream = rng.random(n) < np.array([u.stream_share for _, u in usages])[usage_i]

    # Routing flavor actually used: no suffix means the endpoint default (price for
    # embeddings/rerank, balanced otherwise), as in the emulator.
    route_flavor = np.where(
        (flavor == "balanced") & np.isin(kinds, ["embeddings", "rerank"]), "price", flavor
    )

    # --- route to providers (vectorised per model) --------------------------------------
    pids, pindex = _provider_arrays()
    countries = sorted(GRID_PROFILES)
    cindex = {c: i for i, c in enumerate(countries)}
    inten, ren = _grid_matrix(countries)
    prov_i = np.empty(n, dtype=np.int64)
    row_model = np.array(model_ids, dtype=object)[usage_i]
    for mid in sorted(set(model_ids)):  # sorted: set order varies with the hash seed
        rows_m = np.flatnonzero(row_model == mid)
        cands = [PROVIDERS[p] for p in SERVING[mid]]
        cidx = np.array([pindex[p.id] for p in cands])
        carbon = np.stack(
            [inten[cindex[p.country], month[rows_m], hour[rows_m]] * p.pue for p in cands], axis=1
        )
        price = np.array([p.price_factor for p in cands])
        speed = np.array([p.speed_index for p in cands])
        choice = np.zeros(rows_m.size, dtype=np.int64)
        fl = route_flavor[rows_m]
        choice[fl == "eco"] = np.argmin(carbon[fl == "eco"], axis=1) if len(cands) > 1 else 0
        choice[fl == "price"] = int(np.argmin(price))
        choice[fl == "speed"] = int(np.argmax(speed))
        for f in ("balanced", "batch"):
            sel = np.flatnonzero(fl == f)
            if sel.size and len(cands) > 1:
                wp, ws, we = physics.FLAVOR_WEIGHTS[f]

                def rel(x: np.ndarray) -> np.ndarray:
                    lo, hi = x.min(axis=-1, keepdims=True), x.max(axis=-1, keepdims=True)
                    return np.where(hi > lo, (x - lo) / np.where(hi > lo, hi - lo, 1), 0.0)

                score = wp * rel(price)[None, :] + ws * rel(-speed)[None, :] + we * rel(carbon[sel])
                wts = np.exp(-3.0 * score)
                cum = np.cumsum(wts / wts.sum(axis=1, keepdims=True), axis=1)
                choice[sel] = np.minimum((cum < rng.random(sel.size)[:, None]).sum(axis=1), len(cands) - 1)
        prov_i[rows_m] = cidx[choice]

    # --- physics -----------------------------------------------------------------------
    kwh_in = np.array([MODELS[m].kwh_per_1k_input for m in model_ids])[usage_i]
    kwh_out = np.array([MODELS[m].kwh_per_1k_output for m in model_ids])[usage_i]
    pue = np.array([PROVIDERS[p].pue for p in pids])[prov_i]
    wue = np.array([PROVIDERS[p].wue_l_per_kwh for p in pids])[prov_i]
    country = np.array([PROVIDERS[p].country for p in pids], dtype=object)[prov_i]
    ci = np.array([cindex[PROVIDERS[p].country] for p in pids])[prov_i]
    grid = inten[ci, month, hour]
    renewable = np.round(ren[ci, month, hour], 1)
    true_energy = (input_tokens / 1000 * kwh_in + output_tokens / 1000 * kwh_out) * pue
    noise = (
        np.exp(noise_sigma * rng.standard_normal(n) - 0.5 * noise_sigma**2) if noise_sigma > 0 else np.ones(n)
    )
    energy = true_energy * noise

    # --- errors and unreported impacts --------------------------------------------------
    is_error = rng.random(n) < error_rate
    # Speech returns raw audio: no channel for the impact (none documented), never reported.
    unreported = (~is_error) & ((rng.random(n) < unreported_rate) | (kinds == "speech"))
    reported = ~is_error & ~unreported
    err_codes = np.array(["AUTH_1028", "INFERENCE_3103", "BILLING_2003", "INFERENCE_3207"], dtype=object)
    err_status = np.array([429, 502, 402, 400])
    ek = rng.choice(len(err_codes), size=n, p=[0.4, 0.35, 0.1, 0.15])

    requested_base = np.array([u.requested_as or u.model for _, u in usages], dtype=object)[usage_i]
    suffix = np.where(flavor == "balanced", "", ":" + flavor.astype(str))
    api = np.array([u.api for _, u in usages], dtype=object)[usage_i]
    endpoint = np.where(
        api == "anthropic", "/v1/messages", np.vectorize(KIND_ENDPOINT.get, otypes=[object])(kinds)
    )

    def masked(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = values.astype(float).copy()
        out[~mask] = np.nan
        return out

    team_names = np.array([t.name for t in teams], dtype=object)[team_i]
    projects = np.array([t.project for t in teams], dtype=object)[team_i]
    df = pd.DataFrame(
        {
            "captured_at": pd.to_datetime(ts, utc=True).as_unit("us"),
            "endpoint": endpoint,
            "status_code": np.where(is_error, err_status[ek], 200).astype(np.int64),
            "request_id": _ids(f"sim-{seed}-", n, 8),
            "model": requested_base,
            "stream": stream & ~is_error,
            "input_tokens": pd.array(np.where(is_error, 0, input_tokens), dtype="Int64"),
            "output_tokens": pd.array(np.where(is_error, 0, output_tokens), dtype="Int64"),
            "energy_kwh": masked(energy, reported),
            "carbon_g_co2": masked(energy * grid, reported),
            "water_liters": masked(energy * wue, reported),
            "renewable_percent": masked(renewable, reported),
            "pue": masked(pue, reported),
            "provider_id": _keep(reported, np.array(pids, dtype=object)[prov_i]),
            "location": _keep(reported, country),
            "impact_reported": reported,
        }
    )
    df.loc[is_error, ["input_tokens", "output_tokens"]] = pd.NA
    if with_billing:
        _add_billing(
            df,
            input_tokens,
            output_tokens,
            usage_i,
            model_ids,
            prov_i,
            pids,
            reported,
            paid_with,
            both_nonzero,
        )
    else:
        df["billing_energy"] = None
        df["billing_credits"] = None
        df["billing_paid_with"] = None  # no billing asked for
    df["error_code"] = _keep(is_error, err_codes[ek])
    out_for_latency = np.where(is_error, 0, output_tokens)
    df["latency_ms"] = np.round(80 + out_for_latency * 12.0 * rng.lognormal(0, 0.3, n), 1)
    df["team"] = team_names
    df["project"] = projects
    df["tags"] = "{}"
    df["source"] = "live"
    df["custom_id"] = None
    df["record_id"] = _ids(f"{seed:04d}", n, 28)
    df["dedup_key"] = None
    df["requested_model"] = requested_base + suffix
    df["flavor"] = _keep(flavor != "balanced", flavor)
    df["method"] = "POST"
    df["api_shape"] = api
    df["cached_tokens"] = pd.array(np.zeros(n, dtype=np.int64), dtype="Int64")
    df.loc[is_error, "cached_tokens"] = pd.NA
    df["reasoning_tokens"] = pd.Series(pd.NA, index=df.index, dtype="Int64")
    df["error_type"] = None
    df["ttft_ms"] = np.where(stream, np.round(60 + 0.02 * input_tokens, 1), np.nan)
    df["attempt"] = 0
    for col in ("ratelimit_limit_requests", "ratelimit_remaining_requests", "response_bytes"):
        df[col] = pd.Series(pd.NA, index=df.index, dtype="Int64")
    df["stream_completed"] = pd.array(np.where(stream & ~is_error, True, pd.NA), dtype="boolean")
    df["parse_warnings"] = np.where(unreported, "no_impact", "")
    df["batch_id"] = None
    df["schema_version"] = SCHEMA_VERSION
    df["environment_impact_json"] = None  # simulated rows: no response bytes to keep
    df["billing_cost_json"] = None
    df = df[list(COLUMN_NAMES)]

    # --- truth --------------------------------------------------------------------------
    df["true_model"] = row_model
    df["true_kwh_per_1k_input"] = kwh_in
    df["true_kwh_per_1k_output"] = kwh_out
    df["true_pue"] = pue
    df["true_wue_l_per_kwh"] = wue
    df["true_grid_g_per_kwh"] = grid
    df["true_renewable_percent"] = renewable
    df["true_energy_kwh"] = true_energy
    df["true_carbon_g_co2"] = true_energy * grid
    df["true_water_liters"] = true_energy * wue
    df["true_noise"] = noise
    df["true_provider_id"] = np.array(pids, dtype=object)[prov_i]
    df["true_location"] = country
    df["catalogue_version"] = CATALOGUE_VERSION
    df.attrs["simulation"] = json.dumps(
        {
            "seed": seed,
            "days": days,
            "n": n,
            "noise_sigma": noise_sigma,
            "start": start.isoformat(),
            "catalogue_version": CATALOGUE_VERSION,
        }
    )
    return df


def _keep(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` where ``mask``, else None (an object array: a null string column)."""
    out = np.full(mask.shape[0], None, dtype=object)
    out[mask] = values[mask]
    return out


def _ids(prefix: str, n: int, width: int) -> pd.Series:
    """prefix + zero-padded row number, built in Arrow (a Python loop costs ~0.5 s per million)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    nums = pc.utf8_lpad(
        pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string()), width=width, padding="0"
    )
    joined = pc.binary_join_element_wise(pa.scalar(prefix), nums, "")
    return joined.to_pandas()


def _add_billing(
    df: pd.DataFrame,
    input_tokens: np.ndarray,
    output_tokens: np.ndarray,
    usage_i: np.ndarray,
    model_ids: list[str],
    prov_i: np.ndarray,
    pids: list[str],
    reported: np.ndarray,
    paid_with: str,
    both_nonzero: bool,
) -> None:
    """Exact decimals via integer arithmetic: prices x 1e4 and price factors x 1e2 are integers."""
    p_in = np.array([int(Decimal(MODELS[m].eur_per_million_input) * 10_000) for m in model_ids])[usage_i]
    p_out = np.array([int(Decimal(MODELS[m].eur_per_million_output) * 10_000) for m in model_ids])[usage_i]
    factor = np.array([round(PROVIDERS[p].price_factor * 100) for p in pids])[prov_i]
    # credits EUR = scaled / (1e6 tokens per million * 1e4 price scale * 1e2 factor scale) = scaled / 1e12
    scaled = (input_tokens * p_in + output_tokens * p_out) * factor
    zero = Decimal(0)
    credits: list[Decimal | None] = []
    energy: list[Decimal | None] = []
    for s, ok in zip(scaled.tolist(), reported.tolist(), strict=True):
        if not ok:
            credits.append(None)
            energy.append(None)
            continue
        c = Decimal(s).scaleb(-12)
        e = c / EUR_PER_ENERGY_UNIT  # exact: c has 12 decimal places, the rate 4
        credits.append(c if (paid_with == "credits" or both_nonzero) else zero)
        energy.append(e if (paid_with == "energy" or both_nonzero) else zero)
    df["billing_energy"] = pd.Series(energy, dtype=object, index=df.index)
    df["billing_credits"] = pd.Series(credits, dtype=object, index=df.index)
    df["billing_paid_with"] = _keep(reported, np.full(len(df), paid_with, dtype=object))
