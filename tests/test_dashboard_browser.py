"""The dashboard in a real headless Chromium (Debian's, driven by Playwright).

The server is the real one the CLI starts; the searches are real searches in
other processes. Skipped, with the reason, where no Chromium or Playwright
can be had (CI installs both).
"""

from __future__ import annotations

import shutil
import time

import pytest

pytest.importorskip("starlette", reason="the dashboard extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from helpers.dashboard import dashboard, make_study, searching  # noqa: E402

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                 if p), None)
if CHROMIUM is None:
    pytest.skip("no Chromium installed: apt-get install chromium", allow_module_level=True)

XSS = '"><img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.errors = errors
    yield p
    ctx.close()
    assert not errors, errors  # no script error on any page


def _chart_data(page, div: str) -> list[dict]:
    return page.evaluate(f"""() => {{
        const d = document.getElementById({div!r});
        return d && d.data ? d.data.map(t => ({{name: t.name, n: (t.x || []).filter(v => v !== null).length,
                                               type: t.type}})) : [];
    }}""")


def test_the_list_leads_to_a_study_page_with_its_trials_and_charts(page, tmp_path):
    make_study(tmp_path / "a", n_trials=12, seed=0)
    make_study(tmp_path / "b", n_trials=5, seed=1)
    with dashboard(str(tmp_path)) as (url, _, _proc):
        page.goto(url)
        page.wait_for_selector("table.studies tbody tr a")
        rows = page.locator("table.studies tbody tr")
        assert rows.count() == 2
        assert "12" in rows.nth(0).inner_text() and "RandomSearch" in rows.nth(0).inner_text()
        page.click("table.studies a:text-matches('/a$')")
        page.wait_for_selector("table.trials tbody tr")
        assert page.locator("table.trials tbody tr").count() == 12
        assert page.locator("table.trials tbody tr.best").count() == 1
        page.wait_for_function("document.getElementById('chart-history').data !== undefined",
                               timeout=60_000)
        history = _chart_data(page, "chart-history")
        assert {t["name"] for t in history} >= {"completed", "best so far"}
        assert sum(t["n"] for t in history if t["name"] == "completed") == 12
        page.wait_for_function("document.getElementById('chart-slices').data !== undefined")
        page.wait_for_function("document.getElementById('chart-importance').data !== undefined",
                               timeout=60_000)
        assert _chart_data(page, "chart-importance")[0]["type"] == "bar"
        assert "x" in page.inner_text("#chart-importance")  # the one parameter, labelled
        assert "single parameter" in page.inner_text("section.charts")  # no GP mean: says why
        page.click("table.trials tbody tr >> nth=0")  # the newest trial: its details and log
        page.wait_for_selector("dialog.trial pre.log")
        page.wait_for_function("!document.querySelector('dialog.trial pre.log')"
                               ".textContent.startsWith('loading')")
        assert "Trial 11" in page.inner_text("dialog.trial h2")


def test_a_running_search_shows_new_trials_and_a_growing_curve(page, tmp_path):
    with searching(tmp_path / "live", steps=30, pause=0.3, n_trials=3, seed=3) as search:
        with dashboard(str(tmp_path)) as (url, _, _proc):
            page.goto(url)
            page.wait_for_selector("table.studies tbody tr a")
            page.click("table.studies tbody tr a")
            page.wait_for_selector("section.panel h2:has-text('Running')", timeout=60_000)

            def running_points() -> int:
                return sum(t["n"] for t in _chart_data(page, "chart-curves") if t["name"] == "running")

            page.wait_for_function("document.getElementById('chart-curves').data !== undefined",
                                   timeout=60_000)
            seen = [running_points()]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(set(seen)) < 3:
                time.sleep(0.5)
                seen.append(running_points())
            assert len(set(seen)) >= 3, seen  # the running trial's curve grew, live
            page.wait_for_function("document.querySelectorAll('table.trials tbody tr').length >= 2",
                                   timeout=60_000)  # a new trial appeared without a reload
            search.wait(timeout=120)
            page.wait_for_function(
                "document.querySelectorAll('table.trials tbody tr.completed').length === 3",
                timeout=60_000)
            page.wait_for_function(  # the charts drawn less often catch up once it is over
                "((document.getElementById('chart-parallel').data || [])[0] || {dimensions: [{values: []}]})"
                ".dimensions[0].values.length === 3", timeout=60_000)
            assert page.locator("section.panel h2:has-text('Running')").count() == 0


def _xss_fn(config: dict, trial) -> dict:
    print(XSS)  # into the trial's log
    if config["opt"] == XSS and config["x"] > 0.5:
        raise RuntimeError(XSS)
    trial.report(0, config["x"])
    return {XSS: config["x"], "loss": config["x"]}


def test_markup_from_a_study_is_shown_as_text_and_never_runs(page, tmp_path):
    from hpcore.search import RandomSearch
    from hpcore.search.space import Real

    search = RandomSearch({}, {"x": Real(0.0, 1.0), "opt": [XSS, "plain"]}, metric="loss",
                          n_trials=10, random_state=0, allow_new_keys=True)
    search.run(_xss_fn, experiment_root=str(tmp_path / "xss"), verbose=0, study_name=XSS)
    with dashboard(str(tmp_path)) as (url, _, _proc):
        page.goto(url)
        page.wait_for_selector("table.studies tbody tr a")
        assert XSS in page.inner_text("table.studies")  # the study's name, as text
        page.click("table.studies tbody tr a")
        page.wait_for_selector("table.trials tbody tr")
        page.wait_for_function("document.getElementById('chart-parallel').data !== undefined",
                               timeout=60_000)
        page.wait_for_function("document.getElementById('chart-contour').data !== undefined",
                               timeout=60_000)  # the payload is a category of its axis
        text = page.inner_text("main")
        assert XSS in text  # in the header, the table's params, metrics and errors
        page.click("table.trials tbody tr.failed >> nth=0")
        page.wait_for_function("document.querySelector('dialog.trial pre.log')"
                               ".textContent.includes('onerror')")
        assert XSS in page.inner_text("dialog.trial")
        time.sleep(1.0)  # an injected image would have failed to load by now
        assert page.evaluate("window.__xss") is None
        assert page.evaluate("document.querySelectorAll('main img, dialog img, main script').length") == 0


def test_the_compare_view_draws_median_and_iqr_per_strategy(page, tmp_path):
    for seed in range(3):
        make_study(tmp_path / f"r{seed}", n_trials=8, seed=seed)
    with dashboard(str(tmp_path)) as (url, _, _proc):
        page.goto(url)
        page.wait_for_selector("table.studies tbody tr a")
        boxes = page.locator("table.studies tbody input[type=checkbox]")
        for i in range(3):
            boxes.nth(i).check()
        page.click("text=Compare selected")
        page.wait_for_function("document.getElementById('compare-chart').data !== undefined",
                               timeout=60_000)
        names = [t["name"] for t in _chart_data(page, "compare-chart")]
        assert "RandomSearch median (3 studies)" in names and "RandomSearch IQR" in names
        assert "3 studies" in page.inner_text("main p")


def test_with_allow_control_the_stop_button_stops_a_running_trial(page, tmp_path):
    with searching(tmp_path / "live", steps=600, pause=0.05) as search:
        with dashboard(str(tmp_path), "--allow-control") as (url, text, _proc):
            token = text.split("?token=")[1].split()[0]
            page.goto(f"{url}?token={token}")  # sets the cookie, then the page without it
            page.wait_for_selector("table.studies tbody tr a")
            page.click("table.studies tbody tr a")
            page.wait_for_selector("section.panel button.stop", timeout=60_000)
            page.on("dialog", lambda d: d.accept())  # "Stop trial 0?"
            page.click("section.panel button.stop")
            page.wait_for_selector("section.panel :text('stop requested')")
            page.wait_for_function(
                "document.querySelectorAll('table.trials tbody tr.stopped').length === 1",
                timeout=60_000)
            assert "requested by hpcore dashboard" in page.inner_text("table.trials")
            search.wait(timeout=60)  # 600 steps of 0.05 s would take 30 s
