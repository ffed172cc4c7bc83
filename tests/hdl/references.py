"""Independent bit-by-bit references of the approximate multiplier families.

Each function is written from the family's literature definition in plain
integer numpy arithmetic (one array element per operand pair) and shares no
code with ``axforge.hdl.arith``: no partial-product matrix, compressor,
rounding or sign-magnitude helper of the package is used. The tests compare
these references with the families' models, their circuits (numpy backend)
and the Verilog LUTs.

Conventions (as in :meth:`MultSpec.model`): operands are integer arrays
(two's-complement values when signed), products are returned as ``int64``
modulo ``2^(n+m)``, reinterpreted as two's complement when signed.

Signed partial products are those of the modified Baugh-Wooley form
(after Baugh & Wooley 1973): with ``a``
of ``n`` bits and ``b`` of ``m`` bits, the terms ``a_i b_j`` with exactly one
of ``i = n-1``, ``j = m-1`` are complemented, and the constant
``2^(n-1) + 2^(m-1) + 2^(n+m-1)`` is added, everything modulo ``2^(n+m)``.
Its binary digits are the *constant bits* (for ``n = m`` the two
``2^(n-1)`` terms make one bit at ``2^n``).
"""

import math
from fractions import Fraction

import numpy as np

__all__ = [
    "bw_constant", "partial_products", "expected_dropped", "round_half_away",
    "trunc_reference", "bam_reference", "cmp42_reference", "drum_reference",
    "APPROX_42", "reference",
]


# -- operands and partial products ---------------------------------------------------

def _raw(x, width):
    """Two's-complement (or unsigned) values -> their ``width``-bit pattern."""
    return np.asarray(x, dtype=np.int64) & ((1 << width) - 1)


def _finish(total, width, signed):
    total = np.asarray(total, dtype=np.int64) % (1 << width)
    if signed:
        total = np.where(total >= 1 << (width - 1), total - (1 << width), total)
    return total


def bw_constant(n, m, signed):
    """Constant of the modified Baugh-Wooley matrix (0 unsigned), reduced modulo ``2^(n+m)``."""
    if not signed:
        return 0
    return ((1 << (n - 1)) + (1 << (m - 1)) + (1 << (n + m - 1))) % (1 << (n + m))


def _complemented(i, j, n, m, signed):
    return signed and ((i == n - 1) != (j == m - 1))


def partial_products(a, b, n, m, signed):
    """Partial-product bits ``{(i, j): 0/1 int64 array}`` of ``a`` x ``b`` (weight ``2^(i+j)``).

    Unsigned: ``a_i b_j``. Signed: ``1 - a_i b_j`` on the mixed-sign terms
    (Baugh-Wooley); the constant is :func:`bw_constant`.
    """
    ra, rb = _raw(a, n), _raw(b, m)
    out = {}
    for j in range(m):
        bj = (rb >> j) & 1
        for i in range(n):
            bit = ((ra >> i) & 1) * bj
            out[i, j] = 1 - bit if _complemented(i, j, n, m, signed) else bit
    return out


def _bit_one_probability(i, j, n, m, signed):
    # Uniform operands have independent uniform bits: P(a_i b_j = 1) = 1/4.
    p = Fraction(1, 4)
    return 1 - p if _complemented(i, j, n, m, signed) else p


def expected_dropped(n, m, signed, k):
    """Expected value (Fraction) of everything in columns ``< k`` under uniform operands.

    That is the partial products with ``i + j < k`` plus the Baugh-Wooley
    constant bits below ``2^k``.
    """
    e = sum((_bit_one_probability(i, j, n, m, signed) * (1 << (i + j))
             for i in range(n) for j in range(m) if i + j < k), Fraction(0))
    return e + (bw_constant(n, m, signed) % (1 << k))


def round_half_away(value, step):
    """``value`` (a Fraction) rounded to the nearest multiple of ``step``, ties away from zero."""
    q = Fraction(value) / step
    r = math.floor(abs(q) + Fraction(1, 2))
    return (r if q >= 0 else -r) * step


# -- truncated --------------------------------------------------------------------

def trunc_reference(a, b, n, m, signed, k, comp="none"):
    """Truncated multiplier: partial-product columns ``i + j < k`` are not formed.

    The Baugh-Wooley constant bits below ``2^k`` go as well. ``comp``:

    * ``"none"``: nothing is added;
    * ``"const"``: constant correction (Schulte & Swartzlander 1993): the
      expected value of the dropped part under uniform operands, rounded
      (half away from zero) to a multiple of ``2^k``;
    * ``"var"``: variable correction (King & Swartzlander 1997): the
      partial products of column ``k - 1`` are added with weight ``2^k``
      instead of ``2^(k-1)``, plus the expected value of what is then still
      missing (dropped part minus ``2^k`` times the expected column-(k-1)
      bit count), rounded the same way.
    """
    width = n + m
    pp = partial_products(a, b, n, m, signed)
    total = np.zeros(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=np.int64)
    for (i, j), bit in pp.items():
        if i + j >= k:
            total = total + (bit << (i + j))
        elif comp == "var" and i + j == k - 1:
            total = total + (bit << k)
    total = total + (bw_constant(n, m, signed) >> k << k)
    if comp != "none" and k > 0:
        missing = expected_dropped(n, m, signed, k)
        if comp == "var":
            col = sum((_bit_one_probability(i, k - 1 - i, n, m, signed)
                       for i in range(n) if 0 <= k - 1 - i < m), Fraction(0))
            missing -= col * (1 << k)
        total = total + int(round_half_away(missing, 1 << k))
    return _finish(total, width, signed)


# -- broken array ---------------------------------------------------------------------

def bam_reference(a, b, n, m, signed, h, v):
    """Broken-array multiplier (Mahdiani et al. 2010).

    Cells of rows ``j < h`` (horizontal break level) and of columns
    ``i + j < v`` (vertical break level) are omitted; signed: Baugh-Wooley
    matrix with its constant bits below ``2^v`` omitted too.
    """
    pp = partial_products(a, b, n, m, signed)
    total = np.zeros(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=np.int64)
    for (i, j), bit in pp.items():
        if j >= h and i + j >= v:
            total = total + (bit << (i + j))
    total = total + (bw_constant(n, m, signed) >> v << v)
    return _finish(total, n + m, signed)


# -- 4:2 compressor trees -------------------------------------------------------------

def _ones(x1, x2, x3, x4):
    return x1 + x2 + x3 + x4


def _c42_or(x1, x2, x3, x4):
    # sum = (x1 xor x2) or (x3 xor x4); carry = x1 x2 or x3 x4
    s = ((x1 + x2) == 1) | ((x3 + x4) == 1)
    c = ((x1 + x2) == 2) | ((x3 + x4) == 2)
    return s.astype(np.int64), c.astype(np.int64)


def _c42_pair(x1, x2, x3, x4):
    # sum = parity of the four; carry only for a pair of ones in (x1, x2) or (x3, x4)
    c = ((x1 + x2) == 2) | ((x3 + x4) == 2)
    return _ones(x1, x2, x3, x4) % 2, c.astype(np.int64)


def _c42_maj(x1, x2, x3, x4):
    # sum = parity; carry = at least two ones (1111 -> 2 instead of 4)
    n1 = _ones(x1, x2, x3, x4)
    return n1 % 2, (n1 >= 2).astype(np.int64)


APPROX_42 = {"or": _c42_or, "pair": _c42_pair, "maj": _c42_maj}
"""Approximate 4:2 compressors without carry-in/out: ``(x1..x4) -> (sum, carry)``."""


def _counter(*xs):
    """Exact (3:2 or 2:2) counter: (sum, carry) of the bits' count."""
    t = sum(xs)
    return t % 2, t // 2


def cmp42_reference(a, b, n, m, signed, c, design):
    """4:2-compressor tree, approximate compressors in columns ``< c``.

    The tree is reduced in stages until every column holds at most two bits.
    In each stage, columns are walked from the least significant up; each
    column takes its bits four at a time, in order, into a compressor:
    approximate ``APPROX_42[design]`` below ``c`` (sum here, carry one column
    up), otherwise the exact 4:2 compressor (3:2 counter of the first three
    bits, then 3:2 counter of its sum, the fourth bit and the carry-in; the
    first counter's carry-out is the carry-in of the next column's next exact
    compressor in this stage). Carries-in a column did not use join its
    leftover bits; exactly three leftover bits go through one full adder.
    The next stage's column holds the carries from below first, then its own
    sums, then the untouched bits. The final two rows are added exactly.

    Bit order of the initial columns: partial products by increasing row
    ``j`` (the ``b`` bit), then the Baugh-Wooley constant bit (signed).
    The carries out of the top column are lost (modulo ``2^(n+m)``).
    """
    width = n + m
    approx = APPROX_42[design]
    shape = np.broadcast(np.asarray(a), np.asarray(b)).shape
    pp = partial_products(a, b, n, m, signed)
    cols = [[] for _ in range(width)]
    for j in range(m):
        for i in range(n):
            cols[i + j].append(pp[i, j])
    const = bw_constant(n, m, signed)
    for col in range(width):
        if (const >> col) & 1:
            cols[col].append(np.ones(shape, dtype=np.int64))
    zero = np.zeros(shape, dtype=np.int64)

    while max(len(col) for col in cols) > 2:
        new = [[] for _ in range(width)]
        chain_in = []
        for col in range(width):
            bits = list(cols[col])
            up = new[col + 1] if col + 1 < width else []  # top carries vanish
            chain_out = []
            while len(bits) >= 4:
                x1, x2, x3, x4 = bits[:4]
                del bits[:4]
                if col < c:
                    s, cy = approx(x1, x2, x3, x4)
                else:
                    cin = chain_in.pop(0) if chain_in else zero
                    t, cout = _counter(x1, x2, x3)
                    s, cy = _counter(t, x4, cin)
                    chain_out.append(cout)
                new[col].append(s)
                up.append(cy)
            bits += chain_in
            if len(bits) == 3:
                s, cy = _counter(*bits)
                new[col].append(s)
                up.append(cy)
                bits = []
            new[col] += bits
            chain_in = chain_out
        cols = new
    total = zero
    for col, bits in enumerate(cols):
        for bit in bits:
            total = total + (bit << col)
    return _finish(total, width, signed)


# -- DRUM --------------------------------------------------------------------------

def _leading_one(x, width):
    """Position of the highest set bit (-1 for 0)."""
    pos = np.full(np.shape(x), -1, dtype=np.int64)
    for i in range(width):
        pos = np.where((x >> i) & 1, i, pos)
    return pos


def _drum_operand(x, width, k):
    t = _leading_one(x, width)
    shift = np.maximum(t - (k - 1), 0)           # bits below the k-bit window
    kept = (x >> shift) | (shift > 0)             # unbiasing: window LSB set to 1
    return kept, shift


def drum_reference(a, b, n, m, signed, k):
    """DRUM (Hashemi, Bahar & Reda 2015): ``k`` bits from each operand's leading one.

    An operand of more than ``k`` significant bits keeps the ``k`` bits from
    its leading one down, with the lowest kept bit set to 1; the two windows
    are multiplied exactly and the product is shifted back by both cut
    lengths. Smaller operands are used as they are. Signed: sign-magnitude,
    ``sign(a) sign(b) * drum(|a|, |b|)`` (``|a|`` fits ``n`` bits unsigned).
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if signed:
        ma, mb = np.abs(a), np.abs(b)
        neg = (a < 0) != (b < 0)
    else:
        ma, mb, neg = a, b, False
    xa, sa = _drum_operand(ma, n, k)
    xb, sb = _drum_operand(mb, m, k)
    mag = (xa * xb) << (sa + sb)
    return _finish(np.where(neg, -mag, mag), n + m, signed)


# -- dispatch ---------------------------------------------------------------------

def reference(spec, a, b):
    """Reference products of a ``MultSpec`` of family trunc, bam, cmp42 or drum."""
    p, n, m, s = spec.param_dict, spec.a_width, spec.b_width, spec.signed
    if spec.family == "trunc":
        return trunc_reference(a, b, n, m, s, p["k"], p["comp"])
    if spec.family == "bam":
        return bam_reference(a, b, n, m, s, p["h"], p["v"])
    if spec.family == "cmp42":
        return cmp42_reference(a, b, n, m, s, p["c"], p["design"])
    if spec.family == "drum":
        return drum_reference(a, b, n, m, s, p["k"])
    raise ValueError(f"no reference for family {spec.family!r}")
