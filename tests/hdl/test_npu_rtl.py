"""The NPU's RTL in Amaranth's simulator: bit-exact against the golden model, cycle-exact against
:mod:`axforge.hdl.npu.cycles`, with idle inputs, back-pressure and reset; and its Verilog lint."""

import dataclasses
import json

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator
from npu_programs import exact_lut, layer_sums, random_inputs, random_program

from axforge.errors import AxforgeError
from axforge.generators.design import convert, design_files
from axforge.generators.emit import MultDesign
from axforge.hdl.arith import MultSpec
from axforge.hdl.npu.config import NpuConfig
from axforge.hdl.npu.core import INDEX_BITS, LINT_WAIVERS, STATES, Npu, states
from axforge.hdl.npu.cycles import PE_STAGES, sample_cycles, stream_cycles
from axforge.hdl.npu.golden import requant, run, unit_out
from axforge.hdl.npu.image import (
    LAYER_FIELDS,
    SLOT_FIELDS,
    MemoryMap,
    image_words,
    samples_from_beats,
)
from axforge.hdl.npu.pe import NpuPE, pe_data_width
from axforge.hdl.npu.program import KINDS, WIDE, Layer, Program, check_fits
from axforge.hdl.pe import mult_factory
from axforge.sim.lut import extract_lut
from axforge.sim.verilator import lint_files
from axforge.yosys import run_yosys


def _exact(config):
    return MultSpec.parse(f"exact:{config.width}x{config.width}{'s' if config.signed else 'u'}:arch=behav")


# -- the bench ------------------------------------------------------------------------------------

def simulate(config, spec, phases, *, idle=0.0, stall=0.0, seed=0, max_cycles=20000):
    """Run the NPU through ``phases``, each ``{"words", "x", "stop_after"}``: the configuration
    writes, then the samples (rows of ``x``); a phase with ``stop_after`` asserts reset for one
    cycle once that many result beats have arrived. ``idle`` / ``stall``: probabilities of an
    idle cycle on ``cfg`` and ``samples`` / of ``results.ready`` low.

    Returns one dict per phase: ``beats`` ``(data, index, fallback, last)``, ``in_cycles`` (the
    cycle each input beat was accepted), ``out_cycles`` (each result beat), ``busy`` (cycle -> busy)."""
    dut = Npu(config, spec)
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.npu = dut
    rng = np.random.default_rng(seed)
    out = []

    async def bench(ctx):
        cycle = 0
        for phase in phases:
            words, codes = list(phase["words"]), [int(v) for v in np.asarray(phase["x"]).reshape(-1)]
            n_samples, stop = len(phase["x"]), phase.get("stop_after")
            rec = {"beats": [], "in_cycles": [], "out_cycles": [], "busy": {}}
            out.append(rec)
            while True:
                cfg_v = bool(words) and rng.random() >= idle
                smp_v = not words and bool(codes) and rng.random() >= idle
                rdy = rng.random() >= stall
                if cfg_v:
                    ctx.set(dut.cfg.payload.addr, words[0][0])
                    ctx.set(dut.cfg.payload.data, words[0][1])
                if smp_v:
                    ctx.set(dut.samples.payload, codes[0])
                ctx.set(dut.cfg.valid, cfg_v)
                ctx.set(dut.samples.valid, smp_v)
                ctx.set(dut.results.ready, rdy)
                if cfg_v and ctx.get(dut.cfg.ready):
                    words.pop(0)
                if smp_v and ctx.get(dut.samples.ready):
                    codes.pop(0)
                    rec["in_cycles"].append(cycle)
                rec["busy"][cycle] = ctx.get(dut.busy)
                if rdy and ctx.get(dut.results.valid):
                    p = dut.results.payload
                    rec["beats"].append((ctx.get(p.data), ctx.get(p.index), ctx.get(p.fallback), ctx.get(p.last)))
                    rec["out_cycles"].append(cycle)
                await ctx.tick()
                cycle += 1
                assert cycle < max_cycles, "the NPU stopped answering"
                if stop is not None and len(rec["beats"]) >= stop:
                    ctx.set(dut.cfg.valid, 0)
                    ctx.set(dut.samples.valid, 0)
                    ctx.set(cd.rst, 1)
                    await ctx.tick()
                    ctx.set(cd.rst, 0)
                    cycle += 1
                    break
                if sum(b[3] for b in rec["beats"]) == n_samples:
                    break

    sim = Simulator(top)
    sim.add_clock(1e-6, domain="sync")
    sim.add_testbench(bench)
    sim.run()
    return out


def expected_beats(program, config, lut, x, first_index=0):
    """The result beats the golden model says ``x`` must give."""
    g = run(program, x, lut, config)
    beats = []
    for i, (safe, h) in enumerate(zip(g["safe"], g["h"])):
        index = (first_index + i) % (1 << INDEX_BITS)
        if safe:
            beats += [(int(v), index, 0, int(j == program.n_out - 1)) for j, v in enumerate(h)]
        else:
            beats.append((0, index, 1, 1))
    return beats, g["safe"]


def check_beats(got, want):
    """Raise AssertionError at the first result beat that differs from the golden one."""
    for n, (a, b) in enumerate(zip(got, want)):
        assert a == b, f"result beat {n}: RTL (data, index, fallback, last) = {a}, golden {b}"
    assert len(got) == len(want), f"{len(got)} result beats, golden {len(want)}"


def check_cycles(program, config, rec, safe, stalled=False):
    """Every sample's cycles and the whole stream's against :mod:`.cycles`: equal without idle
    inputs or stalled results, at least as many with them; ``busy`` is low only where a sample's
    first input beat is accepted."""
    n_in = program.n_in
    model = sample_cycles(program, config)
    ends = [c for c, b in zip(rec["out_cycles"], rec["beats"]) if b[3]]
    starts = rec["in_cycles"][::n_in]
    got = [e - s + 1 for s, e in zip(starts, ends)]
    want = [model["safe" if s else "unsafe"] for s in safe]
    total = ends[-1] - starts[0] + 1
    if stalled:
        assert all(g >= w for g, w in zip(got, want)) and total > stream_cycles(program, config, safe)
        return
    assert got == want, (got, model)
    assert total == stream_cycles(program, config, safe)
    busy = [rec["busy"][c] for c in range(starts[0], ends[-1] + 1)]
    assert busy == [int(c not in starts) for c in range(starts[0], ends[-1] + 1)]


def _check_run(program, config, spec, lut, n, seed, **kw):
    rng = np.random.default_rng(seed)
    x = random_inputs(config, n, program.n_in, rng)
    rec, = simulate(config, spec, [{"words": image_words(program, config), "x": x}], seed=seed, **kw)
    want, safe = expected_beats(program, config, lut, x)
    check_beats(rec["beats"], want)
    return rec, safe


# -- bit- and cycle-exact runs --------------------------------------------------------------------

CASES = {
    # name: (config, program shape)
    "s8-1x4-static": (dict(tiles=1, pes=4, width=8, signed=True),
                      dict(n_in=4, pred=(4,), approx=(3, 2), p_outputs=1)),
    "s8-2x2-layerwise-p2": (dict(tiles=2, pes=2, width=8, signed=True),
                            dict(n_in=5, pred=(6,), approx=(5, 3), p_outputs=2)),
    "s8-1x1": (dict(tiles=1, pes=1, width=8, signed=True),
               dict(n_in=2, pred=(2,), approx=(2, 2), p_outputs=1, gated=(False, True))),
    "u8-1x3-layerwise": (dict(tiles=1, pes=3, width=8, signed=False),
                         dict(n_in=4, pred=(5,), approx=(4, 2), p_outputs=1)),
    "u6-2x1-p2": (dict(tiles=2, pes=1, width=6, signed=False, out_width=12, mult_bits=12),
                  dict(n_in=3, pred=(2,), approx=(3, 2), p_outputs=2)),
    "s6-2x3-acc-wraps": (dict(tiles=2, pes=3, width=6, signed=True, acc_width=13, out_width=10),
                         dict(n_in=8, pred=(4, 3), approx=(7, 2), p_outputs=2, gated=(True, False), wrap=True)),
    # out_width <= width on an unsigned NPU: a data word of width + 1 bits
    "u6-1x2-narrow-out": (dict(tiles=1, pes=2, width=6, signed=False, out_width=6, mult_bits=10),
                          dict(n_in=3, pred=(3,), approx=(2, 2), p_outputs=1)),
}


def _config(base, **extra):
    return NpuConfig(**{"weight_depth": 128, "neuron_depth": 16, "data_depth": 64, "max_layers": 6, **base, **extra})


@pytest.mark.parametrize("name", list(CASES))
def test_random_programs_are_bit_and_cycle_exact(name):
    base, shape = CASES[name]
    config = _config(base)
    lut = exact_lut(config)
    seed = sum(map(ord, name))
    program = random_program(config, lut, np.random.default_rng(seed), **shape)
    rec, safe = _check_run(program, config, _exact(config), lut, 8, seed)
    assert safe.any() and not safe.all()            # both stages 4 and 5 ran
    assert [(s["index"], s["safe"]) for s in samples_from_beats(rec["beats"])] == list(enumerate(safe))
    check_cycles(program, config, rec, safe)
    if shape.get("wrap"):                           # the same inputs made the first layer's sums wrap
        data = np.zeros((8, config.data_depth), dtype=np.int64)
        data[:, :program.n_in] = random_inputs(config, 8, program.n_in, np.random.default_rng(seed))
        sums = layer_sums(data, program.pred[0], lut, config)
        assert (np.abs(sums + 0.5) > 1 << (config.acc_width - 1)).any()


def test_program_that_fills_the_pe_memories():
    """weight_depth and neuron_depth exactly as large as the program needs."""
    base = dict(tiles=1, pes=2, width=8, signed=True)
    lut = exact_lut(_config(base))
    program = random_program(_config(base), lut, np.random.default_rng(7), n_in=3, pred=(3,), approx=(3, 2),
                             p_outputs=2)
    used = check_fits(program, _config(base))
    config = _config(base, weight_depth=used["weights_per_pe"], neuron_depth=used["slots_per_pe"],
                     max_layers=len(program.layers))
    assert check_fits(program, config)["weights_per_pe"] == config.weight_depth
    rec, safe = _check_run(program, config, _exact(config), lut, 6, 7)
    check_cycles(program, config, rec, safe)


@pytest.mark.parametrize("text", ["trunc:8x8s:k=6,comp=const", "drum:8x8u:k=5"])
def test_approximate_multiplier_matches_its_lut(text):
    """The PE's multiplier is the RTL whose LUT the golden model reads."""
    spec = MultSpec.parse(text)
    config = _config(dict(tiles=1, pes=2, width=8, signed=spec.signed))
    lut = extract_lut(spec)
    assert not np.array_equal(lut, exact_lut(config))
    program = random_program(config, lut, np.random.default_rng(3), n_in=4, pred=(3,), approx=(2, 2))
    rec, safe = _check_run(program, config, spec, lut, 5, 3)
    check_cycles(program, config, rec, safe)


def test_idle_inputs_and_backpressure():
    config = _config(dict(tiles=2, pes=2, width=8, signed=False))
    lut = exact_lut(config)
    program = random_program(config, lut, np.random.default_rng(11), n_in=3, pred=(5,), approx=(4, 3),
                             p_outputs=2)
    rec, safe = _check_run(program, config, _exact(config), lut, 8, 11, idle=0.4, stall=0.5)
    assert safe.any() and not safe.all()
    check_cycles(program, config, rec, safe, stalled=True)


def test_reset_mid_stream_then_a_clean_run():
    config = _config(dict(tiles=1, pes=3, width=8, signed=True))
    lut = exact_lut(config)
    program = random_program(config, lut, np.random.default_rng(5), n_in=4, pred=(4,), approx=(3, 2))
    rng = np.random.default_rng(5)
    x1, x2 = random_inputs(config, 6, 4, rng), random_inputs(config, 5, 4, rng)
    words = image_words(program, config)
    first, second = simulate(config, _exact(config), [{"words": words, "x": x1, "stop_after": 3},
                                                      {"words": words, "x": x2}], seed=5)
    want1, _ = expected_beats(program, config, lut, x1)
    check_beats(first["beats"], want1[:3])
    want2, safe = expected_beats(program, config, lut, x2)   # indices restart at 0
    check_beats(second["beats"], want2)
    check_cycles(program, config, second, safe)


def test_a_wrong_golden_model_is_caught():
    config = _config(dict(tiles=1, pes=2, width=8, signed=True))
    lut = exact_lut(config)
    program = random_program(config, lut, np.random.default_rng(9), n_in=3, pred=(3,), approx=(2, 2))
    x = random_inputs(config, 6, 3, np.random.default_rng(9))
    rec, = simulate(config, _exact(config), [{"words": image_words(program, config), "x": x}])
    want, safe = expected_beats(program, config, lut, x)
    check_beats(rec["beats"], want)
    assert safe.any()
    layer = program.approx[-1]
    w = layer.weights.copy()
    w[0, 0] = -w[0, 0] - 1                              # one weight of H(x)'s first neuron
    wrong = dataclasses.replace(program, approx=program.approx[:-1] + (dataclasses.replace(layer, weights=w),))
    bad, _ = expected_beats(wrong, config, lut, x)
    assert bad != want
    with pytest.raises(AssertionError, match="result beat"):
        check_beats(rec["beats"], bad)


@pytest.mark.parametrize("seed", range(12))
def test_many_random_configs(seed):
    rng = np.random.default_rng(100 + seed)
    width = int(rng.integers(4, 10))
    signed = bool(rng.integers(0, 2))
    base = dict(tiles=int(rng.integers(1, 4)), pes=int(rng.integers(1, 5)), width=width, signed=signed,
                acc_width=int(rng.integers(2 * width + 1, 2 * width + 9)), out_width=int(rng.integers(width, 17)),
                mult_bits=int(rng.integers(width, 17)))
    config = _config(base, data_depth=256, weight_depth=256)
    lut = exact_lut(config)

    def sizes(k):   # layers up to two passes wider than the NPU
        return tuple(int(v) for v in rng.integers(1, 2 * config.n_pes + 2, k))

    shape = dict(n_in=int(rng.integers(1, 7)), pred=sizes(int(rng.integers(1, 3))), approx=sizes(2),
                 p_outputs=int(rng.integers(1, 3)), gated=tuple(bool(v) for v in rng.integers(0, 2, 2)))
    program = random_program(config, lut, rng, **shape)
    rec, safe = _check_run(program, config, _exact(config), lut, 6, seed)
    check_cycles(program, config, rec, safe)


# -- the plain NPU (gating: false): no AXNet additions -------------------------------------------

PLAIN_CASES = {
    # name: (config, ungated program shape); layers of several passes
    "s8-1x3-plain": (dict(tiles=1, pes=3, width=8, signed=True),
                     dict(n_in=4, pred=(5,), approx=(4, 2), p_outputs=1)),
    "u8-2x2-plain-p2": (dict(tiles=2, pes=2, width=8, signed=False),
                        dict(n_in=3, pred=(3,), approx=(5, 2), p_outputs=2)),
}


@pytest.mark.parametrize("name", list(PLAIN_CASES))
def test_plain_npu_runs_ungated_programs_bit_and_cycle_exact(name):
    """An ungated program on ``gating: false``: the golden results, the gating NPU's cycles, and the
    gating NPU's image less the gate descriptor writes."""
    base, shape = PLAIN_CASES[name]
    config, gating = _config(base, gating=False), _config(base)
    lut = exact_lut(config)
    seed = sum(map(ord, name))
    program = random_program(config, lut, np.random.default_rng(seed), gated=(False, False), **shape)
    assert states(config) == tuple(s for s in STATES if s != "GATE") and states(gating) == STATES
    rec, safe = _check_run(program, config, _exact(config), lut, 8, seed)
    assert safe.any() and not safe.all()
    check_cycles(program, config, rec, safe)
    assert sample_cycles(program, config) == sample_cycles(program, gating)
    mm = MemoryMap(config)
    assert mm.layer_fields == tuple(f for f in LAYER_FIELDS if f != "gate")
    gate_addrs = {mm.layer_addr(i, "gate") for i in range(len(program.layers))}
    assert image_words(program, config) == [w for w in image_words(program, gating) if w[0] not in gate_addrs]


def test_plain_npu_rejects_gated_programs():
    config = _config(dict(tiles=1, pes=2, width=8, signed=True), gating=False)
    lut = exact_lut(config)
    program = random_program(config, lut, np.random.default_rng(4), n_in=3, pred=(3,), approx=(2, 2),
                             gated=(False, True))
    msg = r"Layer 3 is gated \(control values at data \d+\.\.\d+\), but the NPU has gating: false"
    for fn in (check_fits, image_words):
        with pytest.raises(AxforgeError, match=msg) as err:
            fn(program, config)
        assert "\n" not in str(err.value)
    with pytest.raises(AxforgeError, match="NPU key 'gating' must be true or false, not 'yes'"):
        NpuConfig(gating="yes")
    plain, full = NpuPE(config, _exact(config)), NpuPE(_config(dict(width=8)), _exact(config))
    for pe in (plain, full):
        pe._MustUse__used = True                    # built for its ports only
    assert not {"c_load", "gated"} & set(plain.signature.members)
    assert {"c_load", "gated"} <= set(full.signature.members)


def _coarse_cells(config, work):
    """Yosys' word-level cells of the NPU (``synth -flatten`` up to fine-grained mapping)."""
    from amaranth.back import rtlil
    work.mkdir()
    (work / "npu.il").write_text(rtlil.convert(Npu(config, _exact(config)), name="npu", emit_src=False))
    run_yosys("read_rtlil npu.il\nsynth -flatten -top npu -run begin:fine\nopt_clean\n"
              "tee -q -o stat.json stat -json\n", work)
    stat = json.loads((work / "stat.json").read_text())
    mod = stat.get("design") or next(iter(stat["modules"].values()))
    return int(mod["num_cells"]), dict(sorted(mod["num_cells_by_type"].items()))


def test_plain_npu_is_smaller(tmp_path):
    """What the AXNet additions cost, in Yosys' word-level cells (printed; asserted only smaller)."""
    base = dict(tiles=1, pes=2, width=8, signed=True, data_depth=16, weight_depth=8, neuron_depth=4, max_layers=2)
    full, full_cells = _coarse_cells(NpuConfig(**base), tmp_path / "gating")
    plain, plain_cells = _coarse_cells(NpuConfig(**base, gating=False), tmp_path / "plain")
    print(f"\nNPU 1x2 s8, Yosys cells: gating {full}, plain {plain} (the AXNet additions: {full - plain})")
    for kind in sorted(set(full_cells) | set(plain_cells)):
        print(f"  {kind:14} {full_cells.get(kind, 0):5} {plain_cells.get(kind, 0):5}")
    assert plain < full


# -- the PE's output unit, value by value --------------------------------------------------------

def _pe_sweep(config, batches):
    """Drive one :class:`NpuPE` (weight word 0 = 1, so ``acc = bias + x``) through ``batches`` of
    ``(bias, M, S, kind, c or None)``, each over every activation code ``x``; its outputs."""
    pe = NpuPE(config, _exact(config))
    xs = list(range(config.act_range[0], config.act_range[1] + 1))
    mask = (1 << pe_data_width(config)) - 1
    got = []

    async def bench(ctx):
        ctx.set(pe.wr_weight, 1)
        ctx.set(pe.wr_data, 1)
        await ctx.tick()
        ctx.set(pe.wr_weight, 0)
        for bias, mult, shift, kind, c in batches:
            ctx.set(pe.wr_slot, 1)
            for field, v in (("bias", bias), ("mult", mult), ("kind", kind)):
                ctx.set(pe.wr_field, SLOT_FIELDS.index(field))
                ctx.set(pe.wr_data, v & mask)
                await ctx.tick()
            ctx.set(pe.wr_slot, 0)
            ctx.set(pe.shift, shift)
            ctx.set(pe.gated, c is not None)
            ctx.set(pe.c_load, c is not None)
            ctx.set(pe.x, c or 0)
            await ctx.tick()                        # (and the slot's read port catches up)
            ctx.set(pe.c_load, 0)
            ctx.set(pe.mac, 1)
            ctx.set(pe.first, 1)
            ys = []
            for x in xs + [0] * PE_STAGES:
                ctx.set(pe.x, x)
                await ctx.tick()
                ys.append(ctx.get(pe.y))
            ctx.set(pe.mac, 0)
            got.append(ys[PE_STAGES:])

    sim = Simulator(pe)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    want = []
    for bias, mult, shift, kind, c in batches:
        y = unit_out(requant(np.array(xs) + bias, mult, shift), np.full(len(xs), kind), config)
        f = config.gate_frac
        want.append(list(y if c is None else (y * c + (1 << (f - 1))) >> f))
    return got, want


@pytest.mark.parametrize("base", [dict(width=8, signed=True), dict(width=6, signed=False, out_width=10),
                                  dict(width=4, signed=True, out_width=8)], ids=["s8", "u6", "s4"])
def test_pe_output_units_over_every_code(base):
    """Every kind over its whole input range (clamps, PLAN's segments), requantisation rounding of
    negative values, and the gate for extreme control values."""
    config = _config(base)
    lo, hi = config.act_range
    n = hi - lo + 1                                 # t = x + bias, over lo - 2n .. hi + n
    kinds = [k for k, name in enumerate(KINDS) if config.signed or name != "tanh"]
    batches = [(b, 1, 0, k, None) for k in kinds for b in (-2 * n, -n, 0, n)]
    batches += [(0, 3, 2, 0, None), (-7, 5, 3, WIDE, None), (-3, (1 << config.mult_bits) - 1, 0, WIDE, None)]
    # y over the wide range but its lowest code: that one times c = lo (-1.0) is one past the data word
    wide = (1 if config.signed else 1 - n // 2, 1 << (config.out_width - config.width))
    for c in sorted({lo, lo + 1, -1 if config.signed else 2, 0, 1, hi}):
        batches += [(0, 1, 0, 0, c), (wide[0], wide[1], 0, WIDE, c)]
    got, want = _pe_sweep(config, batches)
    for batch, g, w in zip(batches, got, want):
        assert g == w, f"(bias, M, S, kind, c) = {batch}"


# -- the image and the cycle model ----------------------------------------------------------------

def test_image_layout_and_errors():
    config = _config(dict(tiles=2, pes=3, width=8, signed=True))
    mm = MemoryMap(config)
    assert mm.weight_addr(4, 5) == (2 << mm.word_bits) | (1 << mm.pe_bits | 1) << mm.weight_bits | 5
    assert mm.addr_width == mm.word_bits + 2 and mm.data_width == config.acc_width
    lut = exact_lut(config)
    program = random_program(config, lut, np.random.default_rng(1), n_in=3, pred=(7,), approx=(2, 2))
    words = image_words(program, config)
    used = check_fits(program, config)
    per_pe = used["weights_per_pe"] + 3 * used["slots_per_pe"]          # no zw on a signed NPU
    assert len(words) == 7 + 8 * len(program.layers) + config.n_pes * per_pe
    assert all(0 <= d < 1 << mm.data_width and 0 <= a < 1 << mm.addr_width for a, d in words)
    # a two-pass layer that overwrites its own inputs cannot run
    first = dataclasses.replace(program.pred[0], dst=program.pred[0].src)
    with pytest.raises(AxforgeError, match="Layer 0 runs in 2 passes and writes data 0..6 over its own inputs"):
        image_words(dataclasses.replace(program, pred=(first,) + program.pred[1:]), config)
    with pytest.raises(AxforgeError, match="Program outputs addresses must be"):
        image_words(dataclasses.replace(program, out_addr=63), config)
    with pytest.raises(AxforgeError, match="Weights per PE"):
        image_words(program, dataclasses.replace(config, weight_depth=8))
    with pytest.raises(AxforgeError, match="NPU multiplier widths must be 8x8s"):
        Npu(config, MultSpec.parse("exact:8x8u"))


def test_cycle_model_by_stage():
    config = NpuConfig(tiles=1, pes=2)
    layer = Layer(src=0, dst=4, weights=np.ones((3, 4)), bias=np.zeros(3), mult=np.ones(3), shift=0, kind=np.zeros(3))
    gated = dataclasses.replace(layer, src=4, dst=8, weights=np.ones((3, 3)), gate=4)
    program = Program(n_in=4, pred=(layer,), approx=(gated,), p_addr=4, p_outputs=2, out_addr=8, n_out=3)
    c = sample_cycles(program, config)
    assert c["pred"] == 2 * (4 + 5) + 3 and c["approx"] == 2 * (3 + 5) + 3 * 2
    assert c["unsafe"] == 4 + c["pred"] + 3 + 1 and c["safe"] == 4 + c["pred"] + 3 + c["approx"] + 4
    assert stream_cycles(program, config, [True, False, True]) == 2 * c["safe"] + c["unsafe"]


# -- Verilog --------------------------------------------------------------------------------------

@pytest.mark.parametrize("npu, text", [
    (dict(tiles=1, pes=2, width=8, signed=True, weight_depth=64, neuron_depth=8, data_depth=32, max_layers=4),
     "exact:8x8s"),
    (dict(tiles=2, pes=3, width=6, signed=False, out_width=12, weight_depth=40, neuron_depth=6, data_depth=48,
          max_layers=5), "trunc:6x6u:k=4"),
    (dict(tiles=2, pes=2, width=8, signed=False, gating=False, weight_depth=64, neuron_depth=8, data_depth=32,
          max_layers=4), "exact:8x8u"),
], ids=["s8-1x2-exact", "u6-2x3-trunc", "u8-2x2-plain"])
def test_verilog_is_lint_clean(npu, text):
    """The NPU with its multiplier as a black-box module, through ``verilator -Wall``."""
    spec = MultSpec.parse(text).combinational()
    top = "axf_npu_lint"
    files = dict(design_files(MultDesign(spec)))
    files[f"{top}.v"] = convert(Npu(NpuConfig(**npu), spec, factory=mult_factory(spec, spec.module_name)), top)
    child = [ln for n, t in files.items() if n.endswith(".vlt") for ln in t.splitlines()[1:]]
    files[f"{top}.vlt"] = "\n".join(["`verilator_config", *(w.format(top=top) for w in LINT_WAIVERS), *child]) + "\n"
    assert f"{spec.module_name} " in files[f"{top}.v"]          # the multiplier is an instance
    assert lint_files(files, top) == []
