"""Multiplier benchmarks: emission, LUT extraction (build + sweep). Prints BENCH lines.

Baseline in the same process: the behavioural ``a * b`` design (the cheapest
RTL to simulate) next to a structural Dadda design. ``lut_sweep_*`` is the
harness's own timing of the exhaustive sweep (build excluded): one process,
one thread, 64 pairs per eval on the bit-sliced model (``sim/bitslice.py``).
"""

import os
import shutil
import tempfile
import time

os.environ.setdefault("AXFORGE_CACHE", tempfile.mkdtemp(prefix="axf-bench-"))

from axforge import toolenv  # noqa: E402
from axforge.generators.emit import _convert, verilog_text  # noqa: E402
from axforge.hdl.arith import MultSpec  # noqa: E402
from axforge.sim import lut as lutmod  # noqa: E402


def bench(name, value, unit):
    print(f"BENCH {name} {value:.4g} {unit}", flush=True)


def main():
    toolenv.setup()
    spec = MultSpec.parse("exact:8x8u:arch=dadda")
    _convert(spec)  # warm Amaranth + its Yosys
    t = []
    for _ in range(3):
        t0 = time.perf_counter()
        _convert(spec)
        t.append(time.perf_counter() - t0)
    bench("emit_8x8_warm_s", sorted(t)[1], "s")
    verilog_text(MultSpec.parse("exact:8x8u:arch=behav"))
    lutmod.extract_lut(MultSpec.parse("exact:4x4u:arch=behav"))  # compiles the runtime once
    for text in ("exact:8x8u:arch=behav", "exact:8x8u:arch=dadda", "mitchell:8x8u:ec=1"):
        s = MultSpec.parse(text)
        t0 = time.perf_counter()
        lut = lutmod.extract_lut(s)
        cold = time.perf_counter() - t0
        key = text.split(":")[0] + "_" + text.split("=")[-1]
        bench(f"lut_cold_build_plus_sweep_{key}_s", cold, "s")
        bench(f"lut_sweep_{key}_ns_per_pair", lutmod.last_sweep_ns() / lut.size, "ns/pair")
        # warm: harness cached, LUT cache dropped
        from axforge.generators.emit import design_hash
        from axforge.paths import cache_dir
        (cache_dir() / "lut" / f"{design_hash(s)}.npy").unlink()
        t0 = time.perf_counter()
        lutmod.extract_lut(s)
        bench(f"lut_warm_build_{key}_s", time.perf_counter() - t0, "s")
    shutil.rmtree(os.environ["AXFORGE_CACHE"], ignore_errors=True)


if __name__ == "__main__":
    main()
