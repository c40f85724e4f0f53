"""FOCUS export: columns and types against the encoded spec, exact totals, files."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import focus_rules
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melious_impact.export.focus import focus_arrow_schema, to_focus, write_focus
from melious_impact.export.focus_spec import (
    FOCUS_COLUMN_NAMES,
    FOCUS_COLUMNS,
    FOCUS_COLUMNS_BY_NAME,
    MANDATORY_COLUMNS,
)
from melious_impact.forecasting.costs import add_cost_eur, sum_decimal

# The specification's Mandatory columns and service categories as the tests' own reading of
# FOCUS 1.2 states them (focus_rules, written apart from the package on purpose): the test
# fails if the encoded spec loses one.
FOCUS_12_MANDATORY = set(focus_rules.MANDATORY)
FOCUS_SERVICE_CATEGORIES = set(focus_rules.SERVICE_CATEGORIES)


def _exact_total_cost(rows: list[dict[str, Any]]) -> Decimal:
    return sum_decimal(add_cost_eur(pd.DataFrame(rows))["cost_eur"])


def test_columns_and_types_follow_the_spec(rows: list[dict[str, Any]]) -> None:
    df = to_focus(rows)
    assert tuple(df.columns) == FOCUS_COLUMN_NAMES
    assert set(MANDATORY_COLUMNS) == FOCUS_12_MANDATORY
    for name in df.columns:
        assert name in FOCUS_COLUMNS_BY_NAME
        spec = FOCUS_COLUMNS_BY_NAME[name]
        assert spec.level == "Custom" or not name.startswith("x_")
        assert (spec.level == "Custom") == name.startswith("x_")  # extensions carry the x_ prefix
        values = df[name].tolist()
        if not spec.nullable:
            assert all(v is not None and v == v for v in values), name
        present = [v for v in values if v is not None and v == v]
        if spec.data_type == "Decimal":
            assert all(isinstance(v, Decimal) for v in present), name
        elif spec.data_type == "DateTime":
            assert str(df[name].dtype) == "datetime64[us, UTC]", name
        elif spec.data_type in {"String", "JSON"}:
            assert all(isinstance(v, str) for v in present), name
        elif spec.data_type == "Integer":
            assert str(df[name].dtype) == "Int64", name  # nullable: null on a charge's Output row
        elif spec.data_type == "Boolean":
            assert str(df[name].dtype) == "bool", name
        elif spec.data_type == "Float":
            assert str(df[name].dtype) == "float64", name
    assert set(df["BillingCurrency"]) == {"EUR"}
    assert set(df["ChargeCategory"]) == {"Usage"}
    assert set(df["ServiceCategory"]) <= FOCUS_SERVICE_CATEGORIES
    assert set(df["ProviderName"]) == {"Melious"}
    for tags in df["Tags"]:
        assert isinstance(json.loads(tags), dict)


@pytest.mark.parametrize("granularity", ["hour", "day", "request"])
def test_totals_equal_the_rows(rows: list[dict[str, Any]], granularity: str) -> None:
    df = to_focus(rows, granularity=granularity)
    expected = _exact_total_cost(rows)
    assert expected > 0
    for column in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        assert sum(df[column], Decimal(0)) == expected  # exact, not approx
    # the error row has no billing block: its cost is unknown, so it is no FOCUS charge
    assert df.attrs["unknown_cost_requests"] == 1
    assert df["x_Requests"].sum() == len(rows) - 1
    assert df["x_ErrorRequests"].sum() == 0
    assert df["x_InputTokens"].sum() == sum(r["input_tokens"] or 0 for r in rows)
    assert sum(df["ConsumedQuantity"]) == sum(
        (r["input_tokens"] or 0) + (r["output_tokens"] or 0) for r in rows
    )
    assert df["x_EnergyKwh"].sum() == pytest.approx(sum(r["energy_kwh"] or 0 for r in rows))
    assert df["x_CarbonGCo2"].sum() == pytest.approx(sum(r["carbon_g_co2"] or 0 for r in rows))
    assert sum(df["x_BillingCredits"]) == sum(r["billing_credits"] or 0 for r in rows)
    # periods: [start, end) inside one billing month, aligned on the granularity
    assert (df["ChargePeriodEnd"] > df["ChargePeriodStart"]).all()
    assert (df["ChargePeriodStart"] >= df["BillingPeriodStart"]).all()
    assert (df["ChargePeriodEnd"] <= df["BillingPeriodEnd"]).all()
    if granularity == "hour":
        assert ((df["ChargePeriodEnd"] - df["ChargePeriodStart"]) == timedelta(hours=1)).all()
        assert (df["ChargePeriodStart"].dt.minute == 0).all()
    if granularity == "request":
        assert len(df) == len(rows) - 1
        assert sorted(df["x_RequestId"]) == sorted(r["request_id"] for r in rows if r["error_code"] is None)


def test_grouping_keys_are_period_resource_region_and_tags(make_row: Any) -> None:
    # same hour, model, region, balance and tags: one FOCUS row; a different team splits it
    same = [make_row(1, captured_at=make_row(1)["captured_at"] + timedelta(minutes=k)) for k in range(3)]
    other_team = make_row(1, team="other")
    df = to_focus([*same, other_team], granularity="hour")
    assert len(df) == 2
    merged = df[df["x_Team"] == make_row(1)["team"]].iloc[0]
    assert merged["x_Requests"] == 3
    assert merged["ResourceId"] == "glm-4.7"
    assert merged["RegionId"] == "FR"
    assert json.loads(merged["Tags"]) == {"env": "prod", "feature": "f1", "project": "rag", "team": "ads"}


def test_energy_rate_is_a_parameter(make_row: Any) -> None:
    row = make_row(0)  # paid with energy
    assert row["billing_paid_with"] == "energy"
    df1 = to_focus([row])
    df2 = to_focus([row], eur_per_energy_unit="0.0002")
    assert df2["BilledCost"][0] == 2 * df1["BilledCost"][0]
    assert df1["BilledCost"][0] == row["billing_energy"] * Decimal("0.0001")


def test_bad_arguments_say_what_to_do(rows: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="granularity"):
        to_focus(rows, granularity="week")
    with pytest.raises(ValueError, match="eur_per_energy_unit"):
        to_focus(rows, eur_per_energy_unit="-1")
    with pytest.raises(ValueError, match="focus_version"):
        to_focus(rows, focus_version="1.3")
    with pytest.raises(ValueError, match="unknown_cost"):
        to_focus(rows, unknown_cost="zero")
    assert to_focus(rows, focus_version="1.2").attrs["focus_version"] == "1.2"


def test_empty_input_gives_the_columns() -> None:
    df = to_focus([])
    assert tuple(df.columns) == FOCUS_COLUMN_NAMES
    assert len(df) == 0


def test_write_parquet_keeps_decimals_exact(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    df = to_focus(rows, granularity="hour")
    path = write_focus(df, tmp_path / "focus.parquet")
    table = pq.read_table(path)
    assert table.schema.equals(focus_arrow_schema(), check_metadata=False)
    back = table.to_pandas()
    assert sum(back["BilledCost"], Decimal(0)) == _exact_total_cost(rows)
    assert list(back["ChargePeriodStart"]) == list(df["ChargePeriodStart"])


def test_write_csv_is_iso_and_exact(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    df = to_focus(rows, granularity="day")
    path = write_focus(df, tmp_path / "out" / "focus.csv")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert tuple(back.columns) == FOCUS_COLUMN_NAMES
    assert all(v.endswith("Z") and "T" in v for v in back["ChargePeriodStart"])
    assert sum(Decimal(v) for v in back["BilledCost"]) == _exact_total_cost(rows)
    assert "E" not in "".join(back["BilledCost"])  # no exponent notation for FinOps tools
    with pytest.raises(ValueError, match="csv"):
        write_focus(df, tmp_path / "focus.xlsx")


def test_huge_amounts_keep_every_digit(make_row: Any, tmp_path: Path) -> None:
    big = Decimal("12345678901234567890.123456789012345678")  # 38 digits: the widest stored
    row = make_row(1, billing_credits=big, billing_paid_with="credits")
    df = to_focus([row, make_row(1, billing_credits=big, billing_paid_with="credits")])
    assert df["BilledCost"][0] == Decimal("24691357802469135780.246913578024691356")  # 2 x big, every digit
    path = write_focus(to_focus([row]), tmp_path / "big.parquet")
    assert pq.read_table(path).to_pandas()["BilledCost"][0] == big


def test_spec_table_is_consistent() -> None:
    names = [c.name for c in FOCUS_COLUMNS]
    assert len(names) == len(set(names))
    assert {c.data_type for c in FOCUS_COLUMNS} <= {
        "Boolean",
        "Decimal",
        "String",
        "DateTime",
        "JSON",
        "Integer",
        "Float",
    }


def test_totals_equal_the_store(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    """From a real ImpactStore: FOCUS totals equal DuckDB's sums over the same store."""
    store_mod = pytest.importorskip("melious_impact.store.impact_store", reason="store not written yet")
    store = store_mod.ImpactStore(tmp_path / "store")
    store.append(rows)
    df = to_focus(store, granularity="hour")
    sums = store.sql(
        "select sum(billing_credits) filter (where billing_paid_with = 'credits') as credits, "
        "sum(billing_energy) filter (where billing_paid_with = 'energy') as energy, "
        "sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) as tokens, "
        "sum(energy_kwh) as kwh, count(*) filter (where billing_paid_with is not null) as n "
        "from requests"
    ).iloc[0]
    store.close()
    expected = Decimal(sums["credits"]) + Decimal(sums["energy"]) * Decimal("0.0001")
    assert sum(df["BilledCost"], Decimal(0)) == expected
    assert sum(df["ConsumedQuantity"]) == sums["tokens"]
    assert df["x_Requests"].sum() == sums["n"]
    assert df["x_EnergyKwh"].sum() == pytest.approx(sums["kwh"])


def test_cli_export_focus(
    rows: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_mod = pytest.importorskip("melious_impact.store.impact_store", reason="store not written yet")
    import argparse

    from melious_impact.cli import export_cmds

    store = store_mod.ImpactStore(tmp_path / "store")
    store.append(rows)
    store.close()
    parser = argparse.ArgumentParser()
    export_cmds.register(parser.add_subparsers())
    out = tmp_path / "focus.csv"
    args = parser.parse_args(
        ["export-focus", "--store", str(tmp_path / "store"), str(out), "--granularity", "hour"]
    )
    assert args.func(args) == 0
    back = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert sum(Decimal(v) for v in back["BilledCost"]) == _exact_total_cost(rows)
    assert "FOCUS rows" in capsys.readouterr().out


_money = st.one_of(st.none(), st.decimals(min_value=0, max_value=10**6, places=18, allow_nan=False))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "minutes": st.integers(min_value=0, max_value=60 * 24 * 70),
                "credits": _money,
                "energy": _money,
                "paid_with": st.sampled_from([None, "credits", "energy", "CREDITS", "other"]),
                "team": st.sampled_from([None, "a", "b", "ü/../x"]),
                "tokens": st.one_of(st.none(), st.integers(min_value=0, max_value=10**6)),
                "latency": st.one_of(st.none(), st.floats(min_value=0, max_value=1e6)),
            }
        ),
        min_size=1,
        max_size=30,
    )
)
def test_totals_do_not_depend_on_granularity(specs: list[dict[str, Any]]) -> None:
    from melious_impact.export._rows import as_utc
    from melious_impact.records import empty_row

    rows = []
    for i, spec in enumerate(specs):
        row = empty_row()
        row.update(
            captured_at=as_utc("2026-01-30T20:00:00") + timedelta(minutes=spec["minutes"]),
            model="m",
            request_id=f"r{i}",
            billing_credits=spec["credits"],
            billing_energy=spec["energy"],
            billing_paid_with=spec["paid_with"],
            team=spec["team"],
            input_tokens=spec["tokens"],
            latency_ms=spec["latency"],
        )
        rows.append(row)
    expected = _exact_total_cost(rows)
    known = [c is not None for c in add_cost_eur(pd.DataFrame(rows))["cost_eur"]]
    for granularity in ("hour", "day", "request"):
        df = to_focus(rows, granularity=granularity)
        assert sum_decimal(df["BilledCost"]) == expected  # wide context: no 28-digit rounding
        assert df["x_Requests"].sum() == sum(known)
        assert df.attrs["unknown_cost_requests"] == len(rows) - sum(known)
        assert sum(df["ConsumedQuantity"]) == sum(
            r["input_tokens"] or 0 for r, k in zip(rows, known, strict=True) if k
        )
        assert (df["ChargePeriodEnd"] > df["ChargePeriodStart"]).all()
        assert (df["ChargePeriodStart"] >= df["BillingPeriodStart"]).all()
        kept = to_focus(rows, granularity=granularity, unknown_cost="null")
        assert kept["x_Requests"].sum() == len(rows)
        assert kept["x_CostUnknown"].tolist() == [v is None for v in kept["BilledCost"]]


def test_price_lists_are_exact_and_say_where_they_come_from(tmp_path: Path) -> None:
    from melious_impact.export.focus_prices import (
        UnitPrices,
        load_price_list,
        price_list_from_mapping,
        price_list_from_models,
    )

    body = (
        b'{"data": [{"id": "glm-4.7", "_meta": {"pricing": {"input_cost_per_million_eur": 0.55,'
        b' "output_cost_per_million_eur": 2.1}}}, {"id": "no-price", "_meta": {}},'
        b' {"id": "half", "_meta": {"pricing": {"input_cost_per_million_eur": 1}}}]}'
    )
    prices = price_list_from_models(body)
    assert prices == {"glm-4.7": UnitPrices(Decimal("0.55"), Decimal("2.1"), "model catalogue")}
    saved = tmp_path / "models.json"
    saved.write_bytes(body[:-1] + b', "aliases": {"claude-opus-4-7": "glm-4.7"}}')
    loaded = load_price_list(saved)
    assert loaded["claude-opus-4-7"].eur_per_million_output == Decimal("2.1")
    assert loaded["claude-opus-4-7"].source == "models.json, as glm-4.7"
    mapping = tmp_path / "prices.json"
    mapping.write_text('{"m": {"input": "0.000001", "output": 3}}')
    assert load_price_list(mapping)["m"].eur_per_million_input == Decimal("0.000001")
    with pytest.raises(ValueError, match="no price"):
        price_list_from_mapping({"alias": "missing"})
    with pytest.raises(ValueError, match="non-negative"):
        price_list_from_mapping({"m": {"input": "-1", "output": "1"}})


def test_input_and_output_rows_share_the_billed_cost_exactly(make_row: Any) -> None:
    row = make_row(1, input_tokens=1000, output_tokens=3, billing_credits=Decimal("0.000000000000000001"))
    df = to_focus([row], granularity="request", prices={row["model"]: {"input": "1", "output": "3"}})
    assert df["x_TokenType"].tolist() == ["Input", "Output"]
    assert df["ListCost"].tolist() == [Decimal("0.001"), Decimal("0.000009")]
    assert sum(df["BilledCost"], Decimal(0)) == row["billing_credits"]  # rounding never loses a digit
    assert df["x_Requests"].tolist()[1] is pd.NA
