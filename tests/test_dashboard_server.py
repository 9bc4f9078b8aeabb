"""``hpcore dashboard`` as a real server process: what it serves, and what it refuses.

Requests go over real sockets (http.client sends paths exactly as written,
encoded slashes and dots included), to the server the CLI starts.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest.importorskip("starlette", reason="the dashboard extra is not installed")
pytest.importorskip("uvicorn", reason="the dashboard extra is not installed")

from helpers.dashboard import ROOT, dashboard, make_study, searching  # noqa: E402

import hpcore  # noqa: E402


def _get(url: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """GET ``path`` exactly as written (no normalising, no decoding)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        if r.getheader("content-encoding") == "gzip":
            body = gzip.decompress(body)
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def _json(url: str, path: str, **kw) -> dict:
    status, _, body = _get(url, path, **kw)
    assert status == 200, (path, status, body[:300])
    return json.loads(body)


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    base = tmp_path_factory.mktemp("dash")
    make_study(base / "runs" / "a", n_trials=12, seed=0)
    make_study(base / "runs" / "nested" / "b", n_trials=6, seed=1)
    make_study(base / "single", n_trials=4, seed=2)
    return base


@pytest.fixture(scope="module")
def server(studies):
    with dashboard(str(studies / "runs"), str(studies / "single")) as (url, text, _):
        yield url, text


def test_the_cli_prints_its_address_and_lists_every_study(server, studies):
    url, text = server
    assert text.startswith("hpcore dashboard: http://127.0.0.1:")
    listed = _json(url, "/api/studies")["studies"]
    by_label = {s["label"]: s for s in listed}
    assert set(by_label) == {"runs/a", "runs/nested/b", "single"}
    a = by_label["runs/a"]
    best = hpcore.load(studies / "runs" / "a").best_trial
    assert a["n_trials"] == 12 and a["counts"] == {"completed": 12}
    assert a["best"] == {"value": best.value, "trial": best.trial_id}
    assert a["study"]["metrics"] == ["loss"] and a["driver_alive"] is False


def test_a_study_snapshot_curves_and_log_match_the_stored_study(server, studies):
    url, _ = server
    sid = next(s["id"] for s in _json(url, "/api/studies")["studies"] if s["label"] == "runs/a")
    snap = _json(url, f"/api/studies/{sid}")
    stored = hpcore.load(studies / "runs" / "a")
    assert [r[0] for r in snap["trials"]] == [t.trial_id for t in stored.trials]
    assert [r[2][0] for r in snap["trials"]] == [t.value for t in stored.trials]
    curves = _json(url, f"/api/studies/{sid}/curves?ids=0,3,999")["curves"]
    assert set(curves) == {"0", "3"}
    assert curves["3"] == [[r["step"], r["value"]] for r in stored.trials[3].reports]
    assert _json(url, f"/api/studies/{sid}/since/{snap['version']}")["trials"] == []
    assert _json(url, f"/api/studies/{sid}/since/{snap['version'] + 5}")["reset"] is True


def test_paths_in_urls_never_reach_the_file_system(server):
    url, _ = server
    for path in ["/static/../../../../etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd",
                 "/static/%2e%2e/%2e%2e/etc/passwd", "/static//etc/passwd", "/etc/passwd",
                 "/static/index.html", "/static/app.js%00.png", "/api/studies/..%2f..%2fetc",
                 "/api/studies/../../etc/passwd", "/static/%2fetc%2fpasswd",
                 "/api/studies/000000000000/trials/1/log", "/static/plotly.min.js/../app.js"]:
        status, _, body = _get(url, path)
        assert status in (400, 404), (path, status)
        assert b"root:" not in body


def test_links_under_a_root_are_not_followed(tmp_path):
    outside = make_study(tmp_path / "outside", n_trials=3)
    root = make_study(tmp_path / "root" / "s", n_trials=6).parent
    (root / "linked").symlink_to(outside, target_is_directory=True)
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "trial.log").write_text("SECRET-DIR")
    trials = root / "s" / "trials"
    os.rename(trials / "00003", tmp_path / "moved")
    (trials / "00003").symlink_to(secret, target_is_directory=True)
    (trials / "00004" / "trial.log").unlink(missing_ok=True)
    (trials / "00004" / "trial.log").symlink_to(secret / "trial.log")
    (trials / "00005" / "trial.log").write_text("trial five says hello\n")
    with dashboard(str(root)) as (url, _, _proc):
        listed = _json(url, "/api/studies")["studies"]
        assert [s["label"] for s in listed] == ["root/s"]  # not root/linked
        sid = listed[0]["id"]
        assert _json(url, f"/api/studies/{sid}/trials/3/log")["log"] is None
        assert _json(url, f"/api/studies/{sid}/trials/4/log")["log"] is None
        assert _json(url, f"/api/studies/{sid}/trials/5/log")["log"] == "trial five says hello\n"


def test_off_localhost_every_request_needs_the_token(studies):
    with dashboard(str(studies / "single"), "--host", "0.0.0.0") as (url, text, _):
        token = text.split("?token=")[1].split()[0]
        assert f"token: {token}" in text
        for path in ["/", "/api/studies", "/static/app.js"]:
            assert _get(url, path)[0] == 403
            assert _get(url, path, {"X-Hpcore-Token": "wrong"})[0] == 403
        assert _get(url, "/api/studies", {"X-Hpcore-Token": token})[0] == 200
        assert _get(url, "/?token=wrong")[0] == 403
        status, headers, _ = _get(url, f"/?token={token}")
        assert status == 303 and "httponly" in headers["set-cookie"].lower()
        cookie = headers["set-cookie"].split(";")[0]
        assert _get(url, "/api/studies", {"Cookie": cookie})[0] == 200
        assert _get(url, "/", {"Host": "anything.example", "Cookie": cookie})[0] == 200


def test_on_localhost_a_foreign_host_name_is_refused(server):
    url, _ = server
    assert _get(url, "/api/studies", {"Host": "attacker.example"})[0] == 400
    assert _get(url, "/api/studies", {"Host": "localhost"})[0] == 200


def test_answers_are_compressed_and_locked_down(server):
    url, _ = server
    sid = _json(url, "/api/studies")["studies"][0]["id"]
    for path in [f"/api/studies/{sid}", "/static/plotly.min.js", "/static/app.js"]:
        status, headers, body = _get(url, path, {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["content-encoding"] == "gzip", path
    status, headers, body = _get(url, "/static/plotly.min.js", {"Accept-Encoding": "gzip"})
    assert b"plotly" in body[:2000].lower() and "max-age" in headers["cache-control"]
    csp = _get(url, "/")[1]["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
    assert _get(url, "/")[1]["x-content-type-options"] == "nosniff"


def test_a_missing_root_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hpcore", "dashboard", str(tmp_path / "nope")],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1
    assert "is not a folder: give experiment roots" in out.stderr


_FAST_SEARCH = """
import sys
from hpcore.search import RandomSearch
from hpcore.search.space import Real
from helpers.dashboard import curve_fn
s = RandomSearch({"steps": 20, "pause": 0.002, "x": 0.5}, {"x": Real(0.0, 1.0)}, metric="loss", n_trials=150, random_state=7)
s.run(curve_fn, experiment_root=sys.argv[1], verbose=0)
"""


def _run_search(root: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    subprocess.run([sys.executable, "-c", _FAST_SEARCH, str(root)], check=True, env=env,
                   cwd=ROOT, timeout=600)


def test_a_search_at_full_speed_records_the_same_with_a_page_polling_it(tmp_path):
    _run_search(tmp_path / "alone")
    watched = tmp_path / "watched"
    watched.mkdir()
    polls, stop = [], threading.Event()
    deadline, alive = [float("inf")], []
    with dashboard(str(tmp_path)) as (url, _, _proc):
        def poll() -> None:
            version, sid = 0, None
            while not stop.is_set() or sum(polls) < 150 and time.monotonic() < deadline[0]:
                listed = _json(url, "/api/studies")["studies"]
                sid = sid or next((s["id"] for s in listed if s["label"].endswith("watched")), None)
                if sid:
                    delta = _json(url, f"/api/studies/{sid}/since/{version}")
                    polls.append(len(delta.get("trials", [])))
                    alive.append(delta.get("driver_alive"))
                    version = delta["version"]
                time.sleep(0.02)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            _run_search(watched)
        finally:
            stop.set()
            poller.join()
    alone, seen = hpcore.load(tmp_path / "alone"), hpcore.load(watched)

    def record(study):  # everything but the clock times
        return [(t.trial_id, t.state, t.params, t.value,
                 [(r["step"], r["value"]) for r in t.reports]) for t in study.trials]

    assert record(seen) == record(alone)
    assert len(seen.trials) == 150 and sum(polls) >= 150  # the page saw every trial
    assert alive.count(True) >= 10  # ... while the driver ran


def _post(url: str, path: str, headers: dict) -> tuple[int, dict]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        is_json = (r.getheader("content-type") or "").startswith("application/json")
        return r.status, json.loads(body) if is_json else {"text": body.decode()}
    finally:
        conn.close()


def test_with_allow_control_a_running_trial_can_be_stopped_and_only_so(studies, tmp_path):
    root = tmp_path / "live"
    with searching(root, steps=400, pause=0.05) as search:
        with dashboard(str(tmp_path), str(studies / "single"), "--allow-control") as (url, text, _):
            token = text.split("?token=")[1].split()[0]  # a token even on localhost
            auth = {"X-Hpcore-Token": token}
            assert _get(url, "/api/studies")[0] == 403
            for _ in range(600):  # the study is found once the search created it
                listed = {s["label"].split("/")[-1]: s
                          for s in _json(url, "/api/studies", headers=auth)["studies"]}
                if "live" in listed:
                    break
                time.sleep(0.05)
            sid, done = listed["live"]["id"], listed["single"]["id"]
            for _ in range(600):  # the trial is running once its first report is in
                if _json(url, f"/api/studies/{sid}", headers=auth)["trials"]:
                    break
                time.sleep(0.05)
            path = f"/api/studies/{sid}/trials/0/stop"
            ok = {**auth, "X-Hpcore-Control": "stop"}
            assert _post(url, path, {"X-Hpcore-Control": "stop"})[0] == 403  # no token
            assert _post(url, path, auth)[0] == 403  # no control header: a plain form post
            assert _post(url, path, {**ok, "Origin": "http://attacker.example"})[0] == 403
            assert _post(url, f"/api/studies/{done}/trials/0/stop", ok)[0] == 409  # finished
            assert _post(url, path, ok) == (202, {"requested": 0})
            search.wait(timeout=60)  # 400 steps of 0.05 s would take 20 s
    trial = hpcore.load(root).trials[0]
    assert str(trial.state) == "stopped" and trial.error == "stopped early: requested by hpcore dashboard"
    assert len(trial.reports) < 400


def test_without_allow_control_nothing_can_be_stopped(server):
    url, _ = server
    sid = _json(url, "/api/studies")["studies"][0]["id"]
    assert _json(url, "/api/config") == {"control": False}
    status, _ = _post(url, f"/api/studies/{sid}/trials/0/stop", {"X-Hpcore-Control": "stop"})
    assert status in (404, 405)
