"""The layers of DESIGN.md point one way, on the whole import graph.

Every import statement of every module counts, lazy ones inside functions
included (a lazy import that runs upward is still a dependency); only
``if TYPE_CHECKING:`` blocks are left out, since they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "hpcore"

#: Each layer: the module prefixes it holds.
LAYERS: dict[str, tuple[str, ...]] = {
    "helpers": ("hpcore._io", "hpcore._version", "hpcore.errors"),
    "kernels": ("hpcore.kernels",),
    "space": ("hpcore.config", "hpcore.space"),
    "trial": ("hpcore.trial", "hpcore.objectives"),
    "strategies": ("hpcore.strategies",),
    "stopping": ("hpcore.stopping",),
    "execution": ("hpcore.executor",),
    "storage": ("hpcore.storage",),
    "orchestration": ("hpcore.search",),
    "analysis": ("hpcore.analysis",),
    "interfaces": ("hpcore.cli", "hpcore.dashboard", "hpcore.__main__"),
    "edges": ("hpcore.bindings", "hpcore.testing", "hpcore.integrations"),
    "facade": ("hpcore",),
}

_BELOW_ORCHESTRATION = {"helpers", "kernels", "space", "trial", "strategies", "stopping",
                        "execution", "storage"}

#: Each layer: the other layers it may import (DESIGN.md's table, read as a graph).
ALLOWED: dict[str, set[str]] = {
    "helpers": set(),
    "kernels": set(),  # numerics only: nothing else of hpcore
    "space": {"helpers"},
    "trial": {"helpers", "space"},
    "strategies": {"helpers", "kernels", "space", "trial"},
    "stopping": {"helpers", "trial"},
    "execution": {"helpers", "trial"},
    "storage": {"helpers", "space", "trial"},
    "orchestration": _BELOW_ORCHESTRATION - {"kernels"},
    "analysis": {"helpers", "kernels", "space", "trial"},  # reads trials; never a study store
    "interfaces": _BELOW_ORCHESTRATION | {"orchestration", "analysis"},
    "edges": _BELOW_ORCHESTRATION | {"orchestration", "analysis"},
    "facade": set(LAYERS),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "bindings":  # installed as hpcore.bindings
        parts = ["hpcore", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    paths = sorted(PKG.rglob("*.py")) + sorted((ROOT / "bindings").rglob("*.py"))
    return {_module_name(p): p for p in paths}


MODULES = _sources()


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _resolve(name: str) -> str | None:
    """The hpcore module that importing ``name`` executes (the longest known prefix)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(module: str) -> set[str]:
    """The hpcore modules ``module`` imports anywhere in its body (relative imports resolved)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skip = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            submodules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    out = {m for n in found if n.startswith("hpcore") and (m := _resolve(n)) is not None}
    out.discard(module)
    return out


def layer_of(module: str) -> str:
    best = ""
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, found = prefix, layer
    assert best, f"{module} belongs to no layer of tests/test_layers.py"
    return found


GRAPH = {m: imports(m) for m in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_up_the_layers(module):
    mine = layer_of(module)
    for target in sorted(GRAPH[module]):
        theirs = layer_of(target)
        assert theirs == mine or theirs in ALLOWED[mine], (
            f"{module} ({mine}) imports {target} ({theirs}): {mine} may import only "
            f"{sorted(ALLOWED[mine])}"
        )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_the_checker_sees_lazy_relative_and_submodule_imports():
    """The tests above can fail: they see imports inside functions and resolve ``..``."""
    assert "hpcore.strategies" in GRAPH["hpcore.search.base"]
    assert "hpcore.executor" in GRAPH["hpcore.search.base"]
    assert "hpcore.analysis.report" in GRAPH["hpcore.cli.commands"]  # inside a function
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("hpcore.kernels.gp") == "kernels" and layer_of("hpcore") == "facade"


def test_every_package_is_installed():
    """pyproject.toml lists every package (the list is explicit for hpcore.bindings' sake)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert listed == packages


def _loaded_by(statement: str) -> list[str]:
    code = f"import sys; {statement}; print(' '.join(m for m in sys.modules if m.startswith('hpcore')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.parametrize("statement", ["import hpcore.kernels", "import hpcore.strategies",
                                       "import hpcore.space", "import hpcore"])
def test_lower_layers_load_nothing_above_them(statement):
    upper = ("hpcore.search", "hpcore.executor", "hpcore.storage", "hpcore.analysis",
             "hpcore.cli")
    loaded = _loaded_by(statement)
    assert not [m for m in loaded if m.startswith(upper)], loaded
    if statement == "import hpcore.kernels":
        assert not [m for m in loaded if not m.startswith("hpcore.kernels")
                    and m not in ("hpcore", "hpcore._version")], loaded


def test_import_hpcore_pulls_in_no_heavy_optional_package():
    code = (
        "import sys, hpcore, hpcore.search.space, hpcore.cli;"
        "heavy = [m for m in ('torch', 'dask', 'optuna', 'matplotlib', 'sklearn', 'hypothesis',"
        " 'scipy.stats', 'scipy.optimize', 'numba') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
