"""Rebuild the shipped prior tables from the public reference files (maintainers only).

Run as ``python -m melious_impact.data.factors.derive RAW_DIR`` where ``RAW_DIR`` holds the
reference copies described in ``ATTRIBUTION.md`` (Ember, OWID, ML.ENERGY, curated PUE/WUE).
The package never runs this at import or use time: it only reads the CSV/JSON it writes.

Outputs (next to this file):

- ``grid_intensity.csv``: per country (ISO-3166 alpha-2) and month of the latest complete
  Ember year, generation-based lifecycle g CO2e/kWh (Ember monthly), plus the annual figure
  (month 0) and the OWID renewable share of that year.
- ``provider_pue_wue.csv``: PUE and on-site WUE per provider, curated public figures with URLs.
- ``energy_per_token_fit.json``: log-log fit of GPU energy per output token against active
  and total parameter counts on ML.ENERGY v3 chat runs, with the overhead assumptions.
- ``model_sizes.csv``: parameter counts of models seen on Melious (public model cards).
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
        for _, r in m[m["year"] == year].sort_values("month").iterrows():
            rows.append(
                {
                    "location": iso2,
                    "year": year,
                    "month": int(r["month"]),
                    "grid_g_per_kwh": round(float(r["emissions_intensity_gco2_per_kwh"]), 2),
                    "renewable_percent": round(renewable, 2),
                    "unit": "g CO2e/kWh (generation, lifecycle)",
                    "source": "Ember monthly electricity data",
                    "source_url": EMBER_URL,
                    "licence": "CC BY 4.0",
                }
            )
    return pd.DataFrame(rows)


# Curated provider figures: one row per provider, the best-supported public value, with the
# range seen across sources. Providers without any public figure fall back to `default`.
PROVIDERS = [
    # provider_id, pue, pue_low, pue_high, wue, wue_low, wue_high, year, source_url, note
    (
        "ovhcloud",
        1.28,
        1.10,
        1.30,
        0.185,
        0.17,
        0.29,
        2022,
        "https://www.channelnews.fr/ovhcloud-lance-une-calculatrice-carbone-128249 ; "
        "https://www.silicon.fr/6-indicateurs-empreinte-environnementale-ovhcloud-453367.html",
        "fleet average PUE 1.28 (OVHcloud); FY2021 PUE 1.1-1.3, WUE 0.17-0.20 L/kWh (FY2020 0.24-0.29)",
    ),
    (
        "scaleway",
        1.35,
        1.15,
        1.55,
        0.10,
        0.0,
        0.20,
        2022,
        "https://www.silicon.fr/5-indicateurs-empreinte-environnementale-scaleway-453379.html",
        "per-DC PUE 1.15 (DC5) to 1.55 (DC2); WUE 0 (DC2-DC4) to <0.2 (DC5); value = midpoint",
    ),
    (
        "nebius",
        1.10,
        1.02,
        1.25,
        0.25,
        0.0,
        1.8,
        2026,
        "https://www.royalhaskoningdhv.com/en/projects/data-centre-design-removes-need-for-mechanical-cooling-and-delivers-40-construction-cost-saving",
        "design claim 'just above 1.0' (low confidence); WUE unpublished: cloud default",
    ),
    (
        "aws",
        1.15,
        1.14,
        1.15,
        0.25,
        0.18,
        0.30,
        2024,
        "https://aws.amazon.com/tw/sustainability/data-centers",
        "global fleet PUE 1.15 (2023, 2024), 1.14 (2025); WUE 0.25 L/kWh (2021)",
    ),
    (
        "microsoft_azure",
        1.18,
        1.12,
        1.18,
        0.30,
        0.27,
        0.49,
        2024,
        "https://cybertechbiz.com/wp/microsoft-raises-bar-with-water-saving-data-center-design",
        "global average PUE 1.18, newest 1.12; WUE 0.30 L/kWh (FY2024)",
    ),
    (
        "google",
        1.10,
        1.06,
        1.10,
        0.25,
        0.0,
        1.8,
        2024,
        "https://www.cnbc.com/2022/04/13/google-data-center-goal-100percent-green-energy-by-2030.html",
        "fleet TTM PUE about 1.10 (best site 1.06); WUE not captured: cloud default",
    ),
    (
        "default",
        1.25,
        1.10,
        1.63,
        0.25,
        0.0,
        1.8,
        2025,
        "https://aws.amazon.com/tw/sustainability/data-centers (IDC 2025 public-cloud PUE); "
        "https://datacenter.uptimeinstitute.com/rs/711-RIA-145/images/2024.GlobalDataCenterSurvey.Report.pdf",
        "provider without a public figure: IDC public-cloud average 1.25 (on-prem 1.63); "
        "WUE = typical cloud figure 0.25, up to the 1.8 industry average",
    ),
]


def build_providers() -> pd.DataFrame:
    cols = [
        "provider_id",
        "pue",
        "pue_low",
        "pue_high",
        "wue_l_per_kwh",
        "wue_low",
        "wue_high",
        "year",
        "source_url",
        "note",
    ]
    df = pd.DataFrame(PROVIDERS, columns=cols)
    df["unit"] = "PUE: ratio; WUE: L/kWh (on-site)"
    df["source"] = "curated public figures (melious_impact), see source_url"
    return df


MODEL_SIZES = [
    # model, total_b, active_b, source
    ("glm-4.7", 355, 32, "https://huggingface.co/zai-org (GLM-4.5/4.6/4.7 family model cards)"),
    ("deepseek-v3.2", 671, 37, "https://huggingface.co/deepseek-ai/DeepSeek-V3.2"),
    ("deepseek-r1-0528", 671, 37, "https://huggingface.co/deepseek-ai/DeepSeek-R1-0528"),
    ("kimi-k2-thinking", 1000, 32, "https://huggingface.co/moonshotai/Kimi-K2-Thinking"),
    ("gpt-oss-120b", 117, 5.1, "https://huggingface.co/openai/gpt-oss-120b"),
    ("gpt-oss-20b", 21, 3.6, "https://huggingface.co/openai/gpt-oss-20b"),
    ("qwen3-235b-a22b-instruct", 235, 22, "https://huggingface.co/Qwen/Qwen3-235B-A22B-Instruct-2507"),
    ("qwen3-vl-235b-a22b-instruct", 235, 22, "https://huggingface.co/Qwen/Qwen3-VL-235B-A22B-Instruct"),
    (
        "mistral-small-3.2-24b-instruct",
        24,
        24,
        "https://huggingface.co/mistralai/Mistral-Small-3.2-24B-Instruct-2506",
    ),
    ("hermes-4-405b", 405, 405, "https://huggingface.co/NousResearch/Hermes-4-405B"),
    ("hermes-4-70b", 70, 70, "https://huggingface.co/NousResearch/Hermes-4-70B"),
    ("qwen3-embedding-8b", 8, 8, "https://huggingface.co/Qwen/Qwen3-Embedding-8B"),
    ("bge-m3", 0.568, 0.568, "https://huggingface.co/BAAI/bge-m3"),
    ("bge-reranker-v2-m3", 0.568, 0.568, "https://huggingface.co/BAAI/bge-reranker-v2-m3"),
]

# Assumptions layered on the GPU-only ML.ENERGY figures (stated in ATTRIBUTION.md).
SERVER_OVERHEAD = 1.3  # host CPU/DRAM/network on top of GPU energy (EcoLogits: 1.2 kW per 8 GPUs)
INPUT_TO_OUTPUT_RATIO = 0.1  # prefill is batched and parallel: ~1/10 of a decoded token
INPUT_RATIO_RANGE = (0.02, 0.5)


def build_energy_fit(raw: Path) -> dict[str, object]:
    d = pd.read_csv(raw / "mlenergy/mlenergy_v3_llm_mllm_runs.csv")
    chat = d[d["task"] == "lm-arena-chat"]
    # Median over batch sizes per (model, GPU): serving batch sizes vary and the spread
    # across them goes into the interval, not the centre.
    g = (
        chat.groupby(["model_id", "gpu_model", "activated_params_billions", "total_params_billions"])[
            "energy_per_token_joules"
        ]
        .median()
        .reset_index()
    )
    x = np.column_stack(
        [np.ones(len(g)), np.log(g["activated_params_billions"]), np.log(g["total_params_billions"])]
    )
    y = np.log(g["energy_per_token_joules"].to_numpy())
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    sd = float(np.sqrt(resid @ resid / (len(y) - x.shape[1])))
    # Spread across batch sizes within a model (log sd), added to the between-model residual.
    within = (
        chat.groupby(["model_id", "gpu_model"])["energy_per_token_joules"]
        .apply(lambda s: float(np.std(np.log(s), ddof=1)) if len(s) > 1 else np.nan)
        .median()
    )
    return {
        "formula": "ln(J per output token, GPU) = c0 + c_active*ln(active params, B) + c_total*ln(total params, B)",
        "c0": float(coef[0]),
        "c_active": float(coef[1]),
        "c_total": float(coef[2]),
        "log_sd_between_models": sd,
        "log_sd_batch_size": float(within),
        "n_points": len(g),
        "server_overhead": SERVER_OVERHEAD,
        "input_to_output_ratio": INPUT_TO_OUTPUT_RATIO,
        "input_ratio_range": list(INPUT_RATIO_RANGE),
        "unit": "J per output token (GPU only, before server overhead and PUE)",
        "source": "ML.ENERGY Benchmark v3 (ml-energy/leaderboard @ 0cd52dab, lm-arena-chat, H100/B200, vLLM)",
        "source_url": "https://ml.energy/leaderboard ; https://huggingface.co/datasets/ml-energy/benchmark-v3",
        "licence": "Apache-2.0",
        "year": 2026,
    }


def main(argv: list[str]) -> int:
    raw = Path(argv[1]) if len(argv) > 1 else Path("/work/shared/reference/raw")
    build_grid(raw).to_csv(HERE / "grid_intensity.csv", index=False)
    build_providers().to_csv(HERE / "provider_pue_wue.csv", index=False)
    sizes = pd.DataFrame(
        MODEL_SIZES, columns=["model", "total_params_billions", "active_params_billions", "source_url"]
    )
    sizes["unit"] = "billions of parameters"
    sizes["year"] = 2025
    sizes.to_csv(HERE / "model_sizes.csv", index=False)
    fit = build_energy_fit(raw)
    (HERE / "energy_per_token_fit.json").write_text(json.dumps(fit, indent=2) + "\n")
    print(json.dumps(fit, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
