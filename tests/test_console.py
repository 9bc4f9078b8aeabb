"""What a search prints, where people really run it (issue 15): a line per trial as it
happens when the output is not a terminal, through the ``hpcore`` logger; one line
when a finished study is run again."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest

from hpcore import GridSearch

SCRIPT = textwrap.dedent("""
    import os
    from hpcore import GridSearch

    def train_fn(config):
        # The log file, read from inside the trial: the earlier trials' lines are
        # already there (written as they happen, not at the end).
        with open(os.environ["LOG"]) as f:
            print("seen:", f.read().count("] trial "), flush=True)
        return config["x"]

    search = GridSearch({"x": 0}, {"x": [3, 1, 2]})
    print("best", search.run(train_fn, experiment_root=os.environ["ROOT"])[1])
""")


def _run_script(tmp_path, script, log):
    (tmp_path / "job.py").write_text(script)
    env = {**os.environ, "LOG": str(log), "ROOT": str(tmp_path / "root")}
    with open(log, "w") as out:  # like nohup: stdout and stderr into one file
        proc = subprocess.run([sys.executable, "job.py"], cwd=tmp_path, stdout=out,
                              stderr=subprocess.STDOUT, env=env)
    return proc.returncode, log.read_text()


def test_redirected_output_gets_a_line_per_trial_as_it_happens(tmp_path):
    rc, text = _run_script(tmp_path, SCRIPT, tmp_path / "job.log")
    assert rc == 0, text
    assert [line for line in text.splitlines() if line.startswith("seen:")] == [
        "seen: 0", "seen: 1", "seen: 2"]
    assert "[3/3] trial 2" in text and "best 1" in text and "\r" not in text


def test_running_a_finished_study_again_says_so_in_one_line(tmp_path):
    rc, _ = _run_script(tmp_path, SCRIPT, tmp_path / "first.log")
    assert rc == 0
    rc, text = _run_script(tmp_path, SCRIPT, tmp_path / "second.log")
    assert rc == 0, text
    said = [line for line in text.splitlines() if "already holds" in line]
    assert len(said) == 1 and "already holds 3 trial(s) of the 3" in said[0]
    assert "raise n_trials" in said[0] and "resume=False" in said[0]
    assert "seen:" not in text and "best 1" in text  # nothing ran


def test_a_program_that_configures_logging_gets_the_lines_through_its_handlers(tmp_path):
    script = "import logging\nlogging.basicConfig(level=logging.INFO, " \
             "format='LOG %(name)s %(levelname)s %(message)s')\n" + SCRIPT
    rc, text = _run_script(tmp_path, script, tmp_path / "job.log")
    assert rc == 0, text
    trial_lines = [line for line in text.splitlines() if "] trial " in line]
    assert len(trial_lines) == 3  # once each: no second handler of hpcore's own
    assert all(line.startswith("LOG hpcore INFO [") for line in trial_lines)


def test_verbose_zero_is_quiet_but_warnings_still_show(tmp_path, caplog):
    search = GridSearch({"x": 0}, {"x": [1, 2]})
    with caplog.at_level(logging.INFO, logger="hpcore"):
        search.run(lambda c: c["x"], experiment_root=tmp_path, verbose=0)
        assert caplog.records == []
        search.run(lambda c: c["x"], experiment_root=tmp_path, verbose=0)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "already holds 2 trial(s)" in caplog.records[0].getMessage()


def test_the_run_leaves_the_hpcore_logger_as_it_found_it():
    log = logging.getLogger("hpcore")
    before = (list(log.handlers), log.level)
    GridSearch({"x": 0}, {"x": [1, 2]}).run(lambda c: c["x"])
    assert (list(log.handlers), log.level) == before


@pytest.mark.parametrize("verbose", ["yes", 1.5])
def test_verbose_of_the_wrong_type_is_refused(verbose):
    with pytest.raises(TypeError, match="verbose must be None, a bool or an int"):
        GridSearch({"x": 0}, {"x": [1, 2]}).run(lambda c: c["x"], verbose=verbose)
