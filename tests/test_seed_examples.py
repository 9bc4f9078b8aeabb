"""The user's seed documents' examples run as written, with ``frameworm`` replaced by ``hpcore``.

``tests/seed_examples/`` holds every ```python block of the two seed documents
(``NNN_K.txt``: document NNN, block K), copied verbatim with that one word
replaced. The blocks leave some names to the reader (``config``,
``train_fn``, ``train_function``, the Bayesian example's ``search_space``):
each test defines them, runs the blocks of one document in order in one
namespace, and checks what the document says they do.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers import seed_fns

import hpcore
from hpcore.search.space import Choice, Integer, LogUniform, Real, Uniform

EXAMPLES = Path(__file__).parent / "seed_examples"


def _run(name: str, namespace: dict) -> dict:
    code = (EXAMPLES / f"{name}.txt").read_text()
    assert "frameworm" not in code
    exec(compile(code, f"seed_examples/{name}", "exec"), namespace)
    return namespace


def test_every_python_block_of_the_seeds_is_here():
    assert sorted(p.stem for p in EXAMPLES.glob("*.txt")) == [
        "000_0", "000_1", "000_2", "000_3", "002_0", "002_1", "002_2"]


def test_design_document_spaces():
    # "Total trials: 3 x 3 x 3 = 27"
    ns = _run("000_0", {})
    grid = hpcore.GridSearch({"lr": 0.0, "batch_size": 0, "hidden_dim": 0}, ns["search_space"])
    grid.run(lambda c: c["lr"] * c["batch_size"] / c["hidden_dim"])
    assert grid.size == len(grid.trials) == 27

    # "Sample random combinations from distributions."
    ns = _run("000_1", {"LogUniform": LogUniform, "Choice": Choice, "Uniform": Uniform})
    rand = hpcore.RandomSearch({"lr": 0.0, "batch_size": 0, "hidden_dim": 0},
                               ns["search_space"], n_trials=30, random_state=0)
    rand.run(lambda c: c["lr"])
    for t in rand.trials:
        assert 1e-5 <= t.params["lr"] <= 1e-2
        assert t.params["batch_size"] in (64, 128, 256)
        assert 128 <= t.params["hidden_dim"] <= 512
    assert len({t.params["batch_size"] for t in rand.trials}) == 3


def test_design_document_architecture_and_integration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the example writes experiments/search
    config = {"training": {"lr": 0.01, "batch_size": 32}, "model": {"hidden_dim": 64}}
    ns = _run("000_2", {"config": config, "train_function": seed_fns.train_function})
    search, best_config = ns["search"], ns["best_config"]
    assert len(search.trials) == 8  # 2 x 2 x 2, four at a time
    assert best_config == {"training": {"lr": 0.001, "batch_size": 128},
                           "model": {"hidden_dim": 256}}
    assert ns["best_score"] == pytest.approx(seed_fns.train_function(best_config)["val_loss"])

    # "Results automatically logged / Best model automatically saved / All trials tracked"
    _run("000_3", ns)
    study = hpcore.load("experiments/search")
    assert study.counts() == {"completed": 8}
    assert study.best_config == best_config
    assert study.load_best_model() == {"weights": [0.001, 256]}


def test_summary_document_usage_examples():
    config = {"training": {"lr": 0.01, "batch_size": 32, "epochs": 10},
              "model": {"hidden_dim": 256}}
    ns = {"config": config, "train_fn": seed_fns.train_fn}

    _run("002_0", ns)  # grid, four trials at a time
    assert len(ns["search"].trials) == 6
    assert ns["best_config"]["training"] == {"lr": 0.001, "batch_size": 128, "epochs": 10}

    _run("002_1", ns)  # random, 50 trials
    random_best = ns["best_score"]
    assert len(ns["search"].trials) == 50

    # The Bayesian example's `search_space` is the random search's.
    ns["search_space"] = {"training.lr": Real(1e-5, 1e-2, log=True),
                          "training.batch_size": Integer(32, 256, log=True)}
    _run("002_2", ns)  # Bayesian, 50 trials, EI
    search = ns["search"]
    assert len(search.trials) == 50 and search.acquisition == "ei"
    assert math.isfinite(ns["best_score"])
    assert ns["best_score"] <= random_best + 0.05  # the optimum is 0 (lr 10^-3.3, batch 128)
