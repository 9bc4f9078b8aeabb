"""Every shell line of the ```bash blocks in README.md and docs/*.md is accountable.

tests/test_docs.py runs the ```python blocks; this test does the same for
the shell blocks (```bash, ```sh, ```shell, ```console, ```zsh) of every
page, globbed at collection, so a new page is covered when it lands. A
command is a logical line (backslash continuations joined, reported at its
first line; blank lines and ``# comment`` lines skipped; a ``$ `` prompt
stripped), split by ``shlex``. ``a && b`` chains are checked part by part.
Each part is one of three kinds, or the test fails naming the page and line:

1. **hpcore** (``hpcore ...``, ``.venv/bin/hpcore ...``, ``python -m hpcore
   ...``): parsed with hpcore's own parser (abbreviated flags refused), then
   run for real as ``python -m hpcore ...`` (what the ``hpcore`` entry point
   calls) on real studies that the module fixture ``workdir`` stores at the
   paths the docs use (``STUDIES``), with the tmp dir as current directory.
   Exit status 0 and a sensible output are checked per command (``check_*``):
   the status page, the best config equal to ``hpcore.load(root)``'s, the
   report page written where expected, one table row per compared study,
   the study a spec run stores. ``> FILE`` is done by the test (the file gets
   stdout); other shell syntax in an hpcore line fails. Arguments under
   ``/tmp/`` are moved into the tmp dir, so a run never writes to the real
   ``/tmp``. ``--watch`` runs as written: the fixture's studies have no live
   driver, so it draws one page and stops (a timeout guards it).
   ``hpcore run SPEC`` runs in a fresh folder holding the files the docs
   show (a fenced block right after a paragraph that starts with
   ```name.ext```: docs/cli.md's ``search.toml`` and ``train.py``; a page
   that names no SPEC block but shows a ```toml block above the line gets
   that one), so the docs' own spec and train function run, from scratch.

   ``hpcore demo`` is the exception: it is parsed and dispatched in-process
   by ``hpcore.cli.main`` with ``hpcore.cli.demo.run_demo`` replaced by a
   recorder, and the recorded arguments are checked against what the
   line's comment claims ("24 trials of 60 epochs per search, two
   workers"). A real demo trains torch networks: the plain line takes two
   minutes, and even ``--quick`` takes ~40 s here (each search starts two
   workers that import torch), more than this whole test may spend. The
   ``--quick`` demo runs for real in tests/test_cli.py
   (``test_demo_quick_runs_a_real_search_and_writes_results``); here the
   fixture stores the studies the docs read under ``experiments/demo``
   (the demo's default ``--out``) with the demo's own searches
   (``hpcore.cli.demo.demo_searches``, the ``--quick`` budget) and a stand-in
   for the torch training.

2. **benchmark** (``python -m benchmarks.<module> ARGS``): not run (they
   take minutes); the module must import and expose ``build_parser()``
   (or ``parse_args(argv)``), which must accept ARGS (abbreviated flags
   refused). A comment ``# and ARGS`` names another form, checked too.

3. **not run**: the commands of ``NOT_RUN``, each with its reason
   (installing, creating a venv, starting cluster daemons, the suite
   itself), and what can still be checked without running them: the
   extras that ``pip install`` names exist in pyproject.toml; ``dask
   scheduler`` / ``dask worker`` options parse with dask's own command line
   and a ``DASK_*`` variable names a real dask config key; ``python -m
   pytest`` is given nothing but paths that exist.

The ``test_checker_*`` tests at the end feed the checker bad lines (an
unknown command, a misspelt flag, a missing module or study, a failing
command, a false comment) and show that each is caught.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import html
import importlib
import importlib.util
import io
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

import hpcore

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCES = {"bash", "sh", "shell", "console", "zsh"}
FILE_EXTENSIONS = {"toml", "yaml", "yml", "py", "json", "cfg", "ini", "txt"}

if str(ROOT) not in sys.path:  # the benchmarks package lives beside hpcore
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------
# Reading the pages
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ShellLine:
    page: str  # relative to the repository root
    lineno: int  # the first line of a continued command
    text: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.lineno}"


def shell_lines(text: str, page: str) -> list[ShellLine]:
    """The commands of the shell blocks of a Markdown page."""
    out: list[ShellLine] = []
    fence: str | None = None  # the open block's language ("" if none), None outside
    pending: list[str] = []
    start = 0
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            if fence is None:
                words = stripped[3:].split()
                fence = words[0].lower() if words else ""
                continue
            if stripped == "```":
                if pending:
                    out.append(ShellLine(page, start, " ".join(pending)))
                    pending = []
                fence = None
                continue
        if fence not in SHELL_FENCES:
            continue
        if not pending:
            if stripped.startswith("$ "):
                stripped = stripped[2:].strip()
            elif fence == "console":
                continue  # a console block's other lines are output
            if not stripped or stripped.startswith("#"):
                continue
            start = n
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        out.append(ShellLine(page, start, " ".join(pending)))
        pending = []
    return out


def all_shell_lines() -> list[ShellLine]:
    lines = []
    for page in PAGES:
        lines += shell_lines(page.read_text(encoding="utf-8"), page.relative_to(ROOT).as_posix())
    return lines


@dataclasses.dataclass(frozen=True)
class Block:
    lineno: int  # of the opening fence
    lang: str
    text: str
    name: str | None  # ``name.ext`` when the paragraph before it starts with it


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a page, named when right after a paragraph starting ```name.ext```."""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        end = next((k for k in range(i + 1, len(lines)) if lines[k].strip() == "```"), len(lines))
        name = None
        j = i - 1
        if j >= 1 and not lines[j].strip():
            while j > 0 and lines[j - 1].strip():
                j -= 1  # up to the paragraph's first line
            m = re.match(r"`([\w.-]+\.(\w+))`", lines[j])
            if m and m.group(2) in FILE_EXTENSIONS and j < i - 1:
                name = m.group(1)
        words = lines[i][3:].split()
        out.append(Block(i + 1, words[0].lower() if words else "",
                         "\n".join(lines[i + 1:end]) + "\n", name))
        i = end + 1
    return out


def files_for(page: str, before: int | None = None, spec: str | None = None) -> dict[str, str]:
    """The files the docs show (named blocks), the page's own ones taking precedence.

    With ``spec`` (a file name) and ``before`` (a line number): a page that names no
    block ``spec`` but has a block in its language (toml, yaml) above that line gets
    the nearest such block as ``spec``, so a page's own spec is the one tested.
    """
    files: dict[str, str] = {}
    own = blocks((ROOT / page).read_text(encoding="utf-8")) if (ROOT / page).is_file() else []
    for p in PAGES:
        files.update({b.name: b.text for b in blocks(p.read_text(encoding="utf-8")) if b.name})
    files.update({b.name: b.text for b in own if b.name})
    if spec and before and not any(b.name == spec for b in own):
        lang = {"yml": "yaml"}.get(spec.rsplit(".", 1)[-1], spec.rsplit(".", 1)[-1])
        above = [b for b in own if b.lang == lang and b.lineno < before]
        if above:
            files[spec] = above[-1].text
    return files


# ---------------------------------------------------------------------------
# Splitting a line into commands
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Command:
    env: dict[str, str]
    argv: list[str]
    stdout_to: str | None = None
    background: bool = False

    @property
    def program(self) -> str:
        """argv[0] without a ``.venv/bin/`` (any folder) in front."""
        return self.argv[0].rsplit("/", 1)[-1]

    @property
    def words(self) -> tuple[str, ...]:
        return (self.program, *self.argv[1:])


def _fail(line: ShellLine, message: str) -> None:
    raise AssertionError(f"{line.where}: `{line.text}`: {message}")


def comment_of(line: ShellLine) -> str:
    m = re.search(r"(?:^|\s)#\s*(.*)$", line.text)
    return m.group(1).strip() if m else ""


def split_commands(line: ShellLine) -> list[Command]:
    """The ``&&``-chained commands of a line; other shell syntax fails."""
    lex = shlex.shlex(line.text, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    tokens = list(lex)
    groups: list[list[str]] = [[]]
    for tok in tokens:
        if tok == "&&":
            groups.append([])
        else:
            groups[-1].append(tok)
    commands = []
    for group in groups:
        env: dict[str, str] = {}
        while group and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", group[0]):
            name, value = group.pop(0).split("=", 1)
            env[name] = value
        cmd = Command(env, [])
        i = 0
        while i < len(group):
            tok = group[i]
            if tok == ">" and i + 1 < len(group) and cmd.stdout_to is None:
                cmd.stdout_to = group[i + 1]
                i += 2
                continue
            if tok == "&" and i == len(group) - 1:
                cmd.background = True
            elif tok and set(tok) <= set("();<>|&"):
                _fail(line, f"shell syntax {tok!r} is not supported by this test: write the "
                            "command plainly or teach tests/test_docs_shell.py the syntax")
            else:
                cmd.argv.append(tok)
            i += 1
        if not cmd.argv:
            _fail(line, "an empty command")
        commands.append(cmd)
    return commands


def _strict(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Refuse abbreviated flags (argparse takes ``--seed`` for ``--seeds``)."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _strict(sub)
    return parser


def _parse(line: ShellLine, parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return _strict(parser).parse_args(argv)
    except SystemExit:
        _fail(line, f"the arguments {argv} do not parse: {err.getvalue().strip().splitlines()[-1]}")
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------
# Kind 3: commands that are not run, and why
# ---------------------------------------------------------------------------

NOT_RUN: dict[tuple[str, ...], str] = {
    ("pip", "install"): "installs packages into the environment",
    ("python3", "-m", "venv"): "creates a virtual environment",
    ("python", "-m", "venv"): "creates a virtual environment",
    ("python", "-m", "pytest"): "the test suite itself (it would run this test again); "
                                ".ci/run runs README's line, see tests/test_readme.py",
    ("dask", "scheduler"): "starts a cluster daemon that serves until killed",
    ("dask", "worker"): "starts a cluster daemon that serves until killed",
}


def _pyproject_extras() -> set[str]:
    from hpcore.cli.spec import _tomllib

    toml = _tomllib(ROOT / "pyproject.toml")
    data = toml.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(data["project"].get("optional-dependencies", {}))


def check_pip(line: ShellLine, cmd: Command) -> None:
    extras = _pyproject_extras()
    for arg in cmd.argv[2:]:
        m = re.fullmatch(r"(?:hpcore|\.)\[([\w,-]+)\]", arg)
        if m:
            for extra in m.group(1).split(","):
                if extra not in extras:
                    _fail(line, f"pyproject.toml has no extra {extra!r} (extras: {sorted(extras)})")


def check_pytest(line: ShellLine, cmd: Command) -> None:
    for arg in cmd.argv[3:]:
        if arg.startswith("-") or not (ROOT / arg.split("::")[0]).exists():
            _fail(line, f"python -m pytest is documented with {arg!r}: only paths that exist "
                        "are checked here")


def check_dask(line: ShellLine, cmd: Command) -> None:
    pytest.importorskip("distributed")
    from importlib.metadata import entry_points

    import click
    import dask.config

    for name in cmd.env:
        if name.startswith("DASK_"):
            key = ".".join(name[len("DASK_"):].lower().split("__"))
            missing = object()
            if dask.config.get(key, default=missing) is missing:
                _fail(line, f"{name} names no dask config key ({key!r})")
    sub = cmd.argv[1]
    (ep,) = [e for e in entry_points(group="dask_cli") if e.name == sub]
    try:
        ep.load().make_context(f"dask {sub}", list(cmd.argv[2:]))
    except click.UsageError as exc:
        _fail(line, f"dask {sub} refuses its options: {exc}")


NOT_RUN_CHECKS: dict[tuple[str, ...], Callable[[ShellLine, Command], None]] = {
    ("pip", "install"): check_pip,
    ("python", "-m", "pytest"): check_pytest,
    ("dask", "scheduler"): check_dask,
    ("dask", "worker"): check_dask,
}


# ---------------------------------------------------------------------------
# Kind 2: benchmark scripts, parsed not run
# ---------------------------------------------------------------------------


def check_benchmark(line: ShellLine, cmd: Command) -> None:
    name = cmd.argv[2]
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        _fail(line, f"no module {name} ({exc})")
    if not hasattr(module, "main"):
        _fail(line, f"{name} has no main(): `python -m {name}` would do nothing")
    forms = [cmd.argv[3:]]
    also = re.fullmatch(r"and (--.*)", comment_of(line))
    if also:
        forms.append(shlex.split(also.group(1)))
    for argv in forms:
        if hasattr(module, "build_parser"):
            _parse(line, module.build_parser(), argv)
        elif hasattr(module, "parse_args"):
            try:
                with contextlib.redirect_stderr(io.StringIO()):
                    module.parse_args(argv)
            except SystemExit:
                _fail(line, f"{name}.parse_args refuses {argv}")
        else:
            _fail(line, f"{name} has neither build_parser() nor parse_args(argv): give its "
                        "main() one, so the docs' command lines can be checked")


# ---------------------------------------------------------------------------
# Kind 1: hpcore, run for real
# ---------------------------------------------------------------------------


def _doc_train(path: Path) -> Callable:
    spec = importlib.util.spec_from_file_location("docs_shell_train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.train_fn


def _run_spec_file(where: Path, root: Path) -> None:
    """The docs' spec as written (``hpcore run search.toml``)."""
    out = subprocess.run([sys.executable, "-m", "hpcore", "run", "search.toml", "--quiet"],
                         cwd=where, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert root.is_dir(), f"docs/cli.md's search.toml no longer stores its study in {root}"


def _random_twin(where: Path, root: Path) -> None:
    """The docs' spec searched at random (the docs compare it with the Bayesian one)."""
    from hpcore.cli.spec import build_search, load_spec

    spec = load_spec(where / "search.toml")
    spec = dataclasses.replace(spec, search="random", options={})
    build_search(spec).run(_doc_train(where / "train.py"), 1, experiment_root=root,
                           verbose=0, stopping=spec.stopping)


def stand_in_digits(config: dict, trial=None) -> dict[str, float]:
    """A cheap stand-in for hpcore.cli.demo.train_digits: a loss that needs no torch."""
    t, m = config["training"], config["model"]
    final = (math.log10(t["lr"]) + 2.0) ** 2 / 4 + abs(math.log2(m["hidden_dim"] / 64)) / 20
    for epoch in range(t["epochs"]):
        if trial is not None:
            trial.report(epoch, final + 1.0 / (epoch + 1))
    return {"val_loss": final, "val_acc": 1.0 / (1.0 + final)}


def _demo_study(name: str) -> Callable[[Path, Path], None]:
    def build(where: Path, root: Path) -> None:
        from hpcore.cli.demo import demo_searches

        search = demo_searches(4, 2, 0)[name]  # the --quick budget
        search.run(stand_in_digits, 1, experiment_root=root, verbose=0)

    return build


def _demo_out() -> str:
    from hpcore.cli.main import _build_parser

    return _build_parser().parse_args(["demo"]).out


def _two_gpus(where: Path, root: Path) -> None:
    """A stand-in for docs/guide.md's two-GPU Bayesian search (its space, no GPU or torch)."""
    from hpcore import Integer, RandomSearch, Real

    base = {"training": {"lr": 1e-3, "epochs": 3}, "model": {"width": 32}}
    space = {"training.lr": Real(1e-4, 1e-1, log=True), "model.width": Integer(8, 128, log=True)}
    search = RandomSearch(base, space, metric="val_loss", n_trials=6, random_state=0)
    search.run(stand_in_train_mlp, 1, experiment_root=root, verbose=0)


def stand_in_train_mlp(config: dict, trial=None) -> dict[str, float]:
    """A cheap stand-in for docs/guide.md's train_mlp."""
    lr, width = config["training"]["lr"], config["model"]["width"]
    final = (math.log10(lr) + 2.5) ** 2 + abs(math.log2(width / 32)) / 10
    for epoch in range(config["training"]["epochs"]):
        if trial is not None:
            trial.report(epoch, final + 1.0 / (epoch + 1))
    return {"val_loss": final}


# The studies the docs' hpcore lines read, by path relative to the current directory.
STUDIES: dict[str, Callable[[Path, Path], None]] = {
    "experiments/lr-sweep": _run_spec_file,
    "experiments/lr-sweep-random": _random_twin,
    "experiments/two-gpus": _two_gpus,
    **{f"{_demo_out()}/{name}": _demo_study(name) for name in ("grid", "random", "bayesian")},
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("docs-shell")
    for name, text in files_for("docs/cli.md").items():
        (where / name).write_text(text, encoding="utf-8")
    for rel, build in STUDIES.items():
        build(where, where / rel)
    return where


def _hpcore(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hpcore", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def _rows(stdout: str) -> list[str]:
    return [r for r in stdout.splitlines() if r.strip()]


def check_status(line, args, out, cwd):
    assert re.search(r"^study     \S+: \w+Search, ", out.stdout, re.M), out.stdout
    assert f"root      {args.root}" in out.stdout, out.stdout
    if args.watch is not None:
        assert out.stdout.rstrip().endswith("stopped watching."), out.stdout


def check_best(line, args, out, cwd):
    if args.format == "yaml":
        import yaml

        doc = yaml.safe_load(out.stdout)
    else:
        doc = json.loads(out.stdout)
    study = hpcore.load(cwd / args.root)
    expected = study.best_params if args.params_only else study.best_config
    assert json.loads(json.dumps(doc)) == json.loads(json.dumps(expected, default=str)), doc
    assert out.stderr.startswith(f"best {study.metric}="), out.stderr


def check_report(line, args, out, cwd):
    page = Path(out.stdout.strip())
    want = Path(args.out) if args.out else Path(args.root) / "report"
    assert page == want / "report.html", out.stdout
    page_text = (cwd / page).read_text(encoding="utf-8")
    if args.title:
        assert f"<title>{html.escape(args.title)}</title>" in page_text


def check_compare(line, args, out, cwd):
    rows = _rows(out.stdout)
    assert rows[0].split()[:3] == ["study", "strategy", "metric"], out.stdout
    names = [r.split()[0] for r in rows[2:2 + len(args.roots)]]
    assert names == [Path(r).name for r in args.roots], out.stdout
    if args.out:
        assert (cwd / args.out / "comparison.png").stat().st_size > 0


def check_run(line, args, out, cwd):
    from hpcore.cli.spec import load_spec

    spec = load_spec(cwd / args.spec)
    root = spec.run.get("experiment_root")
    if args.check:
        assert f"{args.spec}: OK: " in out.stdout, out.stdout
        assert root is None or not (cwd / root).exists(), "--check ran trials"
        return
    assert "best config:" in out.stdout, out.stdout
    if root is not None:
        study = hpcore.load(cwd / root)
        assert len(study.trials) == spec.n_trials and study.best_trial is not None


def check_dashboard(line: ShellLine, argv: list[str], cwd: Path) -> None:
    """The server runs until stopped: start it, check it lists every study under its
    roots, stop it. ``--open`` opens nothing (BROWSER=true)."""
    pytest.importorskip("starlette", reason="the dashboard extra is not installed")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BROWSER": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "hpcore", *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()
        found = re.search(r"hpcore dashboard: (http://\S+/)(\?token=(\S+))?", first)
        if found is None:
            _fail(line, f"printed no address: {first}{proc.stdout.read() if proc.poll() else ''}")
        listed = None
        for _ in range(600):
            try:
                ask = urllib.request.Request(found.group(1) + "api/studies",
                                             headers={"X-Hpcore-Token": found.group(3) or ""})
                with urllib.request.urlopen(ask, timeout=10) as r:
                    listed = json.load(r)["studies"]
                break
            except OSError:
                time.sleep(0.05)
        roots = [cwd / a for a in argv[1:] if not a.startswith("-") and (cwd / a).is_dir()]
        want = sum(1 for root in roots for _ in root.rglob("hpcore.db"))
        if listed is None or len(listed) != want:
            _fail(line, f"lists {listed and len(listed)} studies, the roots hold {want}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


HPCORE_CHECKS = {
    "status": check_status,
    "best": check_best,
    "report": check_report,
    "compare": check_compare,
    "run": check_run,
}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4}


def check_demo(line: ShellLine, argv: list[str]) -> None:
    """Dispatch through hpcore.cli.main with run_demo recorded; check the comment's claims."""
    import hpcore.cli.demo
    from hpcore.cli import main

    calls: list[dict] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hpcore.cli.demo, "run_demo", lambda **kw: calls.append(kw))
        assert main(argv) == 0
    assert len(calls) == 1
    got = calls[0]
    claims = comment_of(line)
    m = re.search(r"(\d+) trials of (\d+) epochs", claims)
    if m and (got["n_trials"], got["epochs"]) != (int(m.group(1)), int(m.group(2))):
        _fail(line, f"the comment says {m.group(0)}; the demo gets n_trials="
                    f"{got['n_trials']}, epochs={got['epochs']}")
    m = re.search(r"\b(one|two|three|four|\d+) workers?\b", claims)
    if m and (NUMBER_WORDS.get(m.group(1)) or int(m.group(1))) != got["n_jobs"]:
        _fail(line, f"the comment says {m.group(0)}; the demo gets n_jobs={got['n_jobs']}")


def check_hpcore(line: ShellLine, cmd: Command, workdir: Callable[[], Path]) -> None:
    from hpcore.cli.main import _build_parser

    argv = cmd.argv[1:] if cmd.program == "hpcore" else cmd.argv[3:]
    args = _parse(line, _build_parser(), argv)
    if args.command is None:
        _fail(line, "no hpcore command")
    if args.command == "demo":
        check_demo(line, argv)
        return
    if cmd.env or cmd.background:
        _fail(line, "environment variables or & on an hpcore line: not supported here")
    cwd = workdir()
    for root in [getattr(args, "root", None), *getattr(args, "roots", [])]:
        if root is not None and not (cwd / root).is_dir():
            _fail(line, f"reads a study at {root}, which the test does not build: add a "
                        "builder to STUDIES in tests/test_docs_shell.py")
    if args.command in ("report", "compare") and (args.out or args.command == "report"):
        pytest.importorskip("matplotlib")
    if args.command == "best" and args.format == "yaml":
        pytest.importorskip("yaml")
    if args.command == "run":  # a fresh folder: the spec runs from scratch
        run_dir = cwd / f"run-{line.page.replace('/', '-')}-{line.lineno}"
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir()
        for name, text in files_for(line.page, line.lineno, args.spec).items():
            (run_dir / name).write_text(text, encoding="utf-8")
        if not (run_dir / args.spec).is_file():
            _fail(line, f"the docs show no {args.spec} (a fenced block right after a "
                        f"paragraph that starts with `{args.spec}`)")
        cwd = run_dir
    # Paths under /tmp go into the tmp dir, not the machine's /tmp.
    argv = [str(cwd / "tmp" / a[len("/tmp/"):]) if a.startswith("/tmp/") else a for a in argv]
    args = _parse(line, _build_parser(), argv)
    if args.command == "dashboard":
        check_dashboard(line, argv, cwd)
        return
    out = _hpcore(argv, cwd, timeout=60 if args.command == "status" else 300)
    if out.returncode != 0:
        _fail(line, f"exit status {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}")
    if cmd.stdout_to is not None:
        (cwd / cmd.stdout_to).write_text(out.stdout, encoding="utf-8")
    try:
        HPCORE_CHECKS[args.command](line, args, out, cwd)
    except AssertionError as exc:
        _fail(line, f"unexpected output: {exc}")


# ---------------------------------------------------------------------------
# One line
# ---------------------------------------------------------------------------


def check_line(line: ShellLine, workdir: Callable[[], Path]) -> list[str]:
    """Check every command of a line; return how each was handled."""
    kinds = []
    for cmd in split_commands(line):
        if cmd.words[:2] == ("taskset", "-c") and len(cmd.argv) > 3:
            # Pinned to some CPUs (a benchmark on one core): the command is what follows.
            cmd = dataclasses.replace(cmd, argv=cmd.argv[3:])
        words = cmd.words
        if words[0] == "hpcore" or words[:3] == ("python", "-m", "hpcore"):
            check_hpcore(line, cmd, workdir)
            kinds.append("hpcore")
        elif words[0] in ("python", "python3") and len(words) > 2 and words[1] == "-m" \
                and words[2].startswith("benchmarks."):
            check_benchmark(line, cmd)
            kinds.append("benchmark")
        else:
            key = next((k for k in NOT_RUN if words[:len(k)] == k), None)
            if key is None:
                _fail(line, "not an hpcore command, a `python -m benchmarks.*` line or a "
                            "command of NOT_RUN: run it in tests/test_docs_shell.py, or add it "
                            "to NOT_RUN with the reason it is not run")
            if key in NOT_RUN_CHECKS:
                NOT_RUN_CHECKS[key](line, cmd)
            kinds.append("not run: " + " ".join(key))
    return kinds


LINES = all_shell_lines()


@pytest.mark.parametrize("line", LINES, ids=lambda line: line.where)
def test_shell_line(line: ShellLine, request):
    check_line(line, lambda: request.getfixturevalue("workdir"))


# ---------------------------------------------------------------------------
# The checker itself
# ---------------------------------------------------------------------------


def test_checker_finds_the_docs_lines():
    pages = {line.page for line in LINES}
    assert {"README.md", "docs/cli.md", "docs/benchmarks.md", "docs/cluster.md"} <= pages
    assert len(LINES) >= 30
    texts = [line.text for line in LINES]
    assert "hpcore run search.toml" in texts
    assert any(t.startswith("python -m benchmarks.peers.compare latency") and
               t.endswith("--steps 3 --max-seconds 15") for t in texts)  # a continued line
    files = files_for("docs/cli.md")
    assert "[space]" in files["search.toml"] and "def train_fn" in files["train.py"]


def test_checker_reads_blocks_lines_and_continuations():
    page = ("text\n```python\nx = 1\n```\n```bash\n# a comment\n\nfoo --a \\\n  --b 1  # c\n"
            "```\n```console\n$ bar\noutput\n```\n")
    assert shell_lines(page, "p.md") == [ShellLine("p.md", 8, "foo --a --b 1  # c"),
                                         ShellLine("p.md", 12, "bar")]
    (cmd,) = split_commands(ShellLine("p.md", 1, "A=1 B=2 dask worker x --n 1 &"))
    assert cmd.env == {"A": "1", "B": "2"} and cmd.argv == ["dask", "worker", "x", "--n", "1"]
    assert cmd.background
    cmds = split_commands(ShellLine("p.md", 1, ".venv/bin/hpcore best r > b.json && ls"))
    assert [c.words for c in cmds] == [("hpcore", "best", "r"), ("ls",)]
    assert cmds[0].stdout_to == "b.json"
    page = "`a.toml`:\n\n```toml\nx = 1\n```\n\n`a.toml` is not\nnamed here:\n```toml\ny = 2\n```\n"
    assert blocks(page) == [Block(3, "toml", "x = 1\n", "a.toml"), Block(9, "toml", "y = 2\n", None)]


@pytest.mark.parametrize(
    "text, message",
    [
        ("make install", "not an hpcore command"),
        ("hpcore status experiments/lr-sweep | less", "shell syntax '|'"),
        ("python -m benchmarks.stopping --configs 10 --epocs 5", "do not parse"),
        ("python -m benchmarks.stopping --seed 5", "do not parse"),  # no abbreviations
        ("python -m benchmarks.stopping_demo --grace 8  # and --grace x", "do not parse"),
        ("python -m benchmarks.peers.compare regret --peers hpcore,nope", "unknown ['nope']"),
        ("python -m benchmarks.no_such_module", "no module"),
        ('pip install "hpcore[no-such-extra]"', "no extra 'no-such-extra'"),
        ("python -m pytest -x", "only paths that exist"),
        ("hpcore status experiments/lr-sweep --wach 5", "do not parse"),
        ("hpcore demo --quick   # 24 trials of 60 epochs per search", "the comment says"),
        ("hpcore demo --n-jobs 1   # two workers", "the comment says two workers"),
    ],
)
def test_checker_refuses_a_bad_line(text, message):
    def no_workdir():
        raise AssertionError("needs no study")

    with pytest.raises(AssertionError, match=re.escape(message)) as exc:
        check_line(ShellLine("x.md", 7, text), no_workdir)
    assert str(exc.value).startswith("x.md:7: ")


@pytest.mark.parametrize(
    "text, message",
    [
        ("DASK_NO__SUCH__KEY=1 dask scheduler", "names no dask config key"),
        ("dask worker tcp://10.0.0.5:8786 --nthread 1", "refuses its options"),
    ],
)
def test_checker_refuses_a_bad_dask_line(text, message):
    pytest.importorskip("distributed")
    with pytest.raises(AssertionError, match=message):
        check_line(ShellLine("x.md", 1, text), lambda: Path("."))


@pytest.mark.parametrize(
    "text, message",
    [
        ("hpcore status experiments/nope", "which the test does not build"),
        ("hpcore run nothing.toml", "the docs show no nothing.toml"),
        ("hpcore best experiments/lr-sweep --format json --params-only > b.json && "
         "hpcore best experiments/demo/grid --title x", "do not parse"),
    ],
)
def test_checker_refuses_a_bad_hpcore_line(text, message, workdir):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_line(ShellLine("x.md", 1, text), lambda: workdir)


def test_checker_fails_on_a_failing_command_or_a_wrong_output(workdir, monkeypatch):
    def expects_other_output(line, args, out, cwd):
        assert "a line status never prints" in out.stdout

    monkeypatch.setitem(HPCORE_CHECKS, "status", expects_other_output)
    with pytest.raises(AssertionError, match="unexpected output"):
        check_line(ShellLine("x.md", 1, "hpcore status experiments/lr-sweep"), lambda: workdir)
    monkeypatch.setattr(sys.modules[__name__], "files_for",
                        lambda *args: {"bad.toml": 'search = "grid"\n'})
    with pytest.raises(AssertionError, match="exit status 1"):
        check_line(ShellLine("x.md", 1, "hpcore run bad.toml"), lambda: workdir)
