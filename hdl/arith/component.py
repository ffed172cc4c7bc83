"""The Amaranth component for any registered multiplier variant."""

from amaranth.hdl import Cat, Const, Module, signed as signed_shape
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._bits import HW

__all__ = ["Multiplier"]


class Multiplier(wiring.Component):
    """A combinational multiplier with an optional output register.

    Parameters
    ----------
    spec : MultSpec
        The variant; its family builds the structural circuit.

    Attributes
    ----------
    a : In(a_width), signed for signed specs
    b : In(b_width), signed for signed specs
    p : Out(a_width + b_width), the product (registered when ``spec.registered``)
    """

    def __init__(self, spec):
        self._spec = spec
        shape = (lambda w: signed_shape(w)) if spec.signed else (lambda w: w)
        super().__init__({
            "a": In(shape(spec.a_width)),
            "b": In(shape(spec.b_width)),
            "p": Out(shape(spec.out_width)),
        })

    @property
    def spec(self):
        return self._spec

    def elaborate(self, platform):
        m = Module()
        spec = self._spec
        be = HW(m)
        a = [self.a[i] for i in range(spec.a_width)]
        b = [self.b[i] for i in range(spec.b_width)]
        bits = spec.family_obj.build(be, a, b, spec)
        domain = m.d.sync if spec.registered else m.d.comb
        if not isinstance(bits, list):  # behavioural baseline: one wide value
            domain += self.p.eq(bits)
            return m
        assert len(bits) == spec.out_width, (spec, len(bits))
        be.finish(bits)
        bits = [Const(x, 1) if isinstance(x, int) else x for x in bits]
        domain += self.p.eq(Cat(*bits))
        return m
