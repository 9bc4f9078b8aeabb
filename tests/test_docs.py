"""Every ```python block in README.md and docs/*.md runs (blocks of a page share names)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_code_examples_run(page: Path):
    namespace: dict = {"__name__": "docs_example"}
    for i, block in enumerate(_python_blocks(page.read_text())):
        code = compile(block, f"{page.name}[block {i}]", "exec")
        exec(code, namespace)


def test_the_doc_runner_finds_blocks():
    assert len(_python_blocks((ROOT / "docs" / "spaces.md").read_text())) >= 5
