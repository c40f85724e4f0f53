"""Deprecated location of :func:`melious_impact.capture.batch_file.import_batch_output`.

Parsing responses is capture's work, not the store's: the function moved to
``melious_impact.capture.batch_file`` (and stays ``melious_impact.import_batch_output``).
Calling it from here still works and says so with a ``DeprecationWarning``.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.store.impact_store import ImpactStore


def import_batch_output(
    store: ImpactStore, path_or_bytes: str | os.PathLike[str] | bytes, *, batch_id: str | None = None
) -> int:
    """Deprecated: use ``melious_impact.import_batch_output`` (``melious_impact.capture.batch_file``)."""
    warnings.warn(
        "melious_impact.store.batch_import is deprecated: use melious_impact.import_batch_output "
        "(melious_impact.capture.batch_file)",
        DeprecationWarning,
        stacklevel=2,
    )
    from melious_impact.capture.batch_file import import_batch_output as moved

    return moved(store, path_or_bytes, batch_id=batch_id)
