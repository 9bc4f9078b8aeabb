"""Thread limits for the BLAS/LAPACK calls of the kernel layer.

The matrices of a GP are small (n up to a few thousand): OpenBLAS's threads
cost more to wake than they save, and on a loaded machine they contend for
cores and make a fit 10-100x slower (measured: 0.6 ms -> 5-70 ms per
likelihood evaluation at n = 200 on 2 busy cores). :func:`blas_threads`
limits them for the duration of a block and restores the previous setting
on exit, through ``threadpoolctl`` when it is installed (it comes with
scikit-learn); without it the block runs unchanged. The libraries are
looked up once per process.

The limit is process-wide (OpenBLAS has one thread count), so blocks that
overlap in several threads (a suggestion in the driver's thread, a
hyperparameter refit in a background one) share one limiter: the first
block to enter sets it, the last to leave restores the setting from before.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["blas_threads"]


_controller = None  # threadpoolctl's view of the loaded libraries, found once
_lock = threading.Lock()
_depth = 0  # blocks inside blas_threads now, in every thread
_limiter: Any = None  # threadpoolctl's limiter while _depth > 0


def _find_controller() -> Any:
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return None
        # Scanning the process's shared libraries costs ~2 ms: do it once, after
        # the kernels have loaded scipy.linalg (and with it its BLAS).
        import scipy.linalg  # noqa: F401

        _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def blas_threads(n: int = 1) -> Iterator[None]:
    """Limit BLAS/LAPACK to ``n`` threads inside the block.

    Blocks may nest and overlap across threads; the outermost sets the limit
    and the last to leave restores the previous setting.
    """
    global _depth, _limiter
    with _lock:
        controller = _find_controller()
        if controller is None:
            entered = False
        else:
            entered = True
            if _depth == 0:
                _release_openblas()
                _limiter = controller.limit(limits=n, user_api="blas")
            _depth += 1
    try:
        yield
    finally:
        if entered:
            with _lock:
                _depth -= 1
                if _depth == 0:
                    _release_openblas()
                    _limiter.restore_original_limits()
                    _limiter = None
                    _release_openblas()


def _release_openblas() -> None:
    """Let this thread change OpenBLAS's thread count (threadpoolctl >= 3.6).

    threadpoolctl lets only one Python thread, the first to set it, change
    the count of OpenBLAS's process-wide pool; the others are silently
    ignored. Here the limit may be set in one thread and restored in another
    (a refit in the background), always under ``_lock``, so the claim is
    released before each change and after the restore.
    """
    import threadpoolctl

    openblas = getattr(threadpoolctl, "OpenBLASController", None)
    clear = getattr(openblas, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)
