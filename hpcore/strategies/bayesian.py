"""Gaussian-process Bayesian optimisation on the kernel layer.

How a suggestion is made
------------------------
1. The first ``n_initial_points`` suggestions are a scrambled Sobol
   sequence (quasi-random, even coverage).
2. Then a GP (Matérn-5/2, ARD, MAP hyperparameters) models the completed
   trials' values, standardised (optionally power-warped first, see
   ``y_transform``). Each dimension is one GP input: reals and integers by
   their unit-cube coordinate (integers at the centre of their bin, so the
   GP only ever sees values a config can take), categoricals by their
   index under a Hamming distance.
3. The acquisition (EI, log-EI, UCB or PI) is maximised by
   :func:`hpcore.kernels.maximize_acquisition` over quasi-random
   candidates and perturbations of the best points, snapped to the allowed
   levels; in a finite space of at most ``exhaustive_limit`` points, every
   unseen point is scored.

Refit schedule
--------------
The hyperparameters are refit (L-BFGS-B, warm-started from the last fit
plus ``n_fit_restarts`` prior draws) whenever the number of completed
trials has grown by ``refit_growth`` (10%) since the last fit, and at
least every point while there are fewer than 20. In between, the
Cholesky factor is extended by the new points in O(n^2) each and the
hyperparameters are kept.

Large n: beyond ``max_fit_points`` (500) observations the hyperparameters
are fitted on a subset of that size (the best, the most recent and a
space-filling rest) and the posterior is conditioned on all of them; from
``background_refit_from`` (300) observations on, refits run in a
background thread and are swapped in at a fixed point half a refit
interval later, so that a refit does not hold up the search and a seeded
search stays reproducible (:mod:`hpcore.strategies._refit`).

Pending points
--------------
Points asked and not yet told (parallel workers) are fantasised with the
kriging believer: they join the model, noise-free, with the posterior mean
as their value (via the O(n^2) Cholesky extension) and count towards the
incumbent, so the variance collapses there, improving on them is worth
nothing, and the next suggestion goes elsewhere. A confident model can
still put the next point a hair away, along the slope of its mean, so no
suggestion lies within ``batch_radius`` (unit-cube distance) of a pending
point. Measured with batches of 4 and 40 evaluations (6 seeds): the
believer beat constant liars (``fantasy='liar-mean'``, ``'liar-max'``) on
Branin, Hartmann-6 and mixed6, and lost on Levy-10.

Failed trials carry no value and are left out of the model. Trials
stopped early are modelled with their last reported value (see
``stopped_trials``).

Warm start
----------
Observations of earlier studies (``warm_start``) join the model with one
more categorical input, the study, whose fitted length scale says how far
they are believed (:mod:`hpcore.strategies._prior`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import kernels
from ..errors import StrategyExhausted
from ..kernels import blas_threads
from ..kernels.warmup import polish_cached  # re-exported for the searches (layers)
from ..space import SearchSpace
from ..trial import FrozenTrial, TrialState
from ._inactive import ProjectedAcquisition, Projection
from ._prior import PriorStudies, StudyZero, fit_scale, in_study_zero
from ._refit import BackgroundRefit
from .base import Strategy
from .random import RandomStrategy

__all__ = ["BayesianStrategy", "ACQUISITIONS", "polish_cached"]

#: Integer dimensions with more values than this are optimised as continuous
#: and rounded when decoded (snapping scans the levels linearly).
_MAX_LEVELS = 512

#: Observations beyond which the quasi-random candidates and the local searches
#: of the acquisition thin out as 1/n.
_SPARSE_FROM = 1000

#: Below this many observations of its own a study refits at every point, each
#: fit from scratch (cheap there): a resumed study, which has no previous fit,
#: then suggests what an uninterrupted one would have.
_FRESH_FITS_BELOW = 20

#: Acquisition names accepted by the strategy, and their kernel codes.
ACQUISITIONS: dict[str, int] = {
    "ei": kernels.EI,
    "logei": kernels.LOG_EI,
    "ucb": kernels.UCB,
    "pi": kernels.PI,
}


class BayesianStrategy(Strategy):
    """GP Bayesian optimisation (see the module docstring).

    Parameters
    ----------
    space : SearchSpace or mapping
        What to search.
    seed : int, optional
        Same seed, same suggestions.
    n_initial_points : int
        Quasi-random suggestions before the GP takes over.
    acquisition : {'ei', 'logei', 'ucb', 'pi'}
        What to maximise.
    beta : float
        Exploration weight of UCB (``mean - beta * std`` is minimised).
    y_transform : {'standardize', 'yeo-johnson'}
        How values are normalised before the GP sees them.
    n_candidates : int
        Quasi-random candidates scored per suggestion.
    n_restarts : int
        Best candidates polished with L-BFGS-B.
    fantasy : {'believer', 'liar-mean', 'liar-max'}
        Value given to pending points: the posterior mean, or a constant
        (the mean or the worst of the observed values).
    batch_radius : float
        Least unit-cube distance of a suggestion from a pending point.
    stopped_trials : {'last-value', 'exclude'}
        Trials stopped early: modelled with their last reported value (a
        pessimistic value that marks their region as poor), or left out.
        Measured with median stopping on learning curves built on Branin,
        Hartmann-6 and Rosenbrock-5 (40 trials, 10 seeds): 'last-value'
        found better configurations on all three (median best 0.19 vs 3.8,
        2.67 vs 2.83, 633 vs 47,700); with 'exclude' the model saw too few
        trials.
    skip_restarts_within : float, optional
        A refit starts from the last hyperparameters; when that local search
        ends within this distance of them (in every log-parameter), the
        ``n_fit_restarts`` prior draws are skipped, since the optimum stayed
        in its basin. A refit with all of them is still made whenever the
        trials have doubled since the last one. None (the default) always
        runs them: measured with 0.5 on the peers' six functions (50
        evaluations, 20 seeds), skipping cost regret where the restarts
        still find better optima at small n (median regret at 50 on Levy-10
        11.1 -> 14.7, Hartmann-6 0.0025 -> 0.0087; the other four within
        their spread), for 0-25 % less time per run.
    compile_in_background : bool
        Compile (or load from numba's cache) the GP kernels in a daemon
        thread from the moment the strategy is created, while the initial
        trials run, so that the first GP suggestion does not wait for it
        (:func:`hpcore.kernels.warmup_in_background`). In a search whose
        trials run in the driver's own process (``n_jobs=1``) the
        compilation shares that process with them.
    max_fit_points : int or None
        With more observations than this, the hyperparameters are fitted
        on this many of them (the best, the most recent and a space-filling
        rest; :func:`hpcore.kernels.fit_subset`) and the posterior is
        conditioned on all. None fits on all (O(n^3) per likelihood
        evaluation: minutes at n = 5,000).
    background_refit_from : int or None
        From this many observations on, refits run in a background thread
        while the previous hyperparameters keep serving, and are swapped in
        half a refit interval later (:mod:`hpcore.strategies._refit`; a
        suggestion waits only if the fit is slower than that). The first
        fit at this size or more is one local search, refitted in the
        background at once. None: every refit blocks the suggestion that
        falls due.
    warm_start : sequence of sequences of (params, value), optional
        Observations of earlier studies, one sequence per study, each value
        to minimise on that study's own scale. They inform the model from
        the first suggestion (:mod:`hpcore.strategies._prior`) and are not
        part of :attr:`history`. Points outside the space are left out.
    """

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        seed: int | None = None,
        n_initial_points: int = 10,
        acquisition: str = "logei",
        beta: float = 2.0,
        y_transform: str = "yeo-johnson",
        n_candidates: int = 2048,
        n_restarts: int = 10,
        n_fit_restarts: int = 2,
        refit_growth: float = 0.1,
        exhaustive_limit: int = 4096,
        fantasy: str = "believer",
        batch_radius: float = 1e-2,
        polish_incumbent: bool = True,
        stopped_trials: str = "last-value",
        skip_restarts_within: float | None = None,
        compile_in_background: bool = True,
        max_fit_points: int | None = 500,
        background_refit_from: int | None = 300,
        warm_start: Sequence[Sequence[tuple[Mapping[str, Any], float]]] | None = None,
    ) -> None:
        super().__init__(space)
        if acquisition not in ACQUISITIONS:
            raise ValueError(
                f"acquisition must be one of {sorted(ACQUISITIONS)}, got {acquisition!r}"
            )
        if y_transform not in ("standardize", "yeo-johnson"):
            raise ValueError(
                f"y_transform must be 'standardize' or 'yeo-johnson', got {y_transform!r}"
            )
        if fantasy not in ("believer", "liar-mean", "liar-max"):
            raise ValueError(
                f"fantasy must be 'believer', 'liar-mean' or 'liar-max', got {fantasy!r}"
            )
        if stopped_trials not in ("exclude", "last-value"):
            raise ValueError(
                f"stopped_trials must be 'exclude' or 'last-value', got {stopped_trials!r}"
            )
        self.stopped_trials = stopped_trials
        self.fantasy = fantasy
        self.batch_radius = float(batch_radius)
        self.polish_incumbent = bool(polish_incumbent)
        self.seed = seed
        self.n_initial_points = int(n_initial_points)
        self.acquisition = acquisition
        self.beta = float(beta)
        self.y_transform = y_transform
        self.n_candidates = int(n_candidates)
        self.n_restarts = int(n_restarts)
        self.n_fit_restarts = int(n_fit_restarts)
        self.refit_growth = float(refit_growth)
        self.skip_restarts_within = skip_restarts_within
        self.max_fit_points = None if max_fit_points is None else int(max_fit_points)
        if self.max_fit_points is not None and self.max_fit_points < 4:
            raise ValueError(f"max_fit_points must be at least 4 or None, got {max_fit_points!r}")
        self.background_refit_from = (None if background_refit_from is None
                                      else int(background_refit_from))
        self._refit: BackgroundRefit | None = None  # a refit running in a thread
        self._full_fit_n = 0  # trials at the last fit that ran every restart
        self._entropy = np.random.SeedSequence(seed).entropy
        self._initial = RandomStrategy(self.space, seed=seed, quasi=True)
        self._n_asked = 0  # suggestions made so far, resumed ones included
        self._dims = list(self.space.values())
        d = len(self._dims)
        self._cat = self.space.model_cat
        self._levels, self._n_levels = self.space.model_levels(_MAX_LEVELS)
        cardinality = self.space.cardinality
        self._grid_features: np.ndarray | None = None
        if cardinality is not None and cardinality <= exhaustive_limit:
            self._grid_features = np.array([self._features(p) for p in self.space.grid()])
        # Model state: features and values of completed trials, in the order told.
        self._X = np.empty((0, d))
        self._y: list[float] = []
        self._model: kernels.GPModel | None = None  # hyperparameters and factor of _X
        self._fit_n = 0
        self._seen: set[bytes] = set()
        # Conditional spaces: inactive coordinates held at 0 while the acquisition is maximised.
        self._projection = Projection(self.space) if self.space.conditional else None
        self._prior = None if warm_start is None else self._prior_studies(warm_start)
        if compile_in_background:
            kernels.warmup_in_background()

    def _prior_studies(self, groups: Sequence[Sequence[tuple[Mapping[str, Any], float]]]
                       ) -> PriorStudies:
        encoded = []
        for group in groups:
            rows = [(self._features(p), float(v)) for p, v in group]
            rows = [(x, v) for x, v in rows if np.all(np.isfinite(x)) and math.isfinite(v)]
            X = np.array([x for x, _ in rows]).reshape(-1, len(self._dims))
            encoded.append((X, np.array([v for _, v in rows])))
        return PriorStudies(encoded, warp=self.y_transform == "yeo-johnson")

    # -- features (the space's model view: hpcore.space.SearchSpace.model_features) --
    def _features(self, params: Mapping[str, Any]) -> np.ndarray:
        return self.space.model_features(params)

    def _params(self, z: np.ndarray) -> dict[str, Any]:
        return self.space.from_model_features(z)

    # -- learning -------------------------------------------------------------
    def _observe(self, observation: FrozenTrial, was_pending: bool) -> None:
        modelled = observation.state is TrialState.COMPLETED or (
            observation.state is TrialState.STOPPED and self.stopped_trials == "last-value"
        )
        x = self._features(observation.params)
        # A point outside the space (told, never asked) has NaN features: not modelled.
        if modelled and observation.value is not None and np.all(np.isfinite(x)):
            if math.isfinite(observation.value):
                self._X = np.vstack([self._X, x[None, :]])
                self._y.append(observation.value)
        self._seen.add(self._key(x))

    @staticmethod
    def _key(z: np.ndarray) -> bytes:
        return (np.round(z, 9) + 0.0).tobytes()

    def _transformed_y(self) -> np.ndarray:
        """The model's values: warped (``y_transform``) and standardised, those of
        earlier studies (warm start) first."""
        y = np.asarray(self._y, dtype=np.float64)
        if self._prior is not None:
            return self._prior.values(y)
        return fit_scale(y, self.y_transform == "yeo-johnson")(y)

    def _rows(self) -> np.ndarray:
        """The model's inputs: the features of the observations (and of earlier studies')."""
        return self._X if self._prior is None else self._prior.rows(self._X)

    @property
    def _model_cat(self) -> np.ndarray:
        return self._cat if self._prior is None else self._prior.cat(self._cat)

    @property
    def _n_prior(self) -> int:
        return 0 if self._prior is None else len(self._prior)

    def _rng(self, purpose: int) -> np.random.Generator:
        seq = np.random.SeedSequence(self._entropy, spawn_key=(self._n_asked, purpose))
        return np.random.default_rng(seq)

    def _fit(self, ys: np.ndarray) -> kernels.GPModel:
        """The model of the trials so far, with a constant prior mean (:meth:`GPModel.centred`).

        The hyperparameters are fitted with a zero mean on the standardised
        values; the posterior then conditions on the estimated constant. Against
        the zero mean (40 seeds, 50 evaluations, paired Wilcoxon): median regret
        lower on all six of the peers' functions, significantly on Hartmann-6,
        Rosenbrock-5 and mixed6 (docs/benchmarks.md).
        """
        self._model = self._fitted(ys).centred()
        return self._model

    def _fitted(self, ys: np.ndarray) -> kernels.GPModel:
        """The model of the trials so far: refit on the schedule, else extended by new points."""
        n = len(ys)
        refit = self._refit
        if refit is not None and n >= refit.swap_at:
            self._refit, self._fit_n = None, refit.n
            self._model = refit.result()  # waits only if the fit is slower than the search
        # Also over many earlier observations (a warm start), a study's own first ones.
        due = (self._model is None or n - self._n_prior < _FRESH_FITS_BELOW
               or n >= self._fit_n * (1.0 + self.refit_growth))
        if due and self._refit is None:
            background = self._model is not None and self.background_refit_from is not None \
                and n >= self.background_refit_from
            if background:
                # The current hyperparameters keep serving until the swap, half a
                # refit interval later: the fit has that long to finish unseen.
                lag = max(1, math.ceil(self.refit_growth * n / 2))
                self._refit = BackgroundRefit(self._rows(), ys, self._model_cat, swap_at=n + lag,
                                              **self._fit_options(n))
            else:
                return self._fit_now(ys)
        assert self._model is not None
        self._model = self._model.update(self._rows(), ys)
        return self._model

    def _fit_options(self, n: int) -> dict[str, Any]:
        """Arguments of :meth:`GPModel.fit` for a refit at ``n`` observations."""
        full = self.skip_restarts_within is None or n >= 2 * self._full_fit_n
        if full:
            self._full_fit_n = n
        fresh = self._model is None or n - self._n_prior < _FRESH_FITS_BELOW
        return {
            "theta0": None if fresh else self._model.theta,
            "n_restarts": self.n_fit_restarts,
            "seed": int(self._rng(1).integers(2**31)),
            "settled": None if full else self.skip_restarts_within,
            "max_points": self.max_fit_points,
        }

    def _fit_now(self, ys: np.ndarray) -> kernels.GPModel:
        """Fit in this thread (the first fit, and every fit below ``background_refit_from``)."""
        n = len(ys)
        options = self._fit_options(n)
        provisional = (self._model is None and self.background_refit_from is not None
                       and n >= self.background_refit_from)
        if provisional:
            # The first fit at large n is on the search's path: one local search
            # from the prior modes, and a full refit in the background right after.
            options["n_restarts"] = 0
        self._model = kernels.GPModel.fit(self._rows(), ys, self._model_cat, **options)
        self._fit_n = 0 if provisional else n
        return self._model

    # -- suggesting -----------------------------------------------------------
    def _suggest(self) -> dict[str, Any]:
        # Position in the sequence of suggestions, counting resumed ones: seeds
        # every random choice, so a resumed study continues deterministically.
        self._n_asked = len(self.history) + len(self.pending)
        if self._n_asked < self.n_initial_points or len(self._y) + self._n_prior < 2:
            return self._initial_point()
        return self._model_point()

    def _initial_point(self) -> dict[str, Any]:
        taken = self._pending_keys()
        # The k-th suggestion is the k-th quasi-random point, also after a resume.
        self._initial.skip_to(self._n_asked)
        while True:  # the quasi-random sequence raises StrategyExhausted in a used-up finite space
            params = self._initial.ask()
            self._initial.pending.clear()  # it only tracks what it drew
            if self._grid_features is None or self._key(self._features(params)) not in taken:
                return params

    def _pending_keys(self) -> set[bytes]:
        return self._seen | {self._key(self._features(p)) for p in self.pending}

    def _model_point(self) -> dict[str, Any]:
        with blas_threads(1):
            return self._model_point_unlimited()

    def _model_point_unlimited(self) -> dict[str, Any]:
        ys = self._transformed_y()
        model = self._fit(ys)
        pending = np.array([self._features(p) for p in self.pending]).reshape(-1, len(self._dims))
        if len(pending):
            rows = pending if self._prior is None else in_study_zero(pending)
            model = model.fantasize(rows, self._fantasy_values(model, rows))
        # The incumbent includes the fantasies: a believed value counts as observed,
        # so improving on a pending point is worth nothing and batches spread out.
        # It is the new study's own best; before it has one, the earlier studies'.
        ours = model.y[self._n_prior:]
        best = float(ours.min() if len(ours) else model.y.min())
        acqf = kernels.PosteriorAcquisition(model, ACQUISITIONS[self.acquisition], best, self.beta)
        return self._maximize(acqf if self._prior is None else StudyZero(acqf), pending)

    def _maximize(self, acqf: Any, pending: np.ndarray) -> dict[str, Any]:
        """The point that maximises ``acqf`` among fresh candidates and local searches."""
        candidates, exclude = self._candidates()
        if len(candidates) == 0:
            raise StrategyExhausted("every point of the finite space has been suggested")
        acqf, candidates = self._projected(acqf, candidates)
        # Beyond _SPARSE_FROM observations, fewer local searches: the best
        # candidates they start from are certified exact at O(n^2) each.
        n_restarts = self.n_restarts
        if len(self._y) > _SPARSE_FROM:
            n_restarts = max(3, self.n_restarts * _SPARSE_FROM // len(self._y))
        z, _ = kernels.maximize(
            acqf, candidates, self._levels, self._n_levels, self._cat,
            n_restarts=n_restarts, exclude=exclude, avoid=pending, radius=self.batch_radius,
            starts=self._centres(1) if self.polish_incumbent else None,
        )
        return self._params(z)

    def _projected(self, acqf: Any, candidates: np.ndarray) -> tuple[Any, np.ndarray]:
        """In a conditional space: the acquisition flat along inactive coordinates, and
        the candidates with those at 0 (:mod:`._inactive`)."""
        if self._projection is None:
            return acqf, candidates
        return ProjectedAcquisition(acqf, self._projection), self._projection.project(candidates)

    def _centres(self, count: int) -> np.ndarray:
        """The best ``count`` observed points (features): where local candidates go.

        With a warm start, the best of every study by standardised value: the
        values of the model just fitted (no second fit of the transform).
        """
        if self._prior is None:
            return self._X[np.argsort(self._y)[:count]]
        assert self._model is not None  # called while a suggestion is made from it
        X = np.vstack([self._prior.X[:, :-1], self._X])
        return X[np.argsort(self._model.y, kind="stable")[:count]]

    def _fantasy_values(self, model: kernels.GPModel, P: np.ndarray) -> np.ndarray | None:
        """What pending points are believed to give: the posterior mean (None) or a constant."""
        if self.fantasy == "liar-mean":
            return np.full(len(P), model.y.mean())
        if self.fantasy == "liar-max":
            return np.full(len(P), model.y.max())
        return None

    def _candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """Points to score, and the points already tried or pending (never suggested again)."""
        d = len(self._dims)
        taken = self._pending_keys()
        exclude = np.array([np.frombuffer(k) for k in taken]).reshape(-1, d)
        if self._grid_features is not None:
            free = [self._key(r) not in taken for r in self._grid_features]
            return self._grid_features[np.array(free, dtype=bool)], exclude
        rng = self._rng(2)
        from scipy.stats import qmc

        # Beyond _SPARSE_FROM observations, fewer quasi-random candidates: each
        # costs O(n) to bound, and the local ones below matter more by then.
        n_sobol = self.n_candidates
        if len(self._y) > _SPARSE_FROM:
            n_sobol = max(256, self.n_candidates * _SPARSE_FROM // len(self._y))
            n_sobol = 1 << (n_sobol.bit_length() - 1)  # Sobol' balance needs a power of 2
        sobol = qmc.Sobol(d, scramble=True, seed=rng).random(n_sobol)
        cand = sobol.copy()
        for j in range(d):  # categorical coordinates are level indices, not [0, 1]
            if self._cat[j]:
                cand[:, j] = np.floor(sobol[:, j] * self._n_levels[j])
        # Local candidates: Gaussian steps around the best observations.
        centres = self._centres(5)
        ls = self._model.length_scales[:d] if self._model is not None else np.full(d, 0.2)
        steps = rng.normal(size=(len(centres), 64, d)) * np.minimum(ls, 0.5) * 0.5
        local = np.clip(centres[:, None, :] + steps, 0.0, 1.0).reshape(-1, d)
        for j in range(d):
            if self._cat[j]:
                keep = rng.random(len(local)) < 0.8
                random_level = rng.integers(self._n_levels[j], size=len(local))
                local[:, j] = np.where(keep, np.repeat(centres[:, j], 64), random_level)
        return np.vstack([cand, local]), exclude
