"""Logarithmic multipliers: Mitchell (1962) and the iterative log multiplier.

``ec=0``: Mitchell's multiplier. ``a = 2^ka (1 + xa)``; the fractions, kept
to ``w`` bits (``w=0``: all bits), are added and the antilogarithm is
approximated piecewise linearly (``2^(ka+kb) (1 + xa + xb)``, or
``2^(ka+kb+1) (xa + xb)`` when the fractions carry). Always underestimates;
relative error at most 1/9.

``ec=1``: one-step error correction, as in Babic et al.'s iterative
logarithmic multiplier (2011): the basic block ``2^(ka+kb) + ra 2^kb + rb 2^ka``
(``ra = a - 2^ka``) whose error is exactly ``ra rb``, plus the same basic
block applied once to ``(ra, rb)``.

Signed operands use a sign-magnitude wrapper.
"""

import numpy as np

from ._bits import (BitMatrix, and_, const_minus, leading_one, np_bit_length, or_,
                    ripple_add, shift_left, zext)
from ._common import sign_magnitude_build, sign_magnitude_model
from .base import Family, Param, register

__all__ = ["Mitchell"]


def _frac_bits(spec):
    w = spec.param_dict["w"]
    return w if w else max(spec.a_width, spec.b_width) - 1


def _normalise(be, x, frac):
    n = len(x)
    pos, nz = leading_one(be, x)
    sh = const_minus(be, n - 1, pos)
    y = shift_left(be, x, sh, n)[: n - 1]
    f = y[max(0, n - 1 - frac):]
    return [0] * (frac - len(f)) + f, pos, nz


def _mitchell_build(be, a, b, frac, width):
    fa, pa, nza = _normalise(be, a, frac)
    fb, pb, nzb = _normalise(be, b, frac)
    s = ripple_add(be, fa + [0], fb + [0])
    carry = s[frac]
    ew = max(len(pa), len(pb), (width - 1).bit_length()) + 1
    e = ripple_add(be, zext(pa, ew), zext(pb, ew), cin=carry)
    mant = s[:frac] + [1]
    full = shift_left(be, mant, e, width + frac)
    nz = be.wire(and_(nza, nzb), "mit_nz")
    return [be.wire(and_(bit, nz), "mit_p") for bit in full[frac:frac + width]]


def _residue(be, x):
    """x without its leading one: bit i survives if some higher bit is set."""
    out, above = [], 0
    for i in reversed(range(len(x))):
        out.append(be.wire(and_(x[i], above), "ilm_r") if not isinstance(above, int) or above else 0)
        above = be.wire(or_(above, x[i]), "ilm_or") if not isinstance(x[i], int) else or_(above, x[i])
    return list(reversed(out))


def _ilm_terms(be, x, y, width, mat):
    px, nzx = leading_one(be, x)
    py, nzy = leading_one(be, y)
    rx, ry = _residue(be, x), _residue(be, y)
    t1 = shift_left(be, rx, py, width)
    t2 = shift_left(be, ry, px, width)
    ew = max(len(px), len(py)) + 1
    e = ripple_add(be, zext(px, ew), zext(py, ew))
    t3 = shift_left(be, [1], e, width)
    both = be.wire(and_(nzx, nzy), "ilm_nz")
    for vec, gate in ((t1, nzy), (t2, nzx), (t3, both)):
        mat.add_vector([be.wire(and_(bit, gate), "ilm_t") if not isinstance(bit, int) else and_(bit, gate)
                        for bit in vec])
    return rx, ry


def _ilm_build(be, a, b, width):
    mat = BitMatrix(width)
    ra, rb = _ilm_terms(be, a, b, width, mat)
    _ilm_terms(be, ra, rb, width, mat)
    return mat.reduce(be, "dadda")


def _np_log(x, width):
    k = np.maximum(np_bit_length(x, width) - 1, 0)
    return k, x - np.where(x > 0, 1 << k, 0)


def _np_mitchell(a, b, spec):
    frac = _frac_bits(spec)
    ka, xa = _np_log(a, spec.a_width)
    kb, xb = _np_log(b, spec.b_width)
    fa = (xa << frac) >> ka
    fb = (xb << frac) >> kb
    s = fa + fb
    c = s >> frac
    r = s & ((1 << frac) - 1)
    p = (((1 << frac) + r) << (ka + kb + c)) >> frac
    return np.where((a > 0) & (b > 0), p, 0)


def _np_ilm_block(x, y, wx, wy):
    kx, rx = _np_log(x, wx)
    ky, ry = _np_log(y, wy)
    p = (1 << (kx + ky)) + (rx << ky) + (ry << kx)
    return np.where((x > 0) & (y > 0), p, 0), rx, ry


def _np_ilm(a, b, spec):
    p0, ra, rb = _np_ilm_block(a, b, spec.a_width, spec.b_width)
    p1, _, _ = _np_ilm_block(ra, rb, spec.a_width, spec.b_width)
    return p0 + p1


@register
class Mitchell(Family):
    name = "mitchell"
    title = "Mitchell logarithmic multiplier (ec=1: one-step error correction)"
    params = (
        Param("ec", int, 0, "error-correction steps: 0 (Mitchell) or 1 (iterative log, one step)"),
        Param("w", int, 0, "fraction bits kept for ec=0 (0: all)"),
    )

    def check(self, spec):
        p = spec.param_dict
        if p["ec"] not in (0, 1):
            raise self.range_error(spec, "ec", p["ec"], 0, 1)
        hi = max(spec.a_width, spec.b_width) - 1
        if p["ec"] == 1 and p["w"] != 0:
            raise self.range_error(spec, "w", p["w"], 0, 0)
        if not 0 <= p["w"] <= hi:
            raise self.range_error(spec, "w", p["w"], 0, hi)

    def build(self, be, a, b, spec):
        width = spec.out_width
        if spec.param_dict["ec"]:
            core = lambda be_, x, y: _ilm_build(be_, x, y, width)
        else:
            frac = _frac_bits(spec)
            core = lambda be_, x, y: _mitchell_build(be_, x, y, frac, width)
        return sign_magnitude_build(be, a, b, core) if spec.signed else core(be, a, b)

    def model(self, a, b, spec):
        core = _np_ilm if spec.param_dict["ec"] else _np_mitchell
        fn = lambda x, y: core(x, y, spec)
        return sign_magnitude_model(a, b, spec, fn) if spec.signed else fn(a, b)

    def library(self, a_width, b_width, signed):
        hi = max(a_width, b_width) - 1
        return [{"ec": 0, "w": w} for w in range(1, hi)] + [{"ec": 0, "w": 0}, {"ec": 1, "w": 0}]
