"""The driver's time per trial with a dashboard watching its study, and without.

Run from the repository root::

    python -m benchmarks.dashboard_overhead [--trials 2000] [--rounds 6]

Each round runs the same real search (``RandomSearch``, trials that report
``--reports`` steps and do nothing else, so that hpcore's own per-trial work
is all there is to slow down) three ways, in an order that rotates from round
to round:

* ``alone``: no dashboard;
* ``polled``: ``hpcore dashboard`` serving the study, and a client that asks
  exactly what an open study page asks (the snapshot, ``/since`` every second,
  the curves of new running trials and of new top-20 ones, ``/insight`` every 10 s);
* ``browser``: the same server with a real page open in headless Chromium
  (which also spends this machine's two cores drawing the charts).

The times are the search's own, measured in its process: wall time per
trial, and its CPU time per trial (user and system; on a shared virtual
machine the system time and so the wall time swing by 2x between identical
runs, the user time far less). Each kind is compared with ``alone`` of the
same round. Prints the medians and worst rounds and writes
``benchmarks/results/dashboard_overhead.json``.

``--dir /dev/shm`` writes the studies to memory: what is left of the
driver's system time is its work, not this virtual machine's disk.
``--pin`` runs the search on CPU 0 and everything else (the server, the
polling client, Chromium) on CPU 1, as on a training machine with a core to
spare: what is left is the dashboard's effect through the study's files and
the kernel, not two programs sharing one core.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent

_SEARCH = """
import sys, time
from hpcore.search import RandomSearch
from hpcore.search.space import Real, Categorical
def fn(config, trial):
    for step in range({reports}):
        trial.report(step, config["x"] + 1.0 / (step + 1))
    return config["x"]
s = RandomSearch({{}}, {{"x": Real(0.0, 1.0), "y": Real(1e-3, 1.0, log=True), "o": Categorical(["a", "b"])}},
                 metric="loss", n_trials={trials}, random_state=0)
import resource
t, r = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
s.run(fn, experiment_root=sys.argv[1], verbose=0, n_jobs=1)
r2 = resource.getrusage(resource.RUSAGE_SELF)
print("PER_TRIAL", (time.perf_counter() - t) / {trials}, (r2.ru_utime - r.ru_utime) / {trials},
      (r2.ru_stime - r.ru_stime) / {trials})
"""


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def _poll_like_a_page(url: str, ready: threading.Event, stop: threading.Event) -> None:
    """What app.js does for an open study page, minus the drawing."""
    sid = None
    ready.set()
    while sid is None and not stop.is_set():
        studies = _get(url + "api/studies")["studies"]
        sid = studies[0]["id"] if studies else None
        time.sleep(0.5)
    if sid is None:
        return
    snap = _get(url + f"api/studies/{sid}")
    version, fields = snap["version"], snap["fields"]
    top: list[tuple[float, int]] = []  # the best 20 finished: the page draws their curves
    last_insight = 0.0
    while not stop.wait(1.0):
        delta = _get(url + f"api/studies/{sid}/since/{version}")
        version = delta.get("version", version)
        want = []
        for row in delta.get("trials", []):
            t = dict(zip(fields, row))
            if t["state"] == "running":
                want.append(t["id"])  # a new running trial: its curve so far
            elif t["state"] == "completed" and t["values"]:
                top = sorted([*top, (t["values"][0], t["id"])])[:20]
                if (t["values"][0], t["id"]) in top:
                    want.append(t["id"])
        if want:
            _get(url + f"api/studies/{sid}/curves?ids={','.join(map(str, want[:200]))}")
        if time.monotonic() - last_insight > 10:
            _get(url + f"api/studies/{sid}/insight")
            last_insight = time.monotonic()


def _open_page(url: str, ready: threading.Event, stop: threading.Event) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url)
        page.wait_for_selector("table.studies")  # the list is up, empty: start the search
        ready.set()
        page.wait_for_selector("table.studies tbody tr a", timeout=60_000)
        page.click("table.studies tbody tr a")
        stop.wait()
        browser.close()


def one_run(kind: str, trials: int, reports: int, pin: bool = False,
            where: str | None = None) -> tuple[float, float, float]:
    """Seconds per trial: wall, and the search process's user and system CPU."""
    base = Path(tempfile.mkdtemp(prefix="hpcore-overhead-", dir=where))
    server, watcher, stop, ready = None, None, threading.Event(), threading.Event()
    try:
        if kind != "alone":
            server = subprocess.Popen([sys.executable, "-m", "hpcore", "dashboard", str(base)],
                                      stdout=subprocess.PIPE, text=True)
            url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
            target = _poll_like_a_page if kind == "polled" else _open_page
            watcher = threading.Thread(target=target, args=(url, ready, stop), daemon=True)
            watcher.start()
            ready.wait(120)
            time.sleep(1.0)  # the server and browser settle: their start-up is not the page's cost
        code = _SEARCH.format(trials=trials, reports=reports)
        out = subprocess.run([sys.executable, "-c", code, str(base / "study")], check=True,
                             capture_output=True, text=True,
                             preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if pin else None
                             ).stdout
        wall, user, system = re.search(r"PER_TRIAL (\S+) (\S+) (\S+)", out).groups()
        return float(wall), float(user), float(system)
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(timeout=30)
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--reports", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--kinds", default="alone,polled,browser",
                        help="which of alone, polled, browser to run (alone always runs)")
    parser.add_argument("--out", default="dashboard_overhead.json")
    parser.add_argument("--pin", action="store_true",
                        help="the search on CPU 0, the dashboard, client and browser on CPU 1")
    parser.add_argument("--dir", default=None,
                        help="where the studies are written (e.g. /dev/shm: no disk noise)")
    args = parser.parse_args()
    if args.pin:
        os.sched_setaffinity(0, {1})  # inherited by the server, its client and Chromium
    kinds = ["alone"] + [k for k in args.kinds.split(",") if k in ("polled", "browser")]
    if not shutil.which("chromium") and "browser" in kinds:
        kinds.remove("browser")  # no browser here: the other kinds only
    runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in kinds}
    one_run("alone", 20, args.reports, args.pin, args.dir)  # compile and warm the caches once, untimed
    for r in range(args.rounds):
        order = kinds[r % len(kinds):] + kinds[:r % len(kinds)]
        for kind in order:
            runs[kind].append(one_run(kind, args.trials, args.reports, args.pin, args.dir))
            w, u, s_ = runs[kind][-1]
            print(f"round {r}: {kind:8s} {1000 * w:.2f} ms/trial (CPU {1000 * u:.2f} user "
                  f"{1000 * s_:.2f} system)", flush=True)
    result = {"trials": args.trials, "reports": args.reports, "rounds": args.rounds,
              "pinned": args.pin, "dir": args.dir,
              "ms_per_trial": {k: [[1000 * x for x in run] for run in v] for k, v in runs.items()},
              "ratio": {}}
    print(f"\n{'':8s} {'wall ms/trial':>14s} {'worst':>7s} {'user CPU':>9s}   ratios to alone in "
          "the same round: wall median, worst; user CPU median, worst")
    for kind, rs in runs.items():
        wall = [w / a[0] for (w, _, _), a in zip(rs, runs["alone"])]
        user = [u / a[1] for (_, u, _), a in zip(rs, runs["alone"])]
        result["ratio"][kind] = {"wall_median": statistics.median(wall), "wall_worst": max(wall),
                                 "user_median": statistics.median(user), "user_worst": max(user)}
        print(f"{kind:8s} {1000 * statistics.median(r[0] for r in rs):14.2f} "
              f"{1000 * max(r[0] for r in rs):7.2f} {1000 * statistics.median(r[1] for r in rs):9.2f}"
              f"   {statistics.median(wall):.3f} {max(wall):.3f}; {statistics.median(user):.3f} "
              f"{max(user):.3f}")
    out = HERE / "results" / args.out
    out.write_text(json.dumps(result, indent=1))
    print("written", out)


if __name__ == "__main__":
    main()
