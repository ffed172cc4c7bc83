"""Recursive multipliers from approximate 2x2 blocks (Kulkarni et al. 2011).

The product is the sum of 2x2 sub-products ``A_i * B_j * 4^(i+j)`` of the
2-bit digits of the operands. The approximate block returns 7 for 3 x 3
(3 output bits: ``p0 = a0 b0, p1 = a1 b0 | a0 b1, p2 = a1 b1``) and is exact
otherwise. Blocks with ``i + j < t`` are approximate; ``t`` larger than every
digit position makes all of them approximate. Signed operands use a
sign-magnitude wrapper around the unsigned core.
"""

import numpy as np

from ._bits import BitMatrix, and_, or_
from ._common import sign_magnitude_build, sign_magnitude_model
from .base import Family, Param, register

__all__ = ["Kulkarni"]


def _digits(width):
    return (width + 1) // 2


def _core_build(be, a, b, t, width):
    a = list(a) + [0] * (len(a) % 2)
    b = list(b) + [0] * (len(b) % 2)
    mat = BitMatrix(width)
    for i in range(len(a) // 2):
        for j in range(len(b) // 2):
            a0, a1, b0, b1 = a[2 * i], a[2 * i + 1], b[2 * j], b[2 * j + 1]
            base = 2 * (i + j)
            if i + j < t:
                mat.add(base, be.wire(and_(a0, b0), "kul_p0"))
                mat.add(base + 1, be.wire(or_(and_(a1, b0), and_(a0, b1)), "kul_p1"))
                mat.add(base + 2, be.wire(and_(a1, b1), "kul_p2"))
            else:
                for (x, dx) in ((a0, 0), (a1, 1)):
                    for (y, dy) in ((b0, 0), (b1, 1)):
                        bit = and_(x, y)
                        mat.add(base + dx + dy, be.wire(bit, "kul_pp") if not isinstance(bit, int) else bit)
    return mat.reduce(be, "dadda")


def _core_model(a, b, spec):
    t = spec.param_dict["t"]
    total = np.zeros(np.broadcast(a, b).shape, dtype=np.int64)
    for i in range(_digits(spec.a_width)):
        da = (a >> (2 * i)) & 3
        for j in range(_digits(spec.b_width)):
            db = (b >> (2 * j)) & 3
            prod = da * db
            if i + j < t:
                prod = np.where(prod == 9, 7, prod)
            total += prod << (2 * (i + j))
    return total


@register
class Kulkarni(Family):
    name = "kulkarni"
    title = "Recursive multiplier with approximate 2x2 blocks (Kulkarni)"
    params = (Param("t", int, 1, "blocks at digit positions i + j < t are approximate"),)

    def _tmax(self, spec):
        return _digits(spec.a_width) + _digits(spec.b_width) - 1

    def check(self, spec):
        t, hi = spec.param_dict["t"], self._tmax(spec)
        if not 0 <= t <= hi:
            raise self.range_error(spec, "t", t, 0, hi)

    def build(self, be, a, b, spec):
        t, width = spec.param_dict["t"], spec.out_width
        core = lambda be_, x, y: _core_build(be_, x, y, t, width)
        if spec.signed:
            return sign_magnitude_build(be, a, b, core)
        return core(be, a, b)

    def model(self, a, b, spec):
        if spec.signed:
            return sign_magnitude_model(a, b, spec, lambda x, y: _core_model(x, y, spec))
        return _core_model(a, b, spec)

    def library(self, a_width, b_width, signed):
        return [{"t": t} for t in range(1, _digits(a_width) + _digits(b_width))]
