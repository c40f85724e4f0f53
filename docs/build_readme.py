"""Assemble README.md from the parts' sections in docs/readme/.

Each part keeps its user-facing section next to the others in docs/readme/<part>.md; this
script stitches them in reading order and shifts headings so that every part's title is a
level-2 heading. Run it after editing a section: ``python docs/build_readme.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent
ORDER = [
    "_readme_head",
    "tour",
    "capture",
    "store",
    "emulator",
    "model",
    "forecast",
    "report",
    "export",
    "reliability",
    "benchmarks",
    "architecture",
    "development",
]
HEADING = re.compile(r"^(#+)(\s.*)$")


def shifted(text: str, top_level: int) -> str:
    """Shift headings (outside code fences) so the first one lands at ``top_level``."""
    lines = text.splitlines()
    fence = False
    first = None
    out = []
    for line in lines:
        if line.lstrip().startswith("```"):
            fence = not fence
        m = None if fence else HEADING.match(line)
        if m:
            level = len(m.group(1))
            if first is None:
                first = level
            line = "#" * max(1, level - first + top_level) + m.group(2)
        out.append(line)
    return "\n".join(out).strip() + "\n"


def build() -> str:
    parts = []
    for name in ORDER:
        path = HERE / f"{name}.md"
        if not path.exists():
            continue
        text = path.read_text()
        parts.append(text.strip() + "\n" if name == "_head" else shifted(text, 2))
    return "\n".join(parts)


if __name__ == "__main__":
    target = Path(__file__).parent.parent / "README.md"
    target.write_text(build())
    print(f"wrote {target} ({len(target.read_text().splitlines())} lines)")
