"""Thread limits for the BLAS/LAPACK calls of the kernel layer.

The matrices of a GP are small (n up to a few thousand): OpenBLAS's threads
cost more to wake than they save, and on a loaded machine they contend for
cores and make a fit 10-100x slower (measured: 0.6 ms -> 5-70 ms per
likelihood evaluation at n = 200 on 2 busy cores). :func:`blas_threads`
limits them for the duration of a block and restores the previous setting
on exit, through ``threadpoolctl`` when it is installed (it comes with
scikit-learn); without it the block runs unchanged. The libraries are
looked up once per process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["blas_threads"]


_controller = None  # threadpoolctl's view of the loaded libraries, found once


@contextlib.contextmanager
def blas_threads(n: int = 1) -> Iterator[None]:
    """Limit BLAS/LAPACK to ``n`` threads inside the block."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            yield
            return
        # Scanning the process's shared libraries costs ~2 ms: do it once, after
        # the kernels have loaded scipy.linalg (and with it its BLAS).
        import scipy.linalg  # noqa: F401

        _controller = ThreadpoolController()
    with _controller.limit(limits=n, user_api="blas"):
        yield
