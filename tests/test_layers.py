"""The layers of DESIGN.md point one way: a module imports only layers above it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "hpcore"

# For each layer: the hpcore modules it must never import.
FORBIDDEN = {
    "hpcore/kernels": ["hpcore"],
    "hpcore/space.py": ["hpcore.strategies", "hpcore.search", "hpcore.executor", "hpcore.kernels"],
    "hpcore/config.py": ["hpcore.strategies", "hpcore.search", "hpcore.executor"],
    "hpcore/trial.py": ["hpcore.strategies", "hpcore.search", "hpcore.executor"],
    "hpcore/strategies": ["hpcore.search", "hpcore.executor", "hpcore.results"],
    "hpcore/executor": ["hpcore.search", "hpcore.strategies", "hpcore.results"],
}


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module[: -len(".__init__")]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base)
                names.add(f"{prefix}.{node.module}" if node.module else prefix)
            else:
                names.add(node.module or "")
    return names


def _files(where: str) -> list[Path]:
    p = ROOT / where
    return sorted(p.rglob("*.py")) if p.is_dir() else [p]


@pytest.mark.parametrize("where", sorted(FORBIDDEN))
def test_layer_does_not_import_lower_layers(where):
    for path in _files(where):
        for name in _imports(path):
            for bad in FORBIDDEN[where]:
                if where.startswith("hpcore/kernels") and name.startswith("hpcore.kernels"):
                    continue
                assert not (name == bad or name.startswith(bad + ".")), (
                    f"{path.relative_to(ROOT)} imports {name}, below its layer"
                )


def test_the_checker_sees_relative_imports():
    """The test above can fail: it resolves ``from ..search import x`` correctly."""
    names = _imports(PKG / "search" / "base.py")
    assert "hpcore.strategies" in names and "hpcore.executor" in names


def test_import_hpcore_pulls_in_no_heavy_optional_package():
    code = (
        "import sys, hpcore, hpcore.search.space, hpcore.cli;"
        "heavy = [m for m in ('torch', 'dask', 'optuna', 'matplotlib', 'sklearn', 'hypothesis',"
        " 'scipy.stats', 'scipy.optimize', 'numba') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
