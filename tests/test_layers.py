"""The tap package's imports run one way, with no circle, and each stream has one parent.

Every import counts: at module level, under `TYPE_CHECKING` and inside functions (an
import that only a type checker or one code path runs still ties the two modules
together). The layers, top to bottom, are the ones docs/architecture.md draws:
the CLI over the tap, the tap over the streams, the streams over what several of them
share, that over the stream base, the base over STATE, STATE over the walkers, and the
walkers over HTTP, settings, timestamps and schemas. A module may import its own layer
or a lower one, and a new module fails here until it is given a layer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from singer_sdk import Stream

from tap_heymarket.client import HeymarketStream
from tap_heymarket.tap import TapHeymarket
from tests.tap_runner import REPO_ROOT, sandbox_config

#: tap_heymarket's layers, top first (module names without the package).
TAP_LAYERS: list[tuple[str, set[str]]] = [
    ("command line", {"__main__", "cli"}),
    ("tap", {"tap"}),
    ("streams", {"account_streams", "contact_streams", "conversation_streams", "message_streams"}),
    ("what streams share", {"swept_stream", "contact_feed", "inbox_access"}),
    ("stream base", {"cursor_stream", "client", "records"}),
    ("STATE", {"state", "bookmark", "message_bookmark", "sweep"}),
    (
        "walkers",
        {
            "pagination",
            "tie_groups",
            "walk_state",
            "message_walk",
            "message_engines",
            "message_probe",
            "message_strategy",
        },
    ),
    (
        "foundations",
        {
            "__init__",
            "auth",
            "conformance",
            "errors",
            "fast_checks",
            "fitting",
            "field_columns",
            "loss_report",
            "metrics",
            "pacing",
            "schemas",
            "settings",
            "state_keys",
            "timestamps",
            "writer",
        },
    ),
]


def module_name(path: Path, root: Path) -> str:
    """`pkg.sub.mod` for a file under `root` (the directory that holds the package)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports (every import, anywhere)."""
    root = package.parent
    files = {module_name(p, root): p for p in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    source = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    source = node.module or ""
                # `from pkg import mod` imports the module `pkg.mod`, if there is one.
                targets = [source] + [f"{source}.{alias.name}" for alias in node.names]
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import circles: every strongly connected group of two or more modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def upward_imports(
    graph: Mapping[str, Iterable[str]], package: str, layers: list[tuple[str, set[str]]]
) -> list[str]:
    """Every import that runs up the layers, and every module without a layer."""
    level = {
        (package if short == "__init__" else f"{package}.{short}"): depth
        for depth, (_, members) in enumerate(layers)
        for short in members
    }
    problems = [f"{name} has no layer in the test's table" for name in graph if name not in level]
    for name, targets in sorted(graph.items()):
        for target in sorted(targets):
            if name in level and target in level and level[target] < level[name]:
                problems.append(
                    f"{name} ({layers[level[name]][0]}) imports {target} "
                    f"({layers[level[target]][0]}), a higher layer"
                )
    return problems


TAP_PACKAGE = REPO_ROOT / "tap_heymarket"


def test_the_tap_package_has_no_import_circle() -> None:
    assert cycles(import_graph(TAP_PACKAGE)) == []


def test_the_tap_package_imports_run_down_the_layers() -> None:
    graph = import_graph(TAP_PACKAGE)
    assert upward_imports(graph, "tap_heymarket", TAP_LAYERS) == []
    names = {short for _, members in TAP_LAYERS for short in members}
    assert len(names) == sum(len(members) for _, members in TAP_LAYERS), "a module in two layers"


def test_the_checks_see_every_kind_of_import(tmp_path: Path) -> None:
    """An import under TYPE_CHECKING, one inside a function and a relative one all count."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text(
        "import typing as t\nif t.TYPE_CHECKING:\n    from pkg.high import High\n"
    )
    (package / "high.py").write_text("def f():\n    from . import low\n")
    (package / "side.py").write_text("from pkg import low\n")
    graph = import_graph(package)
    assert graph["pkg.low"] == {"pkg.high"}
    assert graph["pkg.high"] == {"pkg", "pkg.low"}
    assert graph["pkg.side"] == {"pkg", "pkg.low"}
    assert cycles(graph) == [["pkg.high", "pkg.low"]]
    layers = [("top", {"high", "side"}), ("bottom", {"low", "__init__"})]
    assert upward_imports(graph, "pkg", layers) == [
        "pkg.low (bottom) imports pkg.high (top), a higher layer"
    ]
    assert upward_imports(graph, "pkg", layers[:1]) == [
        "pkg has no layer in the test's table",
        "pkg.low has no layer in the test's table",
    ]


@pytest.fixture(scope="module")
def tap() -> TapHeymarket:
    return TapHeymarket(config=sandbox_config("http://127.0.0.1:9"), parse_env_config=False)


def test_every_stream_has_one_line_of_descent(tap: TapHeymarket) -> None:
    """Each stream class, and each of the tap's classes above `HeymarketStream`, has one
    base: shared behaviour is a collaborator the stream holds, never a mixin."""
    for stream in tap.streams.values():
        assert isinstance(stream, HeymarketStream), stream.name
        for cls in type(stream).__mro__:
            if cls is HeymarketStream:
                break
            assert len(cls.__bases__) == 1, f"{cls.__name__} has bases {cls.__bases__}"
            assert issubclass(cls.__bases__[0], Stream)
