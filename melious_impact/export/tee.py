"""Deprecated: ``TeeStore`` fed a Recorder's rows to extra sinks beside the store.

Use ``Recorder(store, sinks=[OTelSink(...)])``, the one way to add sinks: the same order
(the store first, the record that must survive), the same guarantees (a failing sink is
counted in ``rec.stats.capture_errors`` and logged once, never raised). ``TeeStore`` still
works, and says it is deprecated (``DeprecationWarning``) when constructed.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("melious_impact")


class TeeWriter:
    """A RowWriter that writes each row to the store's writer, then to every sink."""

    def __init__(self, store_writer: Any, sinks: tuple[Any, ...]) -> None:
        self._store_writer = store_writer
        self._sinks = sinks
        self._lock = threading.Lock()
        self._sink_errors = 0
        self._warned = False

    def write(self, row: Mapping[str, Any]) -> None:
        self._store_writer.write(row)
        for sink in self._sinks:
            try:
                sink.write(row)
            except Exception as exc:  # a sink must never cost the caller or the store
                self._sink_failed(sink, exc)

    def _sink_failed(self, sink: Any, exc: Exception) -> None:
        with self._lock:
            self._sink_errors += 1
            warn = not self._warned
            self._warned = True
        if warn:
            logger.warning(
                "sink %s failed (%s: %s); further failures are only counted", sink, type(exc).__name__, exc
            )

    def flush(self) -> None:
        self._store_writer.flush()
        for sink in self._sinks:
            try:
                sink.flush()
            except Exception as exc:
                self._sink_failed(sink, exc)

    def close(self) -> None:
        self._store_writer.close()

    @property
    def stats(self) -> dict[str, int]:
        out = dict(getattr(self._store_writer, "stats", {}) or {})
        with self._lock:
            out["sink_errors"] = self._sink_errors
        return out


class TeeStore:
    """A store wrapper whose writer also feeds ``sinks``; everything else is the store's."""

    def __init__(self, store: Any, *sinks: Any) -> None:
        warnings.warn(
            "TeeStore is deprecated: pass the sinks to the recorder, Recorder(store, sinks=[...])",
            DeprecationWarning,
            stacklevel=2,
        )
        for sink in sinks:
            if not all(callable(getattr(sink, m, None)) for m in ("write", "flush", "close")):
                raise TypeError(f"a sink needs write(row), flush() and close(); got {type(sink).__name__}")
        self.store = store
        self.sinks = sinks
        self._writers: dict[int, TeeWriter] = {}
        self._lock = threading.Lock()

    def writer(self) -> TeeWriter:
        inner = self.store.writer()
        with self._lock:  # the store hands out a new writer after fork or close: follow it
            tee = self._writers.get(id(inner))
            if tee is None or tee._store_writer is not inner:
                tee = TeeWriter(inner, self.sinks)
                self._writers = {id(inner): tee}
            return tee

    def flush(self) -> None:
        self.store.flush()
        for sink in self.sinks:
            try:
                sink.flush()
            except Exception as exc:
                logger.warning("sink %s failed to flush: %s", sink, exc)

    def close(self) -> None:
        self.store.close()
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                logger.warning("sink %s failed to close: %s", sink, exc)

    def __getattr__(self, name: str) -> Any:
        # to_pandas, sql, connect, root...: the wrapped store answers
        if name in {"store", "sinks"}:  # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.store, name)
