"""The factorisations of a product table that the lowrank path multiplies with.

``LUT(a, b) = a*b + E(a, b)``; the lowrank path replaces the gather of ``E`` by
GEMMs of factors gathered by operand value. Three kinds are computed here:

* :func:`error_svd` and :func:`svd_factors`: E's SVD, its numerical rank and the
  float64 factors of a (possibly truncated) rank, with their reconstruction error;
  used where no integer factors exist or a smaller rank is asked for;
* :func:`integer_factors`: exact integer factors ``E = Fa Fb^T / d``, the
  LLL-reduced lattice basis or the skeleton (CUR) decomposition,
  whichever needs fewer int8 terms (:func:`.intfactor.best_factors`);
* :func:`lut_integer_factors`: the same for the whole LUT, ``LUT = Fa Fb^T / d``.

Integer factors are only sought up to rank :data:`SKELETON_MAX_RANK`.
"""

import numpy as np

from . import intfactor

__all__ = ["SKELETON_MAX_RANK", "error_svd", "svd_factors", "integer_factors", "lut_integer_factors"]

SKELETON_MAX_RANK = 16


def error_svd(e):
    """``(u, s, vt, rank)``: the thin SVD of the integer matrix ``e`` in float64 and its numerical
    rank (singular values above ``s[0] * max(e.shape) * eps``)."""
    e = e.astype(np.float64)
    u, s, vt = np.linalg.svd(e, full_matrices=False)
    tol = (s[0] if s.size and s[0] > 0 else 0.0) * max(e.shape) * np.finfo(np.float64).eps
    return u, s, vt, int((s > tol).sum())


def svd_factors(svd, e, r):
    """``(fa (m, r), fb (n, r), err)``: float64 factors ``fa @ fb.T`` of rank ``r`` from ``svd``
    (:func:`error_svd` of ``e``), split as ``u sqrt(s)`` and ``v sqrt(s)``, and the largest
    per-entry deviation from ``e``."""
    u, s, vt, _ = svd
    root = np.sqrt(s[:r])
    fa, fb = u[:, :r] * root, vt[:r].T * root
    err = float(np.abs(e - fa @ fb.T).max()) if r else float(np.abs(e).max())
    return fa, fb, err


def integer_factors(m, r):
    """``(factors, method)``: :func:`.intfactor.best_factors` of the integer matrix ``m`` of rank
    ``r``, ``factors = (Fa, Fb, d, peak)`` and ``method`` ``lattice`` or ``skeleton``;
    ``(None, None)`` when ``r`` is 0 or above :data:`SKELETON_MAX_RANK`, or no factorisation
    passes its exact check."""
    return intfactor.best_factors(m, r) if 0 < r <= SKELETON_MAX_RANK else (None, None)


def lut_integer_factors(t):
    """Integer factors ``(Fa, Fb, d, peak)`` of a whole LUT ``t`` (int64, value-indexed), of its
    numerical rank, as :func:`integer_factors` gives them (None where that gives none)."""
    r = int(np.linalg.matrix_rank(t.astype(np.float64)))
    return intfactor.best_factors(t, r)[0] if 0 < r <= SKELETON_MAX_RANK else None
