"""hpcore.kernels.polish: the compiled local search of one GP's acquisition.

It must be the batched L-BFGS of :mod:`hpcore.kernels.lbfgs` on the same
acquisition, step for step: the same end points and values as
:func:`hpcore.kernels.optimize._polish_all` driving ``minimize_batch`` through
the acquisition's Python methods, for every acquisition code, categorical
coordinates held fixed, factors that are plain arrays and leading blocks of a
growable buffer, and models with fantasised points.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpcore.kernels import EI, LOG_EI, LOG_PI, PI, UCB, GPModel, PosteriorAcquisition
from hpcore.kernels.linalg import ROOM_FROM
from hpcore.kernels.optimize import _polish_all


class _PythonPath:
    """The acquisition without its compiled polish: _polish_all runs minimize_batch."""

    def __init__(self, acqf: PosteriorAcquisition) -> None:
        self.values, self.values_and_grad = acqf.values, acqf.values_and_grad


def _model(rng, n: int, d: int, with_cat: bool) -> tuple[GPModel, np.ndarray]:
    cat = np.zeros(d)
    if with_cat:
        cat[0] = 1.0
    X = rng.random((n, d))
    X[:, 0] = np.floor(X[:, 0] * 3) if with_cat else X[:, 0]
    y = np.sin(5 * X).sum(axis=1) + 0.1 * rng.standard_normal(n)
    y = (y - y.mean()) / y.std()
    theta = np.concatenate([np.log(rng.uniform(0.1, 0.6, d)), [0.0, np.log(1e-3)]])
    return GPModel.from_theta(X, y, cat, theta), cat


def _starts(rng, r: int, cat: np.ndarray) -> np.ndarray:
    Z0 = rng.random((r, len(cat)))
    Z0[:, cat > 0] = np.floor(Z0[:, cat > 0] * 3)
    return Z0


def _both(acqf: PosteriorAcquisition, Z0: np.ndarray, cat: np.ndarray):
    scale = np.minimum(acqf.length_scales, 1.0)
    fused = acqf.polish(Z0, cat == 0, scale, 100)
    python = _polish_all(_PythonPath(acqf), Z0, cat == 0, scale, 100)
    return fused, python


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 120), d=st.integers(1, 6),
       code=st.sampled_from([EI, LOG_EI, UCB, PI, LOG_PI]), with_cat=st.booleans())
def test_same_end_points_and_values_as_the_batched_python_search(seed, n, d, code, with_cat):
    rng = np.random.default_rng(seed)
    with_cat = with_cat and d > 1
    model, cat = _model(rng, n, d, with_cat)
    acqf = PosteriorAcquisition(model, code, float(model.y.min()), 2.0)
    Z0 = _starts(rng, 6, cat)
    (Zf, vf), (Zp, vp) = _both(acqf, Z0, cat)
    np.testing.assert_allclose(vf, vp, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(Zf, Zp, atol=1e-6)
    # Categorical coordinates stay; the values are the acquisition's at the end points.
    np.testing.assert_array_equal(Zf[:, cat > 0], Z0[:, cat > 0])
    assert np.all((Zf[:, cat == 0] >= 0.0) & (Zf[:, cat == 0] <= 1.0))
    finite = np.isfinite(vf)
    np.testing.assert_allclose(acqf.values(Zf)[finite], vf[finite], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("code", [EI, LOG_EI])
def test_a_factor_in_a_growable_buffer_and_fantasised_points(code):
    rng = np.random.default_rng(3)
    model, cat = _model(rng, ROOM_FROM + 20, 4, with_cat=False)
    assert not model.L.flags.c_contiguous  # the leading block of a buffer
    grown = model.update(np.vstack([model.X, rng.random((3, 4))]),
                         np.concatenate([model.y, rng.standard_normal(3)]))
    believed = grown.fantasize(rng.random((2, 4)))
    for m in (grown, believed):
        acqf = PosteriorAcquisition(m, code, float(m.y.min()))
        Z0 = _starts(rng, 5, cat)
        (Zf, vf), (Zp, vp) = _both(acqf, Z0, cat)
        np.testing.assert_allclose(vf, vp, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(Zf, Zp, atol=1e-6)


def test_never_worse_than_the_start_and_moves_to_a_local_maximum():
    rng = np.random.default_rng(7)
    model, cat = _model(rng, 40, 3, with_cat=False)
    acqf = PosteriorAcquisition(model, LOG_EI, float(model.y.min()))
    Z0 = _starts(rng, 8, cat)
    Z, values = acqf.polish(Z0, cat == 0, np.minimum(acqf.length_scales, 1.0), 100)
    assert np.all(values >= acqf.values(Z0) - 1e-12)
    # A box-constrained stationary point: the projected gradient (in the searched
    # coordinates s = z / scale, as the search's stopping rule) nearly vanishes.
    scale = np.minimum(acqf.length_scales, 1.0)
    _, grad = acqf.values_and_grad(Z)
    S, G = Z / scale, grad * scale
    projected = np.clip(S + G, 0.0, 1.0 / scale) - S
    assert np.max(np.abs(projected)) < 1e-3
    assert np.any(np.abs(Z - Z0) > 1e-3)
