"""Fit per-token energy, grid intensity and water factors from captured requests.

>>> m = mi.fit_intensity(store)            # or a DataFrame with the requests columns
>>> m.table()                              # one row per (model, provider_id, location)
>>> m.predict(workload)                    # energy/carbon/water with 90% intervals and basis
>>> m.grid_profile(); m.cleanest_hours()   # intensity by location x month x UTC hour
>>> m.anomalies(df)                        # reported rows the model cannot explain

See :mod:`melious_impact.model.cells` for the energy fit and pooling,
:mod:`melious_impact.model.grid` for the grid profile and :mod:`melious_impact.model.priors`
for the public priors used where nothing was measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from melious_impact.frames import as_frame, is_store
from melious_impact.model.cells import fit_cells
from melious_impact.model.frames import KeyCodes, check_not_empty, floats, require_columns, utc_times
from melious_impact.model.grid import GridProfile, fit_grid
from melious_impact.model.prices import fit_prices
from melious_impact.model.priors import Priors
from melious_impact.model.sites import fit_sites
from melious_impact.model.source import open_source
from melious_impact.model.sql_fit import fit_in_duckdb
from melious_impact.periods import DateLike, period

TABLE_COLUMNS = (
    "model",
    "provider_id",
    "location",
    "kwh_per_1k_input",
    "kwh_per_1k_input_low",
    "kwh_per_1k_input_high",
    "kwh_per_1k_output",
    "kwh_per_1k_output_low",
    "kwh_per_1k_output_high",
    "grid_g_per_kwh",
    "water_l_per_kwh",
    "pue",
    "n_requests",
    "basis",
    "factor_version",
)


@dataclass(frozen=True, eq=False)
class IntensityModel:
    """A fitted impact model. Build it with :func:`fit_intensity`; it is never mutated."""

    cells: pd.DataFrame  # per (model, provider_id, location): coefficients, variances, basis
    models: pd.DataFrame  # per model: coefficients over every provider (for pooling)
    sites: pd.DataFrame  # per (provider_id, location): PUE and water factor as reported
    grid: GridProfile
    priors: Priors
    tau_in: float  # between-cell log sd of energy per input token (0: cells agree)
    tau_out: float
    min_requests: int
    factor_version: str
    prices: pd.DataFrame = field(repr=False)  # per cell: EUR per million input/output tokens
    _cell_lookup: dict[tuple[Any, Any, Any], int] = field(repr=False, default_factory=dict)
    _model_lookup: dict[Any, int] = field(repr=False, default_factory=dict)
    _site_lookup: dict[tuple[Any, Any], int] = field(repr=False, default_factory=dict)
    _provider_pue: dict[Any, float] = field(repr=False, default_factory=dict)
    _grid_lookup: dict[Any, int] = field(repr=False, default_factory=dict)

    def __repr__(self) -> str:
        basis = self.cells["basis"].value_counts().to_dict()
        return (
            f"IntensityModel({len(self.cells)} cells: {basis}, {len(self.grid.locations)} locations, "
            f"factor_version={self.factor_version!r})"
        )

    def table(self) -> pd.DataFrame:
        """One row per (model, provider_id, location) with 90% intervals and basis.

        ``kwh_per_1k_*`` are before PUE (the model's own energy); ``pue`` is the median
        reported at that site; ``grid_g_per_kwh`` the location's year average (the profile
        by month and hour, unobserved months filled from the monthly prior: what a request
        without a timestamp gets); ``water_l_per_kwh`` the site's reported water per kWh of
        reported energy (PUE included, as Melious' ``energy_kwh``).
        """
        t = self.cells.copy()
        annual = self.grid.annual_mean
        grid = {loc: annual[i] for loc, i in self._grid_lookup.items()}
        t["grid_g_per_kwh"] = t["location"].map(grid).astype(float)
        water = self.sites.set_index(["provider_id", "location"])["water_l_per_kwh"]
        t["water_l_per_kwh"] = (
            pd.MultiIndex.from_frame(t[["provider_id", "location"]])
            .map(lambda k: water.get(k, np.nan))
            .astype(float)
        )
        t["factor_version"] = self.factor_version
        return t[list(TABLE_COLUMNS)].sort_values(["model", "provider_id", "location"], ignore_index=True)

    def predict(
        self,
        workload: Any,
        *,
        errors: Literal["raise", "coerce"] = "raise",
        interval: Literal["request", "mean"] = "request",
        by: str | Sequence[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pd.DataFrame:
        """Estimate impact for rows of ``model``, ``input_tokens``, ``output_tokens``.

        ``workload``: a frame or an ``ImpactStore``. ``start``/``end``: only rows captured in
        ``[start, end)`` (:mod:`melious_impact.periods`). ``by``: totals instead of rows,
        one row per value of these columns (``[]``: one total), computed in DuckDB over a
        store (:mod:`melious_impact.model.predict_totals`): ``n_requests`` and, per
        quantity, the total of expected values with its 90% interval (each
        (model, provider_id, location) key's error one shared factor), NaN when a request
        of the group has no estimate, and ``*_covered``/``*_coverage``: the total over the
        requests estimated and their share.

        Optional columns: ``provider_id``, ``location`` (missing: the model's observed
        traffic mix), ``captured_at`` (the grid intensity of that month and UTC hour).
        Returns a copy with ``energy_kwh``, ``carbon_g_co2``, ``water_liters``, each with a
        90% interval for one request (``_low``/``_high``), ``basis`` (measured, pooled,
        prior), ``factor_version`` and ``warnings`` (codes, see
        :mod:`melious_impact.model.warnings`). A model with no data and no known size
        raises :class:`~melious_impact.errors.ModelError` (``errors='coerce'``: NaN rows
        with basis ``unknown``). ``interval='mean'`` gives the interval of the expected value
        (no per-request scatter): what sums over many requests need.
        """
        if errors not in ("raise", "coerce"):
            raise ValueError("errors must be 'raise' or 'coerce'")
        if by is not None:
            from melious_impact.model.predict_totals import predict_totals

            return predict_totals(
                self, workload, [by] if isinstance(by, str) else list(by), errors=errors, start=start, end=end
            )
        from melious_impact.model.predict import predict

        if is_store(workload):  # one row per request: the columns a prediction reads
            read = ["model", "provider_id", "location", "input_tokens", "output_tokens", "captured_at"]
            workload = workload.to_pandas(start=start, end=end, columns=read)
        elif start is not None or end is not None:
            workload = period(start, end).select(as_frame(workload))
        return predict(self, workload, errors=errors, interval=interval)

    def grid_profile(self) -> pd.DataFrame:
        """Intensity by location x month x UTC hour with 90% intervals (observed or filled)."""
        return self.grid.frame()

    def cleanest_hours(self, n: int = 3, *, month: int | None = None) -> pd.DataFrame:
        """The ``n`` UTC hours of lowest intensity per location (and month, if given).

        Without ``month``, hours are ranked on the mean over the months observed.
        ``saving_vs_mean_pct`` compares with the location's observed average intensity.
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        prof = self.grid_profile()
        if month is not None:
            prof = prof[prof["month"] == month]
        else:
            prof = prof[prof["observed"]] if prof["observed"].any() else prof
            prof = prof.groupby(["location", "hour_utc"], as_index=False)["grid_g_per_kwh"].mean()
        prof = prof.sort_values(["location", "grid_g_per_kwh"])
        out = prof.groupby("location", sort=True).head(n).reset_index(drop=True)
        mean = {loc: self.grid.location_mean[i] for loc, i in self._grid_lookup.items()}
        out["saving_vs_mean_pct"] = 100.0 * (1 - out["grid_g_per_kwh"] / out["location"].map(mean))
        return out

    def anomalies(
        self,
        df: Any,
        *,
        threshold: float = 5.0,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pd.DataFrame:
        """Reported rows that disagree with the model beyond its uncertainty.

        ``df``: a frame or an ``ImpactStore`` (scored in DuckDB; only the hits are loaded).
        ``start``/``end``: only rows captured in ``[start, end)`` (:mod:`melious_impact.periods`:
        a date end counts its day); a store skips row groups outside the period.
        Returns those rows with ``reason`` (pue_change, grid_intensity_outlier,
        energy_per_token_drift), ``score`` (how many uncertainty units off) and the
        expected vs observed figure.
        """
        from melious_impact.model.anomalies import find_anomalies

        return find_anomalies(self, df, threshold=threshold, start=start, end=end)


def fit_intensity(
    data: Any,
    *,
    min_requests: int = 30,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> IntensityModel:
    """Fit the impact model on captured requests (a DataFrame or an ``ImpactStore``).

    Cells with at least ``min_requests`` usable rows get their own fit (``measured``);
    sparser cells borrow from the model's fit at other providers (``pooled``).
    ``start``/``end``: only rows captured in ``[start, end)`` (:mod:`melious_impact.periods`).
    Raises :class:`~melious_impact.errors.ModelError` when no reported row is usable.

    The work is done in DuckDB (:mod:`melious_impact.model.sql_fit`): from a store only the
    needed columns are read and pandas sees per-cell sums, not rows; a frame is registered
    with DuckDB and goes through the same queries.
    """
    if min_requests < 3:
        raise ValueError("min_requests must be at least 3 (two coefficients and a residual)")
    if not is_store(data):
        data = as_frame(data)
        require_columns(
            data,
            ("model", "provider_id", "location", "input_tokens", "output_tokens", "energy_kwh", "pue"),
            "fit_intensity",
        )
    priors = Priors()
    with open_source(data, start, end) as src:
        fitted = fit_in_duckdb(src, priors, min_requests)
    check_not_empty(0 if fitted is None else len(fitted.cells), "the data")
    assert fitted is not None
    return _model(
        fitted.cells,
        fitted.models,
        fitted.sites,
        fitted.grid,
        priors,
        fitted.tau_in,
        fitted.tau_out,
        min_requests,
        fitted.prices,
    )


def fit_intensity_rows(df: pd.DataFrame, *, min_requests: int = 30) -> IntensityModel:
    """The row-level fit in numpy over a whole frame: the reference the in-database fit is
    tested against (same tables; cells in first-seen rather than sorted order)."""
    if min_requests < 3:
        raise ValueError("min_requests must be at least 3 (two coefficients and a residual)")
    df = df.reset_index(drop=True)
    require_columns(
        df,
        ("model", "provider_id", "location", "input_tokens", "output_tokens", "energy_kwh", "pue"),
        "fit_intensity",
    )
    priors = Priors()
    keys = KeyCodes(df)
    cf = fit_cells(df, keys, priors, min_requests)
    check_not_empty(len(cf.cells), "the data")
    sites = fit_sites(df, keys)
    grid = fit_grid(
        keys.location,
        keys.locations,
        utc_times(df),
        floats(df, "energy_kwh"),
        floats(df, "carbon_g_co2"),
        priors,
    )
    prices = fit_prices(df, cf.cells, cf.row_index, cf.row_cell)
    return _model(cf.cells, cf.models, sites, grid, priors, cf.tau_in, cf.tau_out, min_requests, prices)


def _model(
    cells: pd.DataFrame,
    models: pd.DataFrame,
    sites: pd.DataFrame,
    grid: GridProfile,
    priors: Priors,
    tau_in: float,
    tau_out: float,
    min_requests: int,
    prices: pd.DataFrame,
) -> IntensityModel:
    provider_pue = sites.groupby("provider_id")["pue"].median().dropna().to_dict()
    return IntensityModel(
        cells=cells,
        models=models,
        sites=sites,
        grid=grid,
        priors=priors,
        tau_in=tau_in,
        tau_out=tau_out,
        min_requests=min_requests,
        factor_version=priors.version,
        prices=prices,
        _cell_lookup={
            (r.model, r.provider_id, r.location): i
            for i, r in enumerate(cells[["model", "provider_id", "location"]].itertuples())
        },
        _model_lookup={mdl: i for i, mdl in enumerate(models["model"]) if models["ok"].iloc[i]},
        _site_lookup={
            (p, loc): i
            for i, (p, loc) in enumerate(zip(sites["provider_id"], sites["location"], strict=True))
        },
        _provider_pue=provider_pue,
        _grid_lookup={loc: i for i, loc in enumerate(grid.locations)},
    )
