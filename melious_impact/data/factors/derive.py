"""Rebuild the shipped prior tables from the public reference files (maintainers only).

Run as ``python -m melious_impact.data.factors.derive RAW_DIR`` where ``RAW_DIR`` holds the
reference copies described in ``ATTRIBUTION.md`` (Ember, OWID, ML.ENERGY, curated PUE/WUE).
The package never runs this at import or use time: it only reads the CSV/JSON it writes.

Outputs (next to this file):

- ``grid_intensity.csv``: per country (ISO-3166 alpha-2) and month of the latest complete
  Ember year, generation-based lifecycle g CO2e/kWh (Ember monthly), plus the annual figure
  (month 0) and the OWID renewable share of that year.
- ``provider_pue_wue.csv``: PUE and on-site WUE per provider, each figure with its year, the
  report it comes from, its URL, whether it is a disclosure or a derived ratio, and a range.
- ``energy_per_token_fit.json``: log-log fit of GPU energy per output token against active
  and total parameter counts, with a 4-bit weights term and a reasoning term, on ML.ENERGY v3
  chat and reasoning runs; its leave-one-model-out validation; the overhead assumptions.
- ``model_sizes.csv``: parameter counts, released weight precision and reasoning-by-default
  of models seen on Melious (public model cards).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent

# ISO-3166 alpha-3 -> alpha-2 for the countries we ship (Europe, where Melious runs, plus
# large grids a user may compare against). A hand list keeps the build free of extra deps.
ISO3_TO_ISO2 = {
    "AUT": "AT",
    "BEL": "BE",
    "BGR": "BG",
    "HRV": "HR",
    "CYP": "CY",
    "CZE": "CZ",
    "DNK": "DK",
    "EST": "EE",
    "FIN": "FI",
    "FRA": "FR",
    "DEU": "DE",
    "GRC": "GR",
    "HUN": "HU",
    "IRL": "IE",
    "ITA": "IT",
    "LVA": "LV",
    "LTU": "LT",
    "LUX": "LU",
    "MLT": "MT",
    "NLD": "NL",
    "POL": "PL",
    "PRT": "PT",
    "ROU": "RO",
    "SVK": "SK",
    "SVN": "SI",
    "ESP": "ES",
    "SWE": "SE",
    "GBR": "GB",
    "NOR": "NO",
    "CHE": "CH",
    "ISL": "IS",
    "SRB": "RS",
    "UKR": "UA",
    "TUR": "TR",
    "USA": "US",
    "CAN": "CA",
    "JPN": "JP",
    "KOR": "KR",
    "CHN": "CN",
    "IND": "IN",
    "BRA": "BR",
    "AUS": "AU",
    "SGP": "SG",
    "ZAF": "ZA",
    "MEX": "MX",
    "TWN": "TW",
}

EMBER_URL = "https://ember-energy.org/data/ (ember-climate/ember-data-api, 2025-05)"
OWID_URL = "https://ourworldindata.org/grapher/share-electricity-renewables"


def build_grid(raw: Path) -> pd.DataFrame:
    monthly = pd.read_csv(raw / "ember/ember_country_overview_monthly_2015plus.csv")
    yearly = pd.read_csv(raw / "ember/ember_country_overview_yearly_2015plus.csv")
    owid = pd.read_csv(raw / "owid/owid_grid_elec_yearly_2015plus.csv")
    monthly["year"] = monthly["date"].str[:4].astype(int)
    monthly["month"] = monthly["date"].str[5:7].astype(int)
    rows = []
    for iso3, iso2 in ISO3_TO_ISO2.items():
        m = monthly[monthly["country_code"] == iso3].dropna(subset=["emissions_intensity_gco2_per_kwh"])
        full_years = m.groupby("year")["month"].nunique()
        full_years = full_years[full_years == 12]
        y = yearly[(yearly["country_code"] == iso3)].dropna(subset=["emissions_intensity_gco2_per_kwh"])
        if y.empty:
            continue
        year = int(full_years.index.max()) if len(full_years) else int(y["year"].max())
        annual = y[y["year"] == year]
        if annual.empty:
            annual = y[y["year"] == y["year"].max()]
            year = int(annual["year"].iloc[0])
        ren = owid[(owid["iso_code"] == iso3) & owid["renewables_share_elec_pct"].notna()]
        ren_year = ren[ren["year"] <= year]
        ren_row = ren_year[ren_year["year"] == ren_year["year"].max()] if len(ren_year) else ren.tail(1)
        renewable = float(ren_row["renewables_share_elec_pct"].iloc[0]) if len(ren_row) else np.nan
        rows.append(
            {
                "location": iso2,
                "year": year,
                "month": 0,
                "grid_g_per_kwh": round(float(annual["emissions_intensity_gco2_per_kwh"].iloc[0]), 2),
                "renewable_percent": round(renewable, 2),
                "unit": "g CO2e/kWh (generation, lifecycle)",
                "source": "Ember yearly electricity data; renewable share: Our World in Data (Ember, EI)",
                "source_url": f"{EMBER_URL}; {OWID_URL}",
                "licence": "CC BY 4.0",
            }
        )
        months = m[m["year"] == year].sort_values("month")
        if len(months) != 12:  # no full year of months: the annual figure stands alone
            continue
        for month, value in monthly_shape(
            months["month"].to_numpy(dtype=int),
            months["emissions_intensity_gco2_per_kwh"].to_numpy(dtype=float),
            float(annual["emissions_intensity_gco2_per_kwh"].iloc[0]),
        ):
            rows.append(
                {
                    "location": iso2,
                    "year": year,
                    "month": month,
                    "grid_g_per_kwh": round(value, 6),
                    "renewable_percent": round(renewable, 2),
                    "unit": "g CO2e/kWh (generation, lifecycle)",
                    "source": "Ember monthly electricity data (shape), scaled to the Ember yearly figure",
                    "source_url": EMBER_URL,
                    "licence": "CC BY 4.0",
                }
            )
    return pd.DataFrame(rows)


def monthly_shape(months: np.ndarray, values: np.ndarray, annual: float) -> list[tuple[int, float]]:
    """The twelve monthly intensities scaled so that their time-weighted mean (months by
    their days in a common year) equals the annual figure.

    Ember's monthly table is another vintage than its yearly one (for 2024 their means
    differ from -35% (SE) to +28% (CH)), so the months give the seasonal shape and the
    yearly table the level. Time-weighted, not demand-weighted: a data centre draws a
    near-flat load, so the year's intensity it sees is the time-weighted mean of the
    months, and an estimate without a timestamp (the annual figure) then equals the
    average of a year of timed ones. (Demand weighting would describe the grid's average
    consumer instead; on the raw 2024 months it differs from the simple mean by 0-4%.)
    """
    from melious_impact.model.grid import MONTH_DAYS

    order = np.argsort(months)
    months, values = months[order], values[order]
    if list(months) != list(range(1, 13)):
        raise ValueError(f"need the twelve months 1-12, got {list(months)}")
    scale = annual / float(np.average(values, weights=MONTH_DAYS))
    return [(int(mo), float(v) * scale) for mo, v in zip(months, values, strict=True)]


# Provider PUE and on-site WUE: one row per provider, each figure traced to the provider's
# latest public report found (year of each figure, report, URL, how it was obtained), with a
# range. WUE is litres of on-site water per kWh of IT energy (The Green Grid definition).
# `basis` says whether a figure is the provider's own disclosure, a disclosure read through
# press coverage, or a ratio we derived (and how). Providers without a published figure fall
# back to `default`. Where a primary report could not be retrieved the range is kept wide
# and the note says so.
PROVIDER_COLUMNS = [
    "provider_id",
    "pue",
    "pue_low",
    "pue_high",
    "pue_year",
    "pue_basis",
    "wue_l_per_kwh",
    "wue_low",
    "wue_high",
    "wue_year",
    "wue_basis",
    "report",
    "report_year",
    "source_url",
    "confidence",
    "note",
]
PROVIDERS: list[dict[str, object]] = [
    {
        "provider_id": "ovhcloud",
        "pue": 1.29,
        "pue_low": 1.10,
        "pue_high": 1.30,
        "pue_year": 2022,
        "pue_basis": "provider disclosure (fleet average), quoted by press",
        "wue_l_per_kwh": 0.30,
        "wue_low": 0.17,
        "wue_high": 0.30,
        "wue_year": 2022,
        "wue_basis": "provider disclosure (fleet average), quoted by press",
        "report": "OVHcloud fleet KPIs as quoted by OCTO Technology (c. FY2022) and Silicon.fr (FY2021)",
        "report_year": 2022,
        "source_url": "https://blog.octo.com/datacenters-et-metriques-environnementales--le-smart-qui-cache-la-foret ; "
        "https://www.silicon.fr/6-indicateurs-empreinte-environnementale-ovhcloud-453367.html",
        "confidence": "low",
        "note": "fleet average PUE 1.29 and WUE 0.30 L/kWh (c. FY2022); FY2021 PUE 1.1-1.3, WUE 0.17-0.20; "
        "FY2020 WUE 0.24-0.29. OVHcloud publishes per-datacenter KPIs for FY2024 "
        "(ovhcloud.com kpis_per_dc-fy24.pdf) and a FY2025 registration document; neither could be "
        "retrieved, so the figures are older than them and the range spans every fleet figure found",
    },
    {
        "provider_id": "scaleway",
        "pue": 1.16,
        "pue_low": 1.16,
        "pue_high": 1.50,
        "pue_year": 2024,
        "pue_basis": "provider disclosure (per datacenter); value = fr-par-2 (DC5)",
        "wue_l_per_kwh": 0.25,
        "wue_low": 0.001,
        "wue_high": 0.85,
        "wue_year": 2024,
        "wue_basis": "provider disclosure (per datacenter); value = fr-par-2 (DC5)",
        "report": "Scaleway Environmental Footprint documentation, Calculation reference values "
        "(page of 2025-06-09, revised)",
        "report_year": 2025,
        "source_url": "https://www.scaleway.com/en/docs/environmental-footprint/additional-content/calculation-values-reference/ ; "
        "https://www.scaleway.com/en/docs/environmental-footprint/additional-content/generative-apis-dedicated-env-footprint/",
        "confidence": "medium",
        "note": "per-datacenter PUE/WUE: fr-par-1 1.45/0.009, fr-par-2 1.16/0.25, fr-par-3 1.44/0.001, "
        "nl-ams-1 1.38/0.85, nl-ams-2 1.4, nl-ams-3 1.2, pl-waw-1 1.50, pl-waw-2 1.24, pl-waw-3 1.5 "
        "(WUE not given for the last five); Scaleway names DC5 (fr-par-2) as the datacenter hosting "
        "its Generative APIs models, hence the value; range = all datacenters. The page does not "
        "state the data year: 2024 is inferred from its energy mix (Ember 2024 figures)",
    },
    {
        "provider_id": "nebius",
        "pue": 1.25,
        "pue_low": 1.0,
        "pue_high": 1.63,
        "pue_year": 2024,
        "pue_basis": "no provider figure: industry default (IDC public-cloud average); low end = "
        "designer's claim for Mantsala",
        "wue_l_per_kwh": 0.84,
        "wue_low": 0.0,
        "wue_high": 1.8,
        "wue_year": 2025,
        "wue_basis": "no provider figure: industry average quoted by Amazon (2026)",
        "report": "none published by Nebius; Royal HaskoningDHV project page (Mantsala design)",
        "report_year": 2025,
        "source_url": "https://www.royalhaskoningdhv.com/en/projects/data-centre-design-removes-need-for-mechanical-cooling-and-delivers-40-construction-cost-saving ; "
        "https://nebius.com/sustainability/turning-heat-into-a-resource",
        "confidence": "low",
        "note": "Nebius publishes no annual PUE or WUE that we found; the designer of its Mantsala "
        "site states 'PUE just above 1.0' (a design figure, not an annual measurement) and free "
        "outdoor-air adiabatic cooling; values are the industry defaults of the default row",
    },
    {
        "provider_id": "aws",
        "pue": 1.14,
        "pue_low": 1.04,
        "pue_high": 1.15,
        "pue_year": 2025,
        "pue_basis": "provider disclosure (global fleet)",
        "wue_l_per_kwh": 0.12,
        "wue_low": 0.12,
        "wue_high": 0.18,
        "wue_year": 2025,
        "wue_basis": "provider disclosure (global fleet, Amazon News 2026-06-11), read through press coverage",
        "report": "Amazon Sustainability, AWS data centers (2025 data); Amazon water disclosure of "
        "2026-06-11; 2024 Amazon Sustainability Report",
        "report_year": 2026,
        "source_url": "https://sustainability.aboutamazon.com/environment/the-cloud/asdi ; "
        "https://www.techradar.com/pro/amazon-reveals-exactly-how-much-water-its-data-centers-used-last-year-and-claims-its-2-5-billion-gallons-puts-it-below-the-industry-average ; "
        "https://aws.amazon.com/about-aws/sustainability/",
        "confidence": "high",
        "note": "global PUE 1.14 (2025), 1.15 (2024, 2023); best site 1.04 (Europe, 2024); WUE 0.12 L/kWh "
        "(2025, 2.5 billion US gal), 0.15 (2024), 0.18 (2023), 0.25 (2021). The 2025 WUE was read "
        "in press reports of Amazon's statement; the Amazon page itself was not retrieved",
    },
    {
        "provider_id": "microsoft_azure",
        "pue": 1.18,
        "pue_low": 1.12,
        "pue_high": 1.18,
        "pue_year": 2024,
        "pue_basis": "provider disclosure (fleet average; newest designs 1.12), quoted by press",
        "wue_l_per_kwh": 0.27,
        "wue_low": 0.27,
        "wue_high": 0.30,
        "wue_year": 2025,
        "wue_basis": "provider statement (owned fleet, 2026-06-24), read through press coverage",
        "report": "Microsoft 2025 Environmental Sustainability Report (FY2024); Microsoft datacenter "
        "water statement of 2026-06-24 (2025)",
        "report_year": 2026,
        "source_url": "https://www.windowsnews.ai/article/microsofts-datacenter-water-efficiency-improves-88-to-027-lkwh-as-ai-scales.429993 ; "
        "https://cybertechbiz.com/wp/microsoft-raises-bar-with-water-saving-data-center-design ; "
        "https://www.datacenterdynamics.com/en/news/aws-global-data-centers-achieved-pue-of-115-in-2023/ ; "
        "https://datacenters.microsoft.com/sustainability/efficiency/",
        "confidence": "medium",
        "note": "WUE 0.27 L/kWh (2025, owned fleet; press report of Microsoft's statement, primary not "
        "retrieved), 0.30 (FY2024), 0.49 (FY2021); PUE 1.18 fleet average, 1.12 newest designs "
        "(quoted in 2024; no FY2025 fleet PUE found)",
    },
    {
        "provider_id": "google",
        "pue": 1.09,
        "pue_low": 1.06,
        "pue_high": 1.10,
        "pue_year": 2024,
        "pue_basis": "provider disclosure (fleet trailing-twelve-month), quoted by press",
        "wue_l_per_kwh": 1.12,
        "wue_low": 0.85,
        "wue_high": 1.25,
        "wue_year": 2025,
        "wue_basis": "derived ratio: data-centre water consumption / IT energy (Google publishes no WUE)",
        "report": "Google 2025 Environmental Report (2024 data); Google 2024 Environmental Report "
        "(2023 data); Google, Measuring the environmental impact of delivering AI at Google Scale "
        "(arXiv 2508.15734, 2025)",
        "report_year": 2025,
        "source_url": "https://blog.google/outreach-initiatives/sustainability/environmental-report-2025 ; "
        "https://arxiv.org/abs/2508.15734 ; "
        "https://www.datacenterdynamics.com/en/news/google-emissions-jump-48-in-five-years-due-to-ai-data-center-boom/ ; "
        "https://qz.com/google-data-center-consume-water-energy-climate-change-1851760734 ; "
        "https://preview.deepnewz.com/energy/google-data-centre-power-demand-doubles-on-ai-growth-15e96bb9",
        "confidence": "medium",
        "note": "WUE derived two ways: (1) 2023: 6.1 billion US gal (23.1 billion L) data-centre water "
        "consumption / 24 TWh data-centre electricity = 0.96 L per facility kWh, x PUE 1.10 = 1.06 L "
        "per IT kWh; (2) May 2025, Gemini serving: 0.26 mL per median prompt / (0.24 Wh - 0.02 Wh "
        "data-centre overhead) = 1.18 L per IT kWh. Value 1.12 = mean of the two. 2024: "
        "30.8 TWh data-centre electricity; press reports of 2024 water (6.3-7.2 billion gal) give "
        "0.85-0.96, unconfirmed, hence the low end. PUE 1.09 (2024), 1.10 (2023), best site 1.06",
    },
    {
        "provider_id": "default",
        "pue": 1.25,
        "pue_low": 1.09,
        "pue_high": 1.63,
        "pue_year": 2024,
        "pue_basis": "industry average (IDC public cloud, quoted by AWS); not a provider figure",
        "wue_l_per_kwh": 0.84,
        "wue_low": 0.0,
        "wue_high": 1.8,
        "wue_year": 2025,
        "wue_basis": "industry average quoted by Amazon (2026); not a provider figure",
        "report": "IDC, 2H Datacenter Trends (January 2025), quoted by AWS; Amazon water disclosure "
        "of 2026-06-11 (industry average WUE)",
        "report_year": 2026,
        "source_url": "https://aws.amazon.com/about-aws/sustainability/ ; "
        "https://humanprogress.org/amazons-data-centers-are-7x-more-water-efficient-than-the-industry-average/ ; "
        "https://datacenter.uptimeinstitute.com/rs/711-RIA-145/images/2024.GlobalDataCenterSurvey.Report.pdf",
        "confidence": "low",
        "note": "provider without a public figure: PUE = IDC public-cloud average 1.25 (on-premises "
        "1.63; lowest hyperscaler fleet 1.09); WUE = industry average 0.84 L/kWh quoted by Amazon, "
        "from 0 (air-cooled sites) to the older 1.8 L/kWh academic estimate",
    },
]


def build_providers() -> pd.DataFrame:
    df = pd.DataFrame(PROVIDERS, columns=PROVIDER_COLUMNS)
    df["unit"] = "PUE: ratio; WUE: L per kWh of IT energy (on-site)"
    df["source"] = df["report"]
    # `year`: the newest data year among the row's figures
    df["year"] = df[["pue_year", "wue_year"]].max(axis=1)
    return df


# Parameter counts, weight precision and reasoning, from each model's card (source_url).
# bits_per_weight is that of the released checkpoint: what a provider serves is not public
# (an assumption). MXFP4 stores 4-bit values with one 8-bit scale per 32 weights: 4.25 bits.
# reasoning: the model emits reasoning tokens by default (hybrid models with thinking off by
# default are not reasoning models here).
MODEL_SIZES = [
    # model, total_b, active_b, precision, bits_per_weight, reasoning, source
    (
        "glm-4.7",
        355,
        32,
        "bf16",
        16,
        True,
        "https://huggingface.co/zai-org/GLM-4.7 ; https://docs.z.ai/guides/capabilities/thinking-mode",
    ),
    ("deepseek-v3.2", 671, 37, "fp8", 8, False, "https://huggingface.co/deepseek-ai/DeepSeek-V3.2"),
    ("deepseek-r1-0528", 671, 37, "fp8", 8, True, "https://huggingface.co/deepseek-ai/DeepSeek-R1-0528"),
    ("kimi-k2-thinking", 1000, 32, "int4", 4, True, "https://huggingface.co/moonshotai/Kimi-K2-Thinking"),
    ("gpt-oss-120b", 117, 5.1, "mxfp4", 4.25, True, "https://huggingface.co/openai/gpt-oss-120b"),
    ("gpt-oss-20b", 21, 3.6, "mxfp4", 4.25, True, "https://huggingface.co/openai/gpt-oss-20b"),
    (
        "qwen3-235b-a22b-instruct",
        235,
        22,
        "bf16",
        16,
        False,
        "https://huggingface.co/Qwen/Qwen3-235B-A22B-Instruct-2507",
    ),
    (
        "qwen3-vl-235b-a22b-instruct",
        235,
        22,
        "bf16",
        16,
        False,
        "https://huggingface.co/Qwen/Qwen3-VL-235B-A22B-Instruct",
    ),
    (
        "mistral-small-3.2-24b-instruct",
        24,
        24,
        "bf16",
        16,
        False,
        "https://huggingface.co/mistralai/Mistral-Small-3.2-24B-Instruct-2506",
    ),
    ("hermes-4-405b", 405, 405, "bf16", 16, False, "https://huggingface.co/NousResearch/Hermes-4-405B"),
    ("hermes-4-70b", 70, 70, "bf16", 16, False, "https://huggingface.co/NousResearch/Hermes-4-70B"),
    ("qwen3-embedding-8b", 8, 8, "bf16", 16, False, "https://huggingface.co/Qwen/Qwen3-Embedding-8B"),
    ("bge-m3", 0.568, 0.568, "fp32", 32, False, "https://huggingface.co/BAAI/bge-m3"),
    ("bge-reranker-v2-m3", 0.568, 0.568, "fp32", 32, False, "https://huggingface.co/BAAI/bge-reranker-v2-m3"),
]
MODEL_SIZE_COLUMNS = [
    "model",
    "total_params_billions",
    "active_params_billions",
    "precision",
    "bits_per_weight",
    "reasoning",
    "source_url",
]


def build_model_sizes() -> pd.DataFrame:
    sizes = pd.DataFrame(MODEL_SIZES, columns=MODEL_SIZE_COLUMNS)
    sizes["unit"] = "billions of parameters; bits per weight"
    sizes["source"] = "model card (source_url): parameters, released weight precision, reasoning by default"
    sizes["year"] = 2025
    return sizes


# Energy per output token: ML.ENERGY v3 runs on text tasks, median over batch sizes per
# (model, GPU, task). lm-arena-chat is chat; gpqa is run with the models reasoning (long
# outputs). The fit has two terms beyond size, each estimated from the runs:
# - 4-bit weights (bits per weight <= FOUR_BIT_MAX_BITS): only gpt-oss (MXFP4) is measured at
#   that precision, so the factor also carries gpt-oss's architecture (see ATTRIBUTION.md).
#   FP8 runs are not different from BF16 ones in this data (estimate kept in the JSON).
# - reasoning, for attention models: long reasoning outputs grow the KV cache read per token.
#   The Mamba-Transformer hybrids (Nemotron-H) measure no such rise, so they carry no
#   reasoning term; Melious's models are attention models.
TEXT_TASKS = ("lm-arena-chat", "gpqa")
REASONING_TASK = "gpqa"
PRECISION_BITS = {"bfloat16": 16.0, "fp8": 8.0, "mxfp4": 4.25}
FOUR_BIT_MAX_BITS = 4.5
SERVER_OVERHEAD = 1.3  # host CPU/DRAM/network on top of GPU energy (EcoLogits: 1.2 kW per 8 GPUs)
# ML.ENERGY's energy per output token is the whole run's energy over its output tokens, so it
# already holds the prefill of the benchmark prompts: an input token adds nothing within that
# prompt/output mix. The published runs carry no input lengths, so a separate prefill term
# cannot be fitted: the input prior is near zero, with an assumed upper bound.
INPUT_TO_OUTPUT_RATIO = 0.01
INPUT_RATIO_RANGE = (0.0, 0.1)


def energy_points(raw: Path) -> pd.DataFrame:
    """Median J per output token per (model, GPU, task) on the text tasks, with the terms."""
    d = pd.read_csv(raw / "mlenergy/mlenergy_v3_llm_mllm_runs.csv")
    d = d[d["task"].isin(TEXT_TASKS)].copy()
    d["bits_per_weight"] = d["weight_precision"].map(PRECISION_BITS)
    keys = [
        "model_id",
        "gpu_model",
        "task",
        "architecture",
        "weight_precision",
        "bits_per_weight",
        "activated_params_billions",
        "total_params_billions",
    ]
    g = d.groupby(keys)["energy_per_token_joules"].median().reset_index()
    g["family"] = g["model_id"].str.replace(r"-FP8$", "", regex=True)
    g["four_bit"] = (g["bits_per_weight"] <= FOUR_BIT_MAX_BITS).astype(float)
    g["reasoning"] = (g["task"] == REASONING_TASK).astype(float)
    attention = ~g["architecture"].str.contains("Mamba")
    g["reasoning_attention"] = g["reasoning"] * attention.astype(float)
    return g


def _design(g: pd.DataFrame, terms: tuple[str, ...]) -> np.ndarray:
    cols = [np.ones(len(g)), np.log(g["activated_params_billions"]), np.log(g["total_params_billions"])]
    cols += [g[t].to_numpy(dtype=float) for t in terms]
    return np.column_stack(cols)


def _ols(g: pd.DataFrame, terms: tuple[str, ...]) -> tuple[np.ndarray, float, np.ndarray]:
    """Coefficients, residual log sd and coefficient standard errors."""
    x = _design(g, terms)
    y = np.log(g["energy_per_token_joules"].to_numpy())
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    sd = float(np.sqrt(resid @ resid / (len(y) - x.shape[1])))
    se = sd * np.sqrt(np.diag(np.linalg.inv(x.T @ x)))
    return coef, sd, se


def _leave_one_family_out(g: pd.DataFrame, terms: tuple[str, ...], train: pd.Series) -> np.ndarray:
    """Held-out ln prediction of every point, fitted without its model family (BF16 and FP8
    checkpoints of one model are one family)."""
    pred = np.full(len(g), np.nan)
    for fam in g["family"].unique():
        held = (g["family"] == fam).to_numpy()
        coef, _, _ = _ols(g[train.to_numpy() & ~held], terms)
        pred[held] = _design(g[held], terms) @ coef
    return pred


def _median_abs_log_error(g: pd.DataFrame, pred: np.ndarray) -> dict[str, float]:
    err = np.abs(pred - np.log(g["energy_per_token_joules"].to_numpy()))
    chat = (g["reasoning"] == 0).to_numpy()
    oss = g["model_id"].str.contains("gpt-oss").to_numpy()
    return {
        "all": round(float(np.median(err)), 3),
        "chat": round(float(np.median(err[chat])), 3),
        "reasoning": round(float(np.median(err[~chat])), 3),
        "gpt_oss": round(float(np.median(err[oss])), 3),
        "n_points": len(err),
    }


FIT_TERMS = ("four_bit", "reasoning_attention")


def build_energy_fit(raw: Path) -> dict[str, object]:
    g = energy_points(raw)
    coef, sd, se = _ols(g, FIT_TERMS)
    # Spread across batch sizes within a (model, GPU, task), added to the between-model residual.
    d = pd.read_csv(raw / "mlenergy/mlenergy_v3_llm_mllm_runs.csv")
    d = d[d["task"].isin(TEXT_TASKS)]
    within = (
        d.groupby(["model_id", "gpu_model", "task"])["energy_per_token_joules"]
        .apply(lambda s: float(np.std(np.log(s), ddof=1)) if len(s) > 1 else np.nan)
        .median()
    )
    # FP8 against BF16: estimated, not shipped as a term (no difference in this data).
    fp8 = g.assign(fp8=(g["bits_per_weight"] == 8.0).astype(float))
    c8, _, se8 = _ols(fp8, ("fp8", *FIT_TERMS))
    # Same model and GPU, reasoning (gpqa) over chat: the within-model reasoning ratio.
    pairs = g[g["reasoning"] == g["reasoning_attention"]].pivot_table(
        index=["model_id", "gpu_model"], columns="task", values="energy_per_token_joules"
    )
    pairs = pairs.dropna()
    ratios = (pairs[REASONING_TASK] / pairs["lm-arena-chat"]).round(3)
    chat_only = g["reasoning"] == 0
    everything = pd.Series(True, index=g.index)
    before = _median_abs_log_error(g, _leave_one_family_out(g, (), chat_only))
    after = _median_abs_log_error(g, _leave_one_family_out(g, FIT_TERMS, everything))
    return {
        "formula": "ln(J per output token, GPU) = c0 + c_active*ln(active params, B) + c_total*ln(total "
        "params, B) + c_four_bit*[bits per weight <= four_bit_max_bits] + c_reasoning*[reasoning model]",
        "c0": float(coef[0]),
        "c_active": float(coef[1]),
        "c_total": float(coef[2]),
        "c_four_bit": float(coef[3]),
        "c_reasoning": float(coef[4]),
        "se_four_bit": float(se[3]),
        "se_reasoning": float(se[4]),
        "four_bit_max_bits": FOUR_BIT_MAX_BITS,
        "four_bit_factor": round(float(np.exp(coef[3])), 3),
        "reasoning_factor": round(float(np.exp(coef[4])), 3),
        "four_bit_measured_on": sorted(g.loc[g["four_bit"] == 1, "model_id"].unique().tolist()),
        "fp8_factor_not_applied": round(float(np.exp(c8[3])), 3),
        "fp8_factor_se_log": round(float(se8[3]), 3),
        "reasoning_paired_ratios": {f"{m} {gpu}": float(r) for (m, gpu), r in ratios.items()},
        "log_sd_between_models": sd,
        "log_sd_batch_size": float(within),
        "n_points": len(g),
        "validation": {
            "metric": "median |ln(predicted / measured)| of J per output token, leave-one-model-family-out",
            "before": {"fit": "size only, chat runs (factor tables 2026.11.1)", **before},
            "after": {"fit": "size + 4-bit + reasoning, chat and reasoning runs", **after},
        },
        "server_overhead": SERVER_OVERHEAD,
        "input_to_output_ratio": INPUT_TO_OUTPUT_RATIO,
        "input_ratio_range": list(INPUT_RATIO_RANGE),
        "unit": "J per output token (GPU only, before server overhead and PUE)",
        "source": "ML.ENERGY Benchmark v3 (ml-energy/leaderboard @ 0cd52dab, lm-arena-chat and gpqa, "
        "H100/B200, vLLM)",
        "source_url": "https://ml.energy/leaderboard ; https://huggingface.co/datasets/ml-energy/benchmark-v3",
        "licence": "Apache-2.0",
        "year": 2026,
    }


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m melious_impact.data.factors.derive RAW_DIR", file=sys.stderr)
        return 2
    raw = Path(argv[1])
    build_grid(raw).to_csv(HERE / "grid_intensity.csv", index=False)
    build_providers().to_csv(HERE / "provider_pue_wue.csv", index=False)
    build_model_sizes().to_csv(HERE / "model_sizes.csv", index=False)
    fit = build_energy_fit(raw)
    (HERE / "energy_per_token_fit.json").write_text(json.dumps(fit, indent=2) + "\n")
    print(json.dumps(fit, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
