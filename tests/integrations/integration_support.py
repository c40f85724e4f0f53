"""Helpers shared by the integration tests."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from melious_impact.store.impact_store import ImpactStore

#: Warning filters for tests that run LiteLLM (directly or under DSPy). LiteLLM's own code trips
#: pydantic warnings (ReadOnly TypedDict items at import, instance model_computed_fields in its
#: stream usage handling): third-party, not ours to fix. Clients evicted from LiteLLM's cache are
#: closed by LiteLLM after a grace period, so a test that flushes the cache leaves their sockets
#: to the garbage collector.
LITELLM_WARNING_FILTERS = [
    pytest.mark.filterwarnings("ignore:Item.*ReadOnly:UserWarning"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def rows(store: ImpactStore) -> pd.DataFrame:
    """Every stored row, oldest first."""
    store.flush()
    return store.to_pandas().sort_values("captured_at", kind="stable").reset_index(drop=True)


def tags_of(row: pd.Series) -> dict[str, Any]:
    return dict(json.loads(row["tags"]))


def warnings_of(row: pd.Series) -> set[str]:
    text = row["parse_warnings"] or ""
    return {w for w in text.replace(";", ",").split(",") if w}
