"""The sandbox's imports run one way (docs/sandbox.md, "Layout").

Every import of every module of heymarket_sandbox/ counts: at module level, under
TYPE_CHECKING and inside functions. They must form no cycle, and each must go to a module of
the same or a lower layer of LAYERS; no module imports the package `heymarket_sandbox`
itself (its __init__ only re-exports).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

PACKAGE = "heymarket_sandbox"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

#: Top (imports anything below) to bottom (imports nothing of the package). A name is a
#: module or a subpackage (its modules); the longest one that matches places a module.
LAYERS: dict[str, int] = {
    PACKAGE: 7,  # __init__: re-exports only
    f"{PACKAGE}.__main__": 7,
    f"{PACKAGE}.harness": 7,
    f"{PACKAGE}.bench": 7,
    f"{PACKAGE}.server": 6,
    f"{PACKAGE}.faults": 5,
    f"{PACKAGE}.control": 5,
    f"{PACKAGE}.api": 4,
    f"{PACKAGE}.state": 3,
    f"{PACKAGE}.data": 2,
    f"{PACKAGE}.config": 1,
    f"{PACKAGE}.shapes": 1,
    f"{PACKAGE}.auth": 1,
    f"{PACKAGE}.timefmt": 1,
}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The package's modules that module `name` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from .x import y`: y is a submodule or a name in x; `from . import config`
            # at the top reads the package `heymarket_sandbox` itself
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module
                for alias in node.names
            ]
            if module == PACKAGE:
                targets.append(PACKAGE)
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def layer(name: str) -> int:
    best = max((key for key in LAYERS if name == key or name.startswith(key + ".")), key=len)
    return LAYERS[best]


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def upward(edges: Mapping[str, set[str]]) -> list[str]:
    """Every import that goes to a higher layer, or to the package itself."""
    bad = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            if target == PACKAGE or layer(target) > layer(source):
                bad.append(f"{source} (layer {layer(source)}) -> {target} ({layer(target)})")
    return bad


def test_every_module_has_a_layer() -> None:
    names = graph()
    assert len(names) > 20
    for name in names:
        assert any(name == key or name.startswith(key + ".") for key in LAYERS), name


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_imports_go_to_the_same_or_a_lower_layer() -> None:
    assert upward(graph()) == []


def test_a_planted_back_import_is_caught() -> None:
    edges = graph()
    store, state = f"{PACKAGE}.data.contacts", f"{PACKAGE}.state"
    assert state in edges and store in edges[f"{PACKAGE}.data.world"]
    planted = {**edges, store: edges[store] | {state}}  # data -> state: up, and a cycle
    assert upward(planted) == [f"{store} (layer 2) -> {state} (3)"]
    assert any(store in c and state in c for c in cycles(planted))
    to_package = {**edges, store: edges[store] | {PACKAGE}}
    assert upward(to_package) == [f"{store} (layer 2) -> {PACKAGE} (7)"]
