"""MkDocs hook: the notebooks in ``notebooks/`` as pages of the site, executed at build time.

Each ``notebooks/<name>.ipynb`` becomes the page ``notebooks/<name>.md``: its Markdown cells as
they are, its code cells as Python blocks, and the outputs of a fresh run on the sample data
(tables, text and charts). Charts are rendered to SVG by Altair's ``svg`` renderer (through
vl-convert, offline), so the pages load no script from the network.

The notebooks are committed without outputs (a test checks it); the site shows them run
against the code being built, so a page cannot show results the code no longer gives. A
notebook that raises fails the build.

``MELIOUS_DOCS_NOTEBOOKS=skip`` renders the pages without running them (a quick local
preview, and the pre-commit hook; CI runs them).
"""

from __future__ import annotations

import base64
import html
import logging
import os
import time
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.notebooks")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
# Run first in each kernel: charts come out as static SVG instead of a script that fetches
# the Vega libraries from the network.
SETUP = 'import altair as alt\nalt.renderers.enable("svg")\nNone'


def _execute(book: Any) -> float:
    import nbformat
    from nbclient import NotebookClient

    book.cells.insert(0, nbformat.v4.new_code_cell(SETUP))
    t0 = time.perf_counter()
    NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    del book.cells[0]
    return time.perf_counter() - t0


def _output(out: Any) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        return f"```text\n{out.get('text', '').rstrip()}\n```"
    if kind == "error":  # nbclient raises first; kept for notebooks run with allow_errors
        return f"```text\n{out.get('ename')}: {out.get('evalue')}\n```"
    data = out.get("data", {})
    if "image/svg+xml" in data:
        return f'<div class="nb-output">\n{data["image/svg+xml"]}\n</div>'
    if "image/png" in data:
        png = data["image/png"]
        png = png if isinstance(png, str) else base64.b64encode(png).decode()
        return f'<div class="nb-output"><img alt="output" src="data:image/png;base64,{png}"></div>'
    if "text/html" in data:
        return f'<div class="nb-output">\n{data["text/html"]}\n</div>'
    if "text/plain" in data:
        return f"```text\n{data['text/plain'].rstrip()}\n```"
    return ""


def notebook_markdown(path: Path, execute: bool) -> str:
    import nbformat

    book = nbformat.read(path, as_version=4)
    note = ""
    if execute:
        took = _execute(book)
        log.info("notebook %s ran in %.1f s", path.name, took)
    else:
        note = "\n\n!!! note\n    This build did not run the notebook: outputs are not shown.\n"
    parts: list[str] = []
    for i, cell in enumerate(book.cells):
        if cell.cell_type == "markdown":
            parts.append(cell.source)
            if i == 0 and note:
                parts.append(note)
        elif cell.cell_type == "code":
            parts.append(f"```python\n{cell.source}\n```")
            parts.extend(o for o in map(_output, cell.get("outputs", [])) if o)
    source = f"`notebooks/{html.escape(path.name)}` in the repository."
    return "\n\n".join(parts) + f"\n\n---\n\nThe notebook: {source}\n"


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    execute = os.environ.get("MELIOUS_DOCS_NOTEBOOKS", "run") != "skip"
    if execute:
        try:
            import nbclient  # noqa: F401
        except ImportError:  # the docs extra alone: no Jupyter to run them with
            log.info("nbclient is not installed: notebook pages are rendered without outputs")
            execute = False
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        content = notebook_markdown(path, execute)
        files.append(File.generated(config, f"notebooks/{path.stem}.md", content=content))
    return files
