"""The screenshots of docs/dashboard.md: real studies, the real server, headless Chromium.

    python docs/dashboard_screenshots.py [OUT_DIR]     (default docs/img; about two minutes)

Makes, under a temporary folder: a finished Bayesian study with learning curves and
early stopping, three Random and three Bayesian studies of one function (for the
compare view), and a search still running in another process; then serves them
with ``hpcore dashboard`` and shoots each page at 1280x800.
"""

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from hpcore.search import BayesianSearch, RandomSearch
from hpcore.search.space import Categorical, Integer, Real
from hpcore.stopping import MedianStopping

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "img")
SPACE = {
    "optim.lr": Real(1e-4, 1e-1, log=True),
    "model.width": Integer(16, 256, log=True),
    "model.dropout": Real(0.0, 0.6),
    "optim.name": Categorical(["adam", "sgd", "rmsprop"]),
}
BASE = {"optim": {"lr": 1e-3, "name": "adam"}, "model": {"width": 64, "dropout": 0.1},
        "epochs": 20, "pause": 0.0}


def train(config, trial):
    """A made-up validation loss that falls like a real one: best near lr=3e-3, width 128."""
    o, m = config["optim"], config["model"]
    floor = (0.08 + 0.5 * (math.log10(o["lr"]) + 2.5) ** 2 + 0.15 * (math.log2(m["width"]) - 7) ** 2 / 4
             + 0.4 * (m["dropout"] - 0.2) ** 2 + {"adam": 0.0, "sgd": 0.12, "rmsprop": 0.05}[o["name"]])
    rate = 0.08 + 2.0 * o["lr"] ** 0.5 + 0.1 * (o["name"] == "adam")  # large steps learn fast
    start = 1.2 + 0.3 * math.sin(13 * o["lr"] + m["width"])  # where each run starts differs
    loss = floor
    for epoch in range(config["epochs"]):
        time.sleep(config["pause"])
        loss = floor + start * math.exp(-rate * epoch) + 0.01 * math.sin(7 * epoch + m["width"])
        trial.report(epoch, loss)
        if trial.should_stop:
            break
    return {"val_loss": loss, "accuracy": max(0.0, 1.0 - loss)}


LIVE = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from dashboard_screenshots import train, SPACE, BASE
from hpcore.search import BayesianSearch
from hpcore.stopping import MedianStopping
base = dict(BASE, pause=0.6)
s = BayesianSearch(base, SPACE, metric="val_loss", mode="min", n_trials=40, random_state=7)
s.run(train, experiment_root=sys.argv[1], n_jobs=2, verbose=0, study_name="resnet-live",
      stopping=MedianStopping(grace_steps=4, min_trials=3))
"""


def make_studies(root: Path) -> None:
    BayesianSearch(BASE, SPACE, metric="val_loss", mode="min", n_trials=60, random_state=0).run(
        train, experiment_root=str(root / "resnet-bayes"), verbose=0, study_name="resnet-bayes",
        stopping=MedianStopping(grace_steps=4, min_trials=3))
    for seed in range(3):
        for cls, name in ((RandomSearch, "random"), (BayesianSearch, "bayes")):
            cls(BASE, SPACE, metric="val_loss", mode="min", n_trials=30, random_state=seed).run(
                train, experiment_root=str(root / "compare" / f"{name}-{seed}"), verbose=0,
                study_name=f"{name}-{seed}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="hpcore-shots-"))
    make_studies(tmp)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    live = subprocess.Popen([sys.executable, "-c", LIVE, str(tmp / "resnet-live")], env=env)
    server = subprocess.Popen([sys.executable, "-m", "hpcore", "dashboard", str(tmp)],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
        while not (tmp / "resnet-live" / "hpcore.db").exists():
            time.sleep(0.1)
        time.sleep(12)  # a few live trials: some finished, two running
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_selector("table.studies tbody tr a")
            page.screenshot(path=str(OUT / "dashboard-list.png"))
            page.click("table.studies a:text-matches('resnet-bayes$')")
            page.wait_for_function("(document.getElementById('chart-contour') || {}).data !== undefined",
                                   timeout=120_000)
            time.sleep(1.0)
            page.screenshot(path=str(OUT / "dashboard-study.png"))
            page.locator("#chart-importance").scroll_into_view_if_needed()
            time.sleep(0.5)
            page.screenshot(path=str(OUT / "dashboard-analysis.png"))
            page.goto(url)
            page.wait_for_selector("table.studies tbody tr a")
            page.click("table.studies a:text-matches('resnet-live$')")
            page.wait_for_selector("section.panel h2:has-text('Running')", timeout=60_000)
            page.wait_for_function("(document.getElementById('chart-curves') || {}).data !== undefined",
                                   timeout=60_000)
            page.wait_for_function(  # the running trials some epochs in: their curves show
                "[...document.querySelectorAll('section.panel table.grid tbody tr')]"
                ".some(r => +r.children[4].textContent >= 8)", timeout=60_000)
            time.sleep(2.0)
            page.screenshot(path=str(OUT / "dashboard-running.png"))
            page.goto(url)
            page.wait_for_selector("table.studies tbody tr a")
            boxes = page.locator("table.studies tbody tr:has-text('compare') input[type=checkbox]")
            for i in range(boxes.count()):
                boxes.nth(i).check()
            page.click("text=Compare selected")
            page.wait_for_function("(document.getElementById('compare-chart') || {}).data !== undefined",
                                   timeout=60_000)
            time.sleep(1.0)
            page.screenshot(path=str(OUT / "dashboard-compare.png"))
            browser.close()
    finally:
        live.kill()
        server.terminate()
        live.wait()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("screenshots in", OUT)


if __name__ == "__main__":
    main()
