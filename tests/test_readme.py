"""README.md and .ci/run agree, and the README's quickstart runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_readme_shows_exactly_two_setup_commands():
    blocks = _bash_blocks((ROOT / "README.md").read_text())
    assert len(blocks) == 2
    assert blocks[0].endswith("hpcore demo")
    assert blocks[1].endswith("python -m pytest")


def test_ci_runs_exactly_the_readme_test_command():
    test_command = _bash_blocks((ROOT / "README.md").read_text())[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    assert test_command in ci.splitlines()
    assert "torch==2.13.0" in test_command  # never let pip pull a CUDA build
