"""Helpers shared by several families: Booth recoding, sign-magnitude wrapping."""

import numpy as np

from ._bits import (BitMatrix, and_, bits_of, negate, not_, or_, xor_)

__all__ = ["booth_matrix", "sign_magnitude_build", "sign_magnitude_model", "TREES"]

TREES = ("dadda", "wallace", "array")


def booth_matrix(be, a, b, signed, width):
    """Radix-4 (modified) Booth partial products in a :class:`BitMatrix`.

    Each digit ``d_j`` in {-2..2} selects ``0, +-A, +-2A``; rows are formed as
    ``(sel XOR neg) + neg`` and sign-extended with the inverted-sign-bit trick.
    Unsigned operands are zero-extended by one bit, so the same recoding serves
    both signednesses.
    """
    n, m = len(a), len(b)

    def A(i):
        if i < 0:
            return 0
        if i < n:
            return a[i]
        return a[n - 1] if signed else 0

    nb = m if signed else m + 1
    digits = (nb + 1) // 2

    def B(k):
        if k < 0:
            return 0
        if k < m:
            return b[k]
        return b[m - 1] if signed else 0

    row_w = n + 1 if signed else n + 2
    mat = BitMatrix(width)
    for j in range(digits):
        hi, mid, lo = B(2 * j + 1), B(2 * j), B(2 * j - 1)
        neg = hi
        one = be.wire(xor_(mid, lo), "bth_one")
        two = be.wire(or_(and_(hi, and_(not_(mid), not_(lo))),
                          and_(not_(hi), and_(mid, lo))), "bth_two")
        shift = 2 * j
        for i in range(row_w):
            sel = or_(and_(one, A(i)), and_(two, A(i - 1)))
            x = xor_(sel, neg)
            if i == row_w - 1:
                x = not_(x)
            mat.add(shift + i, be.wire(x, "bth_pp"))
        mat.add_const(-(1 << (shift + row_w - 1)))
        mat.add(shift, neg)
    return mat


def sign_magnitude_build(be, a, b, core):
    """Signed product from an unsigned core: ``sign(a)sign(b) * core(|a|, |b|)``."""
    n, m = len(a), len(b)
    sa, sb = a[n - 1], b[m - 1]
    mag_a = negate(be, a, sa)
    mag_b = negate(be, b, sb)
    out = core(be, mag_a, mag_b)
    sign = be.wire(xor_(sa, sb), "sm_sign")
    return negate(be, out, sign)


def sign_magnitude_model(a, b, spec, core):
    sign = np.sign(a) * np.sign(b)
    return sign * core(np.abs(a), np.abs(b))


def np_bits(values, width):
    return bits_of(np.asarray(values, dtype=np.int64), width)
