"""Dadda-style 4:2 compressor trees with approximate compressors in the low columns.

Columns ``< c`` use an approximate 4:2 compressor without carry-in/out; the
other columns use exact 4:2 compressors (two chained full adders with the
inter-column carry). Designs (``x1..x4`` in, ``2 carry + sum`` out):

* ``or``: sum = (x1 ^ x2) | (x3 ^ x4), carry = x1 x2 | x3 x4 (cheap, errs
  whenever two ones sit in different pairs or there are more than three);
* ``pair``: sum = x1 ^ x2 ^ x3 ^ x4, carry = x1 x2 | x3 x4 (loses the carry
  when the two ones sit in different pairs, and gives 2 instead of 4 on 1111);
* ``maj``: sum = x1 ^ x2 ^ x3 ^ x4, carry = 1 when at least two inputs are 1
  (errs only on 1111, giving 2 instead of 4).

The bit-accurate model evaluates the same compressor schedule on numpy bits.
"""

from ._bits import NP, and_, or_, pp_matrix, xor_
from ._common import np_bits
from .base import Family, Param, register

__all__ = ["CompressorTree", "COMPRESSORS"]


def _or(be, x1, x2, x3, x4, want):
    s = be.wire(or_(xor_(x1, x2), xor_(x3, x4)), "c42_s")
    c = be.wire(or_(and_(x1, x2), and_(x3, x4)), "c42_c") if want else 0
    return s, c


def _maj(be, x1, x2, x3, x4, want):
    s = be.wire(xor_(xor_(x1, x2), xor_(x3, x4)), "c42_s")
    c = 0
    if want:
        c = be.wire(or_(or_(and_(x1, x2), and_(x3, x4)), and_(or_(x1, x2), or_(x3, x4))), "c42_c")
    return s, c


def _pair(be, x1, x2, x3, x4, want):
    s = be.wire(xor_(xor_(x1, x2), xor_(x3, x4)), "c42_s")
    c = be.wire(or_(and_(x1, x2), and_(x3, x4)), "c42_c") if want else 0
    return s, c


COMPRESSORS = {"or": _or, "maj": _maj, "pair": _pair}


@register
class CompressorTree(Family):
    name = "cmp42"
    title = "4:2-compressor tree with approximate compressors in columns < c"
    params = (
        Param("c", int, 8, "columns below c use the approximate compressor"),
        Param("design", str, "maj", "approximate 4:2 compressor", tuple(COMPRESSORS)),
    )

    def check(self, spec):
        c, hi = spec.param_dict["c"], spec.out_width
        if not 0 <= c <= hi:
            raise self.range_error(spec, "c", c, 0, hi)

    def _reduce(self, be, a, b, spec):
        p = spec.param_dict
        mat = pp_matrix(be, a, b, spec.signed)
        return mat.reduce(be, "cmp42", COMPRESSORS[p["design"]], p["c"])

    def build(self, be, a, b, spec):
        return self._reduce(be, a, b, spec)

    def model(self, a, b, spec):
        bits = self._reduce(NP, np_bits(a, spec.a_width), np_bits(b, spec.b_width), spec)
        total = 0
        for i, bit in enumerate(bits):
            total = total + ((bit.astype("int64") if hasattr(bit, "astype") else bit) << i)
        return total

    def library(self, a_width, b_width, signed):
        return [{"c": c, "design": d} for d in COMPRESSORS
                for c in range(4, a_width + b_width - 4)]
