"""hpcore.integrations.lightgbm: real training stopped by MedianStopping and ASHA."""

from __future__ import annotations

import pytest

pytest.importorskip("lightgbm", reason="lightgbm is not installed (pip install 'hpcore[lightgbm]')")

from helpers.integration_fns import (  # noqa: E402
    asha_run,
    check_asha_run,
    check_median_run,
    fit_lightgbm,
    median_run,
)


def test_median_stopping_ends_the_hopeless_booster_in_a_worker():
    check_median_run(median_run(fit_lightgbm))


def test_asha_gives_the_hopeless_rate_one_round():
    check_asha_run(asha_run(fit_lightgbm))
