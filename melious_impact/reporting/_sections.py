"""Report sections that lean on the model and forecast parts, each behind a guard.

A report is most useful when it always renders: if the model or forecast part is not
installed, or cannot work on this period's data (one day of history, no reported
impact), its section says so in plain words and the rest of the report stands.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import pandas as pd

logger = logging.getLogger("melious_impact")


@dataclass
class Section:
    """What a guarded section produced: tables, charts, free notes, or why it has none."""

    key: str
    title: str
    ok: bool = True
    note: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    charts: dict[str, alt.TopLevelMixin] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def guarded(key: str, title: str, build: Callable[[Section], None]) -> Section:
    """Run ``build`` on a fresh section; on failure keep the section with a clear note."""
    t0 = time.perf_counter()
    section = Section(key, title)
    try:
        build(section)
    except ImportError as exc:
        logger.info("report section %s unavailable: %s", key, exc)
        section = Section(key, title, ok=False, note=f"Not available in this installation ({exc}).")
    except Exception as exc:  # a report must render even when one part cannot handle the data
        logger.warning("report section %s failed: %s: %s", key, type(exc).__name__, exc)
        section = Section(
            key, title, ok=False, note=f"Could not be computed on this data: {type(exc).__name__}: {exc}"
        )
    section.seconds = time.perf_counter() - t0
    logger.debug("report section %s took %.2f s", key, section.seconds)
    return section
