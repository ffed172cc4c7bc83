"""Exact multipliers: array, Wallace and Dadda trees, radix-4 Booth, behavioural."""

from amaranth.hdl import Cat

from ._bits import pp_matrix
from ._common import booth_matrix
from .base import Family, Param, exact_product, register

__all__ = ["Exact"]


@register
class Exact(Family):
    """Exact products with different structures (same LUT, different cost).

    ``arch``: ``array`` (carry-save array), ``wallace``, ``dadda`` (partial
    products reduced by trees; modified Baugh-Wooley when signed), ``booth``
    (radix-4 Booth recoding + Dadda tree), or ``behav`` (``a * b`` left to the
    synthesis tool: a labelled baseline, not a structural circuit).
    """

    name = "exact"
    title = "Exact (array / Wallace / Dadda / radix-4 Booth / behavioural)"
    params = (Param("arch", str, "dadda", "multiplier structure",
                    ("array", "wallace", "dadda", "booth", "behav")),)

    def build(self, be, a, b, spec):
        arch = spec.param_dict["arch"]
        width = spec.out_width
        if arch == "behav":
            va, vb = Cat(*a), Cat(*b)
            if spec.signed:
                va, vb = va.as_signed(), vb.as_signed()
            return va * vb  # a whole value: the component assigns it directly
        if arch == "booth":
            return booth_matrix(be, a, b, spec.signed, width).reduce(be, "dadda")
        return pp_matrix(be, a, b, spec.signed).reduce(be, arch)

    def model(self, a, b, spec):
        return exact_product(a, b)

    def library(self, a_width, b_width, signed):
        return [{"arch": x} for x in ("dadda", "array", "wallace", "booth", "behav")]
