"""The ``hpcore`` command line, run as real processes on real studies, and the spec runner.

Studies are made in this process (serial searches on tmp_path roots), then
every command runs as ``python -m hpcore ...`` on them.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.cli_fns import SPEC_TRAIN_MODULE, curve

import hpcore
from hpcore import GridSearch, RandomSearch, Real
from hpcore.cli import main
from hpcore.cli.spec import (
    SpecError,
    build_search,
    load_spec,
    load_train_fn,
    parse_spec,
)
from hpcore.stopping import ImprovementStopping, MedianStopping

COMMANDS = ("status", "best", "report", "compare", "run", "demo")


def _hpcore(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "hpcore", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def _files(root: Path) -> dict[str, str]:
    """Every file under root (SQLite's -wal/-shm side files aside) with its hash."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith(("-wal", "-shm")):
            out[str(p.relative_to(root))] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


SPACE = {"opt.x": [0.1, 0.3, 0.5, 0.95], "model.act": ["relu", "tanh"]}
BASE = {"opt": {"x": 0.0}, "model": {"act": "relu"}}


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """A finished grid study (7 completed, 1 failed) and a random one, with curves."""
    where = tmp_path_factory.mktemp("studies")
    grid = GridSearch(BASE, SPACE, metric="loss", mode="min")
    grid.run(curve, experiment_root=where / "grid")
    rand = RandomSearch(BASE, {"opt.x": Real(0.0, 1.0), "model.act": ["relu", "tanh"]},
                        metric="loss", n_trials=5, random_state=0)
    rand.run(curve, experiment_root=where / "random")
    return where


# ---------------------------------------------------------------------------
# help and arguments
# ---------------------------------------------------------------------------


def test_help_and_version():
    out = _hpcore("--help")
    assert out.returncode == 0
    for command in COMMANDS:
        assert command in out.stdout
    out = _hpcore("demo", "--help")
    assert out.returncode == 0 and "--trials" in out.stdout and "digits" in out.stdout
    out = _hpcore("--version")
    assert out.returncode == 0 and out.stdout.startswith("hpcore ")


@pytest.mark.parametrize(
    "command, words",
    [
        ("status", ["--watch", "SECONDS", "interrupted", "hpcore status experiments/search"]),
        ("best", ["--format", "--params-only", "hpcore best experiments/search"]),
        ("report", ["--out", "report.html", "hpcore report experiments/search"]),
        ("compare", ["--out", "comparison.png", "hpcore compare"]),
        ("run", ["--check", "module:function", "[space]", "hpcore run search.toml"]),
        ("demo", ["--quick", "--epochs", "hpcore demo --quick"]),
    ],
)
def test_each_command_has_help_with_examples(command, words, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text
    for word in words:
        assert word in text, word


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_bad_argument_is_rejected(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--trials", "0"])
    assert exc.value.code == 2
    assert "must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["status", "x", "--watch", "0"])
    assert exc.value.code == 2
    assert "must be > 0 seconds" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------


def test_status_of_a_finished_study_shows_everything_and_writes_nothing(studies):
    root = studies / "grid"
    before = _files(root)
    out = _hpcore("status", root)
    assert out.returncode == 0, out.stderr
    study = hpcore.load(root)
    best = study.best_trial
    text = out.stdout
    assert "GridSearch, loss (minimised)" in text
    assert "driver    not running" in text
    assert "8 finished of 8, 0 running; completed 7, failed 1" in text
    assert f"best      loss={best.value:.6g} (trial {best.trial_id}, completed)" in text
    assert "opt.x = 0.3" in text and "model.act = 'relu'" in text
    assert "last finished (5 of 8)" in text
    assert _files(root) == before  # nothing written: db, trial folders, best link
    out = _hpcore("status", root, "--last", "8")
    assert "last finished (8 of 8)" in out.stdout and f"{best.trial_id}*" in out.stdout


def test_status_watch_of_a_finished_study_draws_once_and_stops(studies):
    out = _hpcore("status", studies / "random", "--watch", "0.1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("study     random: RandomSearch") == 1
    assert "the search's driver is not running: stopped watching." in out.stdout


def test_status_follows_a_running_search_until_its_driver_dies(tmp_path):
    """A live driver: status shows its pid and the running trial; once it is killed
    (kill -9), --watch stops and the trial shows as interrupted."""
    (tmp_path / "spec_train.py").write_text(SPEC_TRAIN_MODULE)
    (tmp_path / "gated.toml").write_text(
        'search = "grid"\ntrain = "spec_train:gated"\nn_trials = 2\n'
        f'[base_config]\ngate = {json.dumps(str(tmp_path))}\nx = 0\n'
        '[space]\nx = [1, 2]\n[run]\nexperiment_root = "study"\nverbose = false\n'
    )
    driver = subprocess.Popen(
        [sys.executable, "-m", "hpcore", "run", "gated.toml"], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        while not (tmp_path / "started-1").exists():
            assert driver.poll() is None, driver.communicate()
            time.sleep(0.05)
        out = _hpcore("status", "study", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert f"driver    running (pid {driver.pid} on " in out.stdout
        assert "0 finished of 2, 1 running; running 1" in out.stdout
        assert "running (1)" in out.stdout
        row = out.stdout.split("running (1)")[1].splitlines()[3].split()
        assert row[0] == "0" and row[2:] == ["2", "1", "0.25", "x=1"]  # live metrics.jsonl
        out = _hpcore("best", "study", cwd=tmp_path)
        assert out.returncode == 1 and "no completed trial in study yet" in out.stderr

        watch = subprocess.Popen(
            [sys.executable, "-m", "hpcore", "status", "study", "--watch", "0.1"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        first = []
        for line in watch.stdout:  # the first frame shows the running trial
            first.append(line)
            if line.startswith("running (1)"):
                break
        assert first, watch.stderr.read()
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        rest, err = watch.communicate()
        assert watch.returncode == 0, err
        last_frame = rest.rsplit("--- ", 1)[-1]
        assert "driver    not running" in last_frame
        assert "interrupted 1" in last_frame
        assert "interrupted trials run again when the search is resumed" in last_frame
        assert rest.rstrip().endswith("stopped watching.")
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()


# ---------------------------------------------------------------------------
# best, report, compare
# ---------------------------------------------------------------------------


def test_best_prints_the_best_config_as_json(studies):
    study = hpcore.load(studies / "grid")
    out = _hpcore("best", studies / "grid")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == study.best_config
    assert f"best loss={study.best_value:.6g} (trial {study.best_trial.trial_id} of 8)" in out.stderr
    out = _hpcore("best", studies / "grid", "--params-only")
    assert json.loads(out.stdout) == {"opt.x": 0.3, "model.act": "relu"}


@pytest.mark.parametrize("command", ["best", "status"])
def test_a_reader_that_goes_away_ends_the_command_quietly(studies, command):
    # `hpcore best ROOT | head -0`: the pipe's reader is gone before the first line.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        out = subprocess.run([sys.executable, "-m", "hpcore", command, str(studies / "grid")],
                             stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert "Traceback" not in out.stderr and "BrokenPipeError" not in out.stderr
    assert out.returncode == 141  # what a shell reports for a command ended by SIGPIPE


def test_best_as_yaml(studies):
    yaml = pytest.importorskip("yaml")
    out = _hpcore("best", studies / "grid", "--format", "yaml")
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout) == hpcore.load(studies / "grid").best_config


def test_best_as_yaml_without_pyyaml_says_what_to_install(studies, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now fails
    assert main(["best", str(studies / "grid"), "--format", "yaml"]) == 1
    err = capsys.readouterr().err
    assert "hpcore best: error: --format yaml needs PyYAML: pip install pyyaml" in err


def test_report_writes_plots_and_html(studies, tmp_path):
    pytest.importorskip("matplotlib")
    out = _hpcore("report", studies / "random", "--out", tmp_path / "rep", "--title", "my sweep")
    assert out.returncode == 0, out.stderr
    page = Path(out.stdout.strip())
    assert page == tmp_path / "rep" / "report.html"
    html = page.read_text()
    assert "<title>my sweep</title>" in html and "data:image/png;base64," in html
    assert (tmp_path / "rep" / "history.png").stat().st_size > 0


def test_report_defaults_to_root_report(studies):
    pytest.importorskip("matplotlib")
    out = _hpcore("report", studies / "grid")
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == studies / "grid" / "report" / "report.html"
    assert (studies / "grid" / "report" / "report.html").is_file()


def test_compare_tables_the_studies_and_plots_them(studies, tmp_path):
    grid, rand = hpcore.load(studies / "grid"), hpcore.load(studies / "random")
    out = _hpcore("compare", studies / "grid", studies / "random", "--out", tmp_path / "cmp")
    if out.returncode != 0 and "needs matplotlib" in out.stderr:
        pytest.skip("matplotlib is not installed")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["study", "strategy", "metric", "finished", "best", "value",
                                "trials", "to", "best", "time"]
    winner = "grid" if grid.best_value <= rand.best_value else "random"
    row = {line.split()[0]: line for line in lines[2:4]}
    assert set(row) == {"grid", "random"}
    assert row[winner].split()[1] == "*"
    assert f"{grid.best_value:.6g}" in row["grid"] and "8/8" in row["grid"]
    assert f"{grid.best_trial.trial_id + 1}/8" in row["grid"]
    assert "RandomSearch" in row["random"] and "5/5" in row["random"]
    assert (tmp_path / "cmp" / "comparison.png").stat().st_size > 0


@pytest.mark.parametrize("command", ["status", "best", "report", "compare"])
def test_no_study_at_root_is_a_clear_error(command, tmp_path):
    out = _hpcore(command, tmp_path)
    assert out.returncode == 1
    assert f"hpcore {command}: error: no hpcore study under" in out.stderr
    assert "Traceback" not in out.stderr
    out = _hpcore(command, tmp_path / "missing")
    assert out.returncode == 1
    assert f"hpcore {command}: error: {tmp_path / 'missing'} does not exist" in out.stderr


# ---------------------------------------------------------------------------
# run: the spec file
# ---------------------------------------------------------------------------

SPEC = """
search = "bayesian"
train = "spec_train:train_fn"
metric = "val_loss"
mode = "min"
n_trials = 6
seed = 0

[options]
n_initial_points = 3
acquisition = "ei"

[base_config]
training = { lr = 1e-3, epochs = 4 }
model = { width = 64, act = "relu" }

[space]
"training.lr" = { type = "real", low = 1e-5, high = 1e-1, log = true }
model.width = { type = "integer", low = 16, high = 256, log = true }
"model.act" = ["relu", "gelu"]

[run]
n_jobs = 2
experiment_root = "experiments/spec"
max_retries = 1

[stopping]
median = { grace_steps = 2, min_trials = 3 }
improvement = { patience = 10 }
"""

SPEC_YAML = """
search: bayesian
train: spec_train:train_fn
metric: val_loss
mode: min
n_trials: 6
seed: 0
options: {n_initial_points: 3, acquisition: ei}
base_config:
  training: {lr: 1.0e-3, epochs: 4}
  model: {width: 64, act: relu}
space:
  training.lr: {type: real, low: 1.0e-5, high: 1.0e-1, log: true}
  model:
    width: {type: integer, low: 16, high: 256, log: true}
  model.act: [relu, gelu]
run: {n_jobs: 2, experiment_root: experiments/spec, max_retries: 1}
stopping:
  median: {grace_steps: 2, min_trials: 3}
  improvement: {patience: 10}
"""


@pytest.mark.slow
def test_run_a_toml_spec_with_a_train_function_from_the_current_directory(tmp_path):
    """Two spawned workers import spec_train from the current directory."""
    (tmp_path / "spec_train.py").write_text(SPEC_TRAIN_MODULE)
    (tmp_path / "search.toml").write_text(SPEC)
    out = _hpcore("run", "search.toml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    study = hpcore.load(tmp_path / "experiments" / "spec")
    assert study.strategy == "BayesianSearch" and study.settings["n_initial_points"] == 3
    assert study.settings["acquisition"] == "ei" and study.seed == 0
    assert study.counts() == {"completed": 6}
    assert all(len(t.reports) == 4 for t in study.trials)  # trial.report reached the store
    assert {d["type"] for d in study.space.values()} == {"real", "integer", "categorical"}
    assert f"best val_loss={study.best_value:.6g} (trial {study.best_trial.trial_id})" in out.stdout
    printed = json.loads(out.stdout.split("best config:\n", 1)[1])
    assert printed == study.best_config and printed["training"]["epochs"] == 4
    assert "[6/6]" in out.stderr  # a line per trial when stderr is not a terminal
    assert "hpcore status experiments/spec" in out.stderr
    best = _hpcore("best", "experiments/spec", "--params-only", cwd=tmp_path)
    assert json.loads(best.stdout) == study.best_params


def test_run_check_validates_without_running(tmp_path):
    (tmp_path / "spec_train.py").write_text(SPEC_TRAIN_MODULE)
    (tmp_path / "search.toml").write_text(SPEC)
    out = _hpcore("run", "search.toml", "--check", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "search.toml: OK: bayesian search over 3 key(s)" in out.stdout
    assert "6 trials, train spec_train:train_fn, 2 stopping rule(s)" in out.stdout
    assert not (tmp_path / "experiments").exists()


def test_run_a_bad_spec_names_every_bad_key_and_runs_nothing(tmp_path):
    (tmp_path / "spec_train.py").write_text(SPEC_TRAIN_MODULE)
    bad = (SPEC.replace("n_trials = 6", "n_trails = 6")
               .replace("max_retries = 1", "max_retries = -1")
               .replace("grace_steps = 2", "grace_step = 2"))
    (tmp_path / "bad.toml").write_text(bad)
    out = _hpcore("run", "bad.toml", cwd=tmp_path)
    assert out.returncode == 1
    err = out.stderr
    assert "hpcore run: error: bad.toml: 3 problems in the spec:" in err
    assert "n_trails: unknown top-level key; did you mean 'n_trials'?" in err
    assert "run.max_retries: must be >= 0, got -1." in err
    assert "stopping.median.grace_step: unknown argument of median; did you mean 'grace_steps'?" in err
    assert "Traceback" not in err
    assert not (tmp_path / "experiments").exists()


def test_run_with_a_missing_train_module_says_where_it_looked(tmp_path):
    (tmp_path / "search.toml").write_text(SPEC)
    out = _hpcore("run", "search.toml", cwd=tmp_path)
    assert out.returncode == 1
    assert "no module 'spec_train' in the current directory" in out.stderr
    assert "Run hpcore from the folder that holds spec_train.py" in out.stderr
    out = _hpcore("run", "nothing.toml", cwd=tmp_path)
    assert out.returncode == 1 and "no spec file at 'nothing.toml'" in out.stderr


# -- hpcore.cli.spec on its own ----------------------------------------------------


def _spec_dict(**changes):
    data = {
        "search": "random",
        "train": "spec_train:train_fn",
        "metric": "val_loss",
        "n_trials": 4,
        "base_config": {"training": {"lr": 0.1, "epochs": 2}, "model": {"width": 8}},
        "space": {"training.lr": {"type": "real", "low": 1e-4, "high": 1e-1, "log": True}},
    }
    data.update(changes)
    return data


def test_load_spec_reads_toml_and_yaml_alike(tmp_path):
    (tmp_path / "s.toml").write_text(SPEC)
    spec = load_spec(tmp_path / "s.toml")
    assert spec.search == "bayesian" and spec.train == "spec_train:train_fn"
    assert (spec.metric, spec.mode, spec.n_trials, spec.seed) == ("val_loss", "min", 6, 0)
    assert spec.options == {"n_initial_points": 3, "acquisition": "ei"}
    assert spec.space == {
        "training.lr": Real(1e-5, 1e-1, log=True),
        "model.width": hpcore.Integer(16, 256, log=True),
        "model.act": hpcore.Categorical(["relu", "gelu"]),
    }
    assert spec.run == {"n_jobs": 2, "experiment_root": "experiments/spec", "max_retries": 1}
    assert spec.stopping == [MedianStopping(grace_steps=2, min_trials=3),
                             ImprovementStopping(patience=10)]
    pytest.importorskip("yaml")
    (tmp_path / "s.yaml").write_text(SPEC_YAML)
    from_yaml = load_spec(tmp_path / "s.yaml")
    from_yaml.path = spec.path
    assert from_yaml == spec


def test_yaml_without_pyyaml_and_unknown_formats_are_refused(tmp_path, monkeypatch):
    (tmp_path / "s.yml").write_text(SPEC_YAML)
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(SpecError, match="needs PyYAML: pip install pyyaml .or write the spec as TOML"):
        load_spec(tmp_path / "s.yml")
    (tmp_path / "s.json").write_text("{}")
    with pytest.raises(SpecError, match=r"unknown spec format '\.json'; name the file \*\.toml"):
        load_spec(tmp_path / "s.json")
    (tmp_path / "broken.toml").write_text("search = \n")
    with pytest.raises(SpecError, match="broken.toml: not valid TOML"):
        load_spec(tmp_path / "broken.toml")


def test_parse_spec_lists_every_problem_with_its_key_and_fix():
    bad = _spec_dict(
        search="bayes", train="spec_train.train_fn", mode="lowest", seed=1.5, metirc="x",
        space={
            "a": {"type": "real", "low": 1.0, "high": 0.0},
            "b": {"type": "float", "low": 0, "high": 1},
            "c": 3,
            "d": {"type": "integer", "low": "1e-5", "high": 8, "lg": True},
            "e": {"type": "categorical"},
        },
        run={"n_jobs": 0, "experiment_rot": "x", "trial_timeout": "60"},
        stopping={"medain": {}, "threshold": {"after_step": -1}, "budget": 3},
        search_budget={"max_seconds": -1},
    )
    with pytest.raises(SpecError) as exc:
        parse_spec(bad, "bad.toml")
    text = str(exc.value)
    expected = [
        "bad.toml: 18 problems in the spec:",
        "metirc: unknown top-level key; did you mean 'metric'?",
        "search: must be one of ['grid', 'random', 'bayesian', 'hyperband'], got 'bayes'.",
        "train: must be \"module:function\"",
        "mode: must be \"min\" or \"max\", got 'lowest'.",
        "seed: must be an int, got 1.5.",
        "space.a: Real 'a': `low` must be < `high`, got low=1.0, high=0.0. Swap the bounds.",
        "space.b.type: must be one of ['real', 'integer', 'categorical'], got 'float'.",
        "space.c: 3 is a fixed value; put it in [base_config]",
        "space.d.lg: unknown key for type 'integer'; did you mean 'log'?",
        "space.d.low: must be a number, got '1e-5' (text, not a number: YAML reads 1e-5 as "
        "text; write it with a dot, e.g. 1.0e-5).",
        "space.e: a categorical needs choices; choices is missing.",
        "run.experiment_rot: unknown key of [run]; did you mean 'experiment_root'?",
        "run.trial_timeout: must be a number of seconds, got '60' (text, not a number: "
        "remove the quotes).",
        "run.n_jobs: must be >= 1, or -1 for every core; got 0.",
        "stopping.medain: unknown stopping rule; did you mean 'median'?",
        "stopping.threshold: after_step must be an int >= 0, got -1.",
        "stopping.budget: must be a table of the rule's arguments, e.g. budget = { max_steps "
        "= ..., max_seconds = ... } (or {} for the defaults), got 3.",
        "search_budget: max_seconds must be > 0, got -1.",
    ]
    for line in expected:
        assert line in text, line


def test_parse_spec_checks_options_against_the_search_class():
    with pytest.raises(SpecError, match=r"options.shufle: unknown option of grid search; "
                                        r"did you mean 'shuffle'\?"):
        parse_spec(_spec_dict(search="grid", options={"shufle": True}))
    with pytest.raises(SpecError, match=r"options.n_jobs: not an option; set it as "
                                        r"n_jobs = \.\.\. in \[run\]"):
        parse_spec(_spec_dict(options={"n_jobs": 2}))
    with pytest.raises(SpecError, match=r"options.random_state: not an option; set it as "
                                        r"seed = \.\.\. at the top level"):
        parse_spec(_spec_dict(options={"random_state": 2}))
    with pytest.raises(SpecError, match="space: missing. Add a \\[space\\] table"):
        parse_spec({k: v for k, v in _spec_dict().items() if k != "space"})
    spec = parse_spec(_spec_dict(search="BayesianSearch", options={"n_candidates": 64}))
    assert spec.search == "bayesian"


def test_build_search_makes_each_search_and_explains_refusals():
    space = {"training.lr": {"type": "real", "low": 1e-4, "high": 1e-1, "log": True,
                             "grid_points": 3}}
    grid = build_search(parse_spec(_spec_dict(search="grid", space=space, n_trials=None)))
    assert isinstance(grid, GridSearch) and grid.size == 3
    rand = build_search(parse_spec(_spec_dict(seed=7, options={"quasi": True})))
    assert (rand.n_trials, rand.random_state, rand.quasi) == (4, 7, True)
    hb = build_search(parse_spec(_spec_dict(
        search="hyperband", n_trials=None,
        options={"resource_key": "training.epochs", "max_resource": 9, "eta": 3,
                 "asynchronous": False},
    )))
    assert hb.size > 0 and hb.resource_key == "training.epochs"
    with pytest.raises(SpecError, match="the grid search cannot be built from this spec: "
                                        "Real 'training.lr' has no grid values"):
        build_search(parse_spec(_spec_dict(search="grid")))
    with pytest.raises(SpecError, match="the random search cannot be built from this spec"):
        build_search(parse_spec(_spec_dict(space={"model.width.depth": [1, 2]})))
    with pytest.raises(SpecError, match="resource_key is required"):
        build_search(parse_spec(_spec_dict(search="hyperband")))


def test_load_train_fn_imports_from_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "spec_train_cwd.py").write_text(SPEC_TRAIN_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    fn = load_train_fn(parse_spec(_spec_dict(train="spec_train_cwd:train_fn")))
    assert fn.__name__ == "train_fn" and sys.path[0] == str(tmp_path)
    with pytest.raises(SpecError, match="'spec_train_cwd' has no attribute 'nope'; its "
                                        "functions: gated, train_fn\\."):
        load_train_fn(parse_spec(_spec_dict(train="spec_train_cwd:nope")))
    with pytest.raises(SpecError, match="no module 'no_such_module_here' in the current dir"):
        load_train_fn(parse_spec(_spec_dict(train="no_such_module_here:f")))


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_quick_runs_a_real_search_and_writes_results(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = _hpcore("demo", "--quick", "--out", tmp_path / "demo", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "== comparison (same budget) ==" in out.stdout
    assert "| method   | best val loss | val acc | trials to best |   time |" in out.stdout
    assert "best config" in out.stdout
    plots = "comparison plot:" in out.stdout
    for name in ("grid", "random", "bayesian"):
        folder = tmp_path / "demo" / name
        trials = json.loads((folder / "trials.json").read_text())
        assert len(trials) == 4
        assert all(t["state"] == "completed" for t in trials)
        assert all(t["n_reports"] == 2 for t in trials)  # one report per epoch
        best = json.loads((folder / "best.json").read_text())
        assert best["best_score"] == min(t["value"] for t in trials)
        assert best["best_config"]["training"]["epochs"] == 2
        assert (folder / "trials.csv").read_text().startswith("trial_id,state,value")
        study = hpcore.load(folder)  # each search is a stored study
        assert study.best_value == best["best_score"] and len(study.trials) == 4
        assert (folder / "report" / "report.html").is_file() == plots
    assert hpcore.load(tmp_path / "demo" / "bayesian").strategy == "BayesianSearch"
    assert (tmp_path / "demo" / "comparison.png").is_file() == plots
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert set(summary) == {"grid", "random", "bayesian"}
    assert 0 < summary["random"]["best_val_loss"] < 2.31  # better than chance (ln 10)
    assert summary["bayesian"]["experiment_root"] == str(tmp_path / "demo" / "bayesian")
    status = _hpcore("status", tmp_path / "demo" / "bayesian")
    assert status.returncode == 0 and "4 finished" in status.stdout


def test_run_check_refuses_a_key_missing_from_base_config(tmp_path):
    (tmp_path / "spec_train.py").write_text(SPEC_TRAIN_MODULE)
    (tmp_path / "search.toml").write_text(SPEC.replace('"training.lr" =', '"train.lrr" ='))
    out = _hpcore("run", "search.toml", "--check", cwd=tmp_path)
    assert out.returncode == 1
    assert "'train.lrr': did you mean 'training.lr'?" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "experiments").exists()
    # Adding the key on purpose is an option of the search.
    opted = SPEC.replace('"training.lr" =', '"training.momentum" =').replace(
        'acquisition = "ei"', 'acquisition = "ei"\nallow_new_keys = true')
    (tmp_path / "search.toml").write_text(opted)
    out = _hpcore("run", "search.toml", "--check", cwd=tmp_path)
    assert out.returncode == 0, out.stderr


def test_status_best_and_compare_escape_terminal_control_characters(tmp_path):
    # A study name, a metric, a parameter name and a choice carrying escape sequences
    # (clear the screen, move the cursor, a carriage return, a right-to-left override).
    evil = "\x1b[2J\x1b[H\rfake\u202e"
    root = tmp_path / "evil"
    search = hpcore.GridSearch({}, {f"opt{evil}": [f"adam{evil}", "sgd"]},
                               metric=f"loss{evil}")
    search.run(lambda c: {f"loss{evil}": 0.1 if "sgd" in c[f"opt{evil}"] else 0.2},
               experiment_root=root, study_name=f"study{evil}", verbose=0)
    outputs = [_hpcore("status", root), _hpcore("best", root), _hpcore("compare", root, root)]
    for out in outputs:
        assert out.returncode == 0, out.stderr
        for text in (out.stdout, out.stderr):
            assert "\x1b" not in text and "\r" not in text and "\u202e" not in text, text
    status = outputs[0].stdout
    assert "study\\x1b[2J\\x1b[H\\rfake\\u202e" in status
    assert "\\x1b[2J" in outputs[1].stderr  # the metric in the header line
