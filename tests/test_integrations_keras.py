"""hpcore.integrations.keras: real Keras 3 training (torch backend) stopped by MedianStopping and ASHA."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is first imported
pytest.importorskip("keras", reason="keras is not installed (pip install 'hpcore[keras]')")

from helpers.integration_fns import (  # noqa: E402
    asha_run,
    check_asha_run,
    check_median_run,
    fit_keras,
    median_run,
)


def test_median_stopping_ends_the_hopeless_fit_in_a_worker():
    check_median_run(median_run(fit_keras))


def test_asha_gives_the_hopeless_rate_one_epoch():
    check_asha_run(asha_run(fit_keras))
