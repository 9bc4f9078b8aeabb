"""hpcore.analysis.report.write_report on real studies: a self-contained, escaped HTML page."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from helpers import plot_fns  # noqa: E402

import hpcore  # noqa: E402
from hpcore import RandomSearch, Real  # noqa: E402
from hpcore.analysis.report import PLOTS, write_report  # noqa: E402

IMPORTANCES = {"lr": 0.7, "act": 0.15, "dropout": 0.1, "width": 0.05}
IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">')
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


class _TagChecker(HTMLParser):
    """Every element closed in order (void elements excepted)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.doctype: str | None = None

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def _check_html5(text: str) -> None:
    checker = _TagChecker()
    checker.feed(text)
    checker.close()
    assert checker.doctype == "DOCTYPE html"
    assert checker.problems == [] and checker.stack == [], (checker.problems, checker.stack)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    plot_fns.run_random(root)
    return hpcore.load(root)


@pytest.fixture(scope="module")
def report(study, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    path = write_report(study, out / "nested" / "dir", importances=IMPORTANCES)
    return path, path.read_text(encoding="utf-8")


def test_report_is_one_valid_self_contained_page(report):
    path, text = report
    assert path.name == "report.html" and path.is_file()
    _check_html5(text)
    assert '<meta charset="utf-8">' in text
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"<(script|link|iframe|object|embed)\b", text)
    assert not re.search(r'src="(?!data:image/png;base64,)', text)


def test_report_embeds_every_plot_as_a_png_and_writes_the_files(report):
    path, text = report
    images = IMG.findall(text)
    assert [alt for _, alt in images] == [heading for _, heading, _ in PLOTS]
    for (data, _), (stem, _, _) in zip(images, PLOTS):
        png = base64.b64decode(data, validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
        assert (path.parent / f"{stem}.png").read_bytes() == png
    assert "Not drawn" not in text


def test_report_summary_has_the_best_value_config_and_counts(study, report):
    _, text = report
    best = study.best_trial
    assert f"{best.value:.6g} (trial {best.trial_id}, completed)" in text
    config = re.search(r'<pre id="best-config">(.*?)</pre>', text, flags=re.S).group(1)
    assert json.loads(html.unescape(config)) == study.best_config
    for state, n in study.counts().items():
        assert f"{n} {state}" in text
    assert "RandomSearch" in text and "val_loss (minimised)" in text
    assert f"<td>{study.name}</td>" in text


def test_report_tables_top_20_and_every_trial_collapsed(tmp_path):
    search = RandomSearch({}, {"x": Real(0.0, 1.0)}, n_trials=25, random_state=0)
    search.run(lambda c: c["x"])
    text = write_report(search, tmp_path).read_text()
    top, rest = text.split("<details>", 1)
    top = top.split('<section id="trials">', 1)[1]
    assert top.count('<td class="num">') // 3 == 20
    assert "<summary>All 25 trials, by id</summary>" in rest
    full = rest.split("</details>", 1)[0]
    assert full.count("<tr") == 26  # a header and one row per trial
    order = [float(v) for v in re.findall(r'<td class="num">\d+</td><td>completed</td>'
                                           r'<td class="num">([^<]+)</td>', top)]
    assert order == sorted(order) and order[0] == pytest.approx(search.best_score, rel=1e-5)
    assert top.count('class="best"') == 1


def test_user_strings_are_escaped(tmp_path):
    evil = "<script>alert('x')</script>"
    space = dict(plot_fns.SPACE, act=["relu", "<b>tanh</b>", evil])
    root = tmp_path / "root"
    plot_fns.run_random(root, n_trials=8, name=evil, space=space)
    path = write_report(hpcore.load(root), tmp_path / "out", title=f"{evil} & co",
                        importances={evil: 1.0})
    text = path.read_text()
    assert "<script" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in text  # the title
    assert "<td>&lt;script&gt;" in text  # the study name
    _check_html5(text)


def test_a_plot_that_cannot_be_drawn_is_named_instead(tmp_path):
    search = RandomSearch({}, {"x": Real(0.0, 1.0)}, n_trials=4, random_state=0)
    search.run(lambda c: c["x"])
    text = write_report(search, tmp_path, importances={"x": 1.0}).read_text()
    alts = [alt for _, alt in IMG.findall(text)]
    assert alts == ["History", "Parameter importance", "Parallel coordinates", "Slices"]
    skipped = re.findall(r'<p class="skipped">Not drawn: ([^<]*)</p>', text)
    assert len(skipped) == 2
    assert "plot_contour needs two parameters" in skipped[0]
    assert "needs reported curves" in skipped[1]
    assert not (tmp_path / "contour.png").exists()
    assert not (tmp_path / "learning_curves.png").exists()


def test_importance_comes_from_analysis_by_default(study, tmp_path):
    text = write_report(study, tmp_path).read_text()
    alts = [alt for _, alt in IMG.findall(text)]
    try:
        import hpcore.analysis  # noqa: F401
    except ImportError:
        assert "Parameter importance" not in alts and "Contour" not in alts
        assert text.count("hpcore.analysis (parameter importance) is not available") == 2
    else:
        assert alts == [heading for _, heading, _ in PLOTS]


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_report_loads_in_a_headless_browser(report):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium installed: apt install chromium to run this check")
    path, _ = report
    out = subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", "--dump-dom",
         Path(path).resolve().as_uri()],
        capture_output=True, text=True, check=True,
    )
    dom = out.stdout
    assert "<title>hpcore report: " in dom
    assert len(IMG.findall(dom)) == len(PLOTS)
    assert '<section id="summary">' in dom and "<details>" in dom


def test_a_study_where_every_trial_failed_still_gets_a_page(tmp_path):
    search = RandomSearch({}, {"x": Real(0.0, 1.0), "y": Real(0.0, 1.0)}, n_trials=2,
                          random_state=0)
    with pytest.raises(hpcore.SearchError):
        search.run(plot_fns.always_fails, experiment_root=tmp_path / "root")
    text = write_report(hpcore.load(tmp_path / "root"), tmp_path / "out",
                        importances={"x": 0.5, "y": 0.5}).read_text()
    _check_html5(text)
    assert "no completed trial" in text and "2 failed" in text
    assert "this trial always fails" in text  # the error column
    # only the importances given can be drawn; every other plot names what it misses
    assert [alt for _, alt in IMG.findall(text)] == ["Parameter importance"]
    skipped = re.findall(r'<p class="skipped">Not drawn: ([^<]*)</p>', text)
    assert len(skipped) == 5
    assert all("completed" in why or "reported curves" in why for why in skipped), skipped
