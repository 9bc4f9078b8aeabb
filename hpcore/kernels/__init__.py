"""numba kernels on float64 arrays in the unit cube (GP, Cholesky, acquisitions).

This layer imports nothing else of hpcore. Its contents arrive with the
Bayesian search.
"""

__all__: list[str] = []
