"""melious_impact: capture, store, model, forecast and report the environmental and
billing data that every Melious inference response carries.

The public API is flat and loaded lazily, so ``import melious_impact`` stays cheap and
optional extras (charts, forecasting, S3, OpenTelemetry) are imported only when used.
The list below is pinned by ``tests/test_public_api.py``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # capture
    "Recorder": "melious_impact.capture.recorder",
    "tags": "melious_impact.capture.tags",
    "current_tags": "melious_impact.capture.tags",
    # store
    "ImpactStore": "melious_impact.store.impact_store",
    "default_store_path": "melious_impact.store.impact_store",
    "import_batch_output": "melious_impact.capture.batch_file",
    # model
    "fit_intensity": "melious_impact.model.fit",
    "IntensityModel": "melious_impact.model.fit",
    "fill_missing": "melious_impact.model.fill",
    "scenario": "melious_impact.model.scenario",
    "resolve_location": "melious_impact.model.locations",
    # forecast
    "forecast": "melious_impact.forecasting.forecast",
    "budget_status": "melious_impact.forecasting.budgets",
    "load_budgets": "melious_impact.forecasting.budgets",
    "cost_of": "melious_impact.forecasting.costs",
    "fetch_catalogue": "melious_impact.forecasting.catalogue",
    "add_cost_eur": "melious_impact.forecasting.costs",
    # charts, reports and dashboards
    "report": "melious_impact.reporting.report",
    "dashboard": "melious_impact.reporting.dashboard",
    # errors
    "MeliousImpactError": "melious_impact.errors",
    "StoreError": "melious_impact.errors",
    "ParseError": "melious_impact.errors",
    "ModelError": "melious_impact.errors",
    "ForecastError": "melious_impact.errors",
}

# public submodules, imported on first use: ``mi.charts.impact_over_time(...)``
_SUBMODULES = ("charts",)

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__"])


def _version() -> str:
    """The installed distribution's version: written once, in pyproject.toml."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("melious-impact")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read on first use: importlib.metadata is slow to import
        globals()[name] = value = _version()
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"melious_impact.{name}")
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'melious_impact' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # cache: later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    __version__: str

    from melious_impact.capture.batch_file import (
        import_batch_output as import_batch_output,
    )
    from melious_impact.capture.recorder import (
        Recorder as Recorder,
    )
    from melious_impact.capture.tags import (
        current_tags as current_tags,
    )
    from melious_impact.capture.tags import (
        tags as tags,
    )
    from melious_impact.errors import (
        ForecastError as ForecastError,
    )
    from melious_impact.errors import (
        MeliousImpactError as MeliousImpactError,
    )
    from melious_impact.errors import (
        ModelError as ModelError,
    )
    from melious_impact.errors import (
        ParseError as ParseError,
    )
    from melious_impact.errors import (
        StoreError as StoreError,
    )
    from melious_impact.forecasting.budgets import (
        budget_status as budget_status,
    )
    from melious_impact.forecasting.budgets import (
        load_budgets as load_budgets,
    )
    from melious_impact.forecasting.catalogue import (
        fetch_catalogue as fetch_catalogue,
    )
    from melious_impact.forecasting.costs import (
        add_cost_eur as add_cost_eur,
    )
    from melious_impact.forecasting.costs import (
        cost_of as cost_of,
    )
    from melious_impact.forecasting.forecast import (
        forecast as forecast,
    )
    from melious_impact.model.fill import (
        fill_missing as fill_missing,
    )
    from melious_impact.model.fit import (
        IntensityModel as IntensityModel,
    )
    from melious_impact.model.fit import (
        fit_intensity as fit_intensity,
    )
    from melious_impact.model.locations import (
        resolve_location as resolve_location,
    )
    from melious_impact.model.scenario import (
        scenario as scenario,
    )
    from melious_impact.reporting.dashboard import (
        dashboard as dashboard,
    )
    from melious_impact.reporting.report import (
        report as report,
    )
    from melious_impact.store.impact_store import (
        ImpactStore as ImpactStore,
    )
    from melious_impact.store.impact_store import (
        default_store_path as default_store_path,
    )
