"""Shared test configuration.

Hypothesis runs under the "ci" profile: derandomized (the same examples on
every run and machine, so a failure always reproduces), no deadline (the
machines running the suite vary in speed), and a blob printed with every
failure so it can be replayed with ``@reproduce_failure``. Another profile
can be chosen with ``HYPOTHESIS_PROFILE=<name>``.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=50,
    print_blob=True,
)
settings.register_profile("dev", deadline=None, max_examples=50, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
