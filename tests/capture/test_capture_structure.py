"""The shape of the row path, pinned: the store never parses, capture's modules talk in public.

Read from the source (``ast``), so a change that breaks either rule fails here, not in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "melious_impact"
# httpx/httpx2's own private attributes capture has to read or set on their objects.
_HTTP_LIBRARY_PRIVATES = {"_transport", "_mounts", "_content", "_list"}
# namedtuple's public methods carry an underscore so as not to clash with field names.
_NAMEDTUPLE_API = {"_make", "_replace", "_fields", "_asdict"}
# The one store module that still names capture: a deprecated forwarder (it warns).
_DEPRECATED_FORWARDERS = {"batch_import.py"}


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", _modules("store"), ids=lambda p: p.name)
def test_the_store_imports_neither_parse_nor_capture(path: Path) -> None:
    if path.name in _DEPRECATED_FORWARDERS:
        return
    imported = _imported(ast.parse(path.read_text()))
    assert not {m for m in imported if m.startswith(("melious_impact.parse", "melious_impact.capture"))}


@pytest.mark.parametrize("path", _modules("capture"), ids=lambda p: p.name)
def test_capture_modules_call_no_private_member_of_another_object(path: Path) -> None:
    offending = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if node.attr in _HTTP_LIBRARY_PRIVATES | _NAMEDTUPLE_API:
            continue
        offending.append(f"{path.name}:{node.lineno} .{node.attr}")
    assert offending == []


def test_the_store_names_parse_only_in_its_record_kinds_table() -> None:
    # A journal record is turned into a row by the function its kind names, imported by
    # name when a record of that kind is read; nothing else in the store may name parse.
    mentions = [
        (path.name, line.split("=")[0].strip())
        for path in _modules("store")
        if path.name not in _DEPRECATED_FORWARDERS
        for line in path.read_text().splitlines()
        if "melious_impact.parse" in line
    ]
    assert mentions == [("codec.py", "KNOWN_RECORD_KINDS")]
