"""cocotb testbench: one network layer (a matrix product x @ w) through one array of a chip.

Configured through environment variables (set by :func:`axforge.sim.layer_check.run_layer_tb`):
``AXF_CHIP`` (chip JSON), ``AXF_LUTS`` (npz of the arrays' RTL LUTs), ``AXF_WORKLOAD`` (npz with
integer ``x`` (M, K), ``w`` (K, N) and ``route``), ``AXF_RESULT`` (where ``y`` is written, npz),
``AXF_SEED``. The product runs tile by tile (R x C weight tiles, zero-padded at the edges), the
activations through the burst transactor (:meth:`TB.stream_burst`) with idle cycles and
back-pressure; the bench's scoreboard checks every beat against the LUT golden,
and the host-side sum of the tiles is written for the caller to compare with the emulation.
"""

import os

import numpy as np

import cocotb

from axforge.sim.chip_sim import golden
from axforge.sim.tb_chip import TB, config_from_env


@cocotb.test()
async def test_layer(dut):
    chip, luts, seed = config_from_env()
    wl = np.load(os.environ["AXF_WORKLOAD"])
    x, w, route = wl["x"].astype(np.int64), wl["w"].astype(np.int64), int(wl["route"])
    R, C = chip["rows"], chip["cols"]
    M, K = x.shape
    N = w.shape[1]
    tb = TB(dut, chip, luts, seed, idle=0.1, stall=0.1)
    await tb.start()
    await tb.select(route)
    y = np.zeros((M, N), dtype=np.int64)
    for n0 in range(0, N, C):
        for k0 in range(0, K, R):
            wt = np.zeros((R, C), dtype=np.int64)
            blk = w[k0:k0 + R, n0:n0 + C]
            wt[:blk.shape[0], :blk.shape[1]] = blk
            xt = np.zeros((M, R), dtype=np.int64)
            xt[:, :min(R, K - k0)] = x[:, k0:k0 + R]
            start = len(tb.sink.beats)
            await tb.load_weights(wt)
            await tb.stream_burst(xt, golden(xt, wt, luts[route], chip))
            got = tb.results(start)
            y[:, n0:n0 + C] += got[:, :min(C, N - n0)]
    tb.board.check(tb.sink.beats)
    np.savez(os.environ["AXF_RESULT"], y=y, beats=len(tb.sink.beats))
