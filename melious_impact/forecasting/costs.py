"""Money over frames: ``cost_eur`` per row, exact sums, and pricing of planned token workloads.

The rule of ``cost_eur`` and the euro value of an energy unit are defined once, in
:mod:`melious_impact.billing` (which also writes the rule as SQL for the charts); this
module applies them to frames of stored values, and :func:`cost_totals` sums them in DuckDB
(exact ``DECIMAL``) over a store or a frame.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from melious_impact.billing import COST_BASES as COST_BASES  # re-exported: cost_basis values
from melious_impact.billing import EUR_PER_ENERGY_UNIT, MONEY_CONTEXT, check_rate, cost_eur
from melious_impact.errors import ForecastError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Euros per Melious energy unit (:data:`melious_impact.billing.EUR_PER_ENERGY_UNIT`).
DEFAULT_EUR_PER_ENERGY_UNIT = EUR_PER_ENERGY_UNIT

_MONEY_CONTEXT = MONEY_CONTEXT


def to_decimal(value: Any) -> Decimal | None:
    """An exact ``Decimal`` from a stored billing value, or ``None`` when there is none.

    Accepts ``Decimal``, ``int`` and numeric strings exactly; a ``float`` goes through its
    shortest ``repr`` (what the writer most likely meant), never its binary expansion.
    NaN, infinities and unparseable text count as missing.
    """
    if value is None:
        return None
    if type(value) is Decimal:  # the common case (store rows): skip the checks below
        return value if value.is_finite() else None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if value != value:  # NaN (pandas' missing marker in float columns)
            return None
        result = Decimal(repr(float(value)))  # float(): numpy scalars repr as "np.float64(..)"
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except decimal.InvalidOperation:
            return None
    else:
        try:  # pandas NA / NaT and numpy scalars
            import pandas as pd

            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
        try:
            result = Decimal(str(value))
        except decimal.InvalidOperation:
            return None
    if not result.is_finite():
        return None
    return result


def _as_rate(eur_per_energy_unit: Decimal | str | int | float) -> Decimal:
    return check_rate(eur_per_energy_unit)


def row_cost_eur(
    paid_with: Any, credits: Any, energy: Any, rate: Decimal = DEFAULT_EUR_PER_ENERGY_UNIT
) -> tuple[Decimal | None, str]:
    """``(cost_eur, cost_basis)`` of one request from stored values
    (:func:`melious_impact.billing.cost_eur` after :func:`to_decimal`)."""
    return cost_eur(paid_with, to_decimal(credits), to_decimal(energy), rate)


def add_cost_eur(
    df: pd.DataFrame, eur_per_energy_unit: Decimal | str | int | float = DEFAULT_EUR_PER_ENERGY_UNIT
) -> pd.DataFrame:
    """A copy of ``df`` with ``cost_eur`` (exact ``Decimal`` or ``None``) and ``cost_basis``.

    ``df`` needs ``billing_paid_with``, ``billing_credits`` and ``billing_energy`` (a missing
    column counts as all-missing). ``cost_basis`` is one of :data:`COST_BASES`: ``inferred_*``
    marks rows whose ``paid_with`` was missing or unknown, ``missing`` rows with no usable
    amount (their ``cost_eur`` is ``None``; sums treat them as unbilled).
    """
    rate = _as_rate(eur_per_energy_unit)
    n = len(df)
    paid = df["billing_paid_with"].tolist() if "billing_paid_with" in df else [None] * n
    credits = df["billing_credits"].tolist() if "billing_credits" in df else [None] * n
    energy = df["billing_energy"].tolist() if "billing_energy" in df else [None] * n
    costs: list[Decimal | None] = []
    bases: list[str] = []
    for p, c, e in zip(paid, credits, energy, strict=True):
        cost, basis = row_cost_eur(p, c, e, rate)
        costs.append(cost)
        bases.append(basis)
    out = df.copy()
    import pandas as pd

    out["cost_eur"] = pd.Series(costs, index=df.index, dtype=object)
    out["cost_basis"] = pd.Series(bases, index=df.index, dtype=object)
    return out


def sum_decimal(values: Any) -> Decimal:
    """Exact sum of decimals, skipping missing values."""
    total = Decimal(0)
    for v in values:
        d = to_decimal(v)
        if d is not None:
            total = _MONEY_CONTEXT.add(total, d)
    return total


# --------------------------------------------------------------------------- cost_of

_PER_MILLION = Decimal(1_000_000)
#: Fitted per-million-token prices are rounded to this many decimals (1e-9 EUR per million
#: tokens): far below any real price step, and it turns a least-squares float back into the
#: list price it estimates, so the resulting costs are exact decimals of stated prices.
FIT_PRICE_DECIMALS = 9


def _price_pair(model: str, value: Any) -> tuple[Decimal, Decimal]:
    """``(input, output)`` EUR per million tokens from a user ``prices`` entry."""
    if isinstance(value, Mapping):
        raw_in = value.get("input_cost_per_million_eur", value.get("input"))
        raw_out = value.get("output_cost_per_million_eur", value.get("output"))
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        raw_in, raw_out = value
    else:
        raise TypeError(
            f"prices[{model!r}] must be (input_eur_per_million, output_eur_per_million) or a mapping "
            f"with input_cost_per_million_eur / output_cost_per_million_eur, got {value!r}"
        )
    p_in, p_out = to_decimal(raw_in), to_decimal(raw_out)
    if p_in is None or p_out is None or p_in < 0 or p_out < 0:
        raise ValueError(f"prices[{model!r}] needs two non-negative EUR-per-million prices, got {value!r}")
    return p_in, p_out


def fit_prices_from_history(
    history: Any,
    *,
    by: tuple[str, ...] = ("model",),
    eur_per_energy_unit: Decimal | str | int | float = DEFAULT_EUR_PER_ENERGY_UNIT,
) -> pd.DataFrame:
    """Observed EUR per million input/output tokens by model, fitted on exact request costs.

    For each group of ``by`` (``("model",)`` or ``("model", "provider_id")``: provider prices
    differ), non-negative least squares (``scipy.optimize.nnls``) of ``cost_eur`` on
    ``input_tokens`` and ``output_tokens`` with no intercept (a request with no tokens costs
    nothing). Returns the ``by`` columns, ``input_cost_per_million_eur``,
    ``output_cost_per_million_eur`` (exact ``Decimal`` rounded to :data:`FIT_PRICE_DECIMALS`;
    ``None`` for a side never seen with tokens, e.g. the output of an embedding model),
    ``requests`` used, and ``rel_rmse`` (residual RMS over mean cost: large values mean the
    price is not linear in tokens, e.g. several providers or flavors mixed).
    """
    import numpy as np
    import pandas as pd
    from scipy.optimize import nnls

    from melious_impact.frames import as_frame

    df = as_frame(history)
    needed = {*by, "input_tokens", "output_tokens"}
    if missing := needed - set(df.columns):
        raise ValueError(f"history needs the columns {sorted(needed)}; missing {sorted(missing)}")
    if "cost_eur" not in df.columns:
        df = add_cost_eur(df, eur_per_energy_unit)
    columns = [*by, "input_cost_per_million_eur", "output_cost_per_million_eur", "requests", "rel_rmse"]
    ok = df["cost_eur"].notna() & df["input_tokens"].notna() & df["output_tokens"].notna()
    for col in by:
        ok &= df[col].notna()
    rows = []
    quantum = Decimal(1).scaleb(-FIT_PRICE_DECIMALS)
    for key, g in df[ok].groupby(list(by), sort=True):
        x = g[["input_tokens", "output_tokens"]].to_numpy(dtype=float) / 1e6
        y = np.array([float(v) for v in g["cost_eur"]])
        seen = x.any(axis=0)  # sides with tokens: only those have a price to fit
        if not seen.any():
            continue
        coef = np.zeros(2)
        coef[seen], _ = nnls(x[:, seen], y)
        resid = y - x @ coef
        mean_cost = float(np.mean(np.abs(y))) or 1.0
        prices = [
            Decimal(repr(float(c))).quantize(quantum) if s else None for c, s in zip(coef, seen, strict=True)
        ]
        rows.append(
            {
                **dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                "input_cost_per_million_eur": prices[0],
                "output_cost_per_million_eur": prices[1],
                "requests": len(g),
                "rel_rmse": float(np.sqrt(np.mean(resid**2)) / mean_cost),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def cost_of(
    workload: Any,
    prices: Mapping[str, Any] | None = None,
    *,
    history: Any = None,
    catalogue: Any = None,
    eur_per_energy_unit: Decimal | str | int | float = DEFAULT_EUR_PER_ENERGY_UNIT,
) -> pd.DataFrame:
    """Price a planned token workload in euros.

    ``workload``: a DataFrame (or list of dicts) with ``model``, ``input_tokens``,
    ``output_tokens`` and optionally ``count`` (how many such requests, default 1) and
    ``provider_id`` (then a price observed in history for that model *at that provider* is
    used when there is one: providers price the same model differently).

    Prices per model are taken, first match wins, from:

    1. ``prices``: ``{model: (input_eur_per_million, output_eur_per_million)}`` or
       ``{model: {"input_cost_per_million_eur": .., "output_cost_per_million_eur": ..}}``;
    2. ``history``: request rows (DataFrame or store) -> the observed price per token by model
       and provider, else by model (:func:`fit_prices_from_history`, costs from
       :func:`add_cost_eur`);
    3. ``catalogue``: the model list of ``GET /v1/models?include_meta=true`` (see
       :func:`melious_impact.forecasting.catalogue.fetch_catalogue`), ``_meta.pricing``.

    Returns the workload with ``input_cost_per_million_eur``, ``output_cost_per_million_eur``,
    ``cost_eur`` (exact ``Decimal``: ``count * (in * p_in + out * p_out) / 1e6``) and
    ``price_basis`` (``prices``, ``history_provider``, ``history``, ``history+catalogue`` or
    ``catalogue``); ``attrs["total_cost_eur"]`` is
    the exact total. Raises :class:`~melious_impact.errors.ForecastError` naming every model
    no source prices.
    """
    import pandas as pd

    from melious_impact.frames import as_frame

    wl = workload.copy() if isinstance(workload, pd.DataFrame) else pd.DataFrame(list(workload))
    needed = {"model", "input_tokens", "output_tokens"}
    if missing := needed - set(wl.columns):
        raise ValueError(f"workload needs the columns {sorted(needed)}; missing {sorted(missing)}")
    if "count" not in wl.columns:
        wl["count"] = 1

    # model -> (EUR per million input, per million output, basis); a side may be unknown
    # (embedding models often list no output price) and is only an error if it is needed.
    table: dict[str, tuple[Decimal | None, Decimal | None, str]] = {}
    cat: dict[str, tuple[Decimal | None, Decimal | None]] = {}
    if catalogue is not None:
        from melious_impact.forecasting.catalogue import catalogue_prices

        cat = catalogue_prices(catalogue)
        for model, (p_in, p_out) in cat.items():
            if p_in is not None or p_out is not None:
                table[model] = (p_in, p_out, "catalogue")
    by_provider: dict[tuple[str, str], tuple[Decimal | None, Decimal | None, str]] = {}
    if history is not None:
        hist = as_frame(history)
        fitted = fit_prices_from_history(hist, eur_per_energy_unit=eur_per_energy_unit)
        for r in fitted.itertuples(index=False):
            h_in, h_out = r.input_cost_per_million_eur, r.output_cost_per_million_eur
            c_in, c_out, _ = table.get(str(r.model), (None, None, ""))
            # A side never observed in history (no output tokens yet) keeps the catalogue's price.
            basis = (
                "history"
                if (h_in is not None or c_in is None) and (h_out is not None or c_out is None)
                else "history+catalogue"
            )
            table[str(r.model)] = (
                h_in if h_in is not None else c_in,
                h_out if h_out is not None else c_out,
                basis,
            )
        if "provider_id" in wl.columns and "provider_id" in hist.columns:
            # Providers charge different prices for the same model: where the workload names
            # a provider seen in history, its own observed price is the better estimate.
            fitted = fit_prices_from_history(
                hist, by=("model", "provider_id"), eur_per_energy_unit=eur_per_energy_unit
            )
            for r in fitted.itertuples(index=False):
                by_provider[(str(r.model), str(r.provider_id))] = (
                    r.input_cost_per_million_eur,
                    r.output_cost_per_million_eur,
                    "history_provider",
                )
    for model, value in (prices or {}).items():
        p_in, p_out = _price_pair(model, value)
        table[model] = (p_in, p_out, "prices")

    providers = wl["provider_id"].tolist() if "provider_id" in wl.columns else [None] * len(wl)
    rows = list(
        zip(wl["model"], wl["input_tokens"], wl["output_tokens"], wl["count"], providers, strict=True)
    )
    parsed = [
        (str(m), _whole(i, "input_tokens"), _whole(o, "output_tokens"), _whole(c, "count"), p)
        for m, i, o, c, p in rows
    ]

    def covers(entry: tuple[Decimal | None, Decimal | None, str] | None, n_in: int, n_out: int) -> bool:
        return entry is not None and not ((entry[0] is None and n_in) or (entry[1] is None and n_out))

    chosen: list[tuple[Decimal | None, Decimal | None, str]] = []
    unpriced: set[str] = set()
    for model, n_in, n_out, _, provider in parsed:
        entry = table.get(model)
        if entry is None or entry[2] != "prices":  # explicit prices always win
            own = by_provider.get((model, str(provider)))
            if covers(own, n_in, n_out):
                entry = own
        if entry is None or not covers(entry, n_in, n_out):
            unpriced.add(model)
            entry = (None, None, "")
        chosen.append(entry)
    if unpriced:
        reasons = [
            f"{m} (in the catalogue without _meta.pricing)" if m in cat else m for m in sorted(unpriced)
        ]
        given = [
            name
            for name, v in (("prices", prices), ("history", history), ("catalogue", catalogue))
            if v is not None
        ]
        where = (
            f"in {', '.join(given)}" if given else "(no price source: pass prices=, history= or catalogue=)"
        )
        raise ForecastError(f"no price for model(s) {', '.join(reasons)} {where}")

    p_in_col, p_out_col, cost_col, basis_col = [], [], [], []
    ctx = _MONEY_CONTEXT
    for (_model, n_in, n_out, times, _provider), (p_in, p_out, basis) in zip(parsed, chosen, strict=True):
        part_in = ctx.multiply(Decimal(n_in), p_in) if p_in is not None else Decimal(0)
        part_out = ctx.multiply(Decimal(n_out), p_out) if p_out is not None else Decimal(0)
        cost_col.append(ctx.divide(ctx.multiply(Decimal(times), ctx.add(part_in, part_out)), _PER_MILLION))
        p_in_col.append(p_in)
        p_out_col.append(p_out)
        basis_col.append(basis)
    wl["input_cost_per_million_eur"] = pd.Series(p_in_col, index=wl.index, dtype=object)
    wl["output_cost_per_million_eur"] = pd.Series(p_out_col, index=wl.index, dtype=object)
    wl["cost_eur"] = pd.Series(cost_col, index=wl.index, dtype=object)
    wl["price_basis"] = basis_col
    wl.attrs["total_cost_eur"] = sum_decimal(cost_col)
    return wl


def _whole(value: Any, name: str) -> int:
    """A non-negative whole number of tokens or requests (planned work has no fractions)."""
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"workload {name} must be a whole number, got {value!r}") from None
    if as_float != as_float or as_float < 0 or as_float != int(as_float):
        raise ValueError(f"workload {name} must be a non-negative whole number, got {value!r}")
    return int(as_float)


# --------------------------------------------------------------------------- cost_totals


class _InPeriod:
    """A store seen through a period: its connections read only the period's partitions."""

    def __init__(self, store: Any, start: Any, end: Any) -> None:
        self._store, self._start, self._end = store, start, end

    def connect(self) -> Any:
        return self._store.connect(self._start, self._end)


def cost_totals(
    data: Any,
    by: str | tuple[str, ...] | list[str] | None = "team",
    *,
    start: Any = None,
    end: Any = None,
    eur_per_energy_unit: Decimal | str | int | float = DEFAULT_EUR_PER_ENERGY_UNIT,
) -> pd.DataFrame:
    """Exact ``cost_eur`` totals per group, summed in DuckDB (the rows never reach pandas).

    ``data``: a store or a frame of request rows (registered with DuckDB, same query).
    ``by``: a group column or several (``None`` or ``()``: one total); empty values are
    ``(untagged)``. ``start``/``end``: the period of :mod:`melious_impact.periods`. Returns
    the group columns, ``cost_eur`` (exact ``Decimal``: the ``DECIMAL(38, 18)`` sum of
    :func:`melious_impact.billing.cost_eur_sql`, the rule of :func:`add_cost_eur`),
    ``requests`` and ``unbilled_requests`` (rows without a usable amount, which add nothing),
    ordered by the groups. A frame of pre-summed rows (with ``n_requests``, and ``n_cost_eur``
    for the requests that carry a cost, as :func:`melious_impact.forecasting.daily.daily_totals`
    gives with ``counts=True``) counts the requests each row stands for.
    """

    from melious_impact.forecasting.daily import rows_view
    from melious_impact.frames import is_store

    groups = [by] if isinstance(by, str) else list(by or ())
    cols = [*groups, "cost_eur", "requests", "unbilled_requests"]
    summed = False
    if not is_store(data):
        from melious_impact.frames import as_frame

        data = as_frame(data)
        # a pre-summed row stands for n_requests requests: counting rows would undercount
        summed = "n_requests" in data.columns
        if summed and "n_cost_eur" not in data.columns:
            raise ValueError(
                "pre-summed rows (an n_requests column) need n_cost_eur, the requests among "
                "them that carry a cost, to count the unbilled ones"
            )
    elif start is not None or end is not None:
        data = _InPeriod(data, start, end)
    keys = ", ".join('"' + g.replace('"', '""') + '"' for g in groups)
    counted = (
        "CAST(coalesce(sum(_n), 0) AS BIGINT) AS requests, "
        "CAST(coalesce(sum(_n) - sum(_n_cost_eur), 0) AS BIGINT) AS unbilled_requests"
        if summed
        else "count(*) AS requests, count(*) - count(cost_eur) AS unbilled_requests"
    )
    with rows_view(
        data,
        groups=groups,
        metrics=["cost_eur"],
        counts=summed,
        eur_per_energy_unit=eur_per_energy_unit,
        start=start,
        end=end,
    ) as con:
        sql = (
            f"SELECT {keys + ', ' if keys else ''}coalesce(sum(cost_eur), CAST(0 AS DECIMAL(38, 18))) AS cost_eur, "
            f"{counted} FROM _rows" + (f" GROUP BY {keys} ORDER BY {keys}" if keys else "")
        )
        table = con.sql(sql).to_arrow_table()
    out = table.to_pandas()
    if not groups and int(out["requests"].iloc[0]) == 0:
        out["cost_eur"] = [Decimal(0)]
    out["cost_eur"] = out["cost_eur"].astype(object)
    for c in ("requests", "unbilled_requests"):
        out[c] = out[c].astype("int64")
    return out[cols]
