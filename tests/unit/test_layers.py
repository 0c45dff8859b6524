"""The packages' imports run one way, with no circle, and each stream has one parent.

Every import counts: at module level, under `TYPE_CHECKING` and inside functions (an
import that only a type checker or one code path runs still ties the two modules
together). The layers, top to bottom, are the ones docs/architecture.md draws: in
tap_heymarket/ the CLI over the tap, the tap over the streams, the streams over what
several of them share, that over the stream base, the base over STATE, STATE over the
walkers, and the walkers over settings, HTTP helpers, timestamps and schemas; in
heymarket_sandbox/ (docs/sandbox.md, "Layout") the harness over the server, the server
over faults and control, those over the API's handlers, the handlers over the state, the
state over the data stores, and the stores over the switch table. A module may import its
own layer or a lower one, and a new module fails here until it is given a layer.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from singer_sdk import Stream

from tap_heymarket.client import HeymarketStream
from tap_heymarket.tap import TapHeymarket
from tests.support.tap_runner import REPO_ROOT, sandbox_config

#: tap_heymarket's layers, top first (module names without the package).
TAP_LAYERS: list[tuple[str, set[str]]] = [
    ("command line", {"__main__", "cli"}),
    ("tap", {"tap"}),
    ("streams", {"account_streams", "contact_streams", "conversation_streams", "message_streams"}),
    ("what streams share", {"swept_stream", "contact_feed", "inbox_access"}),
    ("stream base", {"cursor_stream", "client", "records", "answers"}),
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
            "progress",
            "pacing",
            "run_log",
            "schemas",
            "settings",
            "state_keys",
            "timestamps",
            "writer",
        },
    ),
]


#: heymarket_sandbox's layers, top first. A name is a module or a subpackage (all its
#: modules); the longest name that matches places a module. `__init__` only re-exports, so
#: it is on top: no module of the sandbox imports the package itself.
SANDBOX_LAYERS: list[tuple[str, set[str]]] = [
    ("entry points", {"__init__", "__main__", "harness", "bench"}),
    ("HTTP server", {"server"}),
    ("faults and control", {"faults", "control"}),
    ("API handlers", {"api"}),
    ("state", {"state"}),
    ("data stores", {"data"}),
    ("switches", {"config", "shapes", "auth", "timefmt"}),
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
    keys = {
        (package if short == "__init__" else f"{package}.{short}"): depth
        for depth, (_, members) in enumerate(layers)
        for short in members
    }

    def level(name: str) -> int | None:
        matches = [key for key in keys if name == key or name.startswith(key + ".")]
        # The package itself is only its `__init__`, never the prefix of every module.
        matches = [key for key in matches if key != package or name == package]
        return keys[max(matches, key=len)] if matches else None

    problems = [f"{name} has no layer in the test's table" for name in graph if level(name) is None]
    for name, targets in sorted(graph.items()):
        for target in sorted(targets):
            source, goal = level(name), level(target)
            if source is not None and goal is not None and goal < source:
                problems.append(
                    f"{name} ({layers[source][0]}) imports {target} "
                    f"({layers[goal][0]}), a higher layer"
                )
    return problems


PACKAGES = {"tap_heymarket": TAP_LAYERS, "heymarket_sandbox": SANDBOX_LAYERS}


@pytest.mark.parametrize("package", list(PACKAGES))
def test_a_package_has_no_import_circle(package: str) -> None:
    graph = import_graph(REPO_ROOT / package)
    assert len(graph) > 20
    assert cycles(graph) == []


@pytest.mark.parametrize("package", list(PACKAGES))
def test_a_package_imports_run_down_its_layers(package: str) -> None:
    layers = PACKAGES[package]
    assert upward_imports(import_graph(REPO_ROOT / package), package, layers) == []
    names = [short for _, members in layers for short in members]
    assert len(names) == len(set(names)), "a module in two layers"


def test_a_planted_back_import_in_the_sandbox_is_caught() -> None:
    """The real graph, with one store importing the state above it, or the package."""
    graph = import_graph(REPO_ROOT / "heymarket_sandbox")
    store, state = "heymarket_sandbox.data.contacts", "heymarket_sandbox.state"
    assert store in graph["heymarket_sandbox.data.world"]
    planted = {**graph, store: graph[store] | {state}}
    assert upward_imports(planted, "heymarket_sandbox", SANDBOX_LAYERS) == [
        f"{store} (data stores) imports {state} (state), a higher layer"
    ]
    assert any(store in group and state in group for group in cycles(planted))
    to_package = {**graph, store: graph[store] | {"heymarket_sandbox"}}
    assert upward_imports(to_package, "heymarket_sandbox", SANDBOX_LAYERS) == [
        f"{store} (data stores) imports heymarket_sandbox (entry points), a higher layer"
    ]


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


def test_the_architecture_doc_draws_the_tap_s_layers() -> None:
    """docs/architecture.md's table names every module of tap_heymarket in its layer."""
    text = (REPO_ROOT / "docs" / "architecture.md").read_text()
    drawn: dict[str, str] = {}
    layer = ""
    for row in re.findall(r"^\|([^|]*)\| `([^`]+)` \|", text, flags=re.MULTILINE):
        layer = row[0].strip() or layer
        drawn[row[1].removesuffix(".py").removesuffix("/")] = layer
    expected = {
        short: name for name, members in TAP_LAYERS for short in members if short != "__init__"
    }
    assert drawn == expected


#: The most lines a module may hold (docs/architecture.md): past it, it has seams inside.
MAX_MODULE_LINES = 450


@pytest.mark.parametrize("package", list(PACKAGES))
def test_no_module_is_over_450_lines(package: str) -> None:
    sizes = {
        str(path.relative_to(REPO_ROOT)): len(path.read_text().splitlines())
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
    }
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
