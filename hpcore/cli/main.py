"""The ``hpcore`` command line.

``hpcore status|best|report|compare`` read studies stored under an
``experiment_root`` (read-only: safe while a search runs there);
``hpcore run spec.toml`` runs a search described in a file
(:mod:`hpcore.cli.spec`); ``hpcore demo`` runs the README's main job;
``hpcore dashboard`` serves the live web dashboard (:mod:`hpcore.dashboard`).
Errors a user can cause end with a one-line message on stderr and exit
status 1 (2 for a malformed command line).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ..errors import HpcoreError
from .commands import (
    _cmd_best,
    _cmd_compare,
    _cmd_dashboard,
    _cmd_demo,
    _cmd_report,
    _cmd_run,
    _cmd_status,
    _Fail,
)
from .parser import build_parser as _build_parser

__all__ = ["main"]


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
        "dashboard": _cmd_dashboard,
    }[args.command]
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
    except (_Fail, HpcoreError, OSError) as exc:  # OSError: a missing file, a read-only mount...
        print(f"hpcore {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"hpcore {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
