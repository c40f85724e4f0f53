"""Recovery: convert the journal segments of processes that are gone.

Run when a store is opened, before every read (``sql``, ``to_pandas``, ``connect``...:
so the rows of a worker that exited, cleanly or not, show up without anyone asking) and
by ``ImpactStore.recover()``. With no segment of a dead process it costs one listing of
the journal folder and one failed ``flock`` per live segment. A segment is claimed only when
its ``flock`` can be taken (its owner is dead, however it died); conversion is the same
deterministic one the owner would have done, so a segment already half-committed by its
owner is rewritten to identical files, never duplicated. Torn last records (the process
died inside ``write(2)``, or the disk filled) are dropped and counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from melious_impact.store.backend import Backend
from melious_impact.store.catalog import Catalog
from melious_impact.store.commit import commit_segment
from melious_impact.store.health import Health
from melious_impact.store.journal import claim, list_segments

logger = logging.getLogger("melious_impact")


@dataclass
class RecoveryReport:
    segments: int = 0
    rows: int = 0
    damaged_records: int = 0
    failed: int = 0
    partitions: set[str] = field(default_factory=set)


def recover(journal_dir: Path, backend: Backend, catalog: Catalog, health: Health) -> RecoveryReport:
    report = RecoveryReport()
    for path in list_segments(journal_dir):
        seg = claim(path)
        if seg is None:
            continue  # its owner is alive (or another process is recovering it)
        try:
            data = seg.read()
            done = commit_segment(backend, seg.segment_id, data, catalog=catalog)
        except Exception as exc:  # disk full, read-only: leave the segment for next time
            health.problem("recovering a journal segment", exc)
            report.failed += 1
            seg.release()
            continue
        seg.remove()
        report.segments += 1
        report.rows += done.rows
        report.damaged_records += done.damaged_records
        report.partitions.update(done.partitions)
    # Hidden segments of processes that died while creating them hold no rows (rows are
    # only appended after the rename); delete them once their owner is gone.
    for path in list_segments(journal_dir, temporaries=True):
        tmp = claim(path)
        if tmp is not None:
            tmp.remove()
    if report.damaged_records:
        health.add("journal_records_damaged", report.damaged_records)
        logger.warning(
            "melious_impact store: dropped %d torn journal record(s) while recovering %d segment(s)",
            report.damaged_records,
            report.segments,
        )
    if report.rows:
        health.add("rows_recovered", report.rows)
    return report
