"""Opening the store a read-only command was pointed at.

``ImpactStore(path)`` creates a missing folder, which is right for capture and imports
but wrong for a command that only reads: a typo in ``--store`` would create an empty
folder and report "no data". Those commands open stores through :func:`open_existing`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from melious_impact.errors import StoreError


def require_existing(path: str | Path | None) -> None:
    """Raise :class:`StoreError` when a local store folder does not exist."""
    from melious_impact.store.impact_store import default_store_path

    target = default_store_path() if path is None else path
    if "://" in str(target):  # object storage: there is no folder to look for
        return
    if not Path(target).is_dir():
        raise StoreError(
            f"no store at {target}: check --store (`melious-impact path` shows the default folder)"
        )


def open_existing(path: str | Path | None, **kwargs: Any) -> Any:
    """An :class:`~melious_impact.store.impact_store.ImpactStore` that must already exist."""
    from melious_impact.store.impact_store import ImpactStore

    require_existing(path)
    return ImpactStore(path, **kwargs)
