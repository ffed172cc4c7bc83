"""DRUM: dynamic-range unbiased multiplier (Hashemi, Bahar & Reda 2015).

Each operand is reduced to its ``k`` bits starting at its leading one; the
lowest kept bit is forced to 1 (which makes the truncation error unbiased).
The two k-bit values are multiplied exactly and the product is shifted back.
Operands that already fit in ``k`` bits are used unchanged. Signed operands use
a sign-magnitude wrapper.
"""

import numpy as np

from ._bits import (and_, const_bits, leading_one, not_, np_bit_length, or_, or_reduce,
                    pp_matrix, ripple_add, shift_left, shift_right, zext)
from ._common import sign_magnitude_build, sign_magnitude_model
from .base import Family, Param, register

__all__ = ["Drum"]


def _operand(be, x, k):
    n = len(x)
    if n <= k:
        return list(x), []
    pos, _ = leading_one(be, x)
    pw = len(pos)
    d = ripple_add(be, zext(pos, pw + 1), const_bits((-(k - 1)) % (1 << (pw + 1)), pw + 1))
    neg = d[pw]
    s = [be.wire(and_(bit, not_(neg)), "drum_s") for bit in d[:pw]]
    xs = shift_right(be, x, s)[:k]
    xs[0] = be.wire(or_(xs[0], or_reduce(be, s)), "drum_lsb")
    return xs, s


def _core_build(be, a, b, k, width):
    xa, sa = _operand(be, a, k)
    xb, sb = _operand(be, b, k)
    prod = pp_matrix(be, xa, xb, False).reduce(be, "dadda")
    sw = max(len(sa), len(sb)) + 1
    if sw == 1:
        return zext(prod, width)
    shift = ripple_add(be, zext(sa, sw), zext(sb, sw))
    return shift_left(be, prod, shift, width)


def _np_operand(x, width, k):
    if width <= k:
        return x, np.zeros_like(x)
    t = np_bit_length(x, width) - 1
    s = np.maximum(t - k + 1, 0)
    return (x >> s) | (s > 0), s


def _core_model(a, b, spec):
    k = spec.param_dict["k"]
    xa, sa = _np_operand(a, spec.a_width, k)
    xb, sb = _np_operand(b, spec.b_width, k)
    return (xa * xb) << (sa + sb)


@register
class Drum(Family):
    name = "drum"
    title = "DRUM dynamic-range unbiased multiplier (k significant bits)"
    params = (Param("k", int, 4, "significant bits kept per operand"),)

    def check(self, spec):
        k, hi = spec.param_dict["k"], max(spec.a_width, spec.b_width) - 1
        if hi < 2 or not 2 <= k <= hi:
            raise self.range_error(spec, "k", k, 2, max(hi, 2))

    def build(self, be, a, b, spec):
        k, width = spec.param_dict["k"], spec.out_width
        core = lambda be_, x, y: _core_build(be_, x, y, k, width)
        return sign_magnitude_build(be, a, b, core) if spec.signed else core(be, a, b)

    def model(self, a, b, spec):
        core = lambda x, y: _core_model(x, y, spec)
        return sign_magnitude_model(a, b, spec, core) if spec.signed else core(a, b)

    def library(self, a_width, b_width, signed):
        return [{"k": k} for k in range(2, max(a_width, b_width))]
