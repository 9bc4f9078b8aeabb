"""numba kernels on float64 arrays in the unit cube (GP, Cholesky, acquisitions).

This layer imports nothing else of hpcore. The API contract, with every
symbol's shape, is in the docstrings of the submodules:

* :mod:`~hpcore.kernels.matern`: Matérn-5/2 ARD kernel (Hamming distance on categorical dims);
* :mod:`~hpcore.kernels.linalg`: Cholesky with jitter, triangular solves, Cholesky extension;
* :mod:`~hpcore.kernels.gp`: marginal likelihood, priors, MAP fit, factorisation;
* :mod:`~hpcore.kernels.subset`: which observations a hyperparameter fit sees at large n;
* :mod:`~hpcore.kernels.predict`: posterior mean and variance with gradients;
* :mod:`~hpcore.kernels.acqf`: EI, log-EI, UCB, PI, log-PI with gradients;
* :mod:`~hpcore.kernels.model`: the GP model object (fit, update, fantasise, posterior)
  and the acquisitions over it;
* :mod:`~hpcore.kernels.optimize`: multi-start maximisation of any acquisition over mixed boxes;
* :mod:`~hpcore.kernels.lbfgs`: batched box-constrained L-BFGS (many searches in lockstep);
* :mod:`~hpcore.kernels.polish`: the same search of one GP's acquisition, compiled whole;
* :mod:`~hpcore.kernels.warp`: Yeo-Johnson warping of observed values;
* :mod:`~hpcore.kernels.pareto`: Pareto fronts, hypervolumes, box decompositions;
* :mod:`~hpcore.kernels.ehvi`: log expected hypervolume improvement and log probability
  of feasibility, with gradients;
* :mod:`~hpcore.kernels.composite`: the acquisition over several models (log-EHVI or
  log-EI, plus log probability of feasibility).

:func:`blas_threads` limits BLAS/LAPACK threads around a block of kernel
calls (GP matrices are small: extra threads only contend).
"""

from ._threads import blas_threads
from .acqf import EI, LOG_EI, LOG_PI, PI, UCB
from .checked import (  # the jitted kernels behind checked, converting wrappers
    acquisition,
    acquisition_grad,
    erfcx,
    log_h,
    snap,
    yeo_johnson,
    yeo_johnson_llf,
)
from .composite import CompositeAcquisition
from .ehvi import log_ehvi, log_ehvi_grad, log_prob_feasible, log_prob_feasible_grad
from .gp import (
    default_theta,
    factorize,
    fit_gp,
    neg_log_posterior,
    neg_log_posterior_and_grad,
    theta_bounds,
)
from .lbfgs import minimize_batch
from .linalg import cholesky_extend, cholesky_jitter, solve_lower, solve_lower_t
from .matern import matern52, matern52_grad_x
from .model import GPModel, PosteriorAcquisition, standardize
from .optimize import (
    acquisition_value_and_grad,
    maximize,
    maximize_acquisition,
    score_candidates,
)
from .pareto import (
    box_decomposition,
    box_improvement,
    hypervolume,
    hypervolume_improvement,
    nondominated,
)
from .predict import posterior, posterior_grad
from .subset import fit_subset
from .warmup import warmup, warmup_in_background
from .warp import fit_yeo_johnson

__all__ = [
    # matern
    "matern52",
    "matern52_grad_x",
    # linalg
    "cholesky_jitter",
    "solve_lower",
    "solve_lower_t",
    "cholesky_extend",
    # gp
    "theta_bounds",
    "default_theta",
    "neg_log_posterior",
    "neg_log_posterior_and_grad",
    "factorize",
    "fit_gp",
    "fit_subset",
    # posterior
    "posterior",
    "posterior_grad",
    # acquisition
    "EI",
    "LOG_EI",
    "UCB",
    "PI",
    "LOG_PI",
    "acquisition",
    "acquisition_grad",
    "erfcx",
    "log_h",
    # the model object and acquisitions over it
    "GPModel",
    "PosteriorAcquisition",
    "CompositeAcquisition",
    "standardize",
    # optimize
    "maximize",
    "score_candidates",
    "acquisition_value_and_grad",
    "snap",
    "maximize_acquisition",
    "minimize_batch",
    # warping
    "yeo_johnson",
    "yeo_johnson_llf",
    "fit_yeo_johnson",
    "warmup",
    "warmup_in_background",
    # several objectives and constraints
    "nondominated",
    "hypervolume",
    "box_decomposition",
    "box_improvement",
    "hypervolume_improvement",
    "log_ehvi",
    "log_ehvi_grad",
    "log_prob_feasible",
    "log_prob_feasible_grad",
    # BLAS threads
    "blas_threads",
]
