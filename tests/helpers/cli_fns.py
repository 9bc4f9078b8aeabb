"""Train functions for the command-line tests (module level, so workers can import them)."""

from __future__ import annotations

# The module the spec tests write into tmp_path and name as train = "spec_train:...":
# `hpcore run` must import it from the current directory, in the driver and in
# spawned workers. `gated` holds its trial until the test creates <gate>/release,
# so a test can look at a search while it runs.
SPEC_TRAIN_MODULE = '''
import math
import time
from pathlib import Path


def train_fn(config, trial):
    lr = config["training"]["lr"]
    loss = (math.log10(lr) + 2.5) ** 2 + 0.01 * config["model"]["width"] / 64
    for epoch in range(config["training"]["epochs"]):
        trial.report(epoch, loss + 1.0 / (epoch + 1))
    return {"val_loss": loss, "val_acc": 1.0 / (1.0 + loss)}


def gated(config, trial):
    gate = Path(config["gate"])
    trial.report(0, 0.5)
    trial.report(1, 0.25)
    (gate / f"started-{config['x']}").touch()
    while not (gate / "release").exists():
        time.sleep(0.05)
    return config["x"]
'''


def curve(config, trial):
    """A trial with a 3-point learning curve; fails for x = 0.95 with act = 'tanh'."""
    x = config["opt"]["x"]
    act = config["model"]["act"]
    if x == 0.95 and act == "tanh":
        raise RuntimeError("diverged")
    final = (x - 0.3) ** 2 + (0.01 if act == "tanh" else 0.0)
    for step in range(3):
        trial.report(step, final + 1.0 / (step + 1))
    return {"loss": final, "acc": 1.0 - final}
