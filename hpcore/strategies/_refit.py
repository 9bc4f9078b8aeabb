"""GP hyperparameter refits in a background thread, swapped in at a fixed point.

At a few hundred observations and more, a hyperparameter fit costs far
more than a suggestion (0.3-3 s against tens of milliseconds at
n = 1,000-5,000, d = 10). A :class:`BackgroundRefit` fits on a copy of the
data as it was when the refit fell due (``n0`` observations) in a daemon
thread, while the suggestions keep using the previous hyperparameters with
the factor extended by each new point. The kernels release the GIL (numba
``nogil``, LAPACK), so on a machine with a free core the fit costs the
search nothing.

When it is swapped in is fixed in advance: at the first suggestion made
with at least ``swap_at`` observations. That suggestion waits for the fit
if it is not done yet, so the suggestions of a seeded search do not depend
on how fast the machine is: the same seed and the same results give the
same suggestions, as with refits made in place.
"""

from __future__ import annotations

import threading

import numpy as np

from ..kernels import GPModel

__all__ = ["BackgroundRefit"]


class BackgroundRefit:
    """One :meth:`GPModel.fit <hpcore.kernels.GPModel.fit>` running in a daemon thread.

    Parameters
    ----------
    X, y, cat
        The model's inputs, values and categorical mask at the snapshot
        (copied here, so the caller may keep appending).
    swap_at : int
        The number of observations from which the result is used.
    **fit_options
        Passed to :meth:`GPModel.fit` (``theta0``, ``n_restarts``, ``seed``,
        ``max_points``).
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, cat: np.ndarray, *, swap_at: int,
                 **fit_options) -> None:
        self.n = len(y)
        self.swap_at = int(swap_at)
        self._model: GPModel | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, args=(X.copy(), np.array(y, dtype=np.float64), cat.copy()),
            kwargs=fit_options, name="hpcore-gp-refit", daemon=True,
        )
        self._thread.start()

    def _run(self, X: np.ndarray, y: np.ndarray, cat: np.ndarray, **fit_options) -> None:
        try:
            self._model = GPModel.fit(X, y, cat, **fit_options)
        except BaseException as exc:  # noqa: BLE001 -- raised again in the caller's thread
            self._error = exc

    @property
    def done(self) -> bool:
        """Whether the fit has finished (successfully or not)."""
        return self._thread is None or not self._thread.is_alive()

    def result(self) -> GPModel:
        """The fitted model of the snapshot, waiting for it if needed.

        Raises
        ------
        Exception
            Whatever the fit raised, in the caller's thread.
        """
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._model is not None
        return self._model

    # A strategy may be copied or pickled (asv's setup_cache, a checkpoint): the
    # copy holds the finished fit, waited for here, since a thread cannot be copied.
    def __getstate__(self) -> dict:
        if self._thread is not None:
            self._thread.join()
        return {"n": self.n, "swap_at": self.swap_at, "model": self._model, "error": self._error}

    def __setstate__(self, state: dict) -> None:
        self.n, self.swap_at = state["n"], state["swap_at"]
        self._model, self._error, self._thread = state["model"], state["error"], None
