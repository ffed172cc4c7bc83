"""Truncated multipliers: the k least-significant partial-product columns are not built.

Compensation (``comp``):

* ``none``: the dropped columns are simply absent (always underestimates).
* ``const``: constant correction (Schulte & Swartzlander 1993): the expected
  value of the dropped bits under uniform operands, rounded to a multiple of
  ``2^k``, is added as constant bits.
* ``var``: variable correction (King & Swartzlander 1997): the bits of column
  ``k-1`` are added into column ``k`` (a data-dependent estimate of the
  dropped part) plus the rounded remaining expected error as a constant.
"""

from fractions import Fraction

from ._bits import NP, pp_matrix
from ._common import TREES, np_bits
from .base import Family, Param, register

__all__ = ["Truncated", "truncated_matrix", "dropped_expectation"]


def _bit_prob(i, j, n, m, signed):
    """P(partial product bit = 1) under uniform operands: 1/4, or 3/4 for Baugh-Wooley NANDs."""
    if signed and ((i == n - 1) != (j == m - 1)):
        return Fraction(3, 4)
    return Fraction(1, 4)


def _bw_const(n, m, signed):
    return ((1 << (n - 1)) + (1 << (n + m - 1)) + (1 << (m - 1))) if signed else 0


def dropped_expectation(n, m, signed, dropped):
    """Expected value of the partial products (and Baugh-Wooley constant bits) in ``dropped(i, j)``/columns."""
    k_cols, keep = dropped
    total = Fraction(0)
    for i in range(n):
        for j in range(m):
            if not keep(i, j):
                total += _bit_prob(i, j, n, m, signed) * (1 << (i + j))
    total += _bw_const(n, m, signed) % (1 << (n + m)) & ((1 << k_cols) - 1)
    return total


def _round_to(value, step):
    """Round a Fraction to the nearest multiple of ``step`` (half away from zero)."""
    q = value / step
    r = int(q + Fraction(1, 2)) if q >= 0 else -int(-q + Fraction(1, 2))
    return r * step


def truncated_matrix(be, a, b, spec):
    p = spec.param_dict
    k, comp = p["k"], p["comp"]
    n, m, signed = len(a), len(b), spec.signed
    lo = k - 1 if (comp == "var" and k >= 1) else k
    mat = pp_matrix(be, a, b, signed, keep=lambda i, j: i + j >= lo)
    mat.const &= ~((1 << k) - 1)  # Baugh-Wooley constant bits in dropped columns go too
    mat.const += _compensation(n, m, signed, k, comp)
    if comp == "var" and k >= 1:
        moved = mat.cols[k - 1]
        mat.cols[k - 1] = []
        for bit in moved:
            mat.add(k, bit)
    return mat


def _compensation(n, m, signed, k, comp):
    if comp == "none" or k == 0:
        return 0
    dropped = dropped_expectation(n, m, signed, (k, lambda i, j: i + j >= k))
    if comp == "var":
        # column k-1 is re-added at weight 2^k: subtract its expectation.
        col = sum(_bit_prob(i, k - 1 - i, n, m, signed) for i in range(n) if 0 <= k - 1 - i < m)
        dropped -= col * (1 << k)
    return _round_to(dropped, 1 << k)


@register
class Truncated(Family):
    name = "trunc"
    title = "Truncated (k LSB columns dropped; none/const/var compensation)"
    params = (
        Param("k", int, 4, "number of least-significant partial-product columns not built"),
        Param("comp", str, "none", "error compensation", ("none", "const", "var")),
        Param("tree", str, "dadda", "reduction of the kept partial products", TREES),
    )

    def check(self, spec):
        k = spec.param_dict["k"]
        hi = spec.out_width - 1
        if not 0 <= k <= hi:
            raise self.range_error(spec, "k", k, 0, hi)

    def build(self, be, a, b, spec):
        return truncated_matrix(be, a, b, spec).reduce(be, spec.param_dict["tree"])

    def model(self, a, b, spec):
        n, m = spec.a_width, spec.b_width
        return truncated_matrix(NP, np_bits(a, n), np_bits(b, m), spec).value_np()

    def library(self, a_width, b_width, signed):
        top = min(a_width + b_width - 2, a_width + b_width // 2 + 2)
        n, m = a_width, b_width
        return [{"k": k, "comp": c} for k in range(1, top + 1) for c in ("none", "const", "var")
                if c == "none" or _compensation(n, m, signed, k, c) != 0 or c == "var"]
