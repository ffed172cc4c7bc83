"""Array benchmarks: 16x16 emission, synthesis, cocotb cycles/s, a checked 64x64x64 matmul.

Baselines in the same process: a 4x4 array for emission/synthesis (scaling),
and numpy's ``x @ w`` through the LUT for the end-to-end matmul.
"""

import os
import shutil
import tempfile
import time

os.environ.setdefault("AXFORGE_CACHE", tempfile.mkdtemp(prefix="axf-bench-"))

import numpy as np  # noqa: E402

from axforge import toolenv  # noqa: E402
from axforge.generators.chip import ChipSpec, chip_verilog  # noqa: E402


def bench(name, value, unit):
    print(f"BENCH {name} {value:.4g} {unit}", flush=True)


def chip(n, mults=("exact:8x8u:arch=dadda",)):
    return ChipSpec.from_dict({"name": f"a{n}", "rows": n, "cols": n, "multipliers": list(mults)})


def main():
    toolenv.setup()
    from axforge.pdk_stub.flow import synthesize
    from axforge.pdk_stub.pdk import default_pdk
    from axforge.sim.chip_sim import golden_matmul, run_chip_tb, run_workload
    for n in (4, 16):
        c = chip(n)
        t0 = time.perf_counter()
        files = chip_verilog(c)
        bench(f"emit_{n}x{n}_array_s", time.perf_counter() - t0, "s")
    for n in (4, 16):
        c = chip(n)
        files = {k: v for k, v in chip_verilog(c).items() if k.endswith(".v")}
        work = tempfile.mkdtemp(prefix="axf-bench-synth-")
        t0 = time.perf_counter()
        mapped = synthesize(files, c.top, default_pdk(), work, cache=False)
        bench(f"synth_{n}x{n}_array_8bit_mac_s", time.perf_counter() - t0, "s")
        bench(f"synth_{n}x{n}_array_cells", mapped.stat["num_cells"], "cells")
        bench(f"synth_{n}x{n}_array_area_um2", mapped.stat["area"], "um2")
        shutil.rmtree(work, ignore_errors=True)
    c = chip(16)
    run_chip_tb(c, testcase="test_stream_rate", rate_vectors=64)   # builds
    # best of 3 runs (timeit's convention: slower runs measure the other load on this
    # shared 2-core machine, not the bench); the median is printed alongside
    runs = [run_chip_tb(c, testcase="test_stream_rate", rate_vectors=3000) for _ in range(3)]
    # two drivers of the same stream: cycle by cycle (two cocotb triggers a cycle) and through
    # the bench top's burst transactor (one Python wake-up per 256 cycles; sim/chip_sim.tb_wrapper)
    for label, pre in (("per_cycle", "rate"), ("burst", "burst_rate")):
        rates = sorted(r[f"{pre}_cycles_per_s"] for r in runs)
        bench(f"cocotb_16x16_{label}_cycles_per_s", rates[-1], "cycles/s")
        bench(f"cocotb_16x16_{label}_cycles_per_s_median", rates[1], "cycles/s")
        bench(f"cocotb_16x16_{label}_cycles_per_cpu_s", max(r[f"{pre}_cycles_per_cpu_s"] for r in runs), "cycles/s")
    rng = np.random.default_rng(0)
    x, w = rng.integers(0, 256, (64, 64)), rng.integers(0, 256, (64, 64))
    t0 = time.perf_counter()
    y, cycles = run_workload(c, x, w)
    ok = np.array_equal(y, golden_matmul(c, x, w))
    bench("matmul_64x64x64_on_16x16_checked_s", time.perf_counter() - t0, "s")
    bench("matmul_64x64x64_cycles", cycles, "cycles")
    bench("matmul_64x64x64_bit_exact", float(ok), "bool")
    t0 = time.perf_counter()
    golden_matmul(c, x, w)
    bench("matmul_64x64x64_numpy_lut_baseline_s", time.perf_counter() - t0, "s")
    shutil.rmtree(os.environ["AXFORGE_CACHE"], ignore_errors=True)


if __name__ == "__main__":
    main()
