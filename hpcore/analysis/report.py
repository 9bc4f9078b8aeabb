"""A self-contained HTML report of a study: :func:`write_report`.

``write_report(study, out_dir)`` draws every plot of :mod:`hpcore.analysis.plots`
into ``out_dir`` as PNG and writes ``out_dir/report.html``: one HTML5 file
with the images embedded as base64 ``data:`` URIs and no external
resource (no script, font or stylesheet is fetched), so it can be mailed
or archived as it is. The page holds

* a summary: study name, strategy, metric and mode, trials by state, the
  best value and the best trial's parameters and full config as JSON;
* the trials table: the 20 best, and every trial in a collapsed
  ``<details>`` block; a column per parameter, then one per other metric a
  trial returned (``val_acc`` beside ``metric='val_loss'``);
* every plot; one that cannot be drawn (no reported curves, a single
  parameter for the contour, importances unavailable) is named with the
  reason instead.

Every string that comes from the user (study name, parameter names and
values, errors, the title) is escaped. ``hpcore report <root>`` calls
``write_report(hpcore.load(root), out_dir)``.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._io import jsonable, own_directory, write_bytes_atomic, write_text_atomic
from .._version import __version__
from ..errors import ArgumentError, HpcoreError
from ..trial import FrozenTrial, ranked
from .tables import extra_metrics
from .view import view

__all__ = ["write_report", "PLOTS"]

#: The plots of a report: file stem, heading, what it shows.
PLOTS: tuple[tuple[str, str, str], ...] = (
    ("history", "History", "The value of each trial and the best value so far."),
    ("importance", "Parameter importance", "How much each parameter explains the value."),
    ("contour", "Contour", "The GP's predicted value over the two most important parameters "
     "(grey where too few trials are near to tell)."),
    ("parallel_coordinates", "Parallel coordinates", "Every trial across every parameter."),
    ("slice", "Slices", "The value against each parameter."),
    ("learning_curves", "Learning curves", "Each trial's reported curve."),
)
#: Drawn first for a study with several objectives (the other plots show the first one).
PARETO_PLOTS: tuple[tuple[str, str, str], ...] = (
    ("pareto_front", "Pareto front", "Every trial's objectives; the front and the "
     "region it dominates (infeasible trials hollow)."),
    ("hypervolume", "Hypervolume", "The hypervolume of the feasible front after each trial "
     "(below the search's reference point, or the worst feasible values)."),
)

#: Rows in the table of best trials.
TOP_ROWS = 20

# The errors a plot raises when it has nothing to draw (or importances are missing).
_CANNOT_DRAW = (HpcoreError, ImportError, ValueError)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #222; background: #fafafa; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: #e6f4e6; font-weight: 600; }
.scroll { overflow-x: auto; }
pre { background: #f4f4f4; padding: 0.6rem; overflow-x: auto; font-size: 0.85rem; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; background: #fff; }
figcaption { color: #555; font-size: 0.9rem; }
p.skipped { color: #8a4b00; background: #fff4e5; padding: 0.4rem 0.6rem; }
footer { color: #777; font-size: 0.8rem; margin-top: 3rem; }
"""


def _e(value: Any) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(value), quote=True)


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _param(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _trials_table(
    trials: list[FrozenTrial], keys: list[str], metric: str, best_id: int | None,
    extra: dict[str, str],
) -> str:
    head = ["trial", "state", metric, "time (s)", *keys, *extra.values(), "error"]
    out = ['<div class="scroll"><table>', "<thead><tr>"]
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for t in trials:
        error = (t.error or "")[:200]
        cls = ' class="best"' if t.trial_id == best_id else ""
        cells = [
            f'<td class="num">{t.trial_id}</td>',
            f"<td>{_e(t.state)}</td>",
            f'<td class="num">{_e(_number(t.value))}</td>',
            f'<td class="num">{"–" if t.duration is None else f"{t.duration:.3g}"}</td>',
        ]
        cells += [f"<td>{_e(_param(t.params[k])) if k in t.params else ''}</td>" for k in keys]
        cells += [f'<td class="num">{_e(_number(t.metrics.get(m)))}</td>' for m in extra]
        cells.append(f"<td>{_e(error)}</td>")
        out.append(f"<tr{cls}>{''.join(cells)}</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _importances(obj: Any, given: Mapping[str, float] | None) -> tuple[Any, str | None]:
    """Importances (or None) and why they are missing."""
    if given is not None:
        return dict(given), None
    try:
        from .fanova import importance
    except ImportError:
        return None, "hpcore.analysis (parameter importance) is not available"
    try:
        return importance(obj), None
    except _CANNOT_DRAW as exc:
        return None, f"parameter importance could not be computed: {exc}"


def write_report(
    obj: Any,
    out_dir: str | os.PathLike[str],
    title: str | None = None,
    *,
    importances: Mapping[str, float] | None = None,
) -> Path:
    """Write every plot as PNG and a self-contained ``report.html`` into ``out_dir``.

    Parameters
    ----------
    obj : StudyResults or BaseSearch
        ``hpcore.load(root)`` (the usual case) or a search after ``run``.
    out_dir : path
        Created if missing; ``report.html`` and ``<plot>.png`` files are
        written there (existing ones replaced). Each file is written to a
        new temporary file in ``out_dir`` and renamed into place, so a
        symbolic link planted under a file's name is replaced, never written
        through; ``out_dir`` itself must not be a symbolic link
        (:class:`~hpcore.ArgumentError` naming it, nothing written).
    title : str, optional
        Heading and ``<title>`` of the page; default ``"hpcore report: <study name>"``.
    importances : mapping of str to float, optional
        Parameter importances to plot (and to choose the contour's axes);
        default :func:`hpcore.analysis.importance`.

    Returns
    -------
    pathlib.Path
        The ``report.html`` file.
    """
    study = view(obj)
    out = report_folder(out_dir)
    title = title if title is not None else f"hpcore report: {study.name}"
    page = _page(title, _summary(obj, study), _trials(study), _figures(obj, out, importances))
    return write_text_atomic(out / "report.html", page)


def report_folder(out_dir: str | os.PathLike[str]) -> Path:
    """``out_dir``, created if missing; an :class:`~hpcore.ArgumentError` naming it when
    it is a symbolic link or not a folder (nothing is written through it)."""
    try:
        return own_directory(out_dir)
    except NotADirectoryError as exc:
        raise ArgumentError(f"report folder: {exc}") from None


def _summary(obj: Any, study: Any) -> list[str]:
    """The summary table, and the best parameters and config as JSON (several
    objectives: the Pareto front's trials instead)."""
    best, label = (None if study.multi else study.best), study.label
    counts: dict[str, int] = {}
    for t in study.trials:
        counts[str(t.state)] = counts.get(str(t.state), 0) + 1
    counts_text = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
    rows = [("study", study.name), ("strategy", study.strategy)]
    if study.multi or study.objectives.constraints:
        rows.append(("objectives", study.objectives.describe()))
    else:
        rows.append(("metric", f"{label} ({'minimised' if study.mode == 'min' else 'maximised'})"))
    rows.append(("trials", f"{len(study.trials)}: {counts_text}"))
    if study.objectives.constraints:
        feasible = sum(1 for t in study.all_trials if t.values and t.feasible)
        rows.append(("feasible", f"{feasible} trial(s) met every constraint"))
    if study.multi:
        rows.append(("Pareto front", f"{len(study.front)} trial(s)"))
    else:
        rows.append((f"best {label}", "no completed trial" if best is None
                     else f"{_number(best.value)} (trial {best.trial_id}, {best.state})"))
    if hasattr(obj, "root"):
        rows.append(("experiment root", str(obj.root)))
    summary = ['<table class="summary"><tbody>']
    summary += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows]
    summary.append("</tbody></table>")
    if study.multi:
        summary += _front_table(study)
    elif best is not None:
        params_json = json.dumps(jsonable(best.params), indent=2)
        config_json = json.dumps(jsonable(obj.best_config), indent=2)
        summary.append(f'<h3>Best parameters</h3><pre id="best-params">{_e(params_json)}</pre>')
        summary.append(f'<h3>Best config</h3><pre id="best-config">{_e(config_json)}</pre>')
    return summary


def _front_table(study: Any) -> list[str]:
    """The Pareto front: trial, each objective, each parameter."""
    metrics = [str(m) for m in study.objectives.metrics]
    keys = list(study.space)
    head = ["trial", *(f"{m} ({mode})" for m, mode in zip(metrics, study.objectives.modes)),
            *keys]
    out = ['<h3>Pareto front</h3><div class="scroll"><table id="pareto-front"><thead><tr>']
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for t in study.front:
        cells = [f'<td class="num">{t.trial_id}</td>']
        cells += [f'<td class="num">{_e(_number(v))}</td>' for v in t.values]
        cells += [f"<td>{_e(_param(t.params[k])) if k in t.params else ''}</td>" for k in keys]
        out.append(f"<tr>{''.join(cells)}</tr>")
    out.append("</tbody></table></div>")
    return out


def _trials(study: Any) -> list[str]:
    """The best trials, then every trial by id (folded)."""
    scored = ranked(study.trials, study.mode)
    best_id = None if study.best is None else study.best.trial_id
    everything = sorted(study.trials, key=lambda t: t.trial_id)
    keys, label = list(study.space), study.label
    extra = extra_metrics(everything, study.metric,
                          taken=["trial", "state", label, "time (s)", *keys, "error"])
    return [
        f"<p>The {min(TOP_ROWS, len(scored))} best of {len(scored)} completed or stopped trials"
        f" ({'lowest' if study.mode == 'min' else 'highest'} {_e(label)} first).</p>",
        _trials_table(scored[:TOP_ROWS], keys, label, best_id, extra),
        f"<details><summary>All {len(everything)} trials, by id</summary>",
        _trials_table(everything, keys, label, best_id, extra),
        "</details>",
    ]


def _figures(obj: Any, out: Path, importances: Mapping[str, float] | None) -> list[str]:
    """Each plot saved as PNG in ``out`` and embedded, or the reason it was not drawn."""
    from . import plots

    imp, imp_missing = _importances(obj, importances)
    draw = {
        "history": lambda: plots.plot_history(obj),
        "importance": lambda: plots.plot_importance(obj, importances=imp),
        "contour": lambda: plots.plot_contour(obj, importances=imp),
        "parallel_coordinates": lambda: plots.plot_parallel_coordinates(obj),
        "slice": lambda: plots.plot_slice(obj),
        "learning_curves": lambda: plots.plot_learning_curves(obj),
        "pareto_front": lambda: plots.plot_pareto_front(obj),
        "hypervolume": lambda: plots.plot_hypervolume_history(obj),
    }
    figures = []
    for stem, heading, caption in (PARETO_PLOTS if view(obj).multi else ()) + PLOTS:
        figures.append(f'<h3 id="plot-{stem}">{_e(heading)}</h3>')
        png = out / f"{stem}.png"
        if stem in ("importance", "contour") and imp is None:
            image, reason = None, imp_missing
        else:
            image, reason = _png(draw[stem])
        if image is None:
            png.unlink(missing_ok=True)  # no stale image (a planted link: the link goes)
            figures.append(f'<p class="skipped">Not drawn: {_e(reason)}</p>')
            continue
        write_bytes_atomic(png, image)
        data = base64.b64encode(image).decode("ascii")
        figures.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{_e(heading)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )
    return figures


def _png(draw: Any) -> tuple[bytes | None, str | None]:
    """The figure ``draw()`` makes as PNG bytes, or None and why it could not be drawn."""
    try:
        buffer = io.BytesIO()
        draw().savefig(buffer, format="png", dpi=100)
    except _CANNOT_DRAW as exc:
        return None, str(exc)
    return buffer.getvalue(), None


def _page(title: str, summary: list[str], table: list[str], figures: list[str]) -> str:
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            f"<h1>{_e(title)}</h1>",
            '<section id="summary">',
            "<h2>Summary</h2>",
            *summary,
            "</section>",
            '<section id="trials">',
            "<h2>Trials</h2>",
            *table,
            "</section>",
            '<section id="plots">',
            "<h2>Plots</h2>",
            *figures,
            "</section>",
            f"<footer>Written by hpcore {_e(__version__)} on {_e(when)}.</footer>",
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )
