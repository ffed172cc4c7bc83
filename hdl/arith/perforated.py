"""Partial-product perforation (Zervakis et al. 2016).

``count`` consecutive partial-product rows starting at row ``start`` are never
generated. Rows are driven by the bits of ``b``: perforating row ``j`` is
computing with ``b_j`` forced to 0, which keeps the Baugh-Wooley form of
signed operands correct (the dead NAND cells fold to constant ones).
"""

from ._bits import pp_matrix
from ._common import TREES
from .base import Family, Param, register, to_signed

__all__ = ["Perforated"]


@register
class Perforated(Family):
    name = "perf"
    title = "Partial-product perforation (skip rows start..start+count-1)"
    params = (
        Param("start", int, 0, "first perforated partial-product row"),
        Param("count", int, 1, "number of perforated rows"),
        Param("tree", str, "dadda", "reduction of the remaining rows", TREES),
    )

    def _rows(self, spec):
        p = spec.param_dict
        return range(p["start"], p["start"] + p["count"])

    def check(self, spec):
        p = spec.param_dict
        m = spec.b_width
        if not 0 <= p["start"] <= m - 1:
            raise self.range_error(spec, "start", p["start"], 0, m - 1)
        hi = m - p["start"]
        if not 1 <= p["count"] <= hi:
            raise self.range_error(spec, "count", p["count"], 1, hi)

    def build(self, be, a, b, spec):
        rows = set(self._rows(spec))
        b = [0 if j in rows else bit for j, bit in enumerate(b)]
        return pp_matrix(be, a, b, spec.signed).reduce(be, spec.param_dict["tree"])

    def model(self, a, b, spec):
        mask = sum(1 << j for j in self._rows(spec))
        m = spec.b_width
        raw_b = (b % (1 << m)) & ~mask
        bb = to_signed(raw_b, m) if spec.signed else raw_b
        return a * bb

    def library(self, a_width, b_width, signed):
        return [{"start": s, "count": c} for s in range(b_width)
                for c in range(1, min(5, b_width - s) + 1)]
