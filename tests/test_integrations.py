"""hpcore.integrations without a framework: lazy imports, and mistakes named before training."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import hpcore.integrations as integrations
from hpcore import ArgumentError, GridSearch, ResultError, Trial
from hpcore.integrations._report import Reporter, require

FRAMEWORKS = ("lightning", "pytorch_lightning", "keras", "xgboost", "lightgbm", "sklearn",
              "torch")


def test_importing_the_integrations_imports_no_framework():
    code = ("import sys, hpcore, hpcore.integrations as i; dir(i); "
            f"print([m for m in {FRAMEWORKS!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_is_listed_and_loads_lazily():
    assert sorted(integrations._LAZY) == sorted(integrations.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        integrations.Nope  # noqa: B018


def test_a_missing_framework_names_the_extra_to_install():
    with pytest.raises(ImportError, match=r"pip install 'hpcore\[nothere\]'"):
        require("no_such_framework_xyz", "nothere", "hpcore.integrations.nothere")


def test_the_reporter_wants_the_trial_handle():
    with pytest.raises(ArgumentError, match="train_fn with two arguments"):
        Reporter({"lr": 0.1}, None, "LightningCallback")


def test_the_reporter_reports_like_a_hand_written_loop():
    trial = Trial(0, {}, metric="val_loss")
    reporter = Reporter(trial, None, "X")
    assert reporter.pick({"val_loss": np.float32(0.5), "acc": 1.0}) == ("val_loss", 0.5)
    assert reporter(0, 0.5, {"val_loss": 0.5, "acc": np.float64(0.9), "bad": float("nan"),
                             "label": "text"}) is False
    assert trial.reports[-1]["value"] == 0.5 and trial.reports[-1]["acc"] == 0.9
    assert "bad" not in trial.reports[-1] and "label" not in trial.reports[-1]
    trial.stop_reason = "told to"
    assert reporter(1, 0.4) is True  # no report once a stop has arrived: report would raise
    assert reporter.value == 0.5 and len(trial.reports) == 1 and reporter.stopped


def test_a_metric_that_was_not_logged_names_what_was():
    reporter = Reporter(Trial(0, {}, metric="val_loss"), None, "KerasCallback")
    with pytest.raises(ResultError, match=r"'val_loss' was not logged .*logged: 'loss', 'val_acc'"):
        reporter.pick({"loss": 1.0, "val_acc": 0.5})
    with pytest.raises(ArgumentError, match="Pass monitor='val_loss'"):
        Reporter(Trial(0, {}), None, "KerasCallback").pick({"loss": 1.0})


def test_an_unlogged_monitor_ends_the_search_at_the_first_trial():
    xgb = pytest.importorskip("xgboost", reason="xgboost is not installed")
    from hpcore.integrations import XGBoostCallback

    def train_fn(config, trial):
        x = np.arange(20.0).reshape(10, 2)
        d = xgb.DMatrix(x, x[:, 0])
        xgb.train({"eta": config["eta"], "nthread": 1}, d, 3, evals=[(d, "valid")],
                  callbacks=[XGBoostCallback(trial, monitor="valid-auc")], verbose_eval=False)
        return 0.0

    search = GridSearch({}, {"eta": [0.1, 0.2, 0.3]})
    with pytest.raises(ResultError, match=r"'valid-auc' was not logged .*'valid-rmse'"):
        search.run(train_fn, verbose=0)
    assert len(search.trials) == 1
    with pytest.raises(ArgumentError, match="'<data set>-<metric>'"):
        XGBoostCallback(Trial(0, {}), monitor="rmse")


def test_a_monitor_without_its_data_set_is_refused_by_lightgbm_too():
    pytest.importorskip("lightgbm", reason="lightgbm is not installed")
    from hpcore.integrations import LightGBMCallback

    with pytest.raises(ArgumentError, match=r"LightGBMCallback: monitor must be "
                                            r"'<data set>-<metric>', e.g. 'valid_0-l2', got 'l2'"):
        LightGBMCallback(Trial(0, {}), monitor="l2")
    assert LightGBMCallback(Trial(0, {}), monitor="valid_0-l2") is not None
