"""Plain aligned text tables for the terminal: the one layout of the commands' tables."""

from __future__ import annotations

from collections.abc import Sequence


def print_aligned(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> None:
    """Print ``rows`` of text cells under ``headers``, each column as wide as its widest cell."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for cells in (headers, *rows):
        print(indent + "  ".join(v.ljust(w) for v, w in zip(cells, widths, strict=True)).rstrip())
