"""The AutoApprox array bank: K systolic arrays with different multipliers and a ROUTE register.

All arrays share the activation, weight and result streams; ROUTE selects the
active one. Unselected arrays have ``en`` low and see zeros on their inputs,
so none of their registers or gates toggle. ROUTE is written through the
``route`` stream, accepted only when no array has a vector in flight, so a
switch never splits a result.
"""

from amaranth.hdl import Const, Instance, Module, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from axforge.errors import AxforgeError

from .array import SystolicArray

__all__ = ["ArrayBank", "MAX_ARRAYS"]

MAX_ARRAYS = 16


class ArrayBank(wiring.Component):
    """K arrays behind one set of streams.

    Parameters
    ----------
    specs : list of MultSpec -- one multiplier per array (same widths and sign).
    rows, cols, acc_width : array geometry (see :class:`~axforge.hdl.array.SystolicArray`).
    array_modules : list of str, optional -- Verilog module names of the arrays
        to instantiate (emitted once each); default: arrays elaborated inline.

    Attributes
    ----------
    act_in, w_in, res_out : streams as for one array
    route : In(stream of an array index) -- write ROUTE (ignored if >= K)
    route_q : Out -- the current ROUTE
    busy : Out(1) -- the selected array has a vector in flight
    """

    def __init__(self, specs, rows, cols, acc_width, array_modules=None):
        if not 1 <= len(specs) <= MAX_ARRAYS:
            self._MustUse__used = True  # rejected: not an unused elaboratable
            raise AxforgeError(f"Arrays in a bank must number between 1 and {MAX_ARRAYS}, not {len(specs)}")
        s0 = specs[0]
        for s in specs[1:]:
            if (s.a_width, s.b_width, s.signed) != (s0.a_width, s0.b_width, s0.signed):
                self._MustUse__used = True  # rejected: not an unused elaboratable
                raise AxforgeError(f"Multiplier {s} must have the bank's operand type {s0.width_tag}, "
                                   f"not {s.width_tag}")
        self._specs, self._rows, self._cols, self._acc = list(specs), rows, cols, acc_width
        self._mods = array_modules
        sh = signed if s0.signed else unsigned
        k = len(specs)
        super().__init__({
            "act_in": In(stream.Signature(unsigned(rows * s0.a_width))),
            "w_in": In(stream.Signature(unsigned(cols * s0.b_width))),
            "res_out": Out(stream.Signature(unsigned(cols * acc_width))),
            "route": In(stream.Signature(range(max(2, k)))),
            "route_q": Out(range(max(2, k))),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        k = len(self._specs)
        s0 = self._specs[0]
        sh = signed if s0.signed else unsigned
        arrays = []
        route = self.route_q
        sels = [Signal(name=f"sel{idx}") for idx in range(k)]
        with m.Switch(route):  # one-hot decode of ROUTE
            for idx in range(k):
                with m.Case(idx):
                    m.d.comb += sels[idx].eq(1)
            with m.Default():
                pass
        for idx, spec in enumerate(self._specs):
            if self._mods:
                ports = {
                    "en": sels[idx], "busy": Signal(1, name=f"arr{idx}_busy"),
                    "act_in__valid": Signal(1, name=f"arr{idx}_act_valid"),
                    "act_in__ready": Signal(1, name=f"arr{idx}_act_ready"),
                    "act_in__payload": Signal(self._rows * s0.a_width, name=f"arr{idx}_act_payload"),
                    "w_in__valid": Signal(1, name=f"arr{idx}_w_valid"),
                    "w_in__ready": Signal(1, name=f"arr{idx}_w_ready"),
                    "w_in__payload": Signal(self._cols * s0.b_width, name=f"arr{idx}_w_payload"),
                    "res_out__valid": Signal(1, name=f"arr{idx}_res_valid"),
                    "res_out__ready": Signal(1, name=f"arr{idx}_res_ready"),
                    "res_out__payload": Signal(self._cols * self._acc, name=f"arr{idx}_res_payload"),
                }
                outs = ("busy", "act_in__ready", "w_in__ready", "res_out__valid", "res_out__payload")
                from amaranth.hdl import ClockSignal, ResetSignal
                m.submodules[f"array{idx}"] = Instance(
                    self._mods[idx], i_clk=ClockSignal(), i_rst=ResetSignal(),
                    **{("o_" if n in outs else "i_") + n: v for n, v in ports.items()})
            else:
                arr = SystolicArray(spec, self._rows, self._cols, self._acc)
                m.submodules[f"array{idx}"] = arr
                ports = {"en": arr.en, "busy": arr.busy,
                         "act_in__valid": arr.act_in.valid, "act_in__ready": arr.act_in.ready,
                         "act_in__payload": arr.act_in.payload,
                         "w_in__valid": arr.w_in.valid, "w_in__ready": arr.w_in.ready,
                         "w_in__payload": arr.w_in.payload,
                         "res_out__valid": arr.res_out.valid, "res_out__ready": arr.res_out.ready,
                         "res_out__payload": arr.res_out.payload}
            arrays.append(ports)
        any_busy = Signal()
        for idx, p in enumerate(arrays):
            sel = sels[idx]
            if not self._mods:
                m.d.comb += p["en"].eq(sel)
            m.d.comb += [p["act_in__valid"].eq(self.act_in.valid & sel),
                         p["w_in__valid"].eq(self.w_in.valid & sel),
                         p["res_out__ready"].eq(self.res_out.ready & sel)]
            with m.If(sel):  # unselected arrays see zeros: no toggles
                m.d.comb += [p["act_in__payload"].eq(self.act_in.payload),
                             p["w_in__payload"].eq(self.w_in.payload),
                             self.act_in.ready.eq(p["act_in__ready"]),
                             self.w_in.ready.eq(p["w_in__ready"]),
                             self.res_out.valid.eq(p["res_out__valid"]),
                             self.res_out.payload.eq(p["res_out__payload"]),
                             self.busy.eq(p["busy"])]
            with m.If(p["busy"]):
                m.d.comb += any_busy.eq(1)
        m.d.comb += self.route.ready.eq(~any_busy)
        write = self.route.valid & self.route.ready
        width = len(self.route.payload)
        if k != 1 << width:  # indices >= K are ignored
            write = write & (self.route.payload < Const(k, width))
        with m.If(write):
            m.d.sync += route.eq(self.route.payload)
        return m
