"""The ``hpcore`` command line's parser: every command, its options and help.

The commands themselves are in :mod:`.commands`; :func:`hpcore.cli.main` ties them.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from .._version import __version__

__all__ = ["build_parser"]

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


def build_parser() -> argparse.ArgumentParser:
    """The ``hpcore`` parser: one sub-parser per command."""
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
            "  hpcore dashboard experiments      a live web dashboard of every study there\n"
            "  hpcore demo                       the README's main job\n"
            "\n'hpcore COMMAND --help' describes each command."
        ),
    )
    parser.add_argument("--version", action="version", version=f"hpcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    _add_status(sub)
    _add_best(sub)
    _add_report(sub)
    _add_compare(sub)
    _add_run(sub)
    _add_demo(sub)
    _add_dashboard(sub)
    return parser


def _add_status(sub: Any) -> None:
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


def _add_best(sub: Any) -> None:
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


def _add_report(sub: Any) -> None:
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


def _add_compare(sub: Any) -> None:
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


def _add_run(sub: Any) -> None:
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
            "  hpcore run search.toml --check     check the spec and the train function, run nothing\n"
            "  hpcore run search.toml --executor tcp://10.0.0.5:8786   trials on a Dask cluster"
        ),
    )
    run.add_argument("spec", help="the spec file (.toml, or .yaml/.yml with PyYAML)")
    run.add_argument("--check", action="store_true",
                     help="check the spec, build the search, import train; run nothing")
    run.add_argument("--quiet", action="store_true", help="no progress bar or line per trial")
    run.add_argument("--executor", metavar="ADDRESS",
                     help="run the trials on the Dask cluster whose scheduler is at ADDRESS "
                     "(tcp://host:8786); overrides [run] executor")


def _add_demo(sub: Any) -> None:
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


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 (a free port) to 65535, got {value}")
    return value


def _add_dashboard(sub: Any) -> None:
    dash = sub.add_parser(
        "dashboard",
        help="serve a live web dashboard of the studies under ROOT...",
        description=(
            "Serve a local web app that shows every study under the given folders (experiment "
            "roots, or folders holding them) and updates while their searches run: the study "
            "list, each study's trials, running trials and their learning curves, charts, and "
            "a compare view. It only reads the studies, unless --allow-control lets the page ask "
            "a search to stop one of its running trials. Needs pip install 'hpcore[dashboard]'."
        ),
        formatter_class=_RAW,
        epilog=(
            "examples:\n"
            "  hpcore dashboard experiments             every study under experiments/\n"
            "  hpcore dashboard runs/a runs/b --open    two roots, opened in the browser\n"
            "  hpcore dashboard experiments --host 0.0.0.0 --port 8080\n"
            "                                           reachable from other machines, with a token\n"
            "  hpcore dashboard experiments --allow-control\n"
            "                                           a Stop button on running trials (token printed)"
        ),
    )
    dash.add_argument("roots", nargs="+", metavar="ROOT", help="experiment roots or their parents")
    dash.add_argument("--host", default="127.0.0.1",
                      help="address to listen on (default 127.0.0.1; any other needs the token)")
    dash.add_argument("--port", type=_port, default=0, help="port (default 0: a free one)")
    dash.add_argument("--token", default=None,
                      help="require this token (made and printed when --host is not local)")
    dash.add_argument("--open", action="store_true", help="open the page in a browser")
    dash.add_argument("--allow-control", action="store_true",
                      help="let the page stop running trials (the driver is asked through a file "
                           "under the root); always needs the token, which is printed")
