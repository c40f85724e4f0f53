"""Helpers shared by the integration tests."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from melious_impact.store.impact_store import ImpactStore


def rows(store: ImpactStore) -> pd.DataFrame:
    """Every stored row, oldest first."""
    store.flush()
    return store.to_pandas().sort_values("captured_at", kind="stable").reset_index(drop=True)


def tags_of(row: pd.Series) -> dict[str, Any]:
    return dict(json.loads(row["tags"]))


def warnings_of(row: pd.Series) -> set[str]:
    text = row["parse_warnings"] or ""
    return {w for w in text.replace(";", ",").split(",") if w}
