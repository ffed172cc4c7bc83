"""cocotb testbench: an array bank (chip) against numpy matrix products through the RTL LUTs.

Configured through environment variables (set by :func:`axforge.sim.chip_sim.run_chip_tb`):

``AXF_CHIP``  JSON of the chip spec (``ChipSpec.to_dict()``).
``AXF_LUTS``  ``.npz`` with ``lut<k>``: the LUT extracted from array k's multiplier RTL.
``AXF_STATS`` path where measured cycle counts are written (JSON).
``AXF_SEED``  seed of the random matrices, idle cycles and back-pressure.

The stream components come from :mod:`axforge.sim.testbench`: sources drive ``route``,
``w_in`` and ``act_in`` (with random idle cycles), a sink takes ``res_out`` (with random
back-pressure), and the scoreboard compares the results in order with ``x @ W``
computed through the LUT and wrapped to the accumulator width
(:func:`axforge.sim.chip_sim.golden`). Two triggers a cycle drive and sample them all
(:class:`~axforge.sim.testbench.CycleLoop`; one would not do: ``act_in__ready`` depends
combinationally on ``res_out__ready`` and ``w_in__valid``, which are driven in the
same cycle).

Long streams go through the burst transactor of the bench's top
(:func:`axforge.sim.chip_sim.tb_wrapper`, driven by :class:`~axforge.sim.testbench.Burst`),
which streams up to 256 beats with given idle and back-pressure patterns and captures
the results while the loop lets those cycles pass under one timer. The scoreboard
checks the results the same way. On the 16x16 array this streams 12-19k cycles/s
against 6-15k cycle by cycle (``benchmarks/bench_chip.py``).
"""

import json
import os

import numpy as np

import cocotb

from axforge.sim.chip_sim import golden, unpack
from axforge.sim.testbench import Burst, Scoreboard, StreamTB, pack_rows, random_operands, to_unsigned

__all__ = ["TB", "config_from_env"]

_pack_rows = pack_rows   # the name tests/hdl/test_chip.py imports


def config_from_env():
    """``(chip dict, [LUT of array k], seed)`` from ``AXF_CHIP``, ``AXF_LUTS`` and ``AXF_SEED``."""
    chip = json.loads(os.environ["AXF_CHIP"])
    luts = np.load(os.environ["AXF_LUTS"])
    return chip, [luts[f"lut{k}"] for k in range(len(chip["multipliers"]))], int(os.environ.get("AXF_SEED", 1))


class TB(StreamTB):
    """The bank's bench: its streams, burst transactor and scoreboard; ``matmul`` runs one product.

    Parameters
    ----------
    dut : cocotb.handle.HierarchyObject
        The testbench top (:func:`axforge.sim.chip_sim.tb_wrapper`).
    chip : dict
        The chip spec (``ChipSpec.to_dict()``).
    luts : list of numpy.ndarray
        The golden LUT of each array.
    seed : int
    idle, stall : float
        Probabilities of an idle cycle on ``w_in``/``act_in`` and of back-pressure on ``res_out``.

    Attributes
    ----------
    act, w, route : StreamSource
        The ``act_in``, ``w_in`` and ``route`` streams (``route`` never idles).
    sink : StreamSink
        ``res_out``.
    burst : Burst
    board : Scoreboard
        Compares ``res_out`` payloads, unpacked to C accumulators, with golden rows.
    """

    def __init__(self, dut, chip, luts, seed, idle=0.0, stall=0.0):
        super().__init__(dut, seed)
        self.chip, self.luts = chip, luts
        self.route = self.add_source("route")
        self.w = self.add_source("w_in", idle)
        self.act = self.add_source("act_in", idle)
        self.sink = self.add_sink("res_out", stall)
        self.burst = Burst(dut, self.loop, self.rng, chip["a_width"], chip["cols"] * chip["acc_width"],
                           chip["rows"] + chip["cols"] + 2, idle, stall)   # drain: the last results leave
        self.board = Scoreboard(self.decode)

    def decode(self, beat):
        """A ``res_out`` payload as its C accumulator values (list of int)."""
        c = self.chip
        return unpack(beat, c["acc_width"], c["cols"], c["signed"])

    def results(self, start=0):
        """The sink's beats from ``start`` on, decoded: an (n, C) array."""
        return np.array([self.decode(b) for b in self.sink.beats[start:]])

    def random_operands(self, shape, width):
        return random_operands(self.rng, shape, width, self.chip["signed"])

    async def select(self, k):
        """Route to array ``k``; returns once ``route_q`` shows it."""
        await self.send(self.route, [k])
        await self.loop.cycles(1)

    async def load_weights(self, w):
        """R beats, bottom row first."""
        c = self.chip
        await self.send(self.w, pack_rows(np.asarray(w)[c["rows"] - 1::-1], c["b_width"]))

    async def stream(self, x, expect=None):
        c = self.chip
        if expect is not None:
            self.board.expect(expect)
        await self.send(self.act, pack_rows(x, c["a_width"]))

    async def stream_burst(self, x, expect=None):
        """Like :meth:`stream` followed by :meth:`drain`, through the burst transactor: the
        results are appended to ``sink.beats`` in order (the sink itself stays not ready)."""
        if expect is not None:
            self.board.expect(expect)
        self.sink.enabled = False
        self.sink.beats.extend(await self.burst.run(x, len(x)))
        self.sink.enabled = True

    async def drain(self, n_expected, timeout=20000):
        """Wait until the sink holds ``n_expected`` beats in all."""
        await self.receive(self.sink, n_expected, timeout)

    async def matmul(self, k, m_rows, tiles=1):
        """x (M, tiles*R) @ W (tiles*R, C) on array k, tile by tile; the host adds the tiles' results."""
        c = self.chip
        R, C = c["rows"], c["cols"]
        x = self.random_operands((m_rows, tiles * R), c["a_width"])
        w = self.random_operands((tiles * R, C), c["b_width"])
        total = np.zeros((m_rows, C), dtype=np.int64)
        for t in range(tiles):
            xs, ws = x[:, t * R:(t + 1) * R], w[t * R:(t + 1) * R]
            want = golden(xs, ws, self.luts[k], c)
            start = len(self.sink.beats)
            await self.load_weights(ws)
            await self.stream(xs, want)
            await self.drain(start + m_rows)
            total += self.results(start)
        return x, w, total


def _write_stats(stats):
    path = os.environ.get("AXF_STATS")
    if path:
        old = json.loads(open(path).read()) if os.path.exists(path) else {}
        old.update(stats)
        with open(path, "w") as f:
            json.dump(old, f, indent=1)


@cocotb.test()
async def test_matmul_backpressure_and_route(dut):
    """Random shapes on every array (ROUTE switching), idle cycles and back-pressure, bit-exact."""
    chip, luts, seed = config_from_env()
    tb = TB(dut, chip, luts, seed, idle=0.3, stall=0.3)
    await tb.start()
    for k in list(range(len(luts))) + [0]:
        await tb.select(k)
        assert to_unsigned(dut.route_q.value) == k
        for m_rows in (1, 5, 2 * chip["rows"] + 3):
            x, w, total = await tb.matmul(k, m_rows, tiles=2 if m_rows == 5 else 1)
            lut = luts[k]
            want = golden(x, w, lut, chip) if m_rows != 5 else sum(
                golden(x[:, t * chip["rows"]:(t + 1) * chip["rows"]], w[t * chip["rows"]:(t + 1) * chip["rows"]],
                       lut, chip) for t in range(2))
            assert np.array_equal(total, want), f"array {k}, M={m_rows}: results differ from x @ W via the LUT"
    tb.board.check(tb.sink.beats)
    assert tb.board.checked == len(tb.sink.beats) and not tb.board.expected
    _write_stats({"backpressure_results_checked": tb.board.checked})


@cocotb.test()
async def test_latency_and_throughput(dut):
    """No idles, no back-pressure: latency R+C-1 cycles, one result per cycle."""
    chip, luts, seed = config_from_env()
    tb = TB(dut, chip, luts, seed)
    await tb.start()
    R, C = chip["rows"], chip["cols"]
    m_rows = 4 * R
    w = tb.random_operands((R, C), chip["b_width"])
    x = tb.random_operands((m_rows, R), chip["a_width"])
    await tb.load_weights(w)
    tb.act.accepted_cycles.clear()
    await tb.stream(x, golden(x, w, luts[0], chip))
    await tb.drain(m_rows)
    tb.board.check(tb.sink.beats)
    acc, out = tb.act.accepted_cycles, tb.sink.cycles
    latency = out[0] - acc[0]
    assert latency == R + C - 1, f"latency {latency} cycles, documented {R + C - 1}"
    assert acc[-1] - acc[0] == m_rows - 1, "inputs were not accepted one per cycle"
    assert out[-1] - out[0] == m_rows - 1, "results did not leave one per cycle"
    _write_stats({"latency_cycles": latency, "formula_cycles": R + C - 1,
                  "input_cycles_for_M": acc[-1] - acc[0] + 1, "output_cycles_for_M": out[-1] - out[0] + 1,
                  "M": m_rows})


@cocotb.test()
async def test_reset_mid_stream(dut):
    """Reset while vectors are in flight: everything clears (weights, ROUTE, valid), then works again."""
    chip, luts, seed = config_from_env()
    tb = TB(dut, chip, luts, seed)
    await tb.start()
    R, C = chip["rows"], chip["cols"]
    k = len(luts) - 1
    await tb.select(k)
    w = tb.random_operands((R, C), chip["b_width"])
    await tb.load_weights(w)
    x = tb.random_operands((3 * R, R), chip["a_width"])
    tb.act.push(pack_rows(x, chip["a_width"]))
    await tb.loop.cycles(R + 1)
    assert tb.act.queue, "the stream ended before the reset"
    tb.act.flush()
    await tb.reset()
    await tb.loop.cycles(1)
    assert not int(dut.busy.value) and not int(dut.res_out__valid.value)
    assert to_unsigned(dut.route_q.value) == 0
    tb.sink.beats.clear()
    # weights were cleared: a vector now gives all zeros
    await tb.stream(x[:1], [[0] * C])
    await tb.drain(1)
    tb.board.check(tb.sink.beats)
    tb.sink.beats.clear()
    await tb.select(k)
    await tb.load_weights(w)
    await tb.stream(x, golden(x, w, luts[k], chip))
    await tb.drain(len(x))
    tb.board.check(tb.sink.beats)


@cocotb.test()
async def test_idle_arrays_hold_still(dut):
    """While array 0 works, every other array's registers keep their value (enables low)."""
    chip, luts, seed = config_from_env()
    if len(luts) < 2:
        return
    tb = TB(dut, chip, luts, seed)
    await tb.start()
    R, C = chip["rows"], chip["cols"]
    await tb.select(1)
    await tb.load_weights(tb.random_operands((R, C), chip["b_width"]))
    await tb.stream(tb.random_operands((R, R), chip["a_width"]))
    await tb.drain(R)
    await tb.select(0)
    probes = [getattr(getattr(dut.chip.array1, f"pe_{i}_{j}"), n) for i in range(R) for j in range(C)
              for n in ("psum_out", "w_out", "a_out")]
    before = [to_unsigned(p.value) for p in probes]
    x = tb.random_operands((2 * R, R), chip["a_width"])
    w = tb.random_operands((R, C), chip["b_width"])
    await tb.load_weights(w)
    tb.sink.beats.clear()
    await tb.stream(x, golden(x, w, luts[0], chip))
    changes = 0
    for _ in range(R + C + 4):
        await tb.loop.cycles(1)
        changes += sum(to_unsigned(p.value) != b for p, b in zip(probes, before))
    await tb.drain(len(x))
    tb.board.check(tb.sink.beats)
    assert changes == 0, f"{changes} register changes in the unselected array"


@cocotb.test()
async def test_burst_backpressure(dut):
    """The burst transactor: streams longer than a burst, idle cycles and back-pressure, on every
    array, alternating with cycle-by-cycle streaming; every result bit-exact and in order."""
    chip, luts, seed = config_from_env()
    tb = TB(dut, chip, luts, seed, idle=0.3, stall=0.3)
    await tb.start()
    R, C = chip["rows"], chip["cols"]
    depth = tb.burst.depth
    for k in range(len(luts)):
        await tb.select(k)
        w = tb.random_operands((R, C), chip["b_width"])
        await tb.load_weights(w)
        for m_rows in (1, depth + 7):
            x = tb.random_operands((m_rows, R), chip["a_width"])
            await tb.stream_burst(x, golden(x, w, luts[k], chip))
            tb.board.check(tb.sink.beats[-m_rows:])
        x = tb.random_operands((5, R), chip["a_width"])    # cycle by cycle again, same weights
        start = len(tb.sink.beats)
        await tb.stream(x, golden(x, w, luts[k], chip))
        await tb.drain(start + len(x))
        tb.board.check(tb.sink.beats[start:])
    assert not tb.board.expected and tb.board.checked == len(tb.sink.beats)
    tb.loop.poke(tb.rst, 1)   # held in reset no burst starts: the driver gives up instead of hanging
    try:
        await tb.burst.run(tb.random_operands((2, R), chip["a_width"]), 2)
    except AssertionError as exc:
        assert "three bursts moved nothing (0 of 2 beats sent, 0 of 2 results arrived)" in str(exc), exc
    else:
        raise AssertionError("a stream that cannot move did not time out")
    _write_stats({"burst_results_checked": tb.board.checked, "burst_depth": depth})


@cocotb.test()
async def test_stream_rate(dut):
    """Full-rate streaming of AXF_RATE_VECTORS vectors (default 64), cycles and wall time, checked:
    once cycle by cycle (two triggers a cycle), once through the burst transactor.

    The expected rows are computed before the clock is timed, and the results checked
    after it: the rate is the simulation loop's (stimulus packing included).
    """
    import time
    chip, luts, seed = config_from_env()
    tb = TB(dut, chip, luts, seed)
    await tb.start()
    R, C = chip["rows"], chip["cols"]
    n = int(os.environ.get("AXF_RATE_VECTORS", 64))
    w = tb.random_operands((R, C), chip["b_width"])
    await tb.load_weights(w)
    stats = {"rate_vectors": n}
    for mode in ("cycle", "burst"):
        x = tb.random_operands((n, R), chip["a_width"])
        tb.board.expect(golden(x, w, luts[0], chip))
        start = len(tb.sink.beats)
        c0, t0, cpu0 = tb.loop.cycle, time.perf_counter(), time.process_time()
        if mode == "cycle":
            await tb.send(tb.act, pack_rows(x, chip["a_width"]))
            await tb.drain(start + n)
        else:
            await tb.stream_burst(x)
        wall, cpu, cycles = time.perf_counter() - t0, time.process_time() - cpu0, tb.loop.cycle - c0
        tb.board.check(tb.sink.beats[start:])
        # CPU time (model and Python share the one thread) is what other load on the machine changes least
        pre = "rate" if mode == "cycle" else "burst_rate"
        stats.update({f"{pre}_cycles": cycles, f"{pre}_wall_s": wall, f"{pre}_cpu_s": cpu,
                      f"{pre}_cycles_per_s": cycles / wall, f"{pre}_cycles_per_cpu_s": cycles / cpu})
    _write_stats(stats)
