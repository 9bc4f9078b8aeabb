"""The ``hpcore`` commands: ``status``, ``best``, ``report``, ``compare`` read stored
studies (read-only); ``run`` runs a spec file and ``demo`` the README's main job.

Each ``_cmd_<name>(args)`` returns the exit status; a :class:`_Fail` is a user's
error, printed as one line by :func:`hpcore.cli.main`.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class _Fail(Exception):
    """A user error: printed as ``hpcore <command>: error: <message>``, exit status 1."""


# ---------------------------------------------------------------------------
# Reading studies
# ---------------------------------------------------------------------------


def _load(root: str) -> Any:
    """``hpcore.load(root)``, with a plain message when there is nothing there."""
    from ..storage import load

    path = Path(root)
    if not path.exists():
        raise _Fail(f"{root} does not exist; give the experiment_root of a search.")
    if not path.is_dir():
        raise _Fail(f"{root} is not a folder; give the experiment_root of a search.")
    return load(path)


def _driver(root: Path) -> tuple[dict[str, Any] | None, Any]:
    """The live driver holding the study's lock (pid, host, since) or None, and
    the run's planned number of trials if the driver recorded it (meta ``n_trials``)."""
    from ..storage import LOCK_NAME, Storage

    with Storage(root, lock=False, readonly=True) as store:
        alive = store.driver_alive()
        planned = store.get_meta("n_trials")
    if not alive:
        return None, planned
    holder: dict[str, Any] = {}
    try:
        holder = json.loads((root / LOCK_NAME).read_text() or "{}")
    except (OSError, ValueError):
        pass
    return holder, planned


# Terminal control characters (and the bidirectional overrides that reorder what a line
# shows) in strings a trial or a user supplied are printed escaped: a study name or a
# choice holding "\x1b[2J" must not clear the screen or fake lines of the output.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def _field(value: Any) -> str:
    """One value on one line: control characters and line breaks escaped."""
    return _CONTROL_OR_BREAK.sub(_escaped, str(value))


def _out(text: str, file: Any = None) -> None:
    """Print ``text`` with any control character left in it escaped (line breaks kept)."""
    print(_CONTROL.sub(_escaped, text), file=file or sys.stdout, flush=True)


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return _field(repr(value) if isinstance(value, str) else value)


def _clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = max(0, int(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{_field(k)}={_short(v)}" for k, v in params.items())


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths))
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def _front_lines(study: Any) -> list[str]:
    """The Pareto front of a study with several objectives, as a table (trial, each
    objective, its params)."""
    front = study.best_trials
    objectives = study.objectives
    header = ["trial", *(f"{_field(m)} ({mode})" for m, mode in
                         zip(objectives.metrics, objectives.modes)), "params"]
    rows = [[str(t.trial_id), *(_num(v) for v in t.values), _params_text(t.params)]
            for t in front]
    right = tuple(range(len(objectives.metrics) + 1))
    return [f"Pareto front: {len(front)} trial(s) of {len(study.trials)}",
            *(["  " + r for r in _table(header, rows, right).splitlines()] if rows else []),
            *_hypervolume_line(study)]


def _hypervolume_line(study: Any) -> list[str]:
    """With the search's reference point: the hypervolume its front dominates (else nothing:
    a reference made up from the data would change from one call to the next)."""
    from ..analysis.view import view

    v = view(study)
    if v.reference_point is None or not study.best_trials:
        return []
    from ..analysis.pareto import hypervolume_history  # loads numba: only when it is needed

    _, hv, ref = hypervolume_history(v)
    where = ", ".join(f"{_field(m)} {_num(x)}" for m, x in ref.items())
    return [f"Hypervolume below the reference point ({where}): {_num(float(hv[-1]))}"]


# ---------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------


def _status_text(root: str, last: int) -> tuple[str, bool]:
    """The status page of the study under ``root`` and whether its driver is alive."""
    from ..analysis.tables import format_table
    from ..trial import TrialState

    study = _load(root)
    holder, planned = _driver(Path(root))
    now = time.time()
    counts = study.counts()
    finished = [t for t in study.trials if t.state.is_finished]
    running = [t for t in study.trials if t.state is TrialState.RUNNING]
    label = _field(study.metric or "value")
    multi = study.objectives.multi
    what = (_field(study.objectives.describe()) if multi or study.objectives.constraints else
            f"{label} ({'minimised' if study.mode == 'min' else 'maximised'})")
    lines = [
        f"study     {_field(study.name)}: {_field(study.strategy)}, {what}, "
        + ("no seed" if study.seed is None else f"seed {study.seed}"),
        f"root      {root}",
    ]
    if holder is not None:
        who = f"pid {_field(holder.get('pid', '?'))} on {_field(holder.get('host', '?'))}"
        since = holder.get("since")
        running_for = f", for {_clock(now - since)}" if isinstance(since, (int, float)) else ""
        lines.append(f"driver    running ({who}{running_for})")
    else:
        lines.append("driver    not running (the search ended, was stopped or died)")
    warm = study.settings.get("warm_start")
    if isinstance(warm, list) and warm:
        lines.append("warm from " + ", ".join(
            f"{_field(w.get('root', '?'))} ({_field(w.get('observations', '?'))} observations)"
            for w in warm if isinstance(w, dict)))
    progress = f"{len(finished)} finished"
    if isinstance(planned, int):
        progress += f" of {planned}"
    elif isinstance(study.settings.get("size"), int) and study.strategy == "GridSearch":
        progress += f" (the grid has {study.settings['size']} points)"
    progress += f", {len(running)} running"
    states = ", ".join(f"{s} {n}" for s, n in sorted(counts.items())) or "no trials yet"
    lines.append(f"trials    {progress}; {states}")
    if counts.get("interrupted"):
        lines.append("          (interrupted trials run again when the search is resumed)")
    best = None if multi else study.best_trial
    if multi:
        lines += ["", *_front_lines(study)]
    elif best is None:
        lines.append("best      - (no completed trial yet)")
    else:
        lines.append(f"best      {label}={_num(best.value)} (trial {best.trial_id}, {best.state})")
        for key, value in best.params.items():
            lines.append(f"          {_field(key)} = {_short(value)}")
    if running:
        lines += ["", f"running ({len(running)})"]
        rows = []
        for t in running:
            last_report, n_reports = _live_reports(study, t)
            rows.append([
                str(t.trial_id),
                _clock(None if t.start is None else now - t.start),
                str(n_reports),
                str(last_report.get("step", "-")),
                _num(last_report.get("value")),
                _params_text(t.params),
            ])
        header = ["trial", "elapsed", "reports", "step", f"last {label}", "params"]
        table = _table(header, rows, (1, 2, 3, 4))
        lines += ["  " + row for row in table.splitlines()]
    if finished and last > 0:
        recent = sorted(finished, key=lambda t: (t.end or 0.0, t.trial_id))[-last:]
        lines += ["", f"last finished ({len(recent)} of {len(finished)})"]
        table = format_table(recent, label, best_id=None if best is None else best.trial_id)
        lines += ["  " + row for row in table.splitlines()]
    return "\n".join(lines), holder is not None


def _live_reports(study: Any, trial: Any) -> tuple[dict[str, Any], int]:
    """A running trial's last report and how many it made so far.

    The run loop stores a running trial's reports at least every second; a
    study written before it did (or between two writes) also has them in the
    trial folder's ``metrics.jsonl``, appended line by line.
    """
    if trial.reports:
        return trial.reports[-1], len(trial.reports)
    try:
        data = (study.trial_dir(trial.trial_id) / "metrics.jsonl").read_bytes()
    except OSError:
        return {}, 0
    lines = [line for line in data.split(b"\n") if line.strip()]
    for line in reversed(lines):
        try:
            return json.loads(line), len(lines)
        except ValueError:  # the line being written
            continue
    return {}, 0


def _cmd_status(args: argparse.Namespace) -> int:
    if args.watch is None:
        _out(_status_text(args.root, args.last)[0])
        return 0
    clear = sys.stdout.isatty()
    try:
        while True:
            text, alive = _status_text(args.root, args.last)
            if clear:
                sys.stdout.write("\x1b[H\x1b[2J")
            else:
                print(f"--- {time.strftime('%H:%M:%S')}")
            _out(text)
            if not alive:
                print("\nthe search's driver is not running: stopped watching.", flush=True)
                return 0
            time.sleep(args.watch)
    except KeyboardInterrupt:
        print()
        return 0


# ---------------------------------------------------------------------------
# best
# ---------------------------------------------------------------------------


def _cmd_best(args: argparse.Namespace) -> int:
    from .._io import jsonable as _jsonable

    dump: Any = None
    if args.format == "yaml":
        try:
            import yaml
        except ImportError:
            raise _Fail(
                "--format yaml needs PyYAML: pip install pyyaml (or use --format json)."
            ) from None
        dump = yaml
    study = _load(args.root)
    if study.objectives.multi:
        return _best_front(study, args, dump)
    best = study.best_trial
    if best is None:
        states = ", ".join(f"{n} {s}" for s, n in sorted(study.counts().items())) or "none"
        raise _Fail(f"no completed trial in {args.root} yet (trials: {states}).")
    doc = _jsonable(study.best_params if args.params_only else study.best_config)
    if dump is not None:
        text = dump.safe_dump(doc, sort_keys=False, default_flow_style=False).rstrip("\n")
    else:
        text = json.dumps(doc, indent=2)
    _out(
        f"best {_field(study.metric or 'value')}={_num(best.value)} (trial {best.trial_id} of "
        f"{len(study.trials)}) in {_field(args.root)}",
        file=sys.stderr,
    )
    _out(text)
    return 0


def _best_front(study: Any, args: argparse.Namespace, dump: Any) -> int:
    """``hpcore best`` with several objectives: the front on stderr, and on stdout a
    list with each front trial's id, values by metric and params (or config)."""
    from .._io import jsonable as _jsonable
    from ..config import apply_params

    front = study.best_trials
    if not front:
        states = ", ".join(f"{n} {s}" for s, n in sorted(study.counts().items())) or "none"
        raise _Fail(f"no completed (feasible) trial in {args.root} yet (trials: {states}).")
    doc = [{"trial_id": t.trial_id,
            "values": dict(zip(study.objectives.metrics, t.values)),
            ("params" if args.params_only else "config"):
                t.params if args.params_only else apply_params(study.base_config, t.params)}
           for t in front]
    doc = _jsonable(doc)
    _out("\n".join(_front_lines(study)), file=sys.stderr)
    if dump is not None:
        _out(dump.safe_dump(doc, sort_keys=False, default_flow_style=False).rstrip("\n"))
    else:
        _out(json.dumps(doc, indent=2))
    return 0


# ---------------------------------------------------------------------------
# report and compare
# ---------------------------------------------------------------------------


def _need_matplotlib(what: str) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise _Fail(f"{what} needs matplotlib: pip install 'hpcore[plot]'.") from None


def _cmd_report(args: argparse.Namespace) -> int:
    try:
        from ..analysis.report import write_report
    except ImportError as exc:
        raise _Fail(f"hpcore.report is not available in this installation ({exc}).") from None
    _need_matplotlib("hpcore report")
    study = _load(args.root)
    out = Path(args.out) if args.out else Path(args.root) / "report"
    path = write_report(study, out, title=args.title)
    print(path)
    return 0


def _labels(roots: Sequence[str]) -> list[str]:
    """Short unique names for studies: the folder's name, or the path when names clash."""
    names = [Path(r).name or r for r in roots]
    return [n if names.count(n) == 1 else r for n, r in zip(names, roots)]


def _cmd_compare(args: argparse.Namespace) -> int:
    studies = [_load(r) for r in args.roots]
    labels = _labels(args.roots)
    several = [n for n, s in zip(labels, studies) if s.objectives.multi]
    if several:
        raise _Fail(f"hpcore compare ranks studies by one best value; {', '.join(several)} "
                    "has several objectives (see its front with hpcore best or hpcore report).")
    modes = {s.mode for s in studies}
    metrics = {s.metric for s in studies}
    if len(metrics) > 1 or len(modes) > 1:
        what = ", ".join(f"{n}: {_field(s.metric)} ({s.mode})" for n, s in zip(labels, studies))
        _out(f"note: the studies optimise different metrics or modes ({what}); their "
             "values do not compare.", file=sys.stderr)
    winner = None
    if len(modes) == 1:
        sign = 1.0 if modes == {"min"} else -1.0
        scored = [(sign * s.best_value, i) for i, s in enumerate(studies)
                  if s.best_value is not None]
        winner = min(scored)[1] if scored else None
    rows = []
    for i, (name, s) in enumerate(zip(labels, studies)):
        best = s.best_trial
        finished = [t for t in s.trials if t.state.is_finished]
        starts = [t.start for t in s.trials if t.start is not None]
        ends = [t.end for t in s.trials if t.end is not None]
        wall = max(ends) - min(starts) if starts and ends else None
        rows.append([
            _field(name) + (" *" if i == winner else ""),
            _field(s.strategy),
            f"{_field(s.metric or 'value')} ({s.mode})",
            f"{len(finished)}/{len(s.trials)}",
            _num(None if best is None else best.value),
            "-" if best is None else f"{best.trial_id + 1}/{len(s.trials)}",
            "-" if wall is None else f"{wall:.1f}s",
        ])
    header = ["study", "strategy", "metric", "finished", "best value", "trials to best", "time"]
    _out(_table(header, rows, right=(3, 4, 5, 6)))
    if args.out:
        _need_matplotlib("hpcore compare --out")
        from .._io import write_bytes_atomic
        from ..analysis.plots import plot_comparison
        from ..analysis.report import report_folder

        out = report_folder(args.out)
        image = io.BytesIO()
        plot_comparison(dict(zip(labels, studies))).savefig(image, format="png", dpi=100)
        path = write_bytes_atomic(out / "comparison.png", image.getvalue())
        print(f"\nplot written to {path}")
    return 0


# ---------------------------------------------------------------------------
# run and demo
# ---------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    from ..analysis.tables import format_table
    from .spec import build_search, load_spec, load_train_fn, run_kwargs

    spec = load_spec(args.spec)
    search = build_search(spec)
    train_fn = load_train_fn(spec)
    kwargs = run_kwargs(spec, 0 if args.quiet else (None if sys.stderr.isatty() else 1))
    if args.executor:
        kwargs["executor"] = args.executor
    root = kwargs.get("experiment_root")
    if args.check:
        budget = getattr(search, "size", None) if spec.n_trials is None else spec.n_trials
        print(f"{args.spec}: OK: {spec.search} search over {len(spec.space)} key(s) "
              f"({', '.join(spec.space)}), {budget or 'default'} trials, train "
              f"{spec.train}, {len(spec.stopping)} stopping rule(s), "
              + (f"{len(spec.enqueue)} enqueued configuration(s) first, " if spec.enqueue else "")
              + (f"stored in {root}" if root else "not stored (no experiment_root)"))
        return 0
    n_jobs = kwargs.pop("n_jobs", 1)
    search.run(train_fn, n_jobs, **kwargs)
    if search.objectives.multi:
        print("\n".join(_front_lines(search)))
        if root:
            print(f"\nstudy stored in {root}: hpcore best {root} | hpcore report {root}",
                  file=sys.stderr)
        return 0
    best = search.best_trial
    print(format_table(search.trials, search.metric, best_id=best.trial_id, max_rows=50))
    print(f"\nbest {search.metric or 'value'}={_num(best.value)} (trial {best.trial_id}); "
          "best config:")
    from .._io import jsonable as _jsonable

    print(json.dumps(_jsonable(search.best_config), indent=2))
    if root:
        print(f"\nstudy stored in {root}: hpcore status {root} | hpcore report {root}",
              file=sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    trials, epochs = (4, 2) if args.quick else (args.trials, args.epochs)
    run_demo(
        out=args.out,
        n_trials=trials,
        epochs=epochs,
        n_jobs=args.n_jobs,
        seed=args.seed,
        verbose=not args.quiet,
    )
    return 0



# ---------------------------------------------------------------------------
# dashboard
# ---------------------------------------------------------------------------


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from ..dashboard import serve

    for root in args.roots:
        if not os.path.isdir(root):
            raise _Fail(f"{root!r} is not a folder: give experiment roots or folders holding them")
    try:
        serve(args.roots, host=args.host, port=args.port, token=args.token,
              open_browser=args.open, allow_control=args.allow_control)
    except KeyboardInterrupt:
        pass
    return 0
