"""The package's shape (docs/ARCHITECTURE.md): no import cycle, counting imports under
TYPE_CHECKING and inside functions; short modules and functions; few open ``dict[str, Any]``;
a slim session object."""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_xai"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
LONG_FUNCTIONS = {"kernel_shap_plan"}  # the sampler follows the paper's enumeration in one piece
MAX_DICT_ANY = 15
MAX_SESSION_METHODS = 10


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> set[str]:
    """Every package module ``path`` imports: at the top, under TYPE_CHECKING, inside functions."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != this and name != "pytest_xai":
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, set(mods)) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_modules_are_short() -> None:
    long = {name: n for name, p in modules().items() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_functions_are_short() -> None:
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in LONG_FUNCTIONS:
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {length}")
    assert long == []


def test_few_untyped_records() -> None:
    count = sum(len(re.findall(r"dict\[str, Any\]", p.read_text())) for p in modules().values())
    assert count <= MAX_DICT_ANY


def test_session_is_slim() -> None:
    from pytest_xai.plugin.session import XaiSession

    methods = [n for n, v in vars(XaiSession).items()
               if not n.startswith("__") and (callable(v) or isinstance(v, (classmethod, staticmethod, property)))]
    assert 0 < len(methods) <= MAX_SESSION_METHODS, methods


def test_imports_are_found_wherever_they_are() -> None:
    """The graph sees imports inside functions and under TYPE_CHECKING, and relative ones."""
    graph = import_graph()
    assert "pytest_xai.classifier" in graph["pytest_xai.plugin.fixtures"]  # inside a method
    assert "pytest_xai.explanation" in graph["pytest_xai.goldens.store"]  # under TYPE_CHECKING
    assert "pytest_xai.goldens.modes" in graph["pytest_xai.plugin.settings"]  # at the top


@pytest.mark.parametrize("module", ["pytest_xai.plugin", "pytest_xai.goldens.store", "pytest_xai.report.html"])
def test_every_package_is_in_the_graph(module: str) -> None:
    assert module in modules()


# -- layers (docs/ARCHITECTURE.md): plugin on top; goldens, report, mutation and the checks below
# it; the engine and the core at the bottom; errors and defaults the base everyone may use
BASE = {"pytest_xai.errors", "pytest_xai.defaults"}
MAX_ROOT_MODULES = 12
FACADES = {"pytest_xai.extend"}  # with pytest_xai/__init__.py: re-exports for users and extensions


def layer(module: str, graph: dict[str, set[str]]) -> str:
    """A module's package, with the root modules (and the explanation and records packages,
    the core types) as one package "core" and the modules that import nothing of pytest_xai
    as "base"."""
    parts = module.split(".")
    if module in BASE:
        return "base"
    if len(parts) == 1 or module in FACADES:
        return "api"  # the public facades over every layer
    is_package = any(other.startswith(module + ".") for other in graph)
    if parts[1] in ("explanation", "records") or (len(parts) == 2 and not is_package):
        return "core"
    return parts[1]


def package_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for module, deps in graph.items():
        for dep in deps:
            a, b = layer(module, graph), layer(dep, graph)
            if a != b and a != "api":
                edges.setdefault((a, b), []).append(f"{module} -> {dep}")
    return edges


def test_the_base_imports_nothing_of_the_package() -> None:
    graph = import_graph()
    assert {m: sorted(graph[m]) for m in BASE if graph[m]} == {}


# each layer's rank: a package imports only packages of a lower rank (the diagram's arrows point
# down; goldens/, report/ and mutation/ sit side by side and import none of each other)
RANKS = {"base": 0, "_util": 1, "pictures": 2, "core": 3, "engine": 4, "checks": 5,
         "goldens": 6, "report": 6, "mutation": 6, "plugin": 7}


def upward(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    return sorted(e for (a, b), found in edges.items() if RANKS[a] <= RANKS[b] for e in found)


def test_every_package_has_a_rank() -> None:
    graph = import_graph()
    assert {layer(m, graph) for m in graph} - {"api"} <= set(RANKS)


def test_every_import_points_down_the_layers() -> None:
    assert upward(package_edges(import_graph())) == []


def test_nothing_outside_the_plugin_imports_it() -> None:
    edges = package_edges(import_graph())
    assert [e for (a, b), found in edges.items() if b == "plugin" for e in found] == []


def test_no_cycle_between_packages() -> None:
    edges = package_edges(import_graph())
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    cycle = find_cycle(graph)
    assert cycle is None, [edges[pair][:3] for pair in itertools.pairwise(cycle)]


def test_the_root_keeps_only_the_public_core() -> None:
    root = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(root) <= MAX_ROOT_MODULES, root


def test_layers_see_a_planted_upward_import() -> None:
    graph = {"pytest_xai.classifier": {"pytest_xai.plugin.session"}, "pytest_xai.plugin": set(),
             "pytest_xai.plugin.session": {"pytest_xai.classifier"}}
    edges = package_edges(graph)
    assert edges[("core", "plugin")] == ["pytest_xai.classifier -> pytest_xai.plugin.session"]
    assert upward(edges) == ["pytest_xai.classifier -> pytest_xai.plugin.session"]
    assert find_cycle({a: {b} for a, b in edges}) is not None


def test_layers_see_a_sideways_import() -> None:
    graph = {"pytest_xai.goldens": set(), "pytest_xai.goldens.judge": {"pytest_xai.report.words"},
             "pytest_xai.report": set(), "pytest_xai.report.words": set()}
    assert upward(package_edges(graph)) == ["pytest_xai.goldens.judge -> pytest_xai.report.words"]
