"""What capture may rely on from a store: two small protocols.

- :class:`RowSink`: takes rows (``write``), makes them durable and visible (``flush``),
  stops (``close``). :class:`~melious_impact.store.writer.RowWriter` is the store's; an
  extra sink (``melious_impact.export.OTelSink``, your own) offers the same.
- :class:`RowStore`: hands out this process's :class:`RowSink` (``writer()``), and
  flushes and closes as a whole. :class:`~melious_impact.ImpactStore` is one; so is any
  object with these three methods (an in-memory store in tests).
- :class:`RecordSink`: a sink that also journals records of a known kind
  (``write_record``) and builds their rows later (:mod:`melious_impact.store.codec`): the
  store's writer, which keeps the caller's share of capture to one append.
- :class:`CountsDrops`: a sink that counts the rows it lost (``stats["rows_dropped"]``).

Nothing here imports anything: capture can name these types without loading the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class RowSink(Protocol):
    """Where rows go. ``write`` must not raise and must not block on I/O for long."""

    def write(self, row: Mapping[str, Any]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class RowStore(Protocol):
    """A store as capture sees it."""

    def writer(self) -> RowSink: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class RecordSink(RowSink, Protocol):
    """A sink that takes records of a kind it knows how to turn into rows later."""

    def write_record(self, kind: str, record: tuple[Any, ...]) -> None: ...


@runtime_checkable
class CountsDrops(Protocol):
    """A sink that says how many rows it dropped (``stats["rows_dropped"]``)."""

    @property
    def stats(self) -> Mapping[str, int]: ...
