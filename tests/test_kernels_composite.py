"""The acquisition over several GP models: each part is the kernel it names,
and the gradient is the derivative of the value."""

from __future__ import annotations

import numpy as np
import pytest

from hpcore.kernels import (
    LOG_EI,
    CompositeAcquisition,
    GPModel,
    acquisition,
    box_decomposition,
    log_ehvi,
    log_prob_feasible,
    nondominated,
)


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(0)
    X = rng.random((24, 3))
    cat = np.zeros(3)
    f1 = np.sin(3 * X[:, 0]) + X[:, 1]
    f2 = (X[:, 0] - 0.5) ** 2 + X[:, 2]
    f3 = np.cos(4 * X[:, 1]) * X[:, 2]
    g = X.sum(1) - 1.5
    objectives = [GPModel.fit(X, (f - f.mean()) / f.std(), cat, seed=0) for f in (f1, f2, f3)]
    return objectives, [GPModel.fit(X, g / g.std(), cat, seed=0)]


def boxes(objectives):
    Y = np.column_stack([m.y for m in objectives])
    front = Y[nondominated(Y)]
    return box_decomposition(front, Y.max(0) + 0.1)


def cases(models):
    objectives, constraints = models
    lo2, up2 = boxes(objectives[:2])
    lo3, up3 = boxes(objectives)
    best = float(objectives[0].y.min())
    return {
        "ehvi2+pof": CompositeAcquisition(objectives[:2], constraints, [0.2], lower=lo2, upper=up2),
        "ehvi3": CompositeAcquisition(objectives, lower=lo3, upper=up3),
        "ei+pof": CompositeAcquisition(objectives[:1], constraints, [0.2], best=best),
        "pof": CompositeAcquisition([], constraints, [0.2]),
    }


@pytest.mark.parametrize("name", ["ehvi2+pof", "ehvi3", "ei+pof", "pof"])
def test_gradient_matches_central_differences(models, name):
    acq = cases(models)[name]
    Z = np.random.default_rng(1).uniform(0.1, 0.9, (6, 3))
    values, grad = acq.values_and_grad(Z)
    # Deep in the tail log P(feasible) ~ -z^2/2 amplifies the last bits of the mean
    # (posterior and posterior_grad round differently): equal to 1e-8 relative.
    assert np.allclose(values, acq.values(Z), rtol=1e-8, atol=1e-12), values
    h = 1e-5
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        num = (acq.values(Z + e) - acq.values(Z - e)) / (2 * h)
        assert np.allclose(grad[:, j], num, rtol=1e-4, atol=1e-6)


def test_each_part_is_its_kernel(models):
    objectives, constraints = models
    Z = np.random.default_rng(2).random((9, 3))
    post = [m.posterior(Z) for m in objectives[:2]]
    mean = np.column_stack([p[0] for p in post])
    var = np.column_stack([p[1] for p in post])
    cm, cv = constraints[0].posterior(Z)
    pof = log_prob_feasible(cm[:, None], cv[:, None], [0.2])
    lo, up = boxes(objectives[:2])
    got = cases(models)["ehvi2+pof"].values(Z)
    assert np.allclose(got, log_ehvi(mean, var, lo, up) + pof, rtol=1e-13)
    best = float(objectives[0].y.min())
    ei = acquisition(LOG_EI, post[0][0], post[0][1], best, 0.0)
    assert np.allclose(cases(models)["ei+pof"].values(Z), ei + pof, rtol=1e-13)
    assert np.allclose(cases(models)["pof"].values(Z), pof, rtol=1e-13)


def test_missing_pieces_are_refused(models):
    objectives, constraints = models
    with pytest.raises(ValueError, match="objective or a constraint"):
        CompositeAcquisition([])
    with pytest.raises(ValueError, match="boxes"):
        CompositeAcquisition(objectives[:2])
    with pytest.raises(ValueError, match="incumbent"):
        CompositeAcquisition(objectives[:1])
    lo, up = boxes(objectives[:2])
    with pytest.raises(ValueError, match="2 objectives, the models 3"):
        CompositeAcquisition(objectives, lower=lo, upper=up)
    with pytest.raises(ValueError):
        CompositeAcquisition([], constraints, [0.1, 0.2])
