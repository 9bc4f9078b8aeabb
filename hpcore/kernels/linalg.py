"""Cholesky factorisation with jitter, triangular solves and Cholesky extension.

Symbols and shapes
------------------
A : (n, n) symmetric positive (semi-)definite matrix; only its lower triangle is read.
L : (n, n) lower-triangular Cholesky factor, ``L @ L.T == A (+ jitter * I)``.
B : (n,) or (n, k) right-hand side(s).

Functions
---------
cholesky_jitter(A) -> (L (n, n), jitter float)
    Factor of ``A + jitter * I`` with the smallest jitter of a fixed ladder that works.
solve_lower(L, B) -> L^{-1} B, shape of B.
solve_lower_t(L, B) -> L^{-T} B, shape of B.
cholesky_extend(L (n, n), A12 (n, m), A22 (m, m)) -> L_new (n + m, n + m)
    Factor of the bordered matrix from the factor of its leading block, in O(n^2 m + m^3).

Implementation
--------------
The O(n^3) and O(n^2 k) work is done by LAPACK and BLAS (``dpotrf``, ``dtrsm``;
:mod:`hpcore.kernels._lapack` for a factor that is the leading block of a
larger buffer, which lets it grow a row at a time in place), called from Python: one call costs about a microsecond
of overhead, and LAPACK's blocked kernels beat a numba loop from n of a few
hundred on (measured: n = 1000, ``dpotrf`` 4.6 ms, numba's ``np.linalg.cholesky``
5.4 ms, a plain numba loop 14 ms). A C-contiguous lower factor ``L`` is the same
memory as the Fortran-ordered upper factor ``L.T``, so every call passes
``L.T`` with ``lower=0`` and LAPACK works in place on hpcore's C arrays
without copies. The private helpers ``_chol_lower_inplace`` and
``_solve_rows_inplace`` expose that for the other kernel modules.

Input checking helpers (``_as_matrix``, ``_as_vector``) used by every public
wrapper of the package live here too.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dpotrf, dtrtrs

from ._lapack import _leading, trsm_rows

__all__ = [
    "JITTER_LADDER",
    "cholesky_jitter",
    "solve_lower",
    "solve_lower_t",
    "cholesky_extend",
]

#: Relative jitters tried in turn by :func:`cholesky_jitter` (times ``mean(diag(A))``).
JITTER_LADDER = (0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)


# --------------------------------------------------------------------------- checks
def _as_matrix(name: str, a, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """``a`` as a C-contiguous float64 2-D array, its shape checked."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D array, got shape {a.shape}")
    if (rows is not None and a.shape[0] != rows) or (cols is not None and a.shape[1] != cols):
        want = f"({'n' if rows is None else rows}, {'d' if cols is None else cols})"
        raise ValueError(f"`{name}` must have shape {want}, got {a.shape}")
    return a


def _as_vector(name: str, a, size: int | None = None) -> np.ndarray:
    """``a`` as a C-contiguous float64 1-D array, its length checked."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D array, got shape {a.shape}")
    if size is not None and a.shape[0] != size:
        raise ValueError(f"`{name}` must have length {size}, got {a.shape[0]}")
    return a


def _as_square(name: str, a) -> np.ndarray:
    a = _as_matrix(name, a)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"`{name}` must be square, got shape {a.shape}")
    return a


# --------------------------------------------------------------------------- private fast paths
def _chol_lower_inplace(A: np.ndarray, clean: bool = True) -> bool:
    """Overwrite the lower triangle of C-contiguous ``A`` with its Cholesky factor.

    Reads only the lower triangle. With ``clean`` the strict upper triangle is
    zeroed. Returns False (``A`` then holds garbage) when ``A`` is not
    numerically positive definite or holds a NaN.
    """
    if A.shape[0] == 0:
        return True
    _, info = dpotrf(A.T, lower=0, clean=int(clean), overwrite_a=1)
    # OpenBLAS's dpotrf does not always flag NaN; a NaN or inf anywhere in row i
    # of the factor reaches its diagonal entry, so checking the diagonal suffices.
    return info == 0 and bool(np.isfinite(np.diagonal(A)).all())


def _solve_rows_inplace(L: np.ndarray, Rt: np.ndarray, transpose: bool) -> None:
    """Solve with the columns of ``Rt.T``, in place: ``Rt.T <- L^{-1} Rt.T`` (or ``L^{-T}``).

    ``Rt`` is C-contiguous (k, n): each of its rows is one right-hand side,
    which is exactly the Fortran layout LAPACK wants for ``Rt.T``. ``L`` is
    C-contiguous or the leading block of a factor buffer (:func:`_extend_factor`).
    """
    if L.shape[0] == 0 or Rt.shape[0] == 0:
        return
    if L.flags.c_contiguous:  # scipy's wrapper: a few microseconds less per call
        # L.T viewed in Fortran order is the upper factor U = L^T; op(U) = U^T = L when trans=1.
        _, info = dtrtrs(L.T, Rt.T, lower=0, trans=0 if transpose else 1, overwrite_b=1)
        zero = [info - 1] if info > 0 else []
    else:
        zero = np.flatnonzero(np.diagonal(L) == 0.0)
        if not len(zero):
            trsm_rows(L, Rt, transpose)
    if len(zero):
        raise np.linalg.LinAlgError(f"`L` is singular: zero on its diagonal at index {zero[0]}")


def _as_factor(L, n: int | None = None) -> np.ndarray:
    """``L`` as a float64 square array that :func:`_solve_rows_inplace` takes without a copy."""
    if isinstance(L, np.ndarray) and L.dtype == np.float64 and L.ndim == 2 \
            and L.shape[0] == L.shape[1] and (n is None or L.shape[0] == n):
        try:
            _leading(L)
            return L
        except ValueError:
            pass
    L = _as_square("L", L)
    if n is not None and L.shape[0] != n:
        raise ValueError(f"`L` must have shape ({n}, {n}), got {L.shape}")
    return L


#: Factors of fewer rows are plain arrays, copied when they grow: a copy costs
#: little there, and scipy's ``dtrtrs`` on a contiguous factor has less
#: overhead per call than ``dtrsm`` through ctypes (the acquisition's local
#: searches make hundreds of calls per suggestion).
ROOM_FROM = 512


def _factor_buffer(n: int) -> np.ndarray:
    """A zeroed square buffer for a factor of ``n`` rows, with room to grow.

    The room (n / 32, at least 64 rows) makes growing row by row copy the
    factor once per n / 32 rows: O(n) per row amortised, and 6 % more
    memory than the factor itself.
    """
    side = n + max(64, n // 32)
    return np.zeros((side, side))


def _extend_factor(L: np.ndarray, used: list[int], A12: np.ndarray, A22: np.ndarray
                   ) -> tuple[np.ndarray, list[int]]:
    """:func:`cholesky_extend` that writes into ``L``'s buffer when it may.

    ``used`` (a one-item list shared by the factors on one buffer) is how
    many rows of the buffer have been written. The new rows go in place
    when ``L`` ends there and the buffer has room, so that an earlier
    factor on the same buffer (its leading block) stays valid; otherwise
    into a fresh buffer (:func:`_factor_buffer`). Below :data:`ROOM_FROM`
    rows it is :func:`cholesky_extend` (a plain array; ``used`` ``[-1]``). Returns the new factor
    (a leading block) and its ``used``; the trailing block is NaN where
    the Schur complement is not positive definite, as in
    :func:`cholesky_extend`.
    """
    n, m = L.shape[0], A22.shape[0]
    if n + m < ROOM_FROM:
        return cholesky_extend(L, A12, A22), [-1]
    L21, L22 = _border(L, A12, A22)
    buffer, side = _leading(L)
    if used[0] != n or side < n + m or buffer is L:
        buffer, used = _factor_buffer(n + m), [n]
        buffer[:n, :n] = L
    buffer[n : n + m, :n] = L21
    buffer[n : n + m, n : n + m] = L22
    used[0] = n + m
    return buffer[: n + m, : n + m], used


def _jitter_ladder(A: np.ndarray) -> tuple[np.ndarray, float]:
    """Try the jitters of :data:`JITTER_LADDER` on C-contiguous ``A`` (not modified)."""
    n = A.shape[0]
    scale = float(np.mean(np.diagonal(A))) if n else 1.0
    if scale > 0.0 and np.isfinite(scale):
        for rel in JITTER_LADDER:
            jitter = rel * scale
            B = A.copy()
            if jitter:
                B.flat[:: n + 1] += jitter
            if _chol_lower_inplace(B):
                return B, jitter
    return np.full((n, n), np.nan), -1.0


# --------------------------------------------------------------------------- public
def cholesky_jitter(A) -> tuple[np.ndarray, float]:
    """Lower Cholesky factor of ``A + jitter * I`` with the smallest jitter that works.

    Tries ``jitter = c * mean(diag(A))`` for ``c`` in :data:`JITTER_LADDER`
    (0, then 1e-10, 1e-9, ..., 1e-3), in order.

    Parameters
    ----------
    A : (n, n) array
        Symmetric matrix; only its lower triangle is read.

    Returns
    -------
    L : (n, n) array
        Lower-triangular factor (strict upper triangle zero),
        ``L @ L.T == A + jitter * I``; all NaN when every jitter failed.
    jitter : float
        The absolute jitter added to the diagonal; -1.0 when every jitter failed
        (including when ``mean(diag(A)) <= 0`` or ``A`` holds NaN).
    """
    return _jitter_ladder(_as_square("A", A))


def _rhs(L, B) -> tuple[np.ndarray, np.ndarray, bool]:
    """Checked ``L`` and the right-hand sides as C-contiguous rows (k, n) of a fresh array."""
    L = _as_square("L", L)
    B = np.asarray(B, dtype=np.float64)
    if B.ndim not in (1, 2) or B.shape[0] != L.shape[0]:
        raise ValueError(
            f"`B` must have shape ({L.shape[0]},) or ({L.shape[0]}, k) to match `L`, got {B.shape}"
        )
    vector = B.ndim == 1
    Bt = np.array(B.reshape(1, -1) if vector else B.T, dtype=np.float64, order="C")
    return L, Bt, vector


def solve_lower(L, B) -> np.ndarray:
    """``L^{-1} B`` for lower-triangular ``L``.

    Parameters
    ----------
    L : (n, n) array
        Lower-triangular, non-singular; its strict upper triangle is not read.
    B : (n,) or (n, k) array

    Returns
    -------
    (n,) or (n, k) array, C-contiguous.
    """
    L, Bt, vector = _rhs(L, B)
    _solve_rows_inplace(L, Bt, transpose=False)
    return Bt[0].copy() if vector else np.ascontiguousarray(Bt.T)


def solve_lower_t(L, B) -> np.ndarray:
    """``L^{-T} B`` for lower-triangular ``L`` (the back substitution of a Cholesky solve).

    Parameters and returns as for :func:`solve_lower`.
    """
    L, Bt, vector = _rhs(L, B)
    _solve_rows_inplace(L, Bt, transpose=True)
    return Bt[0].copy() if vector else np.ascontiguousarray(Bt.T)


def cholesky_extend(L, A12, A22) -> np.ndarray:
    """Cholesky factor of a bordered matrix from the factor of its leading block.

    Derivation: write the new matrix and its factor in blocks,

    .. math::

        \\begin{pmatrix} A_{11} & A_{12} \\\\ A_{12}^T & A_{22} \\end{pmatrix}
        = \\begin{pmatrix} L & 0 \\\\ L_{21} & L_{22} \\end{pmatrix}
          \\begin{pmatrix} L^T & L_{21}^T \\\\ 0 & L_{22}^T \\end{pmatrix}
        = \\begin{pmatrix} L L^T & L L_{21}^T \\\\ L_{21} L^T & L_{21} L_{21}^T + L_{22} L_{22}^T
          \\end{pmatrix}.

    The top-left block holds by assumption (``L = chol(A11)``). The top-right
    block gives ``L21^T = L^{-1} A12`` (one triangular solve with m right-hand
    sides, O(n^2 m)). The bottom-right block gives
    ``L22 L22^T = A22 - L21 L21^T``, the Schur complement of ``A11``, which is
    positive definite exactly when the whole matrix is; ``L22`` is its Cholesky
    factor (O(n m^2 + m^3)). The result equals the factor of the whole matrix
    computed afresh, up to rounding.

    Parameters
    ----------
    L : (n, n) array
        Lower Cholesky factor of the leading block ``A11``, strict upper triangle
        zero (as :func:`cholesky_jitter` returns it).
    A12 : (n, m) array
        Off-diagonal block (covariances between the old and the new points).
    A22 : (m, m) array
        Trailing block; only its lower triangle is read.

    Returns
    -------
    L_new : (n + m, n + m) array
        Lower factor of the whole matrix. Its trailing (m, m) block is NaN when
        the Schur complement is not numerically positive definite (then refactor
        the whole matrix with :func:`cholesky_jitter`). No jitter is added here.
    """
    L = _as_square("L", L)
    n = L.shape[0]
    A22 = _as_square("A22", A22)
    m = A22.shape[0]
    A12 = _as_matrix("A12", A12, rows=n, cols=m)
    L21, L22 = _border(L, A12, A22)
    out = np.zeros((n + m, n + m))
    out[:n, :n] = L
    out[n:, :n] = L21
    out[n:, n:] = L22
    return out


def _border(L: np.ndarray, A12: np.ndarray, A22: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The new blocks of :func:`cholesky_extend`: ``L21`` (m, n) and lower ``L22`` (m, m),
    NaN where the Schur complement is not positive definite."""
    # L21 (m, n) C-contiguous: its rows are the right-hand sides of L x = A12[:, j].
    L21 = np.ascontiguousarray(A12.T)
    _solve_rows_inplace(L, L21, transpose=False)
    S = A22 - L21 @ L21.T
    if not _chol_lower_inplace(S):
        S[:] = np.nan
    return L21, np.tril(S)
