"""Open the report and every dashboard page from disk in headless Chromium, offline.

Each page must draw every chart (an svg or canvas in each chart container), log no
console error, and request nothing but its own file. CI installs Debian's chromium;
locally these tests are skipped when it is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from chromium_cdp import Browser, PageResult, find_chromium

import melious_impact as mi

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium); CI installs it"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium); CI installs it")
    with Browser(CHROMIUM) as b:
        yield b


def _check(result: PageResult, page: Path) -> None:
    assert result.charts > 0, f"{page.name}: no chart containers"
    assert result.with_graphics == result.charts, (
        f"{page.name}: {result.charts - result.with_graphics} charts not drawn"
    )
    assert not result.errors, f"{page.name}: {result.errors}"
    foreign = [u for u in result.requests if not u.startswith(("file://", "data:", "blob:", "about:"))]
    assert not foreign, f"{page.name} requested {foreign}"


@needs_chromium
def test_report_renders_offline(browser: Browser, sim: pd.DataFrame, tmp_path: Path) -> None:
    out = mi.report(sim, tmp_path / "report.html", budgets={"search": {"cost_eur": 5}})
    result = browser.open_page(out)
    _check(result, out)
    assert result.rendered == result.charts


@needs_chromium
def test_static_report_renders_offline(browser: Browser, sim: pd.DataFrame, tmp_path: Path) -> None:
    out = mi.report(sim, tmp_path / "static.html", render="static", start="2026-02-01", end="2026-02-08")
    _check(browser.open_page(out), out)


@needs_chromium
def test_every_dashboard_page_renders_offline(
    browser: Browser, store: mi.ImpactStore, tmp_path: Path
) -> None:
    index = mi.dashboard(store, tmp_path / "dash", budgets={"search": {"cost_eur": 5, "carbon_g_co2": 800}})
    pages = sorted(index.parent.glob("*.html"))
    assert len(pages) >= 7  # index + 6 teams (ops has only errors)
    for page in pages:
        _check(browser.open_page(page), page)


@needs_chromium
def test_pdf(sim: pd.DataFrame, tmp_path: Path) -> None:
    out = mi.report(sim, tmp_path / "report.html", pdf=True, start="2026-02-01", end="2026-02-08")
    pdf = out.with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf.stat().st_size > 20_000
    assert not list(tmp_path.glob(".*.print.html"))  # the printable page is cleaned up


def test_pdf_without_chromium_says_what_to_do(
    sim: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MELIOUS_IMPACT_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(FileNotFoundError, match="Chromium not found"):
        mi.report(sim.head(200), tmp_path / "r.html", pdf=True)
