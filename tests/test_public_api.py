"""Pins the flat public namespace: adding or removing a public name is a deliberate act."""

from __future__ import annotations

import importlib
import subprocess
import sys

import melious_impact as mi

EXPECTED = {
    "ForecastError",
    "ImpactStore",
    "IntensityModel",
    "MeliousImpactError",
    "ModelError",
    "ParseError",
    "Recorder",
    "StoreError",
    "__version__",
    "add_cost_eur",
    "budget_status",
    "charts",
    "cost_of",
    "current_tags",
    "dashboard",
    "default_store_path",
    "fetch_catalogue",
    "fill_missing",
    "fit_intensity",
    "forecast",
    "import_batch_output",
    "load_budgets",
    "report",
    "resolve_location",
    "scenario",
    "tags",
}


def test_public_names_are_pinned() -> None:
    assert set(mi.__all__) == EXPECTED


def test_every_public_name_resolves() -> None:
    for name in mi.__all__:
        assert getattr(mi, name) is not None, name


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        mi.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_import_is_light() -> None:
    """`import melious_impact` must not drag in the heavy optional parts."""
    code = (
        "import sys, melious_impact; "
        "heavy = {'altair', 'statsmodels', 'scipy', 'duckdb', 'pyarrow', 'openai', 'anthropic'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_errors_share_one_root() -> None:
    errors = importlib.import_module("melious_impact.errors")
    for name in ("StoreError", "ParseError", "ModelError", "ForecastError"):
        assert issubclass(getattr(errors, name), errors.MeliousImpactError)
