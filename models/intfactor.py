"""Exact integer factorizations of a multiplier's error table, ``d * E = Fa Fb^T``.

The lowrank path computes ``sum_k E(x[m, k], w[k, n])`` as GEMMs of ``Fa`` gathered
by activation and ``Fb`` gathered by weight. Every float or int8 GEMM stays exact
only while its operands are small integers, so the size of the factors' entries
sets the cost: each int8 GEMM term carries one digit in [-128, 127].

Two factorizations, both checked exactly:

``lattice_factors``
    A basis of the lattice spanned by E's columns, LLL-reduced (Lenstra, Lenstra
    and Lovasz 1982). Every column of E is an integer combination of the basis,
    so ``d = 1``, and the reduced basis vectors are short: for a truncated
    multiplier they come out as scaled bit planes of ``a`` (entries <= 64), and
    the coefficients are <= 4. Tried with E and with E^T, the cheaper kept.
``skeleton``
    The CUR decomposition ``E = E[:, P] E[Q, P]^-1 E[Q, :]`` on r pivot rows and
    columns, made integer by a common denominator ``d``.

:func:`best_factors` keeps whichever needs fewer int8 terms.
"""

from fractions import Fraction
from functools import reduce
from math import gcd, lcm

import numpy as np

_I8 = (-128, 127)
F64_EXACT = 1 << 53
_LLL_MAX_STEPS = 5000


def _pivots(m, r):
    """r row indices of integer matrix ``m`` whose rows are independent (pivoted QR of m^T)."""
    import scipy.linalg as sl
    _, _, piv = sl.qr(m.T.astype(np.float64), pivoting=True, mode="economic")
    return np.sort(piv[:r])


def _inverse(rows):
    """Exact inverse of a square list-of-lists integer matrix (Fractions), or None if singular."""
    r = len(rows)
    aug = [[Fraction(int(v)) for v in row] + [Fraction(int(i == j)) for j in range(r)] for i, row in enumerate(rows)]
    for c in range(r):   # Gauss-Jordan in exact rationals
        p = next((i for i in range(c, r) if aug[i][c] != 0), None)
        if p is None:
            return None
        aug[c], aug[p] = aug[p], aug[c]
        aug[c] = [v / aug[c][c] for v in aug[c]]
        for i in range(r):
            if i != c and aug[i][c] != 0:
                f = aug[i][c]
                aug[i] = [a - f * b for a, b in zip(aug[i], aug[c])]
    return [row[r:] for row in aug]


def _coefficients(basis, e):
    """Rational ``C`` (r, n) with ``basis @ C == e``, on r independent rows of ``basis`` (m, r)."""
    r = basis.shape[1]
    rows = _pivots(basis, r)
    inv = _inverse(basis[rows].tolist())
    if inv is None:
        return None
    er = e[rows].tolist()
    return [[sum(inv[i][k] * er[k][j] for k in range(r)) for j in range(e.shape[1])] for i in range(r)]


def _finish(fa, fb, d, e):
    """Checked int64 factors ``(fa, fb, d, peak)``: ``fa @ fb.T == d * e``, sums exact in float64."""
    if not ((fa @ fb.T) == d * e.astype(object)).all():
        return None
    peak = int((np.abs(fa) @ np.abs(fb).T).max())
    if peak >= F64_EXACT or max(int(np.abs(fa).max()), int(np.abs(fb).max())) >= 1 << 62:
        return None
    return fa.astype(np.int64), fb.astype(np.int64), int(d), peak


def skeleton(e, r):
    """Integer skeleton factors ``(fa (m, r), fb (n, r), d, peak)`` of integer ``e`` of rank r, or None."""
    if r == 0:
        return None
    cols = _pivots(e.T, r)
    rows = _pivots(e[:, cols], r)
    inv = _inverse(e[np.ix_(rows, cols)].tolist())
    if inv is None:
        return None
    eq = e[rows].tolist()
    core = [[sum(inv[i][k] * eq[k][j] for k in range(r)) for j in range(e.shape[1])] for i in range(r)]
    d = 1
    for row in core:
        for v in row:
            d = lcm(d, v.denominator)
    fb = np.array([[int(v * d) for v in row] for row in core], dtype=object).T
    fa = e[:, cols].astype(object)
    for j in range(r):   # move each column's common factor to the other side, then shrink d
        g = reduce(gcd, (int(v) for v in fa[:, j])) or 1
        fa[:, j] //= g
        fb[:, j] *= g
    g = reduce(gcd, [int(v) for v in fb.ravel()] + [d])
    return _finish(fa, fb // g, d // g, e)


def column_lattice(e, r):
    """A basis (m, r) of python ints of the lattice the columns of ``e`` (rank r) generate.

    Integer elimination on r independent rows Q: a vector of the column space that is zero
    on Q is zero, so after Q is cleared nothing is left."""
    rows = _pivots(e, r)
    vecs = [np.array([int(v) for v in e[:, j]], dtype=object) for j in range(e.shape[1]) if e[:, j].any()]
    basis = []
    for q in rows:
        live = [v for v in vecs if v[q] != 0]
        vecs = [v for v in vecs if v[q] == 0]
        while len(live) > 1:   # Euclid on the q-th entries
            live.sort(key=lambda v: abs(v[q]))
            p, kept = live[0], [live[0]]
            for v in live[1:]:
                v = v - (v[q] // p[q]) * p
                if v[q] != 0:
                    kept.append(v)
                elif any(v):
                    vecs.append(v)
            live = kept
        if not live:
            return None
        basis.append(live[0])
    if any(any(v) for v in vecs):
        return None
    return np.array(basis, dtype=object).T


def lll(basis, delta=0.99):
    """LLL-reduced basis (same lattice) of the independent integer columns of ``basis`` (m, r).

    Integer row operations only, steered by a float64 Gram-Schmidt; gives up (None) after
    a step budget, which only large or ill-conditioned inputs reach."""
    b = [basis[:, j].copy() for j in range(basis.shape[1])]
    r = len(b)

    def gram_schmidt():
        bf = np.array([v.astype(np.float64) for v in b])
        q, mu, nrm = np.zeros_like(bf), np.zeros((r, r)), np.zeros(r)
        for i in range(r):
            v = bf[i].copy()
            for j in range(i):
                mu[i, j] = bf[i] @ q[j] / nrm[j]
                v -= mu[i, j] * q[j]
            q[i], nrm[i] = v, v @ v
        return mu, nrm

    mu, nrm = gram_schmidt()
    k, steps = 1, 0
    while k < r:
        steps += 1
        if steps > _LLL_MAX_STEPS:
            return None
        for j in range(k - 1, -1, -1):   # size reduction
            c = round(mu[k, j])
            if c:
                b[k] = b[k] - c * b[j]
                mu, nrm = gram_schmidt()
        if nrm[k] >= (delta - mu[k, k - 1] ** 2) * nrm[k - 1]:
            k += 1
        else:
            b[k], b[k - 1] = b[k - 1], b[k]
            mu, nrm = gram_schmidt()
            k = max(k - 1, 1)
    return np.array(b, dtype=object).T


def _lattice_side(e, r):
    basis = column_lattice(e, r)
    basis = lll(basis) if basis is not None else None
    if basis is None:
        return None
    coef = _coefficients(basis, e)
    if coef is None or any(v.denominator != 1 for row in coef for v in row):
        return None
    return _finish(basis, np.array([[int(v) for v in row] for row in coef], dtype=object).T, 1, e)


def term_count(factors):
    """int8 GEMM terms the factors need (:func:`column_terms` summed over columns)."""
    fa, fb = factors[0], factors[1]
    return sum(len(column_terms(fa[:, j], fb[:, j])[1]) for j in range(fa.shape[1]))


def lattice_factors(e, r):
    """Short integer factors ``(fa, fb, 1, peak)`` with ``fa @ fb.T == e`` (rank r), or None.

    The reduced side is tried on both operands; the one needing fewer int8 terms
    (:func:`term_count`), then the smaller peak, is kept."""
    if r == 0:
        return None
    got = [_lattice_side(e, r), _lattice_side(e.T, r)]
    if got[1] is not None:
        got[1] = (got[1][1], got[1][0], got[1][2], got[1][3])
    got = [g for g in got if g is not None]
    return min(got, key=lambda g: (term_count(g), g[3])) if got else None


def best_factors(e, r):
    """``(factors, method)``: the lattice or the skeleton factors, whichever needs fewer int8 terms
    (then has the smaller peak); the lattice ones on a tie. ``(None, None)`` if neither exists.
    Over the 8-bit library's 274 designs with 0 < rank <= 16 the lattice needs fewer terms on 147,
    as many on 124, more on 3 (BAM h=2,v=7: 6 terms against 11; trunc k=10 signed: 13 against 16);
    ``benchmarks/library_ranks.py`` prints these counts."""
    got = [(f, m) for f, m in ((lattice_factors(e, r), "lattice"), (skeleton(e, r), "skeleton")) if f is not None]
    return min(got, key=lambda g: (term_count(g[0]), g[0][3])) if got else (None, None)


def digits(v, bits=8):
    """Signed base-``2^bits`` digits of an integer vector: ``v = sum_i 2^(bits*i) D_i``,
    each ``D_i`` in ``[-2^(bits-1), 2^(bits-1))`` (int8 for bits=8; ``bits`` >= 2, as radix 2
    has no such digit set that terminates)."""
    if bits < 2:
        raise ValueError("digits: bits must be >= 2")
    v = np.asarray(v, dtype=np.int64)
    half, base = 1 << (bits - 1), 1 << bits
    out = []
    while True:
        lo = (v + half) % base - half
        out.append(lo)
        v = (v - lo) >> bits
        if not v.any():
            return out


def _fits(v, lo=_I8[0], hi=_I8[1]):
    return int(v.min()) >= lo and int(v.max()) <= hi


def _parts(v, lo, hi):
    """``v`` as the fewest near-equal parts that lie in [lo, hi] (``lo < 0 < hi``), ``v = sum_j P_j`` with
    ``P_j = floor((v + j) / n)``; one part where ``v`` fits."""
    n = 1
    while int(v.min()) // n < lo or -(-int(v.max()) // n) > hi:
        n += 1
    return [(v + j) // n for j in range(n)]


def constant(v):
    """Whether every entry of the vector ``v`` is the same (a weight digit that does not depend on the weight)."""
    return v.size > 0 and bool((v == v[0]).all())


def column_terms(fa, fb, offset=True, b_range=_I8):
    """One factor column ``fa (x) fb`` as int8 GEMM terms: ``(c, [(shift, da, db), ...])`` with
    ``fa(a) fb(b) = c fb(b) + sum 2^shift da(a) db(b)``, every ``da`` int8 and every ``db`` in
    ``b_range`` (int8 by default; the ``u8x7`` GEMM route asks for [-64, 64]).

    ``c`` centres ``fa`` (its part, ``c * sum_k fb(w)``, depends on the weights only). Terms all
    at shift 0 when one side splits into radix-2^s digits whose partners, scaled by 2^(s*i),
    still fit. Otherwise digit products at shifts (separate GEMMs): base-256 digits of ``fa``
    times base-2^t digits of ``fb`` (t = 8, or 7 for [-64, 64]) at shifts ``8i + t*l``.

    With a ``b_range`` narrower than int8, two more shift-0 forms: ``fb`` in a few near-equal parts
    against the same ``fa`` (the exact product's ``b'`` in [-128, 127]: two parts in [-64, 64]),
    and ``fb`` centred by ``c_b``, ``fa (fb - c_b) + c_b fa``, whose last part has a constant
    weight digit: it depends on the activation only, and the layout sums it without a GEMM slot
    (:func:`.i8layout.layout`). There the form with the fewest terms of non-constant weight digits
    is kept, and shifted terms replace it only when they are fewer than half as many."""
    fa, fb = np.asarray(fa, dtype=np.int64), np.asarray(fb, dtype=np.int64)
    lo, hi = b_range
    narrow = (lo, hi) != _I8

    def slots(terms):   # GEMM slots: on a narrow range the constant-weight terms take none
        return sum(1 for _, _, db in terms if not (narrow and constant(db))), len(terms)

    best = None

    def consider(c, terms):
        nonlocal best
        if best is None or slots(terms) < slots(best[1]):
            best = (c, terms)

    cs = [0]
    if offset and fa.size:
        cs.append((int(fa.min()) + int(fa.max()) + 1) // 2)
    for c in cs:
        fc = fa - c
        for s in range(2, 9):   # split one side into radix-2^s digits (radix 2 has no signed digit set), scale the other
            for x, y, swap in ((fc, fb, False), (fb, fc, True)):
                ds = digits(x, s)
                if not narrow and best is not None and len(ds) >= len(best[1]):
                    continue
                scaled = [y << (s * i) for i in range(len(ds))]
                da, db = (scaled, ds) if swap else (ds, scaled)
                if all(_fits(d) for d in da) and all(_fits(d, lo, hi) for d in db):
                    consider(c, [(0, a, b) for a, b in zip(da, db)])
        if narrow and fb.size and _fits(fc):
            consider(c, [(0, fc, p) for p in _parts(fb, lo, hi)])
            cb = (int(fb.min()) + int(fb.max()) + 1) // 2
            if cb:
                consider(c, [(0, fc, p) for p in _parts(fb - cb, lo, hi)]
                         + [(0, fc, np.full_like(fb, int(q[0]))) for q in _parts(np.array([cb]), lo, hi)])
    c = cs[-1]
    t = min(-lo, hi + 1).bit_length() if narrow else 8   # signed base-2^t digits: [-2^(t-1), 2^(t-1)) in b_range
    levels = [(8 * i + t * m, da, db) for i, da in enumerate(digits(fa - c)) for m, db in enumerate(digits(fb, t))]
    if best is not None and (not narrow or slots(best[1])[0] <= 2 * slots(levels)[0]):
        return best
    return c, levels
