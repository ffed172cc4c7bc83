"""A tile of the NPU: ``pes`` identical PEs behind one broadcast register and one output mux.

The broadcast register takes the core's bus every cycle (the element ``x``, what it is -- ``mac``,
``first``, ``c_load`` with the PE it is for -- the weight and slot addresses, the layer's shift
and gate flag) and drives every PE from it, so an element reaches the PEs one cycle after the
data memory delivers it. The output mux puts PE ``sel``'s output register on the tile's ``y``
(combinational: the core's bus scheduler picks one tile and one PE per writeback cycle).
Configuration writes go straight to PE ``wr_pe``. Without gating (``gating: false``) the tile has
no ``c_load``, ``c_pe`` or ``gated`` input and no per-PE control-value load registers.

With ``pe_module`` every PE is an instance of that Verilog module (the PE elaborated once, in its
own file), so synthesis maps one PE however many the NPU has; without it the PEs are elaborated
inline.
"""

from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .image import MemoryMap
from .pe import NpuPE, check_spec, data_word, equals, pe_data_width, pe_signature

__all__ = ["NpuTile", "PEInstance"]

#: bus members that the broadcast register copies to every PE unchanged
_BROADCAST = ("x", "mac", "first", "w_addr", "slot", "shift", "gated")


class PEInstance:
    """The ports of a PE that lives in its own Verilog module ``module_name``: one signal per
    member of :class:`~.pe.NpuPE`'s signature (named ``<prefix>_<member>``), and ``instance``."""

    def __init__(self, config, module_name, prefix):
        ports = {}
        for name, member in pe_signature(config).members.items():
            sig = Signal(member.shape, name=f"{prefix}_{name}")
            setattr(self, name, sig)
            ports[("i_" if member.flow == In else "o_") + name] = sig
        self.instance = Instance(module_name, i_clk=ClockSignal(), i_rst=ResetSignal(), **ports)


class NpuTile(wiring.Component):
    """``config.pes`` :class:`~.pe.NpuPE` with their broadcast register and output mux.

    Parameters
    ----------
    config : NpuConfig
    spec : MultSpec -- the PEs' multiplier.
    factory : callable, optional -- returns a multiplier component (default: inline).
    pe_module : str, optional -- the PEs' Verilog module (default: PEs inline).

    Attributes
    ----------
    x, mac, first, w_addr, slot, shift, gated : In -- the broadcast bus (see :class:`~.pe.NpuPE`),
        registered here.
    c_load : In(1), c_pe : In -- ``x`` is the control value of PE ``c_pe`` of this tile (gating only).
    sel : In, y : Out(signed(word)) -- the output register of PE ``sel``.
    wr_weight, wr_slot, wr_field, wr_addr, wr_data : In -- a configuration write (see
        :class:`~.pe.NpuPE`) for PE ``wr_pe``.
    """

    def __init__(self, config, spec, factory=None, pe_module=None):
        check_spec(config, spec, self)
        self._config, self._spec, self._factory, self._pe_module = config, spec, factory, pe_module
        mm = MemoryMap(config)
        word = data_word(config)
        gate = {"gated": In(1), "c_load": In(1), "c_pe": In(mm.pe_bits)} if config.gating else {}
        super().__init__({
            "x": In(signed(word)), "mac": In(1), "first": In(1),
            "w_addr": In(mm.weight_bits), "slot": In(mm.slot_bits),
            "shift": In(config.shift_bits), **gate,
            "sel": In(mm.pe_bits), "y": Out(signed(word)),
            "wr_weight": In(1), "wr_slot": In(1), "wr_field": In(2), "wr_pe": In(mm.pe_bits),
            "wr_addr": In(max(mm.weight_bits, mm.slot_bits)), "wr_data": In(pe_data_width(config)),
        })

    def elaborate(self, platform):
        m = Module()
        regs = {}
        gating = self._config.gating
        for name in _BROADCAST if gating else tuple(n for n in _BROADCAST if n != "gated"):
            port = getattr(self, name)
            regs[name] = Signal.like(port, name=f"bc_{name}")
            m.d.sync += regs[name].eq(port)
        for p in range(self._config.pes):
            if self._pe_module:
                pe = PEInstance(self._config, self._pe_module, f"pe{p}")
                m.submodules[f"pe{p}"] = pe.instance
            else:
                pe = m.submodules[f"pe{p}"] = NpuPE(self._config, self._spec, self._factory)
            if gating:
                c_load = Signal(name=f"bc_c_load{p}")
                m.d.sync += c_load.eq(self.c_load & equals(self.c_pe, p))
                m.d.comb += pe.c_load.eq(c_load)
            m.d.comb += [getattr(pe, name).eq(reg) for name, reg in regs.items()]
            m.d.comb += pe.rd_en.eq(self.mac)      # the broadcast register delivers this MAC next cycle
            m.d.comb += [pe.wr_weight.eq(self.wr_weight & equals(self.wr_pe, p)),
                         pe.wr_slot.eq(self.wr_slot & equals(self.wr_pe, p)),
                         pe.wr_field.eq(self.wr_field), pe.wr_addr.eq(self.wr_addr), pe.wr_data.eq(self.wr_data)]
            with m.If(equals(self.sel, p)):
                m.d.comb += self.y.eq(pe.y)
        return m
