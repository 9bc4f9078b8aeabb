"""The ``hpcore`` command line.

``hpcore status|best|report|compare`` read studies stored under an
``experiment_root`` (read-only: safe while a search runs there);
``hpcore run spec.toml`` runs a search described in a file
(:mod:`hpcore.cli.spec`); ``hpcore demo`` runs the README's main job.
Errors a user can cause end with a one-line message on stderr and exit
status 1 (2 for a malformed command line).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._version import __version__

__all__ = ["main"]

_RAW = argparse.RawDescriptionHelpFormatter


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text}")
    return value


class _Fail(Exception):
    """A user error: printed as ``hpcore <command>: error: <message>``, exit status 1."""


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hpcore",
        description="Hyperparameter search: grid, random, Bayesian and Hyperband.",
        formatter_class=_RAW,
        epilog=(
            "examples:\n"
            "  hpcore run search.toml            run the search a spec file describes\n"
            "  hpcore status experiments/search  what a running or finished study is doing\n"
            "  hpcore best experiments/search    the best config as JSON\n"
            "  hpcore report experiments/search  plots and report.html\n"
            "  hpcore demo                       the README's main job\n"
            "\n'hpcore COMMAND --help' describes each command."
        ),
    )
    parser.add_argument("--version", action="version", version=f"hpcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = sub.add_parser(
        "status",
        help="trials by state, the best so far, running and recent trials of a study",
        description=(
            "Show a study stored under ROOT (a search's experiment_root): its trials by "
            "state, progress, the best value so far with its parameters, the running "
            "trials with their elapsed time and last report, and the last finished "
            "trials. Reads the study without writing anything, so it is safe while the "
            "search runs. Trials that were running when their driver died show as "
            "interrupted (a resumed search runs them again)."
        ),
        formatter_class=_RAW,
        epilog=(
            "examples:\n"
            "  hpcore status experiments/search\n"
            "  hpcore status experiments/search --watch 5    redraw every 5 s until the search ends\n"
            "  hpcore status experiments/search --last 10"
        ),
    )
    status.add_argument("root", help="the study's experiment_root")
    status.add_argument(
        "--watch", type=_positive_float, metavar="SECONDS",
        help="redraw every SECONDS until the search's driver is gone (or Ctrl-C)",
    )
    status.add_argument("--last", type=int, default=5, metavar="N",
                        help="finished trials to list (default 5)")

    best = sub.add_parser(
        "best",
        help="the best config of a study, as JSON or YAML",
        description=(
            "Print the best trial's full config (the base config with its searched values "
            "set) of the study under ROOT, ready to paste into a config file; with "
            "--params-only, just the searched values by dotted key. The value and trial "
            "id go to stderr, so stdout holds only the document."
        ),
        formatter_class=_RAW,
        epilog=(
            "examples:\n"
            "  hpcore best experiments/search > best.json\n"
            "  hpcore best experiments/search --params-only\n"
            "  hpcore best experiments/search --format yaml    (needs PyYAML)"
        ),
    )
    best.add_argument("root", help="the study's experiment_root")
    best.add_argument("--format", choices=("json", "yaml"), default="json",
                      help="output format (default json; yaml needs PyYAML)")
    best.add_argument("--params-only", action="store_true",
                      help="only the searched values, by dotted key")

    report = sub.add_parser(
        "report",
        help="write every plot as PNG and a self-contained report.html",
        description=(
            "Draw every plot of the study under ROOT as PNG and write report.html (one "
            "file, images embedded) into --out (default ROOT/report), then print the "
            "path of report.html. Needs matplotlib (pip install 'hpcore[plot]')."
        ),
        formatter_class=_RAW,
        epilog=(
            "examples:\n"
            "  hpcore report experiments/search\n"
            "  hpcore report experiments/search --out /tmp/lr-sweep --title 'lr sweep'"
        ),
    )
    report.add_argument("root", help="the study's experiment_root")
    report.add_argument("--out", help="output folder (default: ROOT/report)")
    report.add_argument("--title", help="the page's heading (default: the study name)")

    compare = sub.add_parser(
        "compare",
        help="a table comparing studies (and a plot with --out)",
        description=(
            "Compare studies side by side: strategy, trials, the best value, the trials "
            "it took to reach it and the time from the first trial's start to the last "
            "one's end; the best study is marked with *. With --out, also save "
            "comparison.png there: the best value so far against the trial number, per "
            "study (needs matplotlib)."
        ),
        formatter_class=_RAW,
        epilog=(
            "examples:\n"
            "  hpcore compare experiments/demo/grid experiments/demo/random experiments/demo/bayesian\n"
            "  hpcore compare runs/a runs/b --out runs/compare"
        ),
    )
    compare.add_argument("roots", nargs="+", metavar="ROOT", help="experiment roots")
    compare.add_argument("--out", help="folder for comparison.png")

    run = sub.add_parser(
        "run",
        help="run a search described in a TOML (or YAML) spec file",
        description=(
            "Run the search a spec file describes, with no Python script: the search "
            "(grid, random, bayesian, hyperband), base config, search space, metric, "
            "train function as module:function (imported from the current directory), "
            "how to run trials ([run]: n_jobs, experiment_root, gpus_per_trial, "
            "trial_timeout, max_retries...) and stopping rules. The whole spec is "
            "checked before the first trial; every problem is listed with its key. "
            "YAML specs need PyYAML. See docs/cli.md for the format."
        ),
        formatter_class=_RAW,
        epilog=(
            "example spec (search.toml):\n"
            '  search = "random"\n'
            '  train = "train:train_fn"        # train_fn in ./train.py\n'
            '  metric = "val_loss"\n'
            "  n_trials = 20\n"
            "  seed = 0\n"
            "  [base_config]\n"
            "  training = { lr = 1e-3, epochs = 10 }\n"
            "  [space]\n"
            '  "training.lr" = { type = "real", low = 1e-5, high = 1e-2, log = true }\n'
            "  [run]\n"
            "  n_jobs = 2\n"
            '  experiment_root = "experiments/search"\n'
            "\nexamples:\n"
            "  hpcore run search.toml\n"
            "  hpcore run search.toml --check     check the spec and the train function, run nothing"
        ),
    )
    run.add_argument("spec", help="the spec file (.toml, or .yaml/.yml with PyYAML)")
    run.add_argument("--check", action="store_true",
                     help="check the spec, build the search, import train; run nothing")
    run.add_argument("--quiet", action="store_true", help="no progress bar or line per trial")

    demo = sub.add_parser(
        "demo",
        help="search a small torch network on the bundled digits data (the README's main job)",
        description=(
            "Train an MLP on scikit-learn's bundled digits with grid, random and Bayesian "
            "search on the same budget, print each search's trials and a comparison, and "
            "write under --out, per search: the study (hpcore status/best/report work on "
            "it), trials.json, trials.csv, best.json and report/report.html; and "
            "summary.json and comparison.png for all. Each run starts the studies afresh."
        ),
        formatter_class=_RAW,
        epilog=(
            "examples:\n"
            "  hpcore demo                  about two minutes on two cores\n"
            "  hpcore demo --quick          4 trials of 2 epochs per search, to check a setup\n"
            "  hpcore status experiments/demo/bayesian\n"
            "  hpcore compare experiments/demo/grid experiments/demo/random experiments/demo/bayesian"
        ),
    )
    demo.add_argument("--out", default="experiments/demo", help="results folder")
    demo.add_argument("--trials", type=_positive_int, default=24, help="budget per search")
    demo.add_argument("--epochs", type=_positive_int, default=60, help="epochs per trial")
    demo.add_argument("--n-jobs", type=int, default=2, help="trials at once (-1: every core)")
    demo.add_argument("--seed", type=int, default=0, help="random_state of the searches")
    demo.add_argument(
        "--quick", action="store_true", help="a tiny run (4 trials of 2 epochs) to check the setup"
    )
    demo.add_argument("--quiet", action="store_true", help="no line per trial")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hpcore`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handler = {
        "status": _cmd_status,
        "best": _cmd_best,
        "report": _cmd_report,
        "compare": _cmd_compare,
        "run": _cmd_run,
        "demo": _cmd_demo,
    }[args.command]
    from ..errors import HpcoreError

    try:
        code = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        # The reader went away (`hpcore best ROOT | head -1`): stop quietly, as other
        # command-line tools do, with the shell's status for SIGPIPE. Output still
        # buffered goes nowhere instead of raising again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (_Fail, HpcoreError, FileNotFoundError, PermissionError) as exc:
        print(f"hpcore {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"hpcore {args.command}: interrupted", file=sys.stderr)
        return 130


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


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return repr(value) if isinstance(value, str) else str(value)


def _clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = max(0, int(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in params.items())


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths))
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


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
    label = study.metric or "value"
    lines = [
        f"study     {study.name}: {study.strategy}, {label} "
        f"({'minimised' if study.mode == 'min' else 'maximised'}), "
        + ("no seed" if study.seed is None else f"seed {study.seed}"),
        f"root      {root}",
    ]
    if holder is not None:
        who = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
        since = holder.get("since")
        running_for = f", for {_clock(now - since)}" if isinstance(since, (int, float)) else ""
        lines.append(f"driver    running ({who}{running_for})")
    else:
        lines.append("driver    not running (the search ended, was stopped or died)")
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
    best = study.best_trial
    if best is None:
        lines.append("best      - (no completed trial yet)")
    else:
        lines.append(f"best      {label}={_num(best.value)} (trial {best.trial_id}, {best.state})")
        for key, value in best.params.items():
            lines.append(f"          {key} = {_short(value)}")
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

    The database gets a trial's reports when it ends; while it runs they are
    in its folder's ``metrics.jsonl`` (tracked studies), appended line by line.
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
        print(_status_text(args.root, args.last)[0])
        return 0
    clear = sys.stdout.isatty()
    try:
        while True:
            text, alive = _status_text(args.root, args.last)
            if clear:
                sys.stdout.write("\x1b[H\x1b[2J")
            else:
                print(f"--- {time.strftime('%H:%M:%S')}")
            print(text, flush=True)
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
    best = study.best_trial
    if best is None:
        states = ", ".join(f"{n} {s}" for s, n in sorted(study.counts().items())) or "none"
        raise _Fail(f"no completed trial in {args.root} yet (trials: {states}).")
    doc = _jsonable(study.best_params if args.params_only else study.best_config)
    if dump is not None:
        text = dump.safe_dump(doc, sort_keys=False, default_flow_style=False).rstrip("\n")
    else:
        text = json.dumps(doc, indent=2)
    print(
        f"best {study.metric or 'value'}={_num(best.value)} (trial {best.trial_id} of "
        f"{len(study.trials)}) in {args.root}",
        file=sys.stderr,
    )
    print(text)
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
    modes = {s.mode for s in studies}
    metrics = {s.metric for s in studies}
    if len(metrics) > 1 or len(modes) > 1:
        what = ", ".join(f"{n}: {s.metric} ({s.mode})" for n, s in zip(labels, studies))
        print(f"note: the studies optimise different metrics or modes ({what}); their "
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
            name + (" *" if i == winner else ""),
            s.strategy,
            f"{s.metric or 'value'} ({s.mode})",
            f"{len(finished)}/{len(s.trials)}",
            _num(None if best is None else best.value),
            "-" if best is None else f"{best.trial_id + 1}/{len(s.trials)}",
            "-" if wall is None else f"{wall:.1f}s",
        ])
    header = ["study", "strategy", "metric", "finished", "best value", "trials to best", "time"]
    print(_table(header, rows, right=(3, 4, 5, 6)))
    if args.out:
        _need_matplotlib("hpcore compare --out")
        from ..analysis.plots import plot_comparison

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        fig = plot_comparison(dict(zip(labels, studies)))
        path = out / "comparison.png"
        fig.savefig(path, dpi=100)
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
    root = kwargs.get("experiment_root")
    if args.check:
        budget = getattr(search, "size", None) if spec.n_trials is None else spec.n_trials
        print(f"{args.spec}: OK: {spec.search} search over {len(spec.space)} key(s) "
              f"({', '.join(spec.space)}), {budget or 'default'} trials, train "
              f"{spec.train}, {len(spec.stopping)} stopping rule(s), "
              + (f"stored in {root}" if root else "not stored (no experiment_root)"))
        return 0
    n_jobs = kwargs.pop("n_jobs", 1)
    search.run(train_fn, n_jobs, **kwargs)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
