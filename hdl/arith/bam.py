"""Broken-array multiplier (BAM, Mahdiani et al. 2010).

The carry-save cells of the partial products above a *horizontal* break level
``h`` (rows ``j < h``, driven by the low bits of ``b``) and right of a
*vertical* break level ``v`` (columns ``i + j < v``) are omitted. For signed
operands the matrix is the modified Baugh-Wooley one; its constant bits in
columns below ``v`` are omitted as well.
"""

from ._bits import NP, pp_matrix
from ._common import TREES, np_bits
from .base import Family, Param, register

__all__ = ["BrokenArray"]


def _matrix(be, a, b, spec):
    p = spec.param_dict
    h, v = p["h"], p["v"]
    mat = pp_matrix(be, a, b, spec.signed, keep=lambda i, j: j >= h and i + j >= v)
    mat.const &= ~((1 << v) - 1)
    return mat


@register
class BrokenArray(Family):
    name = "bam"
    title = "Broken-array multiplier (horizontal/vertical break levels)"
    params = (
        Param("h", int, 0, "horizontal break level: partial-product rows j < h omitted"),
        Param("v", int, 0, "vertical break level: columns i + j < v omitted"),
        Param("tree", str, "array", "reduction of the kept cells", TREES),
    )

    def check(self, spec):
        p = spec.param_dict
        if not 0 <= p["h"] <= spec.b_width - 1:
            raise self.range_error(spec, "h", p["h"], 0, spec.b_width - 1)
        if not 0 <= p["v"] <= spec.out_width - 1:
            raise self.range_error(spec, "v", p["v"], 0, spec.out_width - 1)

    def build(self, be, a, b, spec):
        return _matrix(be, a, b, spec).reduce(be, spec.param_dict["tree"])

    def model(self, a, b, spec):
        return _matrix(NP, np_bits(a, spec.a_width), np_bits(b, spec.b_width), spec).value_np()

    def library(self, a_width, b_width, signed):
        # v <= h is row perforation and v > h + a_width - 2 is plain truncation:
        # the grid keeps only the points that are neither.
        return [{"h": h, "v": v} for h in range(1, b_width)
                for v in range(h + 1, min(h + a_width - 1, a_width + b_width - 1))]
