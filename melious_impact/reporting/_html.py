"""Rendering: Jinja templates, number formatting, and charts embedded with no network.

Pages are single files that open from disk on an offline laptop. Interactive pages
inline the Vega, Vega-Lite and vega-embed JavaScript (the bundle ``vl-convert-python``
ships) once per page, and each chart's spec as inline JSON; static pages (and PDFs)
carry each chart as inline SVG rendered by vl-convert. A Content-Security-Policy
forbids every network fetch, so a stray URL fails loudly instead of phoning home.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import altair as alt
import jinja2
from markupsafe import Markup

from melious_impact import units

RENDER_MODES = ("interactive", "static")

# 'unsafe-eval' because Vega compiles its expressions with Function(); nothing may be fetched.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)


_BUNDLE: list[str] = []
_BUNDLE_LOCK = threading.Lock()


def vega_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script (about 0.9 MB; built once per process)."""
    with _BUNDLE_LOCK:
        if not _BUNDLE:
            import vl_convert

            # The snippet puts the three libraries on window, for the page's own script to call.
            snippet = "window.vegaEmbed = vegaEmbed; window.vegaLite = vegaLite; window.vega = vega;"
            bundle = str(vl_convert.javascript_bundle(snippet=snippet, vl_version=vl_version()))
            # Inline <script> ends at the first "</script": never let the bundle contain one.
            _BUNDLE.append(bundle.replace("</script", "<\\/script"))
        return _BUNDLE[0]


def prefetch_bundle() -> None:
    """Start building the bundle in the background (vl-convert releases the GIL: it takes
    a few seconds, which then overlap with the queries and model fits)."""
    if not _BUNDLE:
        threading.Thread(target=vega_bundle, name="melious-impact-vega-bundle", daemon=True).start()


def vl_version() -> str:
    """The Vega-Lite version Altair writes specs for (e.g. '6.4'), if vl-convert has it."""
    import vl_convert

    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    available = list(vl_convert.get_vegalite_versions())
    return wanted if wanted in available else available[-1]


@dataclass(frozen=True)
class ChartSlot:
    """One chart placed on a page: the container id, its spec, and (static pages) its SVG."""

    id: str
    name: str
    spec_json: str
    svg: str = ""


def chart_slot(chart: alt.TopLevelMixin, name: str, index: int, mode: str) -> ChartSlot:
    # the charts' specs are validated by their own tests: a page skips the schema check (a third of its time)
    spec = chart.to_dict(validate=False)
    spec_json = json.dumps(spec, separators=(",", ":"), default=str).replace("</", "<\\/")
    svg = ""
    if mode == "static":
        import vl_convert

        svg = str(vl_convert.vegalite_to_svg(spec, vl_version=vl_version()))
    return ChartSlot(id=f"chart-{index}", name=name, spec_json=spec_json, svg=svg)


# -- number formatting -------------------------------------------------------------------


#: Numbers on pages are formatted by :mod:`melious_impact.units` (one format everywhere).
fmt = units.number
fmt_count = units.count


def fmt_money(value: Any) -> str:
    """An exact amount without its currency (the unit is shown beside it)."""
    return units.money(value, currency="")


def raw(value: Any) -> str:
    """The exact value for a ``data-value`` attribute (tests compare it with the store)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    f = units.as_float(value)
    if f is None:
        return ""
    return repr(int(value)) if isinstance(value, int) else repr(f)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(name: str) -> str:
    """A file-name-safe, traversal-free version of a team name."""
    s = _SAFE.sub("-", str(name)).strip("-.")
    return s[:80] or "team"


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("melious_impact.reporting", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        fmt=fmt,
        whole=fmt_count,
        money=fmt_money,
        raw=raw,
        pct=units.percent,
        prob=units.probability,
        when=units.when,
        qty=units.quantity,
    )
    env.globals["csp"] = CSP
    return env


def render_page(template: str, out: Path, *, charts: list[ChartSlot], mode: str, **context: Any) -> Path:
    """Render ``template`` to ``out`` with the chart slots and, if interactive, the JS bundle."""
    if mode not in RENDER_MODES:
        raise ValueError(f"render must be one of {', '.join(RENDER_MODES)}; got {mode!r}")
    bundle = Markup(vega_bundle()) if mode == "interactive" and charts else Markup("")
    slots = {slot.name: slot for slot in charts}
    html = (
        environment()
        .get_template(template)
        .render(charts=charts, slots=slots, mode=mode, bundle=bundle, **context)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
