"""The package structure the engine redesign promises (docs/engine.md): algorithms/ imports
nothing from engine/, engine/ imports no plug-in package, no module imports itself back
through others, and no source file is over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PLUGIN_PACKAGES = (
    "fedasr.devices",
    "fedasr.server",
    "fedasr.client_data",
    "fedasr.experiment",
    "fedasr.trust",
)
SCHEMAS = (
    "fedasr.devices.schema",
    "fedasr.server.schema",
    "fedasr.client_data.schema",
    "fedasr.trust.schema",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULE_NAMES = {module_name(p) for p in (SRC / "fedasr").rglob("*.py")}


def runtime_imports(path: Path) -> set[str]:
    """fedasr modules imported when `path` runs (anywhere but under `if TYPE_CHECKING:`)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            submodules = [name for name in names if name in MODULE_NAMES]
            found.update(submodules)  # `from package import module` needs only the module
            if len(submodules) < len(names):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {name for name in found if name.startswith("fedasr")}


MODULES = {module_name(p): p for p in sorted((SRC / "fedasr").rglob("*.py"))}
GRAPH = {
    name: {target for target in runtime_imports(path) if target in MODULES and target != name}
    for name, path in MODULES.items()
}


def importers(package: str) -> dict[str, set[str]]:
    return {n: deps for n, deps in GRAPH.items() if n == package or n.startswith(package + ".")}


def test_algorithms_import_nothing_from_the_engine() -> None:
    for name, deps in importers("fedasr.algorithms").items():
        assert not {d for d in deps if d.startswith("fedasr.engine")}, name


def test_the_engine_imports_no_plug_in_package_nor_the_algorithm_registry() -> None:
    for name, deps in importers("fedasr.engine").items():
        bad = {d for d in deps if d.startswith(PLUGIN_PACKAGES) and d not in SCHEMAS} | {
            d for d in deps if d == "fedasr.algorithms.registry"
        }
        assert not bad, f"{name} imports {sorted(bad)}"


def test_no_module_imports_itself_back_through_others() -> None:
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def strongconnect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                strongconnect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            strongconnect(node)
    assert not cycles, cycles


@pytest.mark.parametrize("path", sorted((SRC / "fedasr").rglob("*.py")), ids=str)
def test_no_source_file_is_over_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400
