"""Rebuild stored rows' parsed columns from the verbatim objects kept with them.

Every captured row keeps the ``environment_impact`` and ``billing_cost`` objects as the
response sent them (``environment_impact_json``, ``billing_cost_json``). When parsing
improves, :func:`rebuild` parses them again (:func:`melious_impact.parse.reparse.reparse`)
and writes back the impact and billing columns and ``parse_warnings`` of every row whose
values change, partition by partition, through :meth:`ImpactStore.rewrite
<melious_impact.store.impact_store.ImpactStore.rewrite>` (atomic per partition; readers
and writers go on meanwhile). Rows without the objects (stored before they were kept,
imported, or with impact from headers only) are left as they are.

Exact and idempotent: with the parser that stored the rows, nothing changes and no file
is written; a second run after a first changes nothing either.

    melious-impact rebuild --store DIR
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from melious_impact.parse.reparse import REPARSED_COLUMNS, reparse

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from melious_impact.store.impact_store import ImpactStore


@dataclass(frozen=True)
class RebuildReport:
    """What :func:`rebuild` did."""

    #: Rows that carry at least one verbatim object (parsed again).
    rows_reparsed: int
    #: Rows whose columns changed (and were written back).
    rows_changed: int
    #: Partitions written anew.
    partitions_rewritten: int


def rebuild_table(table: pa.Table, counts: dict[str, int] | None = None) -> pa.Table | None:
    """``table`` with its rows parsed again from their verbatim objects; None when no
    value changes. ``counts`` (optional) gets ``rows_reparsed`` and ``rows_changed`` added."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from melious_impact.records import COLUMNS_BY_NAME, arrow_type

    names = [c for c in REPARSED_COLUMNS if c in table.column_names]
    if "environment_impact_json" not in names and "billing_cost_json" not in names:
        return None
    has_text = pc.or_(
        pc.is_valid(table.column("environment_impact_json")), pc.is_valid(table.column("billing_cost_json"))
    )
    idx = pc.indices_nonzero(has_text).to_pylist()
    if counts is not None:
        counts["rows_reparsed"] = counts.get("rows_reparsed", 0) + len(idx)
    if not idx:
        return None
    subset = table.select(names).take(pa.array(idx, pa.int64())).to_pylist()
    changes: dict[str, dict[int, Any]] = {}
    changed_rows = 0
    for i, row in zip(idx, subset, strict=True):
        new = reparse(row)
        if new:
            changed_rows += 1
            for col, value in new.items():
                changes.setdefault(col, {})[i] = value
    if counts is not None:
        counts["rows_changed"] = counts.get("rows_changed", 0) + changed_rows
    if not changes:
        return None
    for col, values in changes.items():
        old = table.column(col).to_pylist()
        for i, v in values.items():
            old[i] = v
        pos = table.schema.get_field_index(col)
        typ = arrow_type(COLUMNS_BY_NAME[col].kind)
        table = table.set_column(pos, pa.field(col, typ), pa.array(old, typ))
    return table


def rebuild(store: ImpactStore, *, progress: Callable[[int, int], None] | None = None) -> RebuildReport:
    """Parse every row of ``store`` again from its verbatim objects (see the module doc).

    ``progress(done, total)``: called after each date partition.
    """
    counts: dict[str, int] = {}
    rewritten = 0

    def transform(table: pa.Table) -> pa.Table | None:
        nonlocal rewritten
        out = rebuild_table(table, counts)
        rewritten += out is not None
        return out

    store.rewrite(transform, progress=progress)
    return RebuildReport(
        rows_reparsed=counts.get("rows_reparsed", 0),
        rows_changed=counts.get("rows_changed", 0),
        partitions_rewritten=rewritten,
    )
