"""The NPU's processing element: one neuron's dot product, requantisation, activation and gate
(the gate only with ``gating``).

A PE holds the weights of every neuron it is assigned (its weight memory, ``weight_depth`` words)
and their neuron slots (``neuron_depth`` each of bias, requantisation multiplier ``M``, weight zero
point ``zw`` on an unsigned NPU, and output kind: one memory per field). Its inputs come from its
tile's broadcast register, so every PE of the NPU sees the same ``x`` in the same cycle.

Timing (each cycle the PE's inputs hold one broadcast element):

- ``mac``: ``x`` is an activation; the weight memory's read data (the word at ``w_addr`` of the
  cycle before) is multiplied by it (``mult(x, w)``, operand ``a`` the activation) and added to
  the temporary accumulator; ``first`` starts a new sum at the slot's bias. On an unsigned NPU the
  running sum of the inputs is kept beside it.
- ``c_load``: ``x`` is this PE's control value ``c`` (a gated layer), held for the switch unit.
- Three free-running registered stages follow the accumulator, so the output register holds the
  neuron's result three cycles after the last ``mac`` and keeps it while the inputs are still:

  1. the product ``(acc - zw * sum) * M`` (the correction modulo ``2**acc_width``, as the sum);
  2. the rounding shift ``t = (acc * M + 2**(S-1)) >> S``, computed as
     ``(((p << 1) >> S) + 1) >> 1`` (one arithmetic shifter), then the output unit of the slot's
     kind (:data:`~.program.KINDS`: clamps, and PLAN sigmoid / tanh in shifts and compares);
  3. the switch unit: the output register takes the unit's value, or for a gated layer the
     Hadamard product ``(y * c + 2**(F-1)) >> F``.

With ``gating: false`` (:class:`~.config.NpuConfig`) the PE has no ``c_load`` or ``gated`` input,
no control-value register and no switch unit or Hadamard multiplier: stage 3 is the output register
alone, taking the unit's value (so the PE keeps its three stages and its timing).

Values are :func:`data_word` bits, two's complement (as the data memory holds them).
"""

from amaranth.hdl import Const, Instance, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from axforge.errors import bad_value
from axforge.hdl.pe import _InstanceMult, mult_factory

from .image import KIND_BITS, SLOT_FIELDS, MemoryMap
from .program import KINDS, WIDE

__all__ = ["pe_signature", "NpuPE", "check_spec", "data_word", "equals", "pe_data_width"]


def data_word(config):
    """Bits of a data word (:attr:`~.config.NpuConfig.data_width`)."""
    return config.data_width


def pe_data_width(config):
    """Bits of the configuration data a PE reads (its widest slot field or a weight)."""
    mm = MemoryMap(config)
    return max(mm.slot_width(f) for f in SLOT_FIELDS)


def check_spec(config, spec, component):
    """Raise when the multiplier's operands are not the NPU's (``width`` x ``width``, same sign);
    ``component`` is the one being built (rejected: not an unused elaboratable)."""
    if (spec.a_width, spec.b_width, spec.signed) != (config.width, config.width, config.signed):
        component._MustUse__used = True
        want = f"{config.width}x{config.width}{'s' if config.signed else 'u'}"
        raise bad_value("NPU multiplier widths", spec.width_tag, f"{want} (the NPU's width and signedness)")


def equals(value, k):
    """``value == k`` for an unsigned value and a constant, as ``verilator -Wall`` takes it: a
    reduction for 0, a constant of the value's width otherwise."""
    return ~value.any() if k == 0 else value == Const(k, len(value))


def _clamp(m, value, lo, hi, name):
    """``value`` clamped to the constants [lo, hi], as a new signal."""
    out = Signal(range(lo, hi + 1), name=name)
    m.d.comb += out.eq(Mux(value < lo, lo, Mux(value > hi, hi, value)))
    return out


def _plan_pos(m, a, fi, fo, name):
    """PLAN's y(a) for the unsigned code ``a`` (``fi`` fraction bits in, ``fo`` out), before the
    clamp: the segments of :func:`~.golden._plan_pos`, each term floored by a constant shift."""
    one = 1 << fo
    scaled = a << fo
    out = Signal(unsigned(fo + 2), name=name)
    with m.If(a < (1 << fi)):
        m.d.comb += out.eq((one >> 1) + (scaled >> (fi + 2)))
    with m.Elif((a << 3) < (19 << fi)):
        m.d.comb += out.eq(((5 << fo) >> 3) + (scaled >> (fi + 3)))
    with m.Elif(a < (5 << fi)):
        m.d.comb += out.eq(((27 << fo) >> 5) + (scaled >> (fi + 5)))
    with m.Else():
        m.d.comb += out.eq(one)
    return out


def pe_signature(config):
    """The ports of :class:`NpuPE` for ``config`` (its class docstring)."""
    mm = MemoryMap(config)
    gate = {"c_load": In(1), "gated": In(1)} if config.gating else {}
    return wiring.Signature({
        "x": In(signed(data_word(config))),
        "mac": In(1), "first": In(1),
        "w_addr": In(mm.weight_bits), "slot": In(mm.slot_bits), "rd_en": In(1, init=1),
        "shift": In(config.shift_bits), **gate,
        "y": Out(signed(data_word(config))),
        "wr_weight": In(1), "wr_slot": In(1), "wr_field": In(2),
        "wr_addr": In(max(mm.weight_bits, mm.slot_bits)), "wr_data": In(pe_data_width(config)),
    })


class NpuPE(wiring.Component):
    """One PE of the NPU (see the module docstring for its stages).

    Parameters
    ----------
    config : NpuConfig
    spec : MultSpec -- the multiplier (``width`` x ``width``, the NPU's signedness).
    factory : callable, optional -- returns the multiplier component; default
        :func:`~axforge.hdl.pe.mult_factory` (inline).

    Attributes
    ----------
    x : In(signed(word)) -- the broadcast element: an activation (``mac``) or a control value
        (``c_load``).
    mac, first, c_load : In(1) -- what ``x`` is this cycle (``first``: the pass's first input;
        no ``c_load`` without gating).
    w_addr : In -- weight memory read address (its word arrives the next cycle, with its ``x``).
    slot : In -- neuron slot read address (held through a pass).
    rd_en : In(1) -- the weight and slot memories read this cycle (a MAC element follows next
        cycle; default 1); otherwise their read data hold, and an SRAM macro spends no read.
    shift : In(shift_bits), gated : In(1) -- the layer's S and whether it is gated (no ``gated``
        without gating).
    y : Out(signed(word)) -- the output register.
    wr_weight, wr_slot : In(1) -- configuration write of weight word / slot field ``wr_field``
        (index into :data:`~.image.SLOT_FIELDS`) at ``wr_addr`` with ``wr_data``.
    """

    def __init__(self, config, spec, factory=None):
        check_spec(config, spec, self)
        self._config, self._spec = config, spec
        self._factory = factory or mult_factory(spec)
        super().__init__(pe_signature(config))

    def elaborate(self, platform):
        m = Module()
        c = self._config
        op = signed if c.signed else unsigned
        word = data_word(c)
        acc_w = c.acc_width

        # weight memory and neuron slots: written by the configuration port, read by the pass
        wmem = m.submodules.weights = Memory(shape=op(c.width), depth=c.weight_depth, init=[])
        wp, wr = wmem.write_port(), wmem.read_port()
        m.d.comb += [wp.en.eq(self.wr_weight), wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data),
                     wr.addr.eq(self.w_addr), wr.en.eq(self.rd_en)]
        shapes = {"bias": signed(acc_w), "mult": unsigned(c.mult_bits), "zw": unsigned(c.width),
                  "kind": unsigned(KIND_BITS)}
        slot = {}
        for idx, name in enumerate(SLOT_FIELDS):
            if name == "zw" and c.signed:
                continue
            mem = m.submodules[f"slot_{name}"] = Memory(shape=shapes[name], depth=c.neuron_depth, init=[])
            sw, sr = mem.write_port(), mem.read_port()
            m.d.comb += [sw.en.eq(self.wr_slot & equals(self.wr_field, idx)), sw.addr.eq(self.wr_addr),
                         sw.data.eq(self.wr_data), sr.addr.eq(self.slot), sr.en.eq(self.rd_en)]
            slot[name] = sr.data

        # the multiplier: the activation is operand a, the weight operand b
        mult = self._factory()
        a = Signal(op(c.width), name="mult_a")
        m.d.comb += a.eq(self.x[:c.width])
        if isinstance(mult, _InstanceMult):  # the shared multiplier module, wired to the PE's nets
            m.submodules.mult = Instance(mult.module_name, i_a=a, i_b=wr.data, o_p=mult.p)
        else:
            m.submodules.mult = mult
            m.d.comb += [mult.a.eq(a), mult.b.eq(wr.data)]

        # temporary accumulator (bias add on the first input), the inputs' sum, the control value
        acc = Signal(signed(acc_w))
        with m.If(self.mac):
            m.d.sync += acc.eq(Mux(self.first, slot["bias"], acc) + mult.p)
        if c.gating:
            ctl = Signal(signed(word), name="c")
            with m.If(self.c_load):
                m.d.sync += ctl.eq(self.x)
        corrected = acc
        if not c.signed:
            total = Signal(signed(acc_w), name="in_sum")
            with m.If(self.mac):
                m.d.sync += total.eq(Mux(self.first, 0, total) + self.x)
            corrected = Signal(signed(acc_w), name="acc_corrected")
            m.d.comb += corrected.eq(acc - slot["zw"] * total)

        # stage 1: the requantisation product
        prod = Signal(signed(acc_w + c.mult_bits))
        m.d.sync += prod.eq(corrected * slot["mult"])

        # stage 2: rounding shift and the output unit
        t = Signal(signed(acc_w + c.mult_bits))
        m.d.comb += t.eq((((prod << 1) >> self.shift) + 1) >> 1)
        lo, hi = c.act_range
        half = 1 << (c.width - 1)
        vin = _clamp(m, t, -half, half - 1, "unit_in")
        neg = vin < 0
        mag = Signal(unsigned(c.width), name="unit_mag")
        m.d.comb += mag.eq(Mux(neg, -vin, vin))
        fi, fo = c.sigmoid_in_frac, c.gate_frac
        pos = _plan_pos(m, mag, fi, fo, "sig_pos")
        candidates = {  # the output units, by kind; "none" (the default) is the linear clamp
            KINDS.index("relu"): _clamp(m, t, 0, hi, "relu"),
            KINDS.index("sigmoid"): _clamp(m, Mux(neg, (1 << fo) - pos, pos), max(lo, 0), hi, "sigmoid"),
            WIDE: _clamp(m, t, *c.wide_range, "wide"),
        }
        if c.signed:
            tpos = _plan_pos(m, mag, fi - 1, fo + 1, "tanh_pos")
            tanh = Mux(neg, (1 << (fo + 1)) - tpos, tpos) - (1 << fo)
            candidates[KINDS.index("tanh")] = _clamp(m, tanh, lo + 1, hi, "tanh")
        linear = _clamp(m, t, lo, hi, "linear")
        unit = Signal(signed(word))
        m.d.sync += unit.eq(linear)
        for kind, value in sorted(candidates.items()):
            with m.If(equals(slot["kind"], kind)):
                m.d.sync += unit.eq(value)

        # stage 3: the switch unit and the output register (the register alone without gating)
        if c.gating:
            f = c.gate_frac
            m.d.sync += self.y.eq(Mux(self.gated, (unit * ctl + (1 << (f - 1))) >> f, unit))
        else:
            m.d.sync += self.y.eq(unit)
        return m
