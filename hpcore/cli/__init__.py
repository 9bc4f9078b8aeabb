"""The command line (``hpcore ...``, :mod:`.main`), spec files (:mod:`.spec`) and the demo (:mod:`.demo`)."""

from .main import main

__all__ = ["main"]
