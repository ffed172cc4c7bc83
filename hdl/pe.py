"""MAC processing element: one multiplier (chosen by spec) and an accumulator.

The PE does not know which multiplier it holds: it receives a factory that
returns a component with ports ``a``, ``b``, ``p`` (see :func:`mult_factory`).
"""

from amaranth.hdl import Instance, Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from axforge.errors import AxforgeError
from axforge.hdl.arith import Multiplier

__all__ = ["DATAFLOWS", "MacPE", "mult_factory", "default_acc_width"]

DATAFLOWS = ("ws", "os")


def default_acc_width(a_width, b_width, depth):
    """Product width plus enough guard bits to add ``depth`` products without overflow."""
    return a_width + b_width + max(1, (depth - 1).bit_length())


def mult_factory(spec, module_name=None):
    """A zero-argument callable returning the multiplier component for ``spec``.

    With ``module_name`` the multiplier is a black-box instance of that Verilog
    module (its text is emitted once and shared by every PE); otherwise it is
    elaborated inline (generated families only).
    """
    comb = spec.combinational() if spec.family != "verilog" else spec
    if module_name is None and comb.family == "verilog":
        module_name = comb.module_name
    if module_name is None:
        return lambda: Multiplier(comb)
    return lambda: _InstanceMult(comb, module_name)


class _InstanceMult:
    """The ports of a multiplier that lives in its own Verilog module (instantiated by the PE)."""

    def __init__(self, spec, module_name):
        shape = signed if spec.signed else unsigned
        self.module_name = module_name
        self.p = Signal(shape(spec.out_width), name="mult_p")


class MacPE(wiring.Component):
    """A multiply-accumulate PE for a systolic array.

    Parameters
    ----------
    spec : MultSpec
        The multiplier (its widths and signedness are the PE's operand types).
    acc_width : int
        Accumulator / partial-sum width; sums wrap modulo ``2**acc_width``.
    dataflow : ``"ws"`` (weight-stationary) or ``"os"`` (output-stationary).
    factory : callable, optional
        Returns the multiplier component; default :func:`mult_factory` (inline).

    Attributes (weight-stationary)
    ------------------------------
    en : In(1) -- all registers update only when high (idle PEs do not toggle).
    load : In(1) -- with ``en``: the weight register takes ``w_in`` (weights shift down a column).
    a_in, a_out : In/Out(a) -- activation, passed right one cycle later.
    w_in, w_out : In/Out(b) -- weight chain; ``w_out`` is the stored weight.
    psum_in, psum_out : In/Out(acc) -- ``psum_out <= psum_in + a_in * w``.

    Attributes (output-stationary)
    ------------------------------
    en, a_in, a_out as above; b_in/b_out pass operands down; ``clear`` starts a
    new sum (``acc <= a_in * b_in``); ``shift`` moves accumulators down the
    column for draining (``acc <= acc_in``); ``acc`` is the running sum.
    """

    def __init__(self, spec, acc_width, dataflow="ws", factory=None):
        if dataflow not in DATAFLOWS:
            self._MustUse__used = True  # rejected: not an unused elaboratable
            raise AxforgeError(f"Dataflow must be one of {', '.join(DATAFLOWS)}, not {dataflow!r}")
        if not isinstance(acc_width, int) or not spec.out_width <= acc_width <= 64:
            self._MustUse__used = True  # rejected: not an unused elaboratable
            raise AxforgeError(f"Accumulator width must be an integer between {spec.out_width} "
                               f"(the product width) and 64, not {acc_width!r}")
        self._spec, self._acc, self._df = spec, acc_width, dataflow
        self._factory = factory or mult_factory(spec)
        sh = signed if spec.signed else unsigned
        a, b, acc = sh(spec.a_width), sh(spec.b_width), sh(acc_width)
        ports = {"en": In(1), "a_in": In(a), "a_out": Out(a)}
        if dataflow == "ws":
            ports.update({"load": In(1), "w_in": In(b), "w_out": Out(b),
                          "psum_in": In(acc), "psum_out": Out(acc)})
        else:
            ports.update({"clear": In(1), "shift": In(1), "b_in": In(b), "b_out": Out(b),
                          "acc_in": In(acc), "acc": Out(acc)})
        super().__init__(ports)

    @property
    def spec(self):
        return self._spec

    @property
    def acc_width(self):
        return self._acc

    @property
    def dataflow(self):
        return self._df

    def elaborate(self, platform):
        m = Module()
        mult = self._factory()
        b_src = self.w_out if self._df == "ws" else self.b_in
        if isinstance(mult, _InstanceMult):  # the shared multiplier module, wired to the PE's nets
            m.submodules.mult = Instance(mult.module_name, i_a=self.a_in, i_b=b_src, o_p=mult.p)
        else:
            m.submodules.mult = mult
            m.d.comb += [mult.a.eq(self.a_in), mult.b.eq(b_src)]
        prod = mult.p  # signed or unsigned: extended to the accumulator width by the add
        with m.If(self.en):
            m.d.sync += self.a_out.eq(self.a_in)
        if self._df == "ws":
            with m.If(self.en):
                m.d.sync += self.psum_out.eq(self.psum_in + prod)
                with m.If(self.load):
                    m.d.sync += self.w_out.eq(self.w_in)
        else:
            with m.If(self.en):
                m.d.sync += self.b_out.eq(self.b_in)
                with m.If(self.shift):
                    m.d.sync += self.acc.eq(self.acc_in)
                with m.Elif(self.clear):
                    m.d.sync += self.acc.eq(prod)
                with m.Else():
                    m.d.sync += self.acc.eq(self.acc + prod)
        return m
