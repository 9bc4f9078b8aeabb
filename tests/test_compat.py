"""A study root written by an earlier hpcore still loads and resumes.

``tests/fixtures/study_v0`` was written by ``tests/fixtures/make_study_v0.py``
at commit b355633, before the core was consolidated: 8 trials of a Bayesian
search (one failed, one choice stored by its ``repr``), each tracked with its
log, reports and model, and a ninth left ``running`` by a killed driver.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import hpcore
from hpcore.search import BayesianSearch
from hpcore.search.space import Categorical, Integer, Real

FIXTURE = Path(__file__).parent / "fixtures" / "study_v0"


class Adam:
    def __repr__(self) -> str:
        return "Adam"


ADAM = Adam()
CONFIG = {"training": {"lr": 1e-3, "batch_size": 64, "opt": "sgd"}, "model": {"layers": 2}}


def _search(n_trials: int) -> BayesianSearch:
    return BayesianSearch(
        base_config=CONFIG,
        search_space={
            "training.lr": Real(1e-4, 1e-2, log=True),
            "training.batch_size": Integer(16, 128, log=True),
            "training.opt": Categorical(["sgd", ADAM]),
            "model.layers": [1, 2, 4],
        },
        metric="val_loss", mode="min", n_trials=n_trials, n_initial_points=4, random_state=7,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    out = tmp_path / "study_v0"
    shutil.copytree(FIXTURE, out, symlinks=True)
    return out


def test_old_root_loads(root: Path) -> None:
    study = hpcore.load(root)
    assert [t.trial_id for t in study.trials] == list(range(9))
    states = [str(t.state) for t in study.trials]
    assert states == ["completed"] * 3 + ["failed"] + ["completed"] * 4 + ["interrupted"]
    assert study.best_trial.trial_id == 7
    assert study.best_value == pytest.approx(0.17495990128260241)
    assert study.best_params["training.opt"] == "Adam"  # stored by repr
    assert study.trials[3].error == "RuntimeError: planted failure"
    assert [r["step"] for r in study.trials[0].reports] == [0, 1, 2]
    assert study.trials[0].metrics["acc"] == pytest.approx(1 - 0.22001949209069838 / 10)
    assert study.load_best_model() == {"weights": [study.best_params["training.lr"], 1]}
    assert set(study.search_space.keys()) == {
        "training.lr", "training.batch_size", "training.opt", "model.layers"}


def test_old_root_resumes(root: Path) -> None:
    ran: list[int] = []

    def train_fn(config, trial):
        ran.append(trial.trial_id)
        assert config["training"]["opt"] in ("sgd", ADAM)
        return {"val_loss": config["training"]["lr"] * 10 + 0.01 * config["model"]["layers"]}

    search = _search(n_trials=10)
    search.run(train_fn, experiment_root=root, verbose=0)
    assert sorted(ran) == [8, 9]  # the interrupted trial again, then one new one
    assert [t.trial_id for t in search.trials] == list(range(10))
    assert search.trials[8].attempts == 2
    assert all(str(t.state) in ("completed", "failed") for t in search.trials)
    assert search.trials[7].value == pytest.approx(0.17495990128260241)  # not re-run
    study = hpcore.load(root)
    assert len(study.trials) == 10
    assert study.best_trial.trial_id == search.best_trial.trial_id
    assert (root / "best").resolve() == (root / "trials" / f"{study.best_trial.trial_id:05d}").resolve()
