"""The emulator's truth tables: models, providers, who serves what, and grid profiles.

Every figure carries its source, year and unit. These are the values the emulator's
physics uses, so they are the *truth* that ``melious_impact.model`` validation recovers;
they are plausible, publicly anchored figures, **not** Melious's real factors.

Energy per token (kWh per 1k tokens, before PUE)
    Output: the ML.ENERGY Benchmark v3 median GPU energy per output token (J/token) of the
    closest benchmarked model (Apache-2.0; ``ml-energy/leaderboard`` data of 2026-02-16),
    converted with ``J * 1000 / 3.6e6`` and multiplied by ``SERVER_OVERHEAD`` = 1.5 for the
    non-GPU part of the server (CPU, DRAM, network, idle headroom), which ML.ENERGY excludes.
    Input (prefill): ``INPUT_TO_OUTPUT_RATIO`` = 0.12 of the output figure: prefill is
    batched and compute-bound, roughly an order of magnitude cheaper per token (our assumption).
    Non-LLM models (embeddings, rerank, image, audio) are stated assumptions.

Prices (EUR per million tokens): plausible list prices in the range of public EU inference
offers (our assumption), not Melious's tariff. A provider's ``price_factor`` scales them.
"""

from __future__ import annotations

from dataclasses import dataclass

from melious_impact.emulator.grid import (
    GRID_PROFILES,
    GridProfile,
    grid_intensity_g_per_kwh,
    renewable_percent,
)

#: Recorded with every simulated row (``factor_version``-style provenance of the truth).
CATALOGUE_VERSION = "emulator-catalogue-2026.11.1"

SERVER_OVERHEAD = 1.5
INPUT_TO_OUTPUT_RATIO = 0.12
J_PER_KWH = 3.6e6
MLENERGY_SOURCE = "ML.ENERGY Benchmark v3 (ml-energy/leaderboard, 2026-02-16), Apache-2.0"

__all__ = [
    "CATALOGUE_VERSION",
    "GRID_PROFILES",
    "MODELS",
    "PROVIDERS",
    "SERVING",
    "GridProfile",
    "ModelSpec",
    "ProviderSpec",
    "grid_intensity_g_per_kwh",
    "model",
    "provider",
    "providers_for",
    "renewable_percent",
]


@dataclass(frozen=True)
class ModelSpec:
    """One model: energy per token (before PUE) and list prices, with provenance."""

    id: str
    kind: str  # chat, embeddings, rerank, image, audio (transcription), speech
    owned_by: str
    kwh_per_1k_input: float  # kWh per 1,000 input tokens, before PUE
    kwh_per_1k_output: float  # kWh per 1,000 output tokens, before PUE
    eur_per_million_input: str  # exact decimal text, EUR
    eur_per_million_output: str
    energy_source: str
    energy_year: int
    context_length: int | None = None
    reasoning: bool = False
    unit: str = "kWh per 1k tokens (before PUE); EUR per million tokens"


def _llm(
    mid: str,
    owner: str,
    j_per_token: float,
    basis: str,
    price_in: str,
    price_out: str,
    ctx: int,
    reasoning: bool = False,
) -> ModelSpec:
    out = round(j_per_token * 1000 / J_PER_KWH * SERVER_OVERHEAD, 9)
    return ModelSpec(
        id=mid,
        kind="chat",
        owned_by=owner,
        kwh_per_1k_input=round(out * INPUT_TO_OUTPUT_RATIO, 10),
        kwh_per_1k_output=out,
        eur_per_million_input=price_in,
        eur_per_million_output=price_out,
        energy_source=f"{MLENERGY_SOURCE}: {basis} x{SERVER_OVERHEAD} server overhead; input x{INPUT_TO_OUTPUT_RATIO}",
        energy_year=2026,
        context_length=ctx,
        reasoning=reasoning,
    )


_ASSUMED = "assumption (no public per-token benchmark in the reference data)"

MODELS: dict[str, ModelSpec] = {
    m.id: m
    for m in (
        _llm(
            "glm-4.7",
            "zai",
            1.50,
            "DeepSeek V3.1 B200 1.31 J/token scaled to a 355B/32B MoE on mixed H100/B200",
            "0.55",
            "2.00",
            202_752,
        ),
        _llm(
            "deepseek-v3.2",
            "deepseek",
            1.31,
            "DeepSeek V3.1 lm-arena-chat B200 median 1.31 J/token",
            "0.28",
            "0.42",
            131_072,
        ),
        _llm(
            "gpt-oss-120b",
            "openai",
            0.236,
            "GPT OSS 120B gpqa H100 median 0.236 J/token",
            "0.10",
            "0.45",
            131_072,
            reasoning=True,
        ),
        _llm(
            "gpt-oss-20b",
            "openai",
            0.0667,
            "GPT OSS 20B gpqa H100 median 0.0667 J/token",
            "0.05",
            "0.20",
            131_072,
            reasoning=True,
        ),
        _llm(
            "qwen3-235b-a22b-instruct",
            "qwen",
            1.63,
            "Qwen 3 235B A22B Instruct FP8 lm-arena-chat H100 median 1.63 J/token",
            "0.20",
            "0.60",
            262_144,
        ),
        _llm(
            "mistral-small-3.2-24b-instruct",
            "mistralai",
            0.48,
            "Gemma 3 27B H100 median 0.54 J/token scaled by 24/27 params",
            "0.10",
            "0.30",
            131_072,
        ),
        _llm(
            "kimi-k2-thinking",
            "moonshotai",
            1.45,
            "DeepSeek V3.1 B200 1.31 J/token scaled to a 1T/32B MoE",
            "0.55",
            "2.25",
            262_144,
            reasoning=True,
        ),
        _llm(
            "llama-3.3-70b-instruct",
            "meta",
            0.60,
            "Llama 3.3 70B Instruct lm-arena-chat H100 median 0.60 J/token",
            "0.25",
            "0.75",
            131_072,
        ),
        ModelSpec(
            "bge-m3",
            "embeddings",
            "baai",
            2.0e-6,
            0.0,
            "0.01",
            "0",
            _ASSUMED + ": 568M encoder, ~0.005 J/token x1.5",
            2026,
            8192,
        ),
        ModelSpec(
            "qwen3-embedding-8b",
            "embeddings",
            "qwen",
            1.5e-5,
            0.0,
            "0.02",
            "0",
            _ASSUMED + ": Qwen 3 8B (ML.ENERGY 0.10 J/output token) prefill x0.12 x1.5 less batching gains",
            2026,
            32_768,
        ),
        ModelSpec(
            "bge-reranker-v2-m3",
            "rerank",
            "baai",
            2.5e-6,
            0.0,
            "0.02",
            "0",
            _ASSUMED + ": cross-encoder of bge-m3 size",
            2026,
            8192,
        ),
        ModelSpec(
            "flux-schnell",
            "image",
            "black-forest-labs",
            0.0,
            7.5e-5,
            "0",
            "0.75",
            _ASSUMED
            + ": ~0.3 Wh per 1024x1024 image (4 steps, ~1.5 s on one H100 at 700 W) over 4096 output units",
            2026,
        ),
        ModelSpec(
            "whisper-large-v3",
            "audio",
            "openai",
            1.2e-5,
            1.0e-5,
            "0.90",
            "0",
            _ASSUMED + ": 1.55B encoder-decoder; input = audio tokens (25 per second)",
            2026,
        ),
        ModelSpec(
            "tts-1",
            "speech",
            "melious",
            3.0e-5,
            0.0,
            "3.75",
            "0",
            _ASSUMED + ": small TTS model; input = text tokens",
            2026,
        ),
    )
}


@dataclass(frozen=True)
class ProviderSpec:
    """One inference provider: where it runs and its facility factors, with provenance."""

    id: str
    name: str
    city: str
    country: str  # ISO-3166 alpha-2, what `location` reports
    pue: float  # ratio >= 1
    wue_l_per_kwh: float  # on-site cooling water, litres per kWh
    price_factor: float  # multiplies the model list price (routing :price picks the lowest)
    speed_index: float  # relative tokens/s (routing :speed picks the highest)
    source: str
    year: int
    unit: str = "PUE ratio; WUE L/kWh"


_CURATED = "curated/provider_pue_wue_public_figures.csv"

PROVIDERS: dict[str, ProviderSpec] = {
    p.id: p
    for p in (
        ProviderSpec(
            "ovhcloud",
            "OVHcloud",
            "Roubaix",
            "FR",
            1.28,
            0.185,
            1.00,
            1.00,
            f"{_CURATED}: OVHcloud 'PUE global moyen 1,28' (channelnews.fr); WUE midpoint of FY2021 0.17-0.20 (silicon.fr)",
            2022,
        ),
        ProviderSpec(
            "scaleway",
            "Scaleway",
            "Paris",
            "FR",
            1.16,
            0.18,
            1.05,
            1.10,
            f"{_CURATED}: Scaleway DC5 PUE 1.15-1.17, WUE 'below 0.2' (silicon.fr); 0.18 assumed",
            2022,
        ),
        ProviderSpec(
            "ionos",
            "IONOS",
            "Frankfurt",
            "DE",
            1.46,
            0.40,
            0.95,
            0.90,
            f"assumption: no IONOS figure found ({_CURATED}); PUE = Germany average 1.46 (Bitkom via borderstep.org); WUE assumed",
            2024,
        ),
        ProviderSpec(
            "infercom",
            "Infercom",
            "Munich",
            "DE",
            1.30,
            0.30,
            1.10,
            1.20,
            "assumption: no public figure; PUE = German EnEfG 2030 cap 1.3 (dotmagazine.online); WUE assumed",
            2025,
        ),
        ProviderSpec(
            "regolo",
            "Regolo",
            "Milan",
            "IT",
            1.35,
            0.60,
            0.90,
            0.95,
            "assumption: no public figure; PUE between CNDCP targets 1.3/1.4 (warm climate); WUE assumed higher for a warm site",
            2025,
        ),
        ProviderSpec(
            "tensorix",
            "Tensorix",
            "Dublin",
            "IE",
            1.25,
            0.30,
            0.92,
            1.00,
            "assumption: no public figure; PUE = IDC public-cloud average 1.25 (quoted by AWS); WUE assumed",
            2025,
        ),
        ProviderSpec(
            "berget",
            "Berget AI",
            "Stockholm",
            "SE",
            1.15,
            0.10,
            1.02,
            0.95,
            f"assumption by proxy: {_CURATED} EcoDataCenter (SE) PUE 1.15; WUE assumed (cf. EcoLogits SWE 0.09)",
            2024,
        ),
        ProviderSpec(
            "nebius",
            "Nebius",
            "Helsinki",
            "FI",
            1.10,
            0.05,
            1.00,
            1.15,
            f"{_CURATED}: Nebius Mäntsälä 'PUE just above 1.0' (low confidence) and planned 1.08; 1.10 assumed; free cooling so WUE assumed 0.05",
            2025,
        ),
        ProviderSpec(
            "verda",
            "Verda",
            "Helsinki",
            "FI",
            1.20,
            0.10,
            0.97,
            1.05,
            "assumption: no public figure; Nordic free-cooled site",
            2025,
        ),
    )
}

#: Which providers serve which models (overlapping, so several models run at 2-3 providers).
SERVING: dict[str, tuple[str, ...]] = {
    "glm-4.7": ("ovhcloud", "nebius", "regolo"),
    "deepseek-v3.2": ("nebius", "ionos", "berget"),
    "gpt-oss-120b": ("ovhcloud", "scaleway", "regolo"),
    "gpt-oss-20b": ("scaleway", "infercom"),
    "qwen3-235b-a22b-instruct": ("nebius", "tensorix", "verda"),
    "mistral-small-3.2-24b-instruct": ("scaleway", "ovhcloud"),
    "kimi-k2-thinking": ("nebius", "verda"),
    "llama-3.3-70b-instruct": ("ionos", "infercom", "tensorix"),
    "bge-m3": ("ovhcloud", "infercom"),
    "qwen3-embedding-8b": ("regolo", "berget"),
    "bge-reranker-v2-m3": ("infercom",),
    "flux-schnell": ("scaleway", "berget"),
    "whisper-large-v3": ("ovhcloud", "tensorix"),
    "tts-1": ("infercom",),
}

#: `claude-*` request names map to open-weight models (as the Melious API documentation says; `haiku` was not
#: visible in the docs, so its target here is our assumption).
CLAUDE_MAP: tuple[tuple[str, str], ...] = (
    ("opus", "glm-4.7"),
    ("sonnet", "deepseek-v3.2"),
    ("haiku", "gpt-oss-20b"),
)


def model(model_id: str) -> ModelSpec:
    try:
        return MODELS[model_id]
    except KeyError:
        raise ValueError(f"unknown model {model_id!r}; known: {sorted(MODELS)}") from None


def provider(provider_id: str) -> ProviderSpec:
    try:
        return PROVIDERS[provider_id]
    except KeyError:
        raise ValueError(f"unknown provider {provider_id!r}; known: {sorted(PROVIDERS)}") from None


def providers_for(model_id: str) -> tuple[ProviderSpec, ...]:
    """The providers that serve ``model_id`` (in table order)."""
    model(model_id)
    return tuple(PROVIDERS[p] for p in SERVING[model_id])


def resolve_claude(name: str) -> str | None:
    """The open-weight model a ``claude-*`` name maps to, else None."""
    low = name.lower()
    if not low.startswith("claude"):
        return None
    for key, target in CLAUDE_MAP:
        if key in low:
            return target
    return "deepseek-v3.2"  # an unrecognised claude-* name: the sonnet default (our assumption)


def truth_table() -> list[dict[str, object]]:
    """One row per (model, provider): the factors validation should recover."""
    rows: list[dict[str, object]] = []
    for mid, pids in SERVING.items():
        m = MODELS[mid]
        for pid in pids:
            p = PROVIDERS[pid]
            rows.append(
                {
                    "model": mid,
                    "kind": m.kind,
                    "provider_id": pid,
                    "location": p.country,
                    "kwh_per_1k_input": m.kwh_per_1k_input,
                    "kwh_per_1k_output": m.kwh_per_1k_output,
                    "pue": p.pue,
                    "water_l_per_kwh": p.wue_l_per_kwh,
                    "grid_g_per_kwh_annual": GRID_PROFILES[p.country].annual_g_per_kwh,
                    "catalogue_version": CATALOGUE_VERSION,
                }
            )
    return rows
