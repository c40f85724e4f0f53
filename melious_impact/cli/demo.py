"""``melious-impact demo``: a quarter of traffic for several teams, captured into a store.

The traffic goes through the REAL OpenAI and Anthropic SDKs (sync, streaming, embeddings,
images, transcriptions, speech, messages) and one batch through files/batches, all
served in-process by the emulator and recorded by ``mi.Recorder``. Time is simulated, so
ninety days take seconds.

The demo is a list of step functions (:data:`STEPS`) over one :class:`DemoContext`; later
steps (intensity table, scenarios, budgets, report paths) are appended to that list.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from melious_impact.cli._text import print_aligned

DEFAULT_STORE = Path("impact-data")
DEFAULT_REQUESTS_PER_DAY = 36.0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="Simulate a quarter of traffic for several teams against the emulator and capture it.",
        description="Runs the real OpenAI and Anthropic SDKs against the in-process Melious emulator "
        "(simulated time), captures every response into a store and prints a summary.",
    )
    p.add_argument(
        "--store",
        type=Path,
        default=None,
        help="Store folder (default: a fresh ./impact-data, or ./impact-data-N if that is taken).",
    )
    p.add_argument("--days", type=int, default=90, help="Days of simulated history (default 90, a quarter).")
    p.add_argument("--seed", type=int, default=0, help="Random seed (same seed and dates, same traffic).")
    p.add_argument(
        "--requests-per-day",
        type=float,
        default=DEFAULT_REQUESTS_PER_DAY,
        help="Mean weekday requests per day over all teams at the start (default 36).",
    )
    p.add_argument(
        "--end",
        type=date.fromisoformat,
        default=None,
        help="Last simulated day, YYYY-MM-DD (default: yesterday, UTC).",
    )
    p.add_argument("--no-batch", action="store_true", help="Skip the files/batches step.")
    p.add_argument(
        "--no-report",
        action="store_true",
        help="Skip writing the report and dashboards (e.g. for a small sample store).",
    )
    p.add_argument("--quiet", action="store_true", help="No progress bar.")
    p.set_defaults(func=run)


@dataclass
class DemoContext:
    """Everything the steps share. Steps may add entries to ``results`` for later steps."""

    store_path: Path
    days: int
    seed: int
    requests_per_day: float
    start: datetime
    quiet: bool = False
    do_batch: bool = True
    do_report: bool = True
    store: Any = None
    recorder: Any = None
    emulator: Any = None
    clients: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"requests": 0, "errors": 0})
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def say(self, text: str = "") -> None:
        print(text, flush=True)


Step = Callable[[DemoContext], None]


# ---- step 1: set up store, recorder, emulator and SDK clients --------------------------------
def setup(ctx: DemoContext) -> None:
    import httpx2
    from anthropic import Anthropic
    from openai import OpenAI

    from melious_impact.capture.recorder import Recorder
    from melious_impact.emulator import Emulator, SimClock, make_transport
    from melious_impact.store.impact_store import ImpactStore

    clock = SimClock(ctx.start)
    ctx.emulator = Emulator(seed=ctx.seed, clock=clock, error_rate=0.01, unreported_rate=0.01)
    ctx.store = ImpactStore(ctx.store_path)
    ctx.recorder = Recorder(ctx.store, tags={"env": "demo"}, clock=clock.now)
    http = httpx2.Client(transport=ctx.recorder.transport(make_transport(ctx.emulator, "httpx2")))
    # max_retries=0: an injected 429/502 is a row; retrying would sleep in real time.
    ctx.clients = {
        "http": http,
        "openai": OpenAI(
            base_url="http://emulator.local/v1", api_key="sk-demo", http_client=http, max_retries=0
        ),
        "anthropic": Anthropic(
            base_url="http://emulator.local", api_key="sk-demo", http_client=http, max_retries=0
        ),
    }


# ---- step 2: the traffic ----------------------------------------------------------------------
def _prompt(n_tokens: int) -> str:
    return ("Summarise the ticket and propose a reply. " * (n_tokens // 10 + 1))[: max(4, n_tokens * 4)]


def _call(ctx: DemoContext, usage: Any, rng: np.random.Generator, flavor: str) -> None:
    import openai

    from melious_impact.emulator.catalogue import MODELS
    from melious_impact.emulator.physics import AUDIO_BYTES_PER_SECOND

    oa, an = ctx.clients["openai"], ctx.clients["anthropic"]
    kind = MODELS[usage.model].kind
    base = usage.requested_as or usage.model
    name = base if flavor == "balanced" else f"{base}:{flavor}"
    n_in = max(1, int(usage.input_median * rng.lognormal(0, 0.6)))
    n_out = max(8, int(max(usage.output_median, 1) * rng.lognormal(0, 0.6)))
    stream = rng.random() < usage.stream_share
    msgs = [{"role": "user", "content": _prompt(n_in)}]
    if kind == "chat" and usage.api == "anthropic":
        if stream:
            with an.messages.stream(model=name, max_tokens=n_out, messages=msgs) as s:
                for _ in s.text_stream:
                    pass
        else:
            an.messages.create(model=name, max_tokens=n_out, messages=msgs)
    elif kind == "chat":
        if stream:
            for _ in oa.chat.completions.create(
                model=name,
                messages=msgs,
                max_tokens=n_out,
                stream=True,
                stream_options={"include_usage": True},
            ):
                pass
        else:
            oa.chat.completions.create(model=name, messages=msgs, max_tokens=n_out)
    elif kind == "embeddings":
        k = int(rng.integers(1, 4))
        # The SDK asks for base64 by default (compact, fast to decode); a few ask for floats.
        fmt: Any = "float" if rng.random() < 0.05 else openai.NOT_GIVEN
        oa.embeddings.create(model=name, input=[_prompt(n_in // k + 1)] * k, encoding_format=fmt)
    elif kind == "rerank":
        docs = [_prompt(n_in // 8 + 1)] * 8
        ctx.clients["http"].post(
            "http://emulator.local/v1/rerank",
            headers={"authorization": "Bearer sk-demo"},
            json={"model": name, "query": "refund policy", "documents": docs, "top_n": 3},
        )
    elif kind == "image":
        oa.images.generate(model=name, prompt=_prompt(n_in), n=1, size="1024x1024")
    elif kind == "audio":
        seconds = max(1, n_in // 25)  # 25 audio tokens per second
        audio = bytes(seconds * AUDIO_BYTES_PER_SECOND)
        oa.audio.transcriptions.create(model=name, file=("call.mp3", io.BytesIO(audio)))
    elif kind == "speech":
        oa.audio.speech.create(model=name, voice="alloy", input=_prompt(n_in)).read()


def _day_plan(ctx: DemoContext, rng: np.random.Generator) -> Iterator[tuple[datetime, Any, Any, str]]:
    """Yield (time, team, usage, flavor) in time order, day after day."""
    from melious_impact.emulator.simulate import HOURLY_TRAFFIC, WEEKEND_FACTOR
    from melious_impact.emulator.teams import DEFAULT_TEAMS

    total = sum(t.daily_requests for t in DEFAULT_TEAMS)
    scale = ctx.requests_per_day / total
    hour_p = HOURLY_TRAFFIC / HOURLY_TRAFFIC.sum()
    for d in range(ctx.days):
        day = ctx.start + timedelta(days=d)
        weekly = WEEKEND_FACTOR if day.weekday() >= 5 else 1.0
        growth = 1.0 + 0.3 * d / max(ctx.days - 1, 1)
        plan = []
        for team in DEFAULT_TEAMS:
            for _ in range(int(rng.poisson(team.daily_requests * scale * weekly * growth))):
                shares = np.array([u.share for u in team.usages])
                usage = team.usages[int(rng.choice(len(shares), p=shares / shares.sum()))]
                names = list(team.flavors)
                fw = np.array([team.flavors[f] for f in names])
                flavor = names[int(rng.choice(len(names), p=fw / fw.sum()))]
                at = day + timedelta(hours=int(rng.choice(24, p=hour_p)), seconds=float(rng.random() * 3600))
                plan.append((at, team, usage, flavor))
        plan.sort(key=lambda x: x[0])
        yield from plan


@contextmanager
def _progress(ctx: DemoContext, total: int) -> Iterator[Callable[[int], None]]:
    if ctx.quiet:
        yield lambda _n: None
        return
    try:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:  # plain fallback: one line per 10%
        done = [0, 0]

        def tick(n: int) -> None:
            done[0] += n
            pct = 100 * done[0] // max(total, 1)
            if pct >= done[1] + 10:
                done[1] = pct - pct % 10
                print(f"  {done[1]:3d}% ({done[0]} days)", flush=True)

        yield tick
        return
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task("days", total=total)
        yield lambda n: bar.advance(task, n)


def traffic(ctx: DemoContext) -> None:
    import anthropic
    import openai

    from melious_impact.capture.tags import tags

    rng = np.random.default_rng([ctx.seed, 1])
    clock = ctx.emulator.clock
    current_day = ctx.start.date()
    with _progress(ctx, ctx.days) as tick:
        for at, team, usage, flavor in _day_plan(ctx, rng):
            while at.date() > current_day:
                current_day += timedelta(days=1)
                tick(1)
            clock.set(max(at, clock.now()))
            ctx.counts["requests"] += 1
            with tags(team=team.name, project=team.project):
                try:
                    _call(ctx, usage, rng, flavor)
                except (openai.APIStatusError, anthropic.APIStatusError):
                    ctx.counts["errors"] += 1  # injected errors are rows too
        tick(ctx.days - (current_day - ctx.start.date()).days)


# ---- step 3: one batch through files/batches ----------------------------------------------------
def batch(ctx: DemoContext) -> None:
    if not ctx.do_batch:
        return
    from melious_impact.capture.tags import tags

    oa = ctx.clients["openai"]
    lines = [
        json.dumps(
            {
                "custom_id": f"nightly-{i:03d}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "glm-4.7:batch",
                    "max_tokens": 300,
                    "messages": [{"role": "user", "content": _prompt(900)}],
                },
            }
        )
        for i in range(40)
    ]
    with tags(team="research", project="nightly-eval"):
        f = oa.files.create(file=("nightly.jsonl", "\n".join(lines).encode()), purpose="batch")
        b = oa.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        ctx.emulator.clock.advance(timedelta(minutes=20))
        done = oa.batches.retrieve(b.id)
        if done.output_file_id:
            oa.files.content(done.output_file_id).read()  # the recorder turns each line into a row
    ctx.results["batch_id"] = b.id


# ---- step 4: summary ---------------------------------------------------------------------------
def summary(ctx: DemoContext) -> None:
    import pandas as pd

    from melious_impact.forecasting.costs import add_cost_eur

    ctx.recorder.flush()
    # EUR through the one definition of cost_eur (paid_with picks the charged field).
    df = add_cost_eur(ctx.store.to_pandas())
    df["cost_eur_f"] = pd.to_numeric(df["cost_eur"].map(lambda d: None if d is None else float(d)))
    df["team"] = df["team"].fillna("(none)")
    teams = (
        df.groupby("team")
        .agg(
            requests=("team", "size"),
            kwh=("energy_kwh", "sum"),
            g_co2e=("carbon_g_co2", "sum"),
            water_l=("water_liters", "sum"),
            eur=("cost_eur_f", "sum"),
            reported_pct=("impact_reported", "mean"),
        )
        .reset_index()
    )
    teams["kg_co2e"] = teams["g_co2e"] / 1000
    teams["reported_pct"] = teams["reported_pct"].astype(float) * 100
    teams = teams.sort_values("kg_co2e", ascending=False).reset_index(drop=True)
    ctx.results["frame"], ctx.results["teams"] = df, teams
    ctx.say()
    ctx.say(
        f"Captured {len(df):,} rows ({ctx.counts['requests']:,} SDK calls, {ctx.counts['errors']} errors) "
        f"from {df['captured_at'].min():%Y-%m-%d} to {df['captured_at'].max():%Y-%m-%d} into {ctx.store_path}"
    )
    from melious_impact import units

    exact_eur = sum((d for d in df["cost_eur"] if d is not None), Decimal(0))
    ctx.say(
        f"Total reported: {units.quantity(teams.kwh.sum(), 'energy_kwh')}, "
        f"{units.quantity(teams.g_co2e.sum(), 'carbon_g_co2')}, "
        f"{units.quantity(teams.water_l.sum(), 'water_liters')} of water, {units.money(exact_eur)}"
    )
    ctx.say(f"  {_total_coverage(df)}")
    # One unit per quantity for the whole table (readable at the largest team's magnitude).
    shown = {
        "kwh": units.choose("energy_kwh", teams["kwh"]),
        "g_co2e": units.choose("carbon_g_co2", teams["g_co2e"]),
        "water_l": units.choose("water_liters", teams["water_l"]),
    }
    _print_table(
        teams,
        ["team", "requests", "kwh", "g_co2e", "water_l", "eur", "reported_pct"],
        [
            "Team",
            "Requests",
            units.header("energy_kwh", shown["kwh"]),
            units.header("carbon_g_co2", shown["g_co2e"]),
            units.header("water_liters", shown["water_l"]),
            "Cost (EUR)",
            "With impact",
        ],
        shown,
    )


def _share(covered: int, total: int) -> str:
    """``98.6%``: one decimal, rounded down, so a share short of all never reads 100%."""
    return f"{math.floor(1000.0 * covered / total) / 10:.1f}%" if total else "no requests"


def _total_coverage(df: Any) -> str:
    """What share of the requests the summed figures cover (the sums skip the rest)."""
    n = len(df)
    parts = {
        "energy": int(df["energy_kwh"].notna().sum()),
        "carbon": int(df["carbon_g_co2"].notna().sum()),
        "water": int(df["water_liters"].notna().sum()),
    }
    cost = int(df["cost_eur"].notna().sum())
    if len(set(parts.values())) == 1:
        covered = next(iter(parts.values()))
        impact = (
            f"energy, carbon and water cover {_share(covered, n)} of requests ({n - covered:,} without them)"
        )
    else:
        impact = "; ".join(f"{k} covers {_share(c, n)} ({n - c:,} without it)" for k, c in parts.items())
    return f"{impact}; cost covers {_share(cost, n)} ({n - cost:,} without a billed cost)"


def _label(column: Any) -> str:
    from melious_impact.units import label

    return label(str(column))


def _f(value: Any) -> str:
    """A number in the one format of :mod:`melious_impact.units`."""
    from melious_impact.units import number

    return number(value)


def _print_table(df: Any, cols: list[str], headers: list[str], shown: dict[str, Any]) -> None:
    from melious_impact import units

    kinds = {"team": "text", "requests": "int", "eur": "money", "reported_pct": "pct"}
    rows = [
        [units.show(r[c], kinds.get(c, "qty"), shown.get(c)).removesuffix(" EUR") for c in cols]
        for _, r in df.iterrows()
    ]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print_aligned(headers, rows)
        return
    table = Table(title="Per team")
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*r)
    Console().print(table)


# ---- step 5: per-token intensity model and a scenario ------------------------------------------
def intensity(ctx: DemoContext) -> None:
    import melious_impact as mi

    df = ctx.results["frame"]
    m = mi.fit_intensity(df)
    ctx.results["model"] = m
    table = m.table().sort_values("n_requests", ascending=False).head(10)
    ctx.say()
    ctx.say("Energy per 1k tokens (before PUE), 90% intervals, busiest cells (mi.fit_intensity(df).table()):")
    rows = table.assign(
        site=table["provider_id"].astype(str) + "/" + table["location"].astype(str),
        kwh_in=[_interval(r, "kwh_per_1k_input") for _, r in table.iterrows()],
        kwh_out=[_interval(r, "kwh_per_1k_output") for _, r in table.iterrows()],
    )
    _print_rows(
        rows,
        ["model", "site", "kwh_in", "kwh_out", "pue", "grid_g_per_kwh", "n_requests", "basis"],
        [
            "Model",
            "Provider/location",
            "Wh / 1k input",
            "Wh / 1k output",
            "PUE",
            "g CO2e/kWh",
            "Requests",
            "Basis",
        ],
    )
    scen = mi.scenario(df, m, flavor="eco", shift_to_clean_hours=True)
    ctx.results["scenario"] = scen
    ctx.say()
    ctx.say("Scenario: the same workload on the eco flavor, shifted to each day's cleanest hour:")
    scen_rows = scen.assign(
        metric_s=[_label(m) for m in scen["metric"]],
        observed_s=[_f(v) for v in scen["observed"]],
        scenario_s=[_scenario_cell(r) for _, r in scen.iterrows()],
        change=[_change_cell(r) for _, r in scen.iterrows()],
    )
    _print_rows(
        scen_rows,
        ["metric_s", "unit", "observed_s", "scenario_s", "change"],
        ["Metric", "Unit", "Observed", "Scenario", "Change (90% interval)"],
    )
    for line in _covered_notes(scen):
        ctx.say(f"  {line}")


def _interval(row: Any, name: str) -> str:
    value = row[name]
    if value is None or value != value:  # NaN: input-only models have no output figure
        return "-"
    wh = [_f(1000 * float(row[n])) for n in (name, name + "_low", name + "_high")]  # kWh -> Wh
    return f"{wh[0]} [{wh[1]}, {wh[2]}]"


def _pct(row: Any, name: str, base_col: str = "baseline") -> float:
    base = float(row[base_col]) if row[base_col] is not None else float("nan")
    value = float(row[name]) if row[name] is not None else float("nan")
    return 100.0 * value / base if base else float("nan")


def _known(value: Any) -> bool:
    return value is not None and value == value  # NaN != NaN


def _over(row: Any) -> str:
    return f"over {_share(int(row['covered_requests']), int(row['requests']))} of requests"


def _scenario_cell(row: Any) -> str:
    """The scenario total; where it is missing for lack of estimates, the covered one and its share."""
    if _known(row["scenario"]) or not _known(row.get("scenario_covered")):
        return _f(row["scenario"])
    return f"{_f(row['scenario_covered'])} {_over(row)}"


def _change_cell(row: Any) -> str:
    if _known(row["delta_pct"]) or not _known(row.get("delta_covered_pct")):
        return f"{_f(row['delta_pct'])}% [{_f(_pct(row, 'delta_low'))}, {_f(_pct(row, 'delta_high'))}]"
    low = _pct(row, "delta_covered_low", "baseline_covered")
    high = _pct(row, "delta_covered_high", "baseline_covered")
    return f"{_f(row['delta_covered_pct'])}% [{_f(low)}, {_f(high)}] {_over(row)}"


def _covered_notes(scen: Any) -> list[str]:
    """Under the table: the covered totals as run, grouped by the share they cover."""
    groups: dict[tuple[int, int], list[str]] = {}
    for _, r in scen.iterrows():
        if not _known(r.get("covered_share")) or float(r["covered_share"]) >= 1.0:
            continue
        figure = f"{str(r['metric']).split('_')[0]} {_f(r['baseline_covered'])} {r['unit']}"
        groups.setdefault((int(r["covered_requests"]), int(r["requests"])), []).append(figure)
    out = [
        f"As run, over {_share(covered, total)} of requests ({total - covered:,} without an estimate "
        f"or a price): {', '.join(figures)}."
        for (covered, total), figures in groups.items()
    ]
    if out:
        out.append(
            "A total over every request is missing (-) where some cannot be estimated, never a smaller "
            "sum; Observed sums the reported figures of the requests that carry them."
        )
    return out


# ---- step 6: budgets for the current month -------------------------------------------------------
def budgets(ctx: DemoContext) -> None:
    """Give each team a monthly budget near its recent pace and show who will overrun.

    The budgets are derived from the data (recent daily spend x days in the month x a per-team
    factor) so that whatever --days and --seed give, some teams sit comfortably under their
    budget and some cross it. They are written to ``<store>/budgets.toml`` so that
    ``melious-impact budgets --store ... --budgets ...`` can be run on them afterwards.
    """
    import melious_impact as mi

    df = ctx.results["frame"]
    last = df["captured_at"].max()
    recent = df[df["captured_at"] > last - timedelta(days=28)]
    factors = [1.35, 1.1, 0.95, 0.8, 1.2]
    plan: dict[str, dict[str, float]] = {}
    for i, (team, part) in enumerate(sorted(recent.groupby("team"), key=lambda kv: str(kv[0]))):
        days = max(1, (part["captured_at"].max() - part["captured_at"].min()).days + 1)
        factor = factors[i % len(factors)]
        eur = float(part["cost_eur_f"].sum()) / days * 30 * factor
        g = float(part["carbon_g_co2"].sum()) / days * 30 * factor
        plan[str(team)] = {"cost_eur": _round_budget(eur), "carbon_g_co2": _round_budget(g)}
    path = Path(ctx.store_path) / "budgets.toml"
    path.write_text(
        "# Monthly budgets made by `melious-impact demo` from each team's recent pace.\n"
        + "".join(
            f"\n[{team}]\ncost_eur = {b['cost_eur']}\ncarbon_g_co2 = {b['carbon_g_co2']}\n"
            for team, b in plan.items()
        )
    )
    status = mi.budget_status(df, plan, period="month")
    ctx.results["budgets"], ctx.results["budget_status"] = plan, status
    ctx.say()
    ctx.say(f"Budget status for the month to {last:%Y-%m-%d} (budgets in {path}):")
    from melious_impact import units

    amounts = ("budget", "spent", "forecast", "forecast_low", "forecast_high")
    per_metric = units.units_by_metric(
        (str(m), g[c]) for m, g in status.groupby("metric", sort=False) for c in amounts
    )

    def amount(r: Any, c: str) -> str:
        return units.show(r[c], "amount", per_metric.get(str(r["metric"])), str(r["metric"]))

    rows = status.assign(
        metric_s=[units.label(str(m)) for m in status["metric"]],
        budget_s=[amount(r, "budget") for _, r in status.iterrows()],
        spent_s=[amount(r, "spent") for _, r in status.iterrows()],
        forecast_s=[
            f"{amount(r, 'forecast')} [{amount(r, 'forecast_low')}, {amount(r, 'forecast_high')}]"
            for _, r in status.iterrows()
        ],
        p_s=[units.probability(v) for v in status["p_exceed"]],
        crossing=[units.when(v) for v in status["crossing_date"]],
    )
    _print_rows(
        rows,
        ["team", "metric_s", "budget_s", "spent_s", "forecast_s", "p_s", "crossing"],
        [
            "Team",
            "Metric",
            "Budget",
            "Spent",
            "Month-end forecast (80%)",
            "Chance of overrun",
            "Crossing date",
        ],
    )


def _round_budget(value: float) -> float:
    """Round a budget to two significant figures: people set 450, not 447.31."""
    if value <= 0:
        return 1.0
    from math import floor, log10

    digits = 1 - floor(log10(value))
    return float(round(value, digits))


def _print_rows(df: Any, cols: list[str], headers: list[str]) -> None:
    print_aligned(headers, [[_cell(r[c]) for c in cols] for _, r in df.iterrows()], indent="  ")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


# ---- step 7: the sustainability report and the team dashboards ------------------------------------
def pages(ctx: DemoContext) -> None:
    """Write the offline report and dashboards next to the store and print where they are."""
    if not ctx.do_report:
        return
    import melious_impact as mi

    out = Path(ctx.store_path)
    budgets = ctx.results.get("budgets")
    report_path = mi.report(ctx.store, out / "report.html", budgets=budgets)
    index_path = mi.dashboard(ctx.store, out / "dashboard", budgets=budgets)
    ctx.results["report"], ctx.results["dashboard"] = report_path, index_path
    ctx.say()
    ctx.say(f"Sustainability report: {report_path}")
    ctx.say(f"Team dashboards:       {index_path}")


def close(ctx: DemoContext) -> None:
    ctx.clients["http"].close()
    ctx.recorder.close()


#: The demo, in order. Later parts append steps (before ``close``) with ``STEPS.insert(-1, fn)``.
STEPS: list[Step] = [setup, traffic, batch, summary, intensity, budgets, pages, close]


def _fresh_store_path() -> Path:
    path, k = DEFAULT_STORE, 2
    while path.exists() and any(path.iterdir()):
        path, k = Path(f"{DEFAULT_STORE}-{k}"), k + 1
    return path


def run(args: argparse.Namespace) -> int:
    if args.days < 1:
        raise ValueError("--days must be at least 1")
    end = args.end or (datetime.now(UTC).date() - timedelta(days=1))
    start = datetime(end.year, end.month, end.day, tzinfo=UTC) - timedelta(days=args.days - 1)
    ctx = DemoContext(
        store_path=args.store or _fresh_store_path(),
        days=args.days,
        seed=args.seed,
        requests_per_day=args.requests_per_day,
        start=start,
        quiet=args.quiet,
        do_batch=not args.no_batch,
        do_report=not args.no_report,
    )
    ctx.say(
        f"melious-impact demo: {args.days} simulated days from {start:%Y-%m-%d}, seed {args.seed}, "
        f"store {ctx.store_path}"
    )
    began = time.perf_counter()
    for step in STEPS:
        t0 = time.perf_counter()
        step(ctx)
        ctx.timings[step.__name__] = time.perf_counter() - t0
    ctx.say(
        f"Done in {time.perf_counter() - began:.1f} s. Query it: mi.ImpactStore({str(ctx.store_path)!r}).to_pandas()"
    )
    sys.stdout.flush()
    return 0
