"""cocotb testbench: the AXNet NPU running a compiled program, against the golden model's beats.

Configured through environment variables (set by :func:`axforge.sim.npu_sim.run_npu_tb`):
``AXF_NPU_JOB`` (JSON: the ``cfg`` payloads of the image, the input codes, ``n_in``, ``n_out``,
the widths, the golden ``results`` beats ``(data, index, fallback, last)``, how many samples run
cycle by cycle, the idle and back-pressure probabilities, the burst length), ``AXF_NPU_RESULT``
(where the bench writes what it measured, JSON) and ``AXF_SEED``.

Tests:

- ``test_stream``: configure, run the first ``cycle_samples`` samples cycle by cycle with neither
  idle cycles nor back-pressure and record each sample's cycles (first input beat accepted to its
  last result beat accepted), then every other sample through the burst transactor with random
  idle cycles and back-pressure; every beat goes through the scoreboard. Writes ``beats`` (raw
  payloads), ``sample_cycles``, and the burst phase's simulated cycles and samples per second.
- ``test_idle_and_backpressure``: the configuration and some samples cycle by cycle with random
  idle cycles on ``cfg`` and ``samples`` and back-pressure on ``results``.
- ``test_reset_mid_stream``: reset while a sample is in flight, configure again (reset clears the
  registers), and the samples from the first give the golden beats again, indices from 0.
"""

import json
import os
import time

import numpy as np

import cocotb

from axforge.sim.testbench import Burst, Scoreboard, StreamTB


def _job():
    with open(os.environ["AXF_NPU_JOB"]) as f:
        return json.load(f)


def _write(result):
    with open(os.environ["AXF_NPU_RESULT"], "w") as f:
        json.dump(result, f)


def _signed(raw, width):
    raw &= (1 << width) - 1
    return raw - ((raw >> (width - 1)) << width)


class TB(StreamTB):
    """The NPU's bench: ``cfg`` and ``samples`` sources, the ``results`` sink, the burst driver."""

    def __init__(self, dut, job, seed, idle=0.0, stall=0.0):
        super().__init__(dut, seed)
        self.job = job
        self.cfg = self.add_source("cfg", idle)
        self.samples = self.add_source("samples", idle)
        self.sink = self.add_sink("results", stall)
        ow = job["out_width"]
        self.board = Scoreboard(lambda raw: [_signed(raw, ow), (raw >> ow) & 0xFFFF, (raw >> (ow + 16)) & 1,
                                             (raw >> (ow + 17)) & 1])
        self.burst = Burst(dut, self.loop, self.rng, job["width"], len(dut.results__payload), 64,
                           job["idle"], job["stall"])

    def x(self, start=0, stop=None):
        n_in = self.job["n_in"]
        x = self.job["x"]
        stop = len(x) // n_in if stop is None else stop
        return x[start * n_in:stop * n_in]

    def expect_for(self, start, stop):
        """The golden beats of samples ``start .. stop - 1`` (beats are in sample order)."""
        beats = self.job["expect"]
        return [b for b in beats if start <= b[1] < stop]

    async def configure(self):
        await self.send(self.cfg, self.job["config"])
        await self.loop.cycles(2)

    async def run_samples(self, start, stop, timeout_per_sample=20000):
        """Samples ``start .. stop - 1`` cycle by cycle; returns once their results arrived."""
        expect = self.expect_for(start, stop)
        self.board.expect(expect)
        first = len(self.sink.beats)
        self.samples.push([v & ((1 << self.job["width"]) - 1) for v in self.x(start, stop)])
        await self.receive(self.sink, first + len(expect), timeout=timeout_per_sample * max(1, stop - start))
        return first


@cocotb.test()
async def test_stream(dut):
    job = _job()
    tb = TB(dut, job, int(os.environ.get("AXF_SEED", 1)))
    await tb.start()
    await tb.configure()
    n = len(job["x"]) // job["n_in"]
    k = min(job["cycle_samples"], n)
    first = await tb.run_samples(0, k)
    # per-sample cycles: first input beat accepted .. last result beat accepted (both included)
    acc = tb.samples.accepted_cycles
    got = tb.sink.cycles[first:]
    lasts = [i for i, b in enumerate(tb.expect_for(0, k)) if b[3]]
    cycles = [got[lasts[i]] - acc[i * job["n_in"]] + 1 for i in range(k)]
    result = {"sample_cycles": cycles}
    if k < n:
        expect = tb.expect_for(k, n)
        tb.board.expect(expect)
        tb.sink.enabled = False
        tb.burst.stall, tb.burst.idle = job["stall"], job["idle"]
        rows = np.array([v & ((1 << job["width"]) - 1) for v in tb.x(k, n)]).reshape(-1, 1)
        c0, t0 = tb.burst.cycles, time.perf_counter()
        tb.sink.beats.extend(await tb.burst.run(rows, len(expect), cycles=job["burst_len"]))
        wall = time.perf_counter() - t0
        result.update(burst_cycles=tb.burst.cycles - c0, burst_wall_s=wall,
                      burst_cycles_per_s=(tb.burst.cycles - c0) / wall, burst_samples_per_s=(n - k) / wall)
    result["beats"] = tb.sink.beats
    _write(result)
    tb.board.check(tb.sink.beats)


@cocotb.test()
async def test_idle_and_backpressure(dut):
    job = _job()
    tb = TB(dut, job, int(os.environ.get("AXF_SEED", 1)) + 1, idle=0.3, stall=0.4)
    await tb.start()
    await tb.configure()
    n = min(len(job["x"]) // job["n_in"], 12)
    await tb.run_samples(0, n)
    tb.board.check(tb.sink.beats)


@cocotb.test()
async def test_reset_mid_stream(dut):
    job = _job()
    tb = TB(dut, job, int(os.environ.get("AXF_SEED", 1)) + 2)
    await tb.start()
    await tb.configure()
    n = min(len(job["x"]) // job["n_in"], 6)
    tb.samples.push([v & ((1 << job["width"]) - 1) for v in tb.x(0, n)])
    await tb.loop.cycles(job["n_in"] + 3)            # the first sample is in flight
    tb.samples.flush()
    await tb.reset()
    tb.sink.beats.clear()
    tb.sink.cycles.clear()
    await tb.configure()
    await tb.run_samples(0, n)
    tb.board.check(tb.sink.beats)
