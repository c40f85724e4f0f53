"""The package's import graph, read from the source (``ast``) and pinned.

Three rules, each checked over every module of ``melious_impact`` (imports inside functions
and under ``TYPE_CHECKING`` count: they are dependencies all the same):

- **Layers.** A concern (a subpackage, or a top-level module such as ``records``) imports only
  concerns of a lower layer (``LAYERS``), the readers (model, forecasting, charts, reporting,
  export) never import capture or parse, and no import cycle spans two concerns.
- **Private stays private.** No concern imports another's private module (``emulator._wire``)
  or private name (``_is_store``), nor reads one off an imported module.
- **No module tricks.** No package module is made callable (``sys.modules[__name__].__class__``)
  and nothing reads the top-level ``_EXPORTS`` table.

What the code still breaks is listed in ``KNOWN``, one line of reason each. A violation not
listed there fails (``test_no_new_violation``), and so does a listed one that is gone
(``test_known_violations_still_exist``: delete its line), so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "melious_impact"
ROOT = "melious_impact"

#: Bottom first. A concern may import the concerns of the layers below its own, never its own
#: layer's others nor any above: the row and the shared rules; then parsing, the store and the
#: offline Melious beside each other (the store never parses); capture over parse and store; the
#: readers over the store or frames; reports over charts; the lazy public API; the CLI.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "records", "billing", "periods", "units", "frames"),
    ("parse", "store", "emulator"),
    ("capture", "rebuild", "forecasting"),
    ("integrations", "model"),
    ("charts", "export", "data"),
    ("reporting",),
    (ROOT,),
    ("cli",),
    ("__main__",),
)
#: Readers take frames or the store: they never reach into the capture path.
READERS = frozenset({"model", "forecasting", "charts", "reporting", "export", "data"})
CAPTURE_PATH = frozenset({"capture", "parse"})
#: The one name any module may read from the top-level package: the version, written once.
ROOT_NAMES_ANYONE_MAY_IMPORT = frozenset({"__version__"})

#: Violations the code still has, each with why it is still there. Remove a line when its fix
#: lands; never add one to make a new violation pass.
KNOWN: dict[str, str] = {
    "layers: store.batch_import -> capture.batch_file": (
        "deprecated forwarder kept for old callers; it warns and goes with the deprecation"
    ),
}


def _layer_of(concern: str) -> int:
    for rank, layer in enumerate(LAYERS):
        if concern in layer:
            return rank
    raise AssertionError(f"{concern} is in no layer: add it to LAYERS in tests/test_structure.py")


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. melious_impact.charts.impact
    path: Path
    tree: ast.Module

    @cached_property
    def nodes(self) -> tuple[ast.AST, ...]:
        return tuple(ast.walk(self.tree))

    @property
    def concern(self) -> str:
        return _concern(self.name)

    @property
    def short(self) -> str:
        return _short(self.name)


@dataclass(frozen=True)
class Edge:
    source: Module
    target: str  # a module of the package
    names: tuple[str, ...]  # names taken by ``from target import ...``; () for ``import target``
    line: int


def _concern(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _short(name: str) -> str:
    return name.removeprefix(f"{ROOT}.") if name != ROOT else ROOT


def _private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def _load() -> dict[str, Module]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        modules[name] = Module(name, path, ast.parse(path.read_text(), filename=str(path)))
    return modules


MODULES = _load()


def _absolute(module: Module, node: ast.ImportFrom) -> str | None:
    if not node.level:
        return node.module
    base = module.name.split(".")
    if module.path.name != "__init__.py":
        base.pop()
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _edges(modules: dict[str, Module]) -> Iterator[Edge]:
    for module in modules.values():
        for node in module.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules:
                        yield Edge(module, alias.name, (), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(module, node)
                if target not in modules:
                    continue
                plain = []
                for alias in node.names:
                    if f"{target}.{alias.name}" in modules:  # ``from package import module``
                        yield Edge(module, f"{target}.{alias.name}", (), node.lineno)
                    else:
                        plain.append(alias.name)
                if plain:
                    yield Edge(module, target, tuple(plain), node.lineno)


def _graph(modules: dict[str, Module]) -> list[Edge]:
    """Every import between modules of the package, but the version read off the top."""
    return [
        e
        for e in _edges(modules)
        if not (e.target == ROOT and e.names and set(e.names) <= ROOT_NAMES_ANYONE_MAY_IMPORT)
    ]


def _crossing(edges: list[Edge]) -> list[Edge]:
    return [e for e in edges if e.source.concern != _concern(e.target)]


def _layer_violations(edges: list[Edge]) -> Iterator[str]:
    for edge in _crossing(edges):
        source, target = edge.source.concern, _concern(edge.target)
        if _layer_of(target) >= _layer_of(source):
            yield f"layers: {edge.source.short} -> {_short(edge.target)}"
        if source in READERS and target in CAPTURE_PATH:
            yield f"readers: {edge.source.short} -> {_short(edge.target)}"


def _cycles(modules: dict[str, Module], edges: list[Edge]) -> Iterator[str]:
    """Strongly connected components of the module graph that span more than one concern."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for edge in edges:
        graph[edge.source.name].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for name in graph:
        if name not in index:
            visit(name)
    for component in components:
        concerns = sorted({_concern(m) for m in component})
        if len(concerns) > 1:
            yield f"cycle: {' <-> '.join(concerns)}"


def _private_violations(modules: dict[str, Module], edges: list[Edge]) -> Iterator[str]:
    for edge in _crossing(edges):
        target = _short(edge.target)
        if any(_private(part) for part in edge.target.split(".")):
            yield f"private: {edge.source.short} -> {target}"
        for name in edge.names:
            if _private(name):
                yield f"private: {edge.source.short} -> {target}.{name}"
    # a private name read off a module imported whole: ``import melious_impact; melious_impact._X``
    for module in modules.values():
        bound: dict[str, str] = {}
        for node in module.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules and _concern(alias.name) != module.concern:
                        bound[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom):
                package = _absolute(module, node)
                for alias in node.names:
                    full = f"{package}.{alias.name}"
                    if full in modules and _concern(full) != module.concern:
                        bound[alias.asname or alias.name] = full
        for node in module.nodes:
            if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr != "_EXPORTS":
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in bound:
                    yield f"private: {module.short} -> {_short(bound[owner.id])}.{node.attr}"


def _trick_violations(modules: dict[str, Module]) -> Iterator[str]:
    for module in modules.values():
        for node in module.nodes:
            if isinstance(node, ast.ClassDef) and any(
                ast.unparse(base) in {"types.ModuleType", "ModuleType"} for base in node.bases
            ):
                yield f"callable module: {module.short}"
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any("sys.modules" in ast.unparse(target) for target in targets):
                    yield f"callable module: {module.short}"
            if isinstance(node, ast.Attribute) and node.attr == "_EXPORTS" and module.name != ROOT:
                yield f"exports table: {module.short} reads {ast.unparse(node)}"


def _violations(modules: dict[str, Module]) -> set[str]:
    edges = _graph(modules)
    return {
        *_layer_violations(edges),
        *_cycles(modules, edges),
        *_private_violations(modules, edges),
        *_trick_violations(modules),
    }


VIOLATIONS = _violations(MODULES)


def test_every_concern_has_a_layer() -> None:
    for name in MODULES:
        _layer_of(_concern(name))


def test_the_graph_is_read() -> None:
    """Guards the reader itself: a known import must be found, or every rule passes vacuously."""
    edges = _graph(MODULES)
    found = {(e.source.name, e.target) for e in edges}
    assert ("melious_impact.parse.row", "melious_impact.records") in found
    assert ("melious_impact.reporting.report", "melious_impact.charts") in {(s, t[:21]) for s, t in found}
    assert len(_crossing(edges)) > 100


@pytest.mark.parametrize(
    ("fakes", "expected"),
    [
        (
            {"model.x": "from melious_impact.emulator._wire import dumps"},
            "private: model.x -> emulator._wire",
        ),
        ({"model.x": "from melious_impact.records import _x"}, "private: model.x -> records._x"),
        (
            {"model.x": "from melious_impact.charts import source\nsource._x"},
            "private: model.x -> charts.source._x",
        ),
        ({"model.x": "from melious_impact.capture import recorder"}, "readers: model.x -> capture.recorder"),
        ({"model.x": "from melious_impact.reporting import report"}, "layers: model.x -> reporting.report"),
        (
            {
                "model.x": "from melious_impact.forecasting import y",
                "forecasting.y": "from melious_impact.model import x",
            },
            "cycle: forecasting <-> model",
        ),
        (
            {"model.x": "import melious_impact\nmelious_impact._EXPORTS"},
            "exports table: model.x reads melious_impact._EXPORTS",
        ),
        ({"model.x": "import sys\nsys.modules[__name__].__class__ = object"}, "callable module: model.x"),
    ],
)
def test_each_rule_catches_its_violation(fakes: dict[str, str], expected: str) -> None:
    """Each rule, shown a module that breaks it, reports it (a rule that cannot fail is no rule)."""
    added = {
        f"{ROOT}.{name}": Module(
            f"{ROOT}.{name}", PACKAGE / f"{name.replace('.', '/')}.py", ast.parse(source)
        )
        for name, source in fakes.items()
    }
    assert expected in _violations({**MODULES, **added}) - VIOLATIONS


def test_no_new_violation() -> None:
    new = sorted(VIOLATIONS - KNOWN.keys())
    assert new == [], "new structure violations (fix them; see the rules at the top of this file)"


def test_known_violations_still_exist() -> None:
    gone = sorted(KNOWN.keys() - VIOLATIONS)
    assert gone == [], "fixed: delete these lines from KNOWN in tests/test_structure.py"
