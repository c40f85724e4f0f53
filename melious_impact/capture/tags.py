"""Tags for captured rows, scoped with a context manager on :mod:`contextvars`.

``with tags(team="ads", feature="banners"):`` applies to every request made inside the
block: in this thread, and in asyncio tasks created inside it (tasks copy the context).
Blocks nest; inner values override outer ones and the recorder's defaults. A value of
``None`` removes a tag set further out. A plain thread does *not* inherit the context;
run its work in a copy::

    ctx = contextvars.copy_context()
    threading.Thread(target=ctx.run, args=(work,)).start()

``team`` and ``project`` go to their own columns; every other tag goes to the ``tags``
JSON column (keys sorted).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

TagValue = str | int | float | bool | None

_EMPTY: Mapping[str, TagValue] = MappingProxyType({})
_CURRENT: ContextVar[Mapping[str, TagValue]] = ContextVar("melious_impact_tags", default=_EMPTY)

#: Tags with a column of their own.
COLUMN_TAGS = ("team", "project")


def check_tags(kv: Mapping[str, Any], where: str = "tags") -> dict[str, TagValue]:
    """Validated copy: string keys, scalar values."""
    out: dict[str, TagValue] = {}
    for k, v in kv.items():
        if not isinstance(k, str) or not k:
            raise TypeError(f"{where}: tag names must be non-empty strings, got {k!r}")
        if v is not None and not isinstance(v, str | int | float | bool):
            raise TypeError(
                f"{where}: tag {k!r} must be a str, int, float, bool or None, got {type(v).__name__}; "
                "convert it to a string first"
            )
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{where}: tag {k!r} must be a finite number, got {v!r}")
        out[k] = v
    return out


@contextmanager
def tags(**kv: TagValue) -> Iterator[Mapping[str, TagValue]]:
    """Apply tags to requests made inside the block (nestable; see the module doc)."""
    merged = MappingProxyType({**_CURRENT.get(), **check_tags(kv)})
    token = _CURRENT.set(merged)
    try:
        yield merged
    finally:
        _CURRENT.reset(token)


def current_tags() -> dict[str, TagValue]:
    """The tags set by enclosing :func:`tags` blocks (without recorder defaults)."""
    return {k: v for k, v in _CURRENT.get().items() if v is not None}


def context_tags() -> Mapping[str, TagValue]:
    """The current mapping itself (identity is stable inside one block: used for caching)."""
    return _CURRENT.get()


def resolve(
    defaults: Mapping[str, TagValue], scoped: Mapping[str, TagValue]
) -> tuple[str | None, str | None, str]:
    """(team, project, tags JSON) from recorder defaults overridden by scoped tags."""
    merged = {**defaults, **scoped}
    rest = {k: v for k, v in merged.items() if v is not None and k not in COLUMN_TAGS}
    team = merged.get("team")
    project = merged.get("project")
    return (
        None if team is None else str(team),
        None if project is None else str(project),
        json.dumps(rest, sort_keys=True, ensure_ascii=False, separators=(",", ":")),
    )
