"""How the dashboard holds up as studies grow: payloads, server time, first paint, CPU.

Run from the repository root::

    python -m benchmarks.dashboard_load --sizes 100,10000,100000

It writes studies of each size (``--reports`` reports per trial, through the
real :class:`hpcore.storage.Storage`, kept under ``--cache`` between runs),
starts ``hpcore dashboard`` on them in a process of its own and measures:

* the snapshot a study page loads: bytes raw and gzip-compressed, and the
  server's time for it (cold: the feed built from the database; warm);
* live updates while a driver process writes a trial every 0.2 s: payload
  bytes and server time per update;
* in headless Chromium (``--browser``): time to the first paint of the
  study page (its header and trials table), to the charts, and to the
  importance and GP-mean charts (computed by the server in the background);
* the server's CPU share (its process and its background analysis process)
  with one page open on a study of 10,000 trials, idle and while its driver
  writes a trial a second, over ``--seconds``;
* how long a trial written by the driver takes to appear on the open page.

Prints a table and writes JSON to ``benchmarks/results/dashboard_load.json``.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from hpcore.storage import Storage, StudyInfo
from hpcore.trial import FrozenTrial, TrialState

HERE = Path(__file__).resolve().parent

_DRIVER = """
import sys, time, random
from hpcore.storage import Storage
from hpcore.trial import FrozenTrial, TrialState
root, every, reports = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
s = Storage(root)
n = s.n_trials()
rng = random.Random(n)
while True:
    x = rng.random()
    s.start_trial(n, {"x": x, "y": rng.random(), "opt": "adam"}, start=time.time())
    curve = [{"step": k, "value": x + 1.0 / (k + 1), "time": time.time()} for k in range(reports)]
    s.add_reports(n, curve[: reports // 2])
    time.sleep(every / 2)
    s.finish_trial(FrozenTrial(trial_id=n, params={"x": x, "y": 0.5, "opt": "adam"},
                               state=TrialState.COMPLETED, values=(x,), start=time.time() - every,
                               end=time.time(), reports=curve))
    print(n, time.time(), flush=True)
    n += 1
    time.sleep(every / 2)
"""


def make_study(root: Path, n: int, reports: int) -> Path:
    """A finished study of ``n`` trials with ``reports`` reports each (cached on disk)."""
    if (root / "hpcore.db").exists():
        return root
    import random

    rng = random.Random(0)
    space = {"x": {"type": "real", "low": 0.0, "high": 1.0, "log": False},
             "y": {"type": "real", "low": 1e-4, "high": 1.0, "log": True},
             "opt": {"type": "categorical", "choices": ["adam", "sgd"]}}
    with Storage(root) as s:
        s.create_study(StudyInfo(name=f"n{n}", strategy="RandomSearch", settings={}, seed=0,
                                 metric="loss", mode="min", base_config={}, space=space,
                                 space_fingerprint="bench"))
        for i in range(n):
            x, y = rng.random(), 10 ** rng.uniform(-4, 0)
            v = (x - 0.3) ** 2 + 0.1 * abs(y - 0.01)
            s.finish_trial(FrozenTrial(
                trial_id=i, params={"x": x, "y": y, "opt": rng.choice(["adam", "sgd"])},
                state=TrialState.COMPLETED, values=(v,), metrics={"loss": v, "acc": 1 - v},
                start=1e9 + i, end=1e9 + i + 30.0, devices=("cuda:0",), host="node1",
                reports=[{"step": k, "value": v + 1.0 / (k + 1), "time": 1e9 + i + k}
                         for k in range(reports)]))
    return root


def _get(url: str, path: str) -> tuple[float, int, int, bytes]:
    """(seconds, raw bytes, bytes on the wire, body) of one GET with gzip accepted."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    t = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
    r = conn.getresponse()
    wire = r.read()
    dt = time.perf_counter() - t
    conn.close()
    body = gzip.decompress(wire) if r.getheader("content-encoding") == "gzip" else wire
    return dt, len(body), len(wire), body


def _start_dashboard(roots: list[Path]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "hpcore", "dashboard", *map(str, roots)],
                            stdout=subprocess.PIPE, text=True)
    url = re.search(r"http://\S+?/", proc.stdout.readline()).group(0)
    for _ in range(200):
        try:
            _get(url, "/static/app.css")
            break
        except OSError:
            time.sleep(0.05)
    return proc, url


def _sid(url: str, label_end: str) -> str:
    studies = json.loads(_get(url, "/api/studies")[3])["studies"]
    return next(s["id"] for s in studies if s["label"].endswith(label_end))


def measure_api(url: str, sid: str) -> dict:
    cold = _get(url, f"/api/studies/{sid}")
    warm = [_get(url, f"/api/studies/{sid}") for _ in range(3)]
    version = json.loads(warm[-1][3])["version"]
    idle = [_get(url, f"/api/studies/{sid}/since/{version}") for _ in range(5)]
    return {"snapshot_cold_s": cold[0], "snapshot_warm_s": min(w[0] for w in warm),
            "snapshot_raw_bytes": warm[-1][1], "snapshot_gzip_bytes": warm[-1][2],
            "idle_poll_s": statistics.median(i[0] for i in idle), "idle_poll_bytes": idle[-1][2],
            "version": version}


def measure_updates(url: str, sid: str, root: Path, version: int, reports: int,
                    seconds: float) -> dict:
    driver = subprocess.Popen([sys.executable, "-c", _DRIVER, str(root), "0.2", str(reports)],
                              stdout=subprocess.DEVNULL)
    sizes, times = [], []
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            dt, raw, wire, body = _get(url, f"/api/studies/{sid}/since/{version}")
            delta = json.loads(body)
            if delta.get("trials") or delta.get("points"):
                sizes.append(wire)
                times.append(dt)
            version = delta["version"]
            time.sleep(0.25)
    finally:
        driver.terminate()
        driver.wait()
    return {"updates": len(sizes), "update_bytes_median": statistics.median(sizes),
            "update_bytes_max": max(sizes), "update_s_median": statistics.median(times),
            "update_s_max": max(times)}


def measure_browser(url: str, sid: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        ctx = b.new_context(viewport={"width": 1280, "height": 800})
        ctx.new_page().goto(url + "static/plotly.min.js")  # as a returning visitor: cached
        out = {}
        for _ in range(2):
            page = ctx.new_page()
            t = time.perf_counter()
            page.goto(f"{url}#/study/{sid}")
            page.wait_for_selector("table.trials tbody tr", timeout=600_000)
            out["first_paint_s"] = min(out.get("first_paint_s", 1e9), time.perf_counter() - t)
            page.wait_for_function("(document.getElementById('chart-slices') || {}).data !== undefined",
                                   timeout=600_000)
            out["charts_s"] = min(out.get("charts_s", 1e9), time.perf_counter() - t)
            page.wait_for_function("(document.getElementById('chart-contour') || {}).data !== undefined",
                                   timeout=600_000)  # computed by the server in the background
            out["insight_s"] = min(out.get("insight_s", 1e9), time.perf_counter() - t)
            page.close()
        b.close()
    return out


def _tree_cpu(proc) -> dict[int, float]:
    """CPU seconds of a process, of its ended children (the background analysis runs as
    short-lived children it waits for) and of those running now."""
    t = proc.cpu_times()
    out = {proc.pid: t.user + t.system + t.children_user + t.children_system}
    for p in proc.children(recursive=True):
        try:
            c = p.cpu_times()
            out[p.pid] = c.user + c.system
        except Exception:  # ended meanwhile: counted in children_* from now on
            pass
    return out


def measure_live(url: str, sid: str, root: Path, reports: int, seconds: float,
                 server_pid: int) -> dict:
    """Server CPU with one page open while the driver writes; time for trials to appear."""
    import psutil
    from playwright.sync_api import sync_playwright

    server = psutil.Process(server_pid)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = b.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.goto(f"{url}#/study/{sid}")
        page.wait_for_function("(document.getElementById('chart-slices') || {}).data !== undefined",
                               timeout=600_000)
        idle0, t0 = _tree_cpu(server), time.perf_counter()
        time.sleep(seconds / 2)
        idle1, t1 = _tree_cpu(server), time.perf_counter()
        driver = subprocess.Popen([sys.executable, "-c", _DRIVER, str(root), "1.0", str(reports)],
                                  stdout=subprocess.PIPE, text=True)
        delays = []
        try:
            c0, tc0 = _tree_cpu(server), time.perf_counter()
            end = time.monotonic() + seconds / 2
            while time.monotonic() < end:
                tid, written = driver.stdout.readline().split()
                page.wait_for_function(  # the row of the trial shows it finished
                    f"[...document.querySelectorAll('table.trials tbody tr')].some(tr => "
                    f"tr.children[0].textContent === '{tid}' && "
                    f"tr.children[1].textContent === 'completed')", timeout=60_000, polling=50)
                delays.append(time.time() - float(written))
            c1, tc1 = _tree_cpu(server), time.perf_counter()
        finally:
            driver.terminate()
            driver.wait()
        b.close()
    cpu = lambda a, b: sum(b.values()) - sum(a.get(pid, 0.0) for pid in b)  # noqa: E731
    return {"server_cpu_idle_page": cpu(idle0, idle1) / (t1 - t0),
            "server_cpu_live_page": cpu(c0, c1) / (tc1 - tc0),
            "appear_s_median": statistics.median(delays), "appear_s_max": max(delays),
            "appear_n": len(delays), "appear_within_2s": sum(d <= 2.0 for d in delays)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="100,10000,100000")
    p.add_argument("--reports", type=int, default=20)
    p.add_argument("--cache", default="/tmp/hpcore-dashboard-bench")
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--browser", action=argparse.BooleanOptionalAction, default=True)
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cache = Path(args.cache)
    roots = []
    for n in sizes:
        t = time.perf_counter()
        roots.append(make_study(cache / f"r{args.reports}" / f"n{n}", n, args.reports))
        print(f"study of {n} trials ready ({time.perf_counter() - t:.1f} s)", flush=True)
    proc, url = _start_dashboard([cache / f"r{args.reports}"])
    results = {}
    try:
        for n, root in zip(sizes, roots):
            sid = _sid(url, f"n{n}")
            r = measure_api(url, sid)
            if args.browser:
                r.update(measure_browser(url, sid))
            r.update(measure_updates(url, sid, root, r["version"], args.reports, 10.0))
            if n == 10_000 and args.browser:
                r.update(measure_live(url, sid, root, args.reports, args.seconds, proc.pid))
            results[n] = r
            print(n, json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                 for k, v in r.items()}), flush=True)
    finally:
        proc.terminate()
        proc.wait()
    out = HERE / "results" / "dashboard_load.json"
    out.write_text(json.dumps({"reports_per_trial": args.reports, "results": results}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
