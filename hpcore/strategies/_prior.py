"""Observations of earlier studies in the Bayesian strategy's model (warm start).

An earlier study of the same model (last week's search, a search on
another data set) says where good configurations lie, but not exactly:
its optimum may have moved, its values may be on another scale. Pooling
its trials with the new ones as if they were one study would let thirty
stale observations outvote the new study's first few, forever.

The model instead gets one more input, the **study**: a categorical
coordinate, 0 for the study being run and ``1..k`` for the earlier ones,
under the kernel's Hamming distance. Its length scale is a
hyperparameter like any other, so the marginal likelihood decides how far
an earlier study is believed: a long one (the prior's mode) makes an
earlier observation count almost as a new one; once the new values
disagree, the fit shortens it and the earlier studies fade to a gentle
prior mean. This is the intrinsic-coregionalisation model with one
shared inter-study correlation (Swersky et al. 2013, "Multi-task Bayesian
optimization"). Suggestions are made for study 0 only
(:class:`StudyZero`); the earlier studies' points are never excluded, so
a search may well run last week's best first.

Values are put on one scale per study: each earlier study's by its own
transform (Yeo-Johnson and standardisation, as a single study's). The new
study's values, while it has fewer than :data:`OWN_SCALE_FROM`, go through
the transform fitted to the earlier studies' values pooled -- the usual
warm start is the same objective, and a study of one or two values has no
scale of its own (standardised alone, its first value would be 0, "an
average value", whatever it is) -- and from then on through their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import kernels

__all__ = ["OWN_SCALE_FROM", "PriorStudies", "StudyZero", "fit_scale", "in_study_zero"]

#: Values of the new study from which it is standardised on its own.
OWN_SCALE_FROM = 5


def in_study_zero(Z: np.ndarray) -> np.ndarray:
    """The rows of ``Z`` (m, d) as the model's rows of the new study: a study coordinate 0."""
    Z = np.asarray(Z, dtype=np.float64)
    return np.column_stack([Z, np.zeros(len(Z))])


def fit_scale(y: np.ndarray, warp: bool) -> Callable[[np.ndarray], np.ndarray]:
    """The map that standardises ``y`` (Yeo-Johnson-warped first when ``warp``),
    as a function that applies the same map to any values."""
    y = np.asarray(y, dtype=np.float64)
    m1, s1 = float(y.mean()), float(y.std()) or 1.0
    lmb = None
    if warp and len(y) >= 5 and np.ptp(y) > 0:
        _, lmb = kernels.fit_yeo_johnson((y - m1) / s1)

    def warped(v: np.ndarray) -> np.ndarray:
        z = (np.asarray(v, dtype=np.float64) - m1) / s1
        return z if lmb is None else kernels.yeo_johnson(z, lmb)

    w = warped(y)
    m2, s2 = float(w.mean()), float(w.std()) or 1.0
    return lambda v: (warped(v) - m2) / s2


class PriorStudies:
    """Earlier studies' observations, as rows of the model with a study coordinate.

    Parameters
    ----------
    groups : sequence of (X, y)
        One per earlier study: its points as model features (n_i, d) and the
        values to minimise (n_i,). Empty groups are dropped.
    warp : bool
        Whether values are Yeo-Johnson-warped before standardisation.
    """

    def __init__(self, groups: Sequence[tuple[np.ndarray, np.ndarray]], warp: bool) -> None:
        groups = [(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))
                  for X, y in groups if len(y)]
        if not groups:
            raise ValueError("warm_start holds no observation to learn from")
        d = groups[0][0].shape[1]
        study = np.concatenate([np.full(len(y), i + 1.0) for i, (_, y) in enumerate(groups)])
        self.X = np.column_stack([np.vstack([X.reshape(-1, d) for X, _ in groups]), study])
        # Each earlier study on its own scale; the pooled scale for a new study's first values.
        self.y = np.concatenate([fit_scale(y, warp)(y) for _, y in groups])
        # Raw, not the fitted map: a strategy must stay picklable (no closures kept).
        self.pooled = np.concatenate([y for _, y in groups])
        self.n_studies = len(groups)
        self.warp = warp

    def __len__(self) -> int:
        return len(self.y)

    def cat(self, cat: np.ndarray) -> np.ndarray:
        """The categorical mask of the model's rows: ``cat`` and the study coordinate."""
        return np.append(cat, 1.0)

    def rows(self, X: np.ndarray) -> np.ndarray:
        """The model's rows: the earlier studies' first, then the new study's ``X`` (study 0),
        so that each new observation extends the factor."""
        return np.vstack([self.X, in_study_zero(X)])

    def values(self, y: np.ndarray) -> np.ndarray:
        """The model's values: the earlier studies', then the new study's ``y`` on its scale."""
        y = np.asarray(y, dtype=np.float64)
        if len(y) == 0:
            return self.y.copy()
        scale = fit_scale(self.pooled if len(y) < OWN_SCALE_FROM else y, self.warp)
        return np.concatenate([self.y, scale(y)])


class StudyZero:
    """An acquisition over the model's rows, seen as one over the new study's points.

    The study coordinate (the last) is held at 0: it is appended to every row
    scored, and its gradient is dropped, so that the optimiser searches the
    space alone.

    Parameters
    ----------
    acqf : object
        ``values``, ``values_and_grad`` and optionally ``length_scales`` and
        ``bounded``, over rows with the study coordinate.
    """

    def __init__(self, acqf: Any) -> None:
        self.acqf = acqf

    @property
    def length_scales(self) -> np.ndarray | None:
        ls = getattr(self.acqf, "length_scales", None)
        return None if ls is None else ls[:-1]

    def values(self, Z: np.ndarray) -> np.ndarray:
        return self.acqf.values(in_study_zero(Z))

    def values_and_grad(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values, grad = self.acqf.values_and_grad(in_study_zero(Z))
        return values, grad[:, :-1]

    def bounded(self, Z: np.ndarray) -> Any:
        """The wrapped acquisition's bounds at ``Z`` (see ``PosteriorAcquisition.bounded``)."""
        if not hasattr(self.acqf, "bounded"):
            return None
        return self.acqf.bounded(in_study_zero(Z))
