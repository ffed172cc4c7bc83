"""The MAC PE in both dataflows, simulated with Amaranth's simulator against the multiplier's model."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from axforge.errors import AxforgeError
from axforge.hdl.arith import MultSpec
from axforge.hdl.pe import MacPE, default_acc_width


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("text", ["drum:6x5s:k=3", "trunc:6x5u:k=4"])
def test_ws_pe_accumulates_through_the_multiplier(text):
    spec = MultSpec.parse(text)
    acc = default_acc_width(6, 5, 4)
    dut = MacPE(spec, acc, "ws")
    rng = np.random.default_rng(0)
    lo_a, hi_a = (-32, 32) if spec.signed else (0, 64)
    lo_b, hi_b = (-16, 16) if spec.signed else (0, 32)
    w = int(rng.integers(lo_b, hi_b))
    cases = [(int(rng.integers(lo_a, hi_a)), int(rng.integers(-100, 100) if spec.signed else rng.integers(0, 200)))
             for _ in range(20)]
    seen = []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        ctx.set(dut.load, 1)
        ctx.set(dut.w_in, w)
        await ctx.tick()
        ctx.set(dut.load, 0)
        ctx.set(dut.w_in, 0)
        assert ctx.get(dut.w_out) == w
        for a, psum in cases:
            ctx.set(dut.a_in, a)
            ctx.set(dut.psum_in, psum)
            await ctx.tick()
            seen.append((ctx.get(dut.psum_out), ctx.get(dut.a_out)))
        # en low freezes everything
        ctx.set(dut.en, 0)
        ctx.set(dut.a_in, 1)
        ctx.set(dut.load, 1)
        ctx.set(dut.w_in, 3)
        before = (ctx.get(dut.psum_out), ctx.get(dut.a_out), ctx.get(dut.w_out))
        await ctx.tick()
        assert (ctx.get(dut.psum_out), ctx.get(dut.a_out), ctx.get(dut.w_out)) == before

    _run(dut, bench)
    for (a, psum), (got, a_out) in zip(cases, seen):
        prod = int(spec.model(np.array([a]), np.array([w]))[0])
        assert got == psum + prod and a_out == a


def test_os_pe_clear_accumulate_shift():
    spec = MultSpec.parse("trunc:4x4u:k=3")
    dut = MacPE(spec, 12, "os")
    a = [3, 15, 7, 9]
    b = [5, 11, 2, 14]

    async def bench(ctx):
        ctx.set(dut.en, 1)
        for i, (x, y) in enumerate(zip(a, b)):
            ctx.set(dut.a_in, x)
            ctx.set(dut.b_in, y)
            ctx.set(dut.clear, i == 0)
            await ctx.tick()
            assert ctx.get(dut.b_out) == y and ctx.get(dut.a_out) == x
        want = int(spec.model(np.array(a), np.array(b)).sum())
        assert ctx.get(dut.acc) == want
        ctx.set(dut.shift, 1)
        ctx.set(dut.acc_in, 123)
        await ctx.tick()
        assert ctx.get(dut.acc) == 123

    _run(dut, bench)


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_pe_rejects_bad_parameters():
    spec = MultSpec.parse("exact:8x8u")
    with pytest.raises(AxforgeError, match="Dataflow must be one of ws, os, not 'rs'"):
        MacPE(spec, 20, "rs")
    with pytest.raises(AxforgeError, match="Accumulator width must be an integer between 16"):
        MacPE(spec, 12)


def test_array_and_bank_reject_bad_geometry():
    from axforge.hdl.array import SystolicArray
    from axforge.hdl.bank import ArrayBank
    spec = MultSpec.parse("exact:4x4u")
    arr = SystolicArray(spec, 2, 3, 10)
    arr._MustUse__used = True      # constructed only to read its latency
    assert arr.latency == 4
    with pytest.raises(AxforgeError, match="Rows must be an integer between 2 and 64, not 1"):
        SystolicArray(spec, 1, 3, 10)
    with pytest.raises(AxforgeError, match="must have the bank's operand type 4x4u, not 4x3u"):
        ArrayBank([spec, MultSpec.parse("exact:4x3u")], 2, 2, 10)
    ArrayBank([spec, MultSpec.parse("trunc:4x4u:k=2")], 2, 2, 10)._MustUse__used = True   # accepted
