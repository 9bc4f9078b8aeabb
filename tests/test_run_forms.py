"""Parallel trials from wherever people write code (issue 15).

``search.run(train_fn, n_jobs=2)`` in a plain script with no
``if __name__ == "__main__":`` guard, from ``python -``, ``python -c`` and an
interactive interpreter, with ``train_fn`` (a def, a lambda, a closure over a
class defined right there) in the user's ``__main__``: each is run for real
in a subprocess. Workers must neither run the user's script again nor need
to import it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import os
    from dataclasses import dataclass

    from hpcore.search import RandomSearch
    from hpcore.search.space import Real

    print("main ran in", os.getpid(), flush=True)  # once: workers never run this again


    @dataclass
    class Scale:  # defined in __main__: travels by value with the closure
        factor: float


    def make_train_fn(scale):
        def train_fn(config):
            return {"loss": scale.factor * (config["x"] - 0.3) ** 2}
        return train_fn


    search = RandomSearch({"x": 0.0}, {"x": Real(0, 1)}, metric="loss", n_trials=6,
                          random_state=0)
    best_config, best = search.run(make_train_fn(Scale(2.0)), n_jobs=2, verbose=0)
    states = sorted({str(t.state) for t in search.trials})
    pids = {os.getpid()}
    lam = RandomSearch({}, {"x": Real(0, 1)}, n_trials=4, random_state=1)
    _, lam_best = lam.run(lambda c: c["x"], n_jobs=2, verbose=0)
    print("RESULT", states, len(search.trials), round(best, 6) >= 0, lam_best <= 1, flush=True)
""")


def _check(out: subprocess.CompletedProcess) -> None:
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RESULT ['completed'] 6 True True" in out.stdout, (out.stdout, out.stderr[-3000:])
    assert out.stdout.count("main ran in") == 1, out.stdout
    assert "Traceback" not in out.stderr, out.stderr[-3000:]


def test_a_plain_script_without_a_main_guard(tmp_path: Path) -> None:
    script = tmp_path / "search_script.py"
    script.write_text(SCRIPT)
    _check(subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600))


def test_python_dash_reading_the_script_from_stdin(tmp_path: Path) -> None:
    _check(subprocess.run([sys.executable, "-"], input=SCRIPT, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600))


def test_python_dash_c(tmp_path: Path) -> None:
    _check(subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600))


def test_an_interactive_interpreter(tmp_path: Path) -> None:
    # -i with the script on stdin: the interpreter reads it line by line as a person types.
    session = SCRIPT.replace("\n\n\n", "\n\n") + "\n"
    _check(subprocess.run([sys.executable, "-q", "-i"], input=session, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600))


def test_a_jupyter_notebook(tmp_path: Path) -> None:
    """The cells run in a real Jupyter kernel (ipykernel, driven by nbclient)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cells = [c for c in SCRIPT.split("\n\n\n") if c.strip()]  # a cell per block, as people write
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    stdout = "".join(
        out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])
        if out.get("name") == "stdout"
    )
    errors = [out for cell in nb.cells for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors, errors
    assert "RESULT ['completed'] 6 True True" in stdout, stdout
    assert stdout.count("main ran in") == 1, stdout
