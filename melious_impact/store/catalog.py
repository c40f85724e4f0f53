"""Which Parquet files make up the table right now.

A file is *live* unless a compacted file of the same partition lists it in its footer
(key ``melious_impact.replaces``). A compacted file and the list of what it replaces thus
appear in one atomic step (its rename or PUT); from that instant its inputs are dead for
every reader that lists the folder, even before they are deleted. One listing therefore
always shows each row exactly once.

Files are checked once (their footer read) when first seen; a file whose footer cannot be
parsed (truncated, overwritten, not Parquet) is moved to ``_quarantine/`` with a warning
and the rest of the table stays readable.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from melious_impact.store import paths
from melious_impact.store.backend import Backend, DataFile
from melious_impact.store.health import Health

logger = logging.getLogger("melious_impact")

REPLACES_KEY = b"melious_impact.replaces"
COMPACT_PREFIX = "compact-"


def _has_dedup_keys(meta: pq.FileMetaData) -> bool:
    names = meta.schema.names
    if "dedup_key" not in names:
        return False
    idx = names.index("dedup_key")
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        st = rg.column(idx).statistics
        if st is None or not st.has_null_count or st.null_count != rg.num_rows:
            return True
    return False


class Catalog:
    def __init__(self, backend: Backend, health: Health) -> None:
        self.backend = backend
        self.health = health
        self._lock = threading.Lock()
        self._replaces: dict[str, frozenset[str]] = {}  # compacted relpath -> names (immutable files)
        # (relpath, size, mtime) of files whose footer was read -> (schema signature,
        # whether any row carries a dedup_key, from the column statistics)
        self._checked: dict[tuple[str, int, int], tuple[str, bool]] = {}

    # -- reading footers -------------------------------------------------------------
    def _metadata(self, f: DataFile) -> pq.FileMetaData:
        return pq.read_metadata(self.backend.full_path(f.relpath), filesystem=self.backend.filesystem)

    def replaces(self, f: DataFile) -> frozenset[str]:
        """Names a compacted file replaces (empty for ordinary files)."""
        if not f.name.startswith(COMPACT_PREFIX):
            return frozenset()
        with self._lock:
            cached = self._replaces.get(f.relpath)
        if cached is not None:
            return cached
        try:
            meta = self._metadata(f).metadata or {}
            names = frozenset(json.loads(meta.get(REPLACES_KEY, b"[]")))
        except FileNotFoundError:
            return frozenset()
        except (ValueError, OSError) as exc:
            if self.is_damage(exc):
                self._set_aside(f, "unreadable footer")
            return frozenset()
        with self._lock:
            self._replaces[f.relpath] = names
        return names

    # -- listing -----------------------------------------------------------------------
    def files_in(self, partition: str, *, validate: bool = True) -> tuple[list[DataFile], list[DataFile]]:
        """(live, replaced) files of one partition."""
        files = self.backend.list_files(partition)
        dead: set[str] = set()
        for f in files:
            dead |= self.replaces(f)
        live = [f for f in files if f.name not in dead]
        replaced = [f for f in files if f.name in dead]
        if validate:
            live = [f for f in live if self.check(f)]
        return live, replaced

    def is_replaced(self, partition: str, name: str) -> bool:
        return any(name in self.replaces(f) for f in self.backend.list_files(partition))

    def partitions(self, start: date | None = None, end: date | None = None) -> list[str]:
        out = []
        for p in self.backend.list_partitions():
            d = paths.partition_date(p)
            if d is None or (start is not None and d < start) or (end is not None and d > end):
                continue
            out.append(p)
        return out

    def snapshot(self, start: date | None = None, end: date | None = None) -> list[DataFile]:
        """Every live file of the partitions between ``start`` and ``end`` (inclusive).

        Footers are checked up front only on local disk (cheap there); on object storage
        that would cost a request per file, so damage is found when a query fails instead."""
        out: list[DataFile] = []
        for p in self.partitions(start, end):
            out.extend(self.files_in(p, validate=self.backend.is_local)[0])
        return out

    # -- damage ------------------------------------------------------------------------
    def check(self, f: DataFile) -> bool:
        """Footer check, once per (file, size, mtime); False (and set aside) when damaged."""
        key = (f.relpath, f.size, f.mtime_ns)
        with self._lock:
            if key in self._checked:
                return True
        try:
            meta = self._metadata(f)
            signature = str(meta.schema.to_arrow_schema().remove_metadata())
            keyed = _has_dedup_keys(meta)
        except FileNotFoundError:
            return False  # gone since the listing (compaction or retention): not damage
        except (ValueError, OSError) as exc:
            if self.is_damage(exc):
                self._set_aside(f, f"unreadable footer: {exc}"[:200])
            return False
        with self._lock:
            self._checked[key] = (signature, keyed)
        return True

    def signature(self, f: DataFile) -> str | None:
        """The schema of a checked file (None when not read yet): files sharing one are
        scanned together without DuckDB's costly per-query schema unification."""
        with self._lock:
            found = self._checked.get((f.relpath, f.size, f.mtime_ns))
        return None if found is None else found[0]

    def may_have_dedup_keys(self, f: DataFile) -> bool:
        """False only when the footer statistics show no row of the file has a dedup_key
        (live captures): the view then skips deduplication for it."""
        with self._lock:
            found = self._checked.get((f.relpath, f.size, f.mtime_ns))
        return True if found is None else found[1]

    def deep_check(self, files: Iterable[DataFile]) -> list[DataFile]:
        """Read every page of the files; set aside and return those that fail."""
        bad = []
        for f in files:
            try:
                pq.read_table(self.backend.full_path(f.relpath), filesystem=self.backend.filesystem)
            except FileNotFoundError:
                continue
            except (ValueError, OSError, pa.ArrowException) as exc:
                if self.is_damage(exc):
                    self._set_aside(f, str(exc)[:200])
                    bad.append(f)
        return bad

    def is_damage(self, exc: BaseException) -> bool:
        """Whether a read error means a damaged file (rather than a missing file, missing
        permission or, on object storage, a network hiccup)."""
        if isinstance(exc, FileNotFoundError | PermissionError):
            return False
        if isinstance(exc, ValueError | pa.ArrowInvalid):
            return True
        if self.backend.is_local:
            return True
        text = str(exc).lower()
        return any(w in text for w in ("thrift", "magic", "parquet", "corrupt", "deserializ", "decompress"))

    def _set_aside(self, f: DataFile, why: str) -> None:
        try:
            dest = self.backend.quarantine(f)
        except FileNotFoundError:
            return
        except OSError as exc:
            self.health.problem("moving a damaged file to quarantine", exc)
            return
        self.health.add("files_quarantined")
        logger.warning("melious_impact store: damaged file %s (%s) moved to %s", f.relpath, why, dest)
