"""BLAS ``dtrsm``, ``dtrsv`` and LAPACK ``dpotrf`` on the leading block of a larger matrix.

A GP's Cholesky factor grows by a row per observation. Kept in a square
buffer with spare rows (:mod:`hpcore.kernels.linalg`), it grows in place,
in O(n) new memory per row instead of a fresh O(n^2) copy (200 MB at
n = 5,000). LAPACK works on such a leading block through its leading
dimension (``lda``), but scipy's wrappers (``scipy.linalg.lapack``) insist
on arrays of exactly the block's shape and copy views. So these two
routines are called here through the function pointers scipy exports for
Cython (``scipy.linalg.cython_blas``, ``cython_lapack``), with ctypes, which
releases the GIL during the call. The integer type is scipy's Fortran
``int`` (32 bits), which bounds ``n`` far beyond what a GP here holds.

Layout: a C-contiguous row-major ``(c, c)`` buffer whose leading ``(n, n)``
block holds the lower factor ``L`` is, to Fortran, the upper factor
``U = L^T`` with ``lda = c``. Right-hand sides are the rows of a
C-contiguous ``(k, n)`` array, i.e. the columns of a Fortran ``(n, k)`` one.
"""

from __future__ import annotations

import ctypes

import numpy as np

__all__ = ["potrf_lower", "trsm_rows"]

_int_p = ctypes.POINTER(ctypes.c_int)
_double_p = ctypes.POINTER(ctypes.c_double)


def _function(module, name: str, *argtypes):
    capsule = module.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object,
                                                                    ctypes.c_char_p]
    address = get_pointer(capsule, get_name(capsule))
    return ctypes.CFUNCTYPE(None, *argtypes)(address)


def _load():
    from scipy.linalg import cython_blas, cython_lapack

    c = ctypes.c_char_p
    trsm = _function(cython_blas, "dtrsm", c, c, c, c, _int_p, _int_p, _double_p,
                     ctypes.c_void_p, _int_p, ctypes.c_void_p, _int_p)
    trsv = _function(cython_blas, "dtrsv", c, c, c, _int_p, ctypes.c_void_p, _int_p,
                     ctypes.c_void_p, _int_p)
    potrf = _function(cython_lapack, "dpotrf", c, _int_p, ctypes.c_void_p, _int_p, _int_p)
    return trsm, trsv, potrf


_TRSM, _TRSV, _POTRF = _load()


def _leading(L: np.ndarray) -> tuple[np.ndarray, int]:
    """The C-contiguous square array whose leading block ``L`` is, and its side (lda)."""
    if L.flags.c_contiguous:
        return L, max(1, L.shape[1])
    base = L.base
    if (isinstance(base, np.ndarray) and base.ndim == 2 and base.flags.c_contiguous
            and base.dtype == np.float64 and L.strides == base.strides
            and L.ctypes.data == base.ctypes.data):
        return base, base.shape[1]
    raise ValueError("`L` must be C-contiguous or the leading block of a C-contiguous array")


def trsm_rows(L: np.ndarray, Rt: np.ndarray, transpose: bool) -> None:
    """Rows of ``Rt`` (k, n) <- ``L^{-1}`` (or ``L^{-T}``) times them, in place.

    ``L`` (n, n) is lower-triangular (only its lower triangle is read):
    C-contiguous, or the leading block of a C-contiguous square buffer.
    """
    n, k = L.shape[0], Rt.shape[0]
    if n == 0 or k == 0:
        return
    if not (Rt.flags.c_contiguous and Rt.dtype == np.float64 and Rt.shape[1] == n):
        raise ValueError(f"`Rt` must be C-contiguous float64 of shape (k, {n}), got {Rt.shape}")
    base, lda = _leading(L)
    # U = L^T in Fortran terms: op(U) = U^T = L solves with L, op(U) = U with L^T.
    trans = b"N" if transpose else b"T"
    if k <= 2:  # one or two right-hand sides: dtrsv is 3x faster than dtrsm (n = 5,000)
        n_, lda_, inc = ctypes.c_int(n), ctypes.c_int(lda), ctypes.c_int(1)
        for row in Rt:
            _TRSV(b"U", trans, b"N", ctypes.byref(n_), base.ctypes.data, ctypes.byref(lda_),
                  row.ctypes.data, ctypes.byref(inc))
        return
    m_, n_, lda_, ldb_ = ctypes.c_int(n), ctypes.c_int(k), ctypes.c_int(lda), ctypes.c_int(n)
    one = ctypes.c_double(1.0)
    _TRSM(b"L", b"U", trans, b"N", ctypes.byref(m_), ctypes.byref(n_), ctypes.byref(one),
          base.ctypes.data, ctypes.byref(lda_), Rt.ctypes.data, ctypes.byref(ldb_))


def potrf_lower(buffer: np.ndarray, n: int) -> bool:
    """Cholesky factor of the leading ``(n, n)`` block of ``buffer``, in place (lower).

    ``buffer`` is a C-contiguous square float64 array; only the lower
    triangle of the block is read and written. Returns False (the block
    then holds garbage) when it is not numerically positive definite.
    """
    if not (buffer.flags.c_contiguous and buffer.dtype == np.float64 and buffer.ndim == 2
            and buffer.shape[0] == buffer.shape[1] >= n):
        raise ValueError("`buffer` must be a C-contiguous square float64 array of side >= n")
    if n == 0:
        return True
    n_, lda_, info = ctypes.c_int(n), ctypes.c_int(buffer.shape[1]), ctypes.c_int(0)
    _POTRF(b"U", ctypes.byref(n_), buffer.ctypes.data, ctypes.byref(lda_), ctypes.byref(info))
    # As with dpotrf through scipy: OpenBLAS does not always flag NaN, and a NaN
    # or inf anywhere in row i of the factor reaches its diagonal entry.
    return info.value == 0 and bool(np.isfinite(np.diagonal(buffer[:n, :n])).all())
