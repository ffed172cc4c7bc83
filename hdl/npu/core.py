"""The AXNet NPU: tiles of PEs, the shared data memory, layer descriptors, the bus scheduler and
the controller that runs a sample's five stages.

Microarchitecture (Fig. 5 of the AXNet paper, kept simple):

- **data memory**: ``data_depth`` words of :func:`~.pe.data_word` bits (two's complement), one
  synchronous read port (the broadcast bus, the P(x) read and the result read-out) and one write
  port (input words and writebacks);
- **configuration**: the global registers and the layer descriptors (one small memory per field,
  read combinationally by the current layer index) are written through ``cfg`` (memory map:
  :mod:`.image`), and so are the PEs' weight memories and neuron slots;
- **tiles** (:class:`~.tile.NpuTile`): every PE of every tile sees the same broadcast element in
  the same cycle;
- **bus scheduler**: owns the data memory's write port: input beats while fetching, then, after a
  pass, one writeback per cycle in global PE order (tile by tile, PE by PE), which is neuron order;
- **controller** (one state machine, no overlap between samples or between passes):

  1. ``FETCH``: input beat ``k`` of the ``samples`` stream is written to ``data[k]`` (idle: the
     first beat is awaited; configuration writes are accepted then, and only then);
  2. the prediction layers, pass by pass: ``MAC`` issues the ``n_in`` reads ``data[src + k]``
     (with weight word ``wbase + pass * n_in + k`` in every PE), ``GATE`` issues the reads of the
     control values ``data[gate + j]`` of a gated layer, one per neuron of the pass, ``DRAIN``
     waits for the PEs (:data:`~.cycles.DRAIN` cycles), ``WB`` writes the pass's results to
     ``data[dst + j]``;
  3. the last prediction layer's writebacks store the control vectors and the P(x) slot;
  4. ``DECIDE`` reads P(x) (safe: ``P > 0``, or ``P[1] > P[0]`` with two outputs); an unsafe sample
     goes to ``FALLBACK``, one beat (``fallback = last = 1``, ``data = 0``, its index);
  5. a safe one runs the approximation layers the same way, then ``EMIT`` streams ``n_out`` beats
     of ``data[out_addr + i]`` (the low ``out_width`` bits of the word; the last with ``last = 1``).

  A sample starts only after the previous one's last result beat is accepted; its index counts
  samples since reset or since the last configuration write. :mod:`.cycles` gives the cycles of
  every stage exactly.

Limits: data words hold values modulo ``2**data_word``, and the golden model's values all fit
but one, a gated output ``y * c`` with ``c = -2**F`` (-1.0) and ``y`` the lowest code of its range,
one past the top of a word as wide as that range. A layer of several passes reads its inputs after
its earlier passes' writebacks, so it must not write over them (:func:`~.image.image_words`
refuses such a program). Reset clears the controller and the global registers, not the memories.

Without gating (``gating: false`` in :class:`~.config.NpuConfig`: the plain NPU the AXNet additions
extend, to measure what they cost) the NPU has no ``GATE`` state (:func:`states`; ``MAC`` goes to
``DRAIN``), no control-value loads (their delayed strobe and PE select, the tiles' load registers),
no ``gate`` descriptor memory (its configuration writes are ignored), and PEs without the control
register, the switch unit and the Hadamard multiplier (:mod:`.pe`). Everything else is the same
circuit, with the same cycles for the ungated programs it runs (:func:`~.program.check_fits`
rejects gated ones).
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from axforge.hdl.pe import mult_factory

from .cycles import DRAIN
from .image import GLOBALS, LAYER_FIELDS, MemoryMap
from .pe import check_spec, data_word, equals, pe_data_width
from .tile import NpuTile

__all__ = ["INDEX_BITS", "LINT_WAIVERS", "STATES", "Npu", "result_layout", "states"]

#: width of a result beat's sample index (it wraps)
INDEX_BITS = 16
#: the controller's states (one-hot), in the order of a sample
STATES = ("FETCH", "MAC", "GATE", "DRAIN", "WB", "DECIDE", "FALLBACK", "EMIT")


def states(config):
    """The controller states of ``config``'s NPU: :data:`STATES`, less ``GATE`` without gating."""
    return STATES if config.gating else tuple(s for s in STATES if s != "GATE")
#: Verilator configuration lines the emitted NPU needs under ``-Wall`` (``{top}``: its module name);
#: each waives what the Amaranth -> Yosys flow writes, not a property of the circuit
LINT_WAIVERS = (
    "// Amaranth emits register reset values as initial assignments",
    'lint_off -rule PROCASSINIT -file "*{top}*"',
    "// Yosys writes operands narrower than their operator and leaves the extension to Verilog",
    "// (signed operands marked $signed): the widths Amaranth computed, exactly",
    'lint_off -rule WIDTHEXPAND -file "*{top}*" -match "*Operator * expects *"',
    "// Amaranth keeps a named alias net for every submodule port, payload field and intermediate",
    "// signal, and Yosys keeps the carry bits of sums that wrap: unread nets by construction",
    'lint_off -rule UNUSEDSIGNAL -file "*{top}*"',
    "// the tiles and PEs are submodules written into the NPU's one file",
    'lint_off -rule DECLFILENAME -file "*{top}*"',
)


def result_layout(config):
    """The payload of a ``results`` beat."""
    return data.StructLayout({"data": signed(config.out_width), "index": unsigned(INDEX_BITS),
                              "fallback": unsigned(1), "last": unsigned(1)})


class Npu(wiring.Component):
    """The NPU (see the module docstring).

    Parameters
    ----------
    config : NpuConfig
    spec : MultSpec -- the MACs' multiplier (``width`` x ``width``, the NPU's signedness).
    factory : callable, optional -- returns the multiplier component; default
        :func:`~axforge.hdl.pe.mult_factory` (inline); a factory of black-box instances for emitted
        designs.
    pe_module : str, optional -- the PEs' Verilog module (:class:`~.tile.NpuTile`; default: PEs
        inline).

    Attributes
    ----------
    cfg : In(stream of {addr, data}) -- configuration writes (:class:`~.image.MemoryMap`),
        accepted only while idle.
    samples : In(stream of width-bit codes) -- ``n_in`` beats per sample.
    results : Out(stream of :func:`result_layout`) -- ``n_out`` beats per safe sample, one fallback
        beat per unsafe one.
    busy : Out(1) -- a sample is in progress (its first input beat accepted, its last result beat
        not yet).
    """

    def __init__(self, config, spec, factory=None, pe_module=None):
        check_spec(config, spec, self)
        self._config, self._spec, self._pe_module = config, spec, pe_module
        self._factory = factory or mult_factory(spec)
        mm = self._map = MemoryMap(config)
        super().__init__({
            "cfg": In(stream.Signature(data.StructLayout({"addr": unsigned(mm.addr_width),
                                                         "data": unsigned(mm.data_width)}))),
            "samples": In(stream.Signature(signed(config.width) if config.signed else unsigned(config.width))),
            "results": Out(stream.Signature(result_layout(config))),
            "busy": Out(1),
        })

    @property
    def config(self):
        return self._config

    @property
    def memory_map(self):
        return self._map

    def elaborate(self, platform):
        m = Module()
        c, mm = self._config, self._map
        word = data_word(c)
        n_pes = c.n_pes

        # -- configuration: global registers, layer descriptors, PE memories ---------------------
        cfg_fire = Signal()
        addr, value = self.cfg.payload.addr, self.cfg.payload.data
        region, low = addr[mm.word_bits:], addr[:mm.word_bits]
        g = {name: Signal(mm.global_width(name), name=f"g_{name}") for name in GLOBALS}
        for idx, name in enumerate(GLOBALS):
            with m.If(cfg_fire & equals(region, 0) & equals(low[:3], idx)):
                m.d.sync += g[name].eq(value)
        layer = Signal(mm.layer_count_bits)
        desc = {}
        for idx, name in enumerate(LAYER_FIELDS):
            if name not in mm.layer_fields:
                continue
            mem = m.submodules[f"layer_{name}"] = Memory(shape=mm.layer_width(name), depth=c.max_layers, init=[])
            wp, rp = mem.write_port(), mem.read_port(domain="comb")
            m.d.comb += [wp.en.eq(cfg_fire & equals(region, 1) & equals(low[:3], idx)),
                         wp.addr.eq(low[3:3 + mm.layer_bits]), wp.data.eq(value), rp.addr.eq(layer)]
            desc[name] = rp.data
        pe_lo = mm.weight_bits                        # region 2: tile | pe | word
        slot_pe_lo = mm.slot_bits + 2                 # region 3: tile | pe | slot | field
        w_pe, w_tile = low[pe_lo:pe_lo + mm.pe_bits], low[pe_lo + mm.pe_bits:pe_lo + mm.pe_bits + mm.tile_bits]
        s_pe = low[slot_pe_lo:slot_pe_lo + mm.pe_bits]
        s_tile = low[slot_pe_lo + mm.pe_bits:slot_pe_lo + mm.pe_bits + mm.tile_bits]

        # -- the data memory -------------------------------------------------------------------
        dmem = m.submodules.data = Memory(shape=signed(word), depth=c.data_depth, init=[])
        rd, wr = dmem.read_port(), dmem.write_port()

        # -- controller registers --------------------------------------------------------------
        cnt = Signal(max(mm.count_bits, n_pes.bit_length(), DRAIN.bit_length()))
        sel_t, sel_p = Signal(mm.tile_bits), Signal(mm.pe_bits)     # the PE of a writeback / gate load
        base = Signal(range(c.data_depth + n_pes))                  # neurons of the layer done before
        woff = Signal(range(c.weight_depth + 1))                    # weight words of those passes
        pss = Signal(range(c.neuron_depth + 1))                     # pass index (slot offset)
        index = Signal(INDEX_BITS)
        p0 = Signal(signed(word))
        emit_valid = Signal()
        # issue -> data arrival: what the element read this cycle is, one cycle later with rd.data
        mac_d, first_d = Signal(), Signal()
        if c.gating:
            cload_d = Signal()
            ct_d, cp_d = Signal.like(sel_t), Signal.like(sel_p)

        left = Signal(range(c.data_depth + 1))
        n_act = Signal(range(max(c.data_depth, n_pes) + 1))
        last_pass = Signal()
        if c.gating:
            gate_en, gate_addr = desc["gate"][0], desc["gate"][1:]
        m.d.comb += [left.eq(desc["n_out"] - base), last_pass.eq(left <= n_pes),
                     n_act.eq(Mux(last_pass, left, n_pes))]

        # -- tiles: the broadcast bus and the output bus ---------------------------------------
        bus_y = Signal(signed(word))                                # the writeback bus
        for t in range(c.tiles):
            tile = m.submodules[f"tile{t}"] = NpuTile(c, self._spec, self._factory, self._pe_module)
            if c.gating:
                m.d.comb += [tile.c_load.eq(cload_d & equals(ct_d, t)), tile.c_pe.eq(cp_d),
                             tile.gated.eq(gate_en)]
            m.d.comb += [tile.x.eq(rd.data), tile.mac.eq(mac_d), tile.first.eq(first_d),
                         tile.w_addr.eq(desc["wbase"] + woff + cnt), tile.slot.eq(desc["slot"] + pss),
                         tile.shift.eq(desc["shift"]), tile.sel.eq(sel_p),
                         tile.wr_weight.eq(cfg_fire & equals(region, 2) & equals(w_tile, t)),
                         tile.wr_slot.eq(cfg_fire & equals(region, 3) & equals(s_tile, t)),
                         tile.wr_field.eq(low[:2]), tile.wr_pe.eq(Mux(equals(region, 2), w_pe, s_pe)),
                         tile.wr_addr.eq(Mux(equals(region, 2), low[:mm.weight_bits], low[2:2 + mm.slot_bits])),
                         tile.wr_data.eq(value[:pe_data_width(c)])]
            with m.If(equals(sel_t, t)):
                m.d.comb += bus_y.eq(tile.y)
        m.d.sync += [mac_d.eq(0), first_d.eq(0)]
        if c.gating:
            m.d.sync += [cload_d.eq(0), ct_d.eq(sel_t), cp_d.eq(sel_p)]

        def next_pe():
            """Step (sel_t, sel_p) to the next global PE."""
            with m.If(equals(sel_p, c.pes - 1)):
                m.d.sync += [sel_p.eq(0), sel_t.eq(sel_t + 1)]
            with m.Else():
                m.d.sync += sel_p.eq(sel_p + 1)

        def end_sample():
            m.d.sync += [index.eq(index + 1), layer.eq(0), cnt.eq(0)]

        result = self.results.payload
        m.d.comb += [result.index.eq(index), rd.en.eq(1)]
        names = states(c)
        state = Signal(len(names), init=1)       # one-hot, FETCH first
        st = {name: state[i] for i, name in enumerate(names)}

        def goto(name):
            m.d.sync += state.eq(1 << names.index(name))

        m.d.comb += self.busy.eq(~st["FETCH"] | cnt.any())
        with m.If(st["FETCH"]):
            idle = ~cnt.any()
            m.d.comb += [self.cfg.ready.eq(idle), cfg_fire.eq(self.cfg.valid & idle),
                         self.samples.ready.eq(g["n_layers"].any() & ~(idle & self.cfg.valid))]
            with m.If(cfg_fire):
                m.d.sync += index.eq(0)
            with m.If(self.samples.valid & self.samples.ready):
                m.d.comb += [wr.en.eq(1), wr.addr.eq(cnt), wr.data.eq(self.samples.payload)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(cnt + 1 == g["n_in"]):
                    m.d.sync += cnt.eq(0)
                    goto("MAC")
        with m.Elif(st["MAC"]):
            m.d.comb += rd.addr.eq(desc["src"] + cnt)
            m.d.sync += [mac_d.eq(1), first_d.eq(~cnt.any()), cnt.eq(cnt + 1)]
            with m.If(cnt + 1 == desc["n_in"]):
                m.d.sync += cnt.eq(0)
                if c.gating:
                    with m.If(gate_en):
                        goto("GATE")
                    with m.Else():
                        goto("DRAIN")
                else:
                    goto("DRAIN")
        if c.gating:
            with m.Elif(st["GATE"]):
                m.d.comb += rd.addr.eq(gate_addr + base + cnt)
                m.d.sync += [cload_d.eq(1), cnt.eq(cnt + 1)]
                next_pe()
                with m.If(cnt + 1 == n_act):
                    m.d.sync += [cnt.eq(0), sel_t.eq(0), sel_p.eq(0)]
                    goto("DRAIN")
        with m.Elif(st["DRAIN"]):
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(equals(cnt, DRAIN - 1)):
                m.d.sync += cnt.eq(0)
                goto("WB")
        with m.Elif(st["WB"]):
            m.d.comb += [wr.en.eq(1), wr.addr.eq(desc["dst"] + base + cnt), wr.data.eq(bus_y)]
            m.d.sync += cnt.eq(cnt + 1)
            next_pe()
            with m.If(cnt + 1 == n_act):
                m.d.sync += [cnt.eq(0), sel_t.eq(0), sel_p.eq(0)]
                with m.If(last_pass):
                    m.d.sync += [layer.eq(layer + 1), base.eq(0), woff.eq(0), pss.eq(0)]
                    with m.If(layer + 1 == g["n_pred"]):
                        goto("DECIDE")
                    with m.Elif(layer + 1 == g["n_layers"]):
                        goto("EMIT")
                    with m.Else():
                        goto("MAC")
                with m.Else():
                    m.d.sync += [base.eq(base + n_pes), woff.eq(woff + desc["n_in"]), pss.eq(pss + 1)]
                    goto("MAC")
        with m.Elif(st["DECIDE"]):
            m.d.comb += rd.addr.eq(g["p_addr"] + cnt)
            m.d.sync += [cnt.eq(cnt + 1), p0.eq(rd.data)]
            two = g["p_outputs"][1]
            decided, safe = Signal(), Signal()
            m.d.comb += [decided.eq(Mux(two, equals(cnt, 2), equals(cnt, 1))),
                         safe.eq(Mux(two, rd.data > p0, rd.data > 0))]
            with m.If(decided):
                m.d.sync += cnt.eq(0)
                with m.If(safe):
                    goto("MAC")
                with m.Else():
                    goto("FALLBACK")
        with m.Elif(st["FALLBACK"]):
            m.d.comb += [self.results.valid.eq(1), result.fallback.eq(1), result.last.eq(1)]
            with m.If(self.results.ready):
                end_sample()
                goto("FETCH")
        with m.Else():   # EMIT
            advance = ~emit_valid | self.results.ready
            m.d.comb += [rd.en.eq(advance), rd.addr.eq(g["out_addr"] + cnt), self.results.valid.eq(emit_valid),
                         result.data.eq(rd.data), result.last.eq(cnt == g["n_out"])]
            with m.If(advance):
                m.d.sync += [emit_valid.eq(1), cnt.eq(cnt + 1)]
            with m.If(emit_valid & self.results.ready & (cnt == g["n_out"])):
                m.d.sync += emit_valid.eq(0)
                end_sample()
                goto("FETCH")
        return m
