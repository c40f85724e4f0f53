"""Storage back ends: the few file operations the store needs, on local disk or object storage.

Both back ends commit a Parquet file atomically under its final name: locally by writing a
hidden temporary file and renaming it (rename is atomic on POSIX), on object storage by a
single PUT (an object appears whole or not at all). Readers therefore never see half a file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from melious_impact.store import paths

#: Parquet writer settings: zstd keeps files small and decodes fast in DuckDB and Spark.
_WRITE_OPTS = {"compression": "zstd", "write_statistics": True}


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of the table."""

    partition: str  # "date=YYYY-MM-DD"
    name: str
    size: int = 0
    mtime_ns: int = 0

    @property
    def relpath(self) -> str:
        return f"{paths.TABLE_DIR}/{self.partition}/{self.name}"


class Backend(Protocol):
    root: str
    filesystem: pafs.FileSystem
    is_local: bool

    def full_path(self, relpath: str) -> str: ...
    def list_partitions(self) -> list[str]: ...
    def list_files(self, partition: str) -> list[DataFile]: ...
    def write_table(self, table: pa.Table, partition: str, name: str, *, fsync: bool = False) -> None: ...
    def delete(self, f: DataFile) -> None: ...
    def quarantine(self, f: DataFile) -> str: ...
    def remove_partition(self, partition: str) -> None: ...


class LocalBackend:
    """A store folder on a local (or mounted) file system; files are private (0o600)."""

    is_local = True

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self._root = root
        self.filesystem = pafs.LocalFileSystem()
        # Folders are created on first write, so a read-only store still opens for reading.

    def full_path(self, relpath: str) -> str:
        return str(self._root / relpath)

    def list_partitions(self) -> list[str]:
        try:
            names = os.listdir(self._root / paths.TABLE_DIR)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if paths.partition_date(n) is not None)

    def list_files(self, partition: str) -> list[DataFile]:
        out = []
        try:
            entries = list(os.scandir(self._root / paths.TABLE_DIR / partition))
        except (FileNotFoundError, NotADirectoryError):
            return []
        for e in entries:
            if not paths.is_data_file(e.name):
                continue
            try:
                st = e.stat()
            except FileNotFoundError:  # removed since the listing (compaction, retention)
                continue
            out.append(DataFile(partition, e.name, st.st_size, st.st_mtime_ns))
        out.sort(key=lambda f: f.name)
        return out

    def write_table(self, table: pa.Table, partition: str, name: str, *, fsync: bool = False) -> None:
        folder = paths.ensure_private_dir(self._root / paths.TABLE_DIR / partition)
        tmp = folder / paths.temp_name(name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, paths.FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh, **_WRITE_OPTS)
                if fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, folder / name)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        if fsync:
            paths.fsync_dir(folder)

    def delete(self, f: DataFile) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.full_path(f.relpath))

    def quarantine(self, f: DataFile) -> str:
        dest_dir = paths.ensure_private_dir(self._root / paths.QUARANTINE_DIR / f.partition)
        dest = dest_dir / f.name
        if dest.exists():
            dest = dest_dir / paths.temp_name(f.name).lstrip(".")
        os.replace(self.full_path(f.relpath), dest)
        return str(dest)

    def remove_partition(self, partition: str) -> None:
        folder = self._root / paths.TABLE_DIR / partition
        for f in self.list_files(partition):
            self.delete(f)
        # Leftover temporaries of writers that died; a live writer's rename then fails
        # and is retried by it (the partition is recreated).
        shutil.rmtree(folder, ignore_errors=True)


class ArrowFsBackend:
    """A store under an object-store prefix, through a ``pyarrow.fs.FileSystem``.

    No locks and no renames: every file name is unique (or derived from a journal segment,
    whose rewrite after a crash replaces the object with identical content).
    """

    is_local = False

    def __init__(self, filesystem: pafs.FileSystem, base: str, uri: str) -> None:
        self.filesystem = filesystem
        self.root = uri
        self._base = base.rstrip("/")

    def full_path(self, relpath: str) -> str:
        return f"{self._base}/{relpath}"

    def list_partitions(self) -> list[str]:
        sel = pafs.FileSelector(self.full_path(paths.TABLE_DIR), allow_not_found=True)
        infos = self.filesystem.get_file_info(sel)
        return sorted(
            i.base_name
            for i in infos
            if i.type == pafs.FileType.Directory and paths.partition_date(i.base_name) is not None
        )

    def list_files(self, partition: str) -> list[DataFile]:
        sel = pafs.FileSelector(self.full_path(f"{paths.TABLE_DIR}/{partition}"), allow_not_found=True)
        out = [
            DataFile(partition, i.base_name, i.size or 0, i.mtime_ns or 0)
            for i in self.filesystem.get_file_info(sel)
            if i.type == pafs.FileType.File and paths.is_data_file(i.base_name)
        ]
        out.sort(key=lambda f: f.name)
        return out

    def write_table(self, table: pa.Table, partition: str, name: str, *, fsync: bool = False) -> None:
        path = self.full_path(f"{paths.TABLE_DIR}/{partition}/{name}")
        with self.filesystem.open_output_stream(path) as out:
            pq.write_table(table, out, **_WRITE_OPTS)

    def delete(self, f: DataFile) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.filesystem.delete_file(self.full_path(f.relpath))

    def quarantine(self, f: DataFile) -> str:
        dest = self.full_path(f"{paths.QUARANTINE_DIR}/{f.partition}/{f.name}")
        self.filesystem.copy_file(self.full_path(f.relpath), dest)
        self.delete(f)
        return dest

    def remove_partition(self, partition: str) -> None:
        for f in self.list_files(partition):
            self.delete(f)
        with contextlib.suppress(OSError):
            self.filesystem.delete_dir(self.full_path(f"{paths.TABLE_DIR}/{partition}"))
