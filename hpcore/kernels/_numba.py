"""The one numba policy of :mod:`hpcore.kernels`.

Every compiled kernel of the package is decorated with :func:`jit`, so that
all of them share the same settings:

* ``cache=True``: compiled machine code is written next to the source (or
  under ``NUMBA_CACHE_DIR``) and loaded by later processes, so only the first
  run on a machine pays the compile;
* nopython mode (``numba.njit``) and ``nogil=True``, so kernels may run in
  threads;
* ``fastmath=FASTMATH``: reassociation, contraction into FMA, approximate
  reciprocals and functions, no signed zeros -- but *not* ``nnan``/``ninf``,
  so NaN and inf still propagate and compare as IEEE says (a failed
  factorisation or a poisoned input stays visible).

Kernels read no mutable module globals (the on-disk cache would freeze their
values); constants they need are literals or arguments. Kernels are typed by
C-contiguous float64 arrays (integer codes as int64); the Python wrappers
around them convert their inputs, so that each kernel compiles once.
"""

from __future__ import annotations

import numba

__all__ = ["FASTMATH", "jit"]

#: LLVM fast-math flags used by every kernel: everything of ``fastmath=True``
#: except ``nnan`` and ``ninf`` (NaN/inf semantics are kept).
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})


def jit(fn=None, **kw):
    """``numba.njit`` with the package policy (cache, nogil, :data:`FASTMATH`).

    Use as ``@jit`` or ``@jit(boundscheck=False)``; keyword arguments are
    passed on to ``numba.njit`` and override the policy only where given.
    """
    options = {"cache": True, "nogil": True, "fastmath": set(FASTMATH)}
    options.update(kw)
    if fn is None:
        return lambda f: numba.njit(f, **options)
    return numba.njit(fn, **options)
