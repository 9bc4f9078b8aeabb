"""hpcore.integrations.lightning: real training stopped by MedianStopping and ASHA."""

from __future__ import annotations

import pytest

pytest.importorskip("lightning", reason="lightning is not installed (pip install 'hpcore[lightning]')")

from helpers.integration_fns import (  # noqa: E402
    asha_run,
    check_asha_run,
    check_median_run,
    fit_lightning,
    median_run,
)


def test_median_stopping_ends_the_hopeless_fit_in_a_worker():
    check_median_run(median_run(fit_lightning))


def test_asha_gives_the_hopeless_rate_one_epoch():
    check_asha_run(asha_run(fit_lightning))
