"""The ``hpcore`` command line, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hpcore.cli import main


def _hpcore(*args, cwd=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "hpcore", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def test_help_and_version():
    out = _hpcore("--help")
    assert out.returncode == 0 and "demo" in out.stdout
    out = _hpcore("demo", "--help")
    assert out.returncode == 0 and "--trials" in out.stdout and "digits" in out.stdout
    out = _hpcore("--version")
    assert out.returncode == 0 and out.stdout.startswith("hpcore ")


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_bad_argument_is_rejected(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--trials", "0"])
    assert exc.value.code == 2
    assert "must be >= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_quick_runs_a_real_search_and_writes_results(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = _hpcore("demo", "--quick", "--out", str(tmp_path / "demo"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "== comparison (same budget) ==" in out.stdout
    assert "best config" in out.stdout
    for name in ("grid", "random"):
        folder = tmp_path / "demo" / name
        trials = json.loads((folder / "trials.json").read_text())
        assert len(trials) == 4
        assert all(t["state"] == "completed" for t in trials)
        assert all(t["n_reports"] == 2 for t in trials)  # one report per epoch
        best = json.loads((folder / "best.json").read_text())
        assert best["best_score"] == min(t["value"] for t in trials)
        assert best["best_config"]["training"]["epochs"] == 2
        assert (folder / "trials.csv").read_text().startswith("trial_id,state,value")
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert set(summary) == {"grid", "random"}
    assert 0 < summary["random"]["best_val_loss"] < 2.31  # better than chance (ln 10)
