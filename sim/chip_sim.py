"""Chip simulation: the cocotb bank testbench, and workload runs with toggle activity per PE."""

import json
import tempfile
from pathlib import Path

import numpy as np

from axforge.paths import cache_dir

__all__ = ["chip_luts", "run_chip_tb"]


def chip_luts(chip):
    """The LUT of each array's multiplier, extracted from its RTL (cached)."""
    from axforge.sim.lut import extract_lut
    return [extract_lut(s) for s in chip.mult_specs]


def run_chip_tb(chip, seed=1, testcase=None, simulator="verilator", model_luts=None):
    """Run :mod:`axforge.sim.tb_chip` on the chip's Verilog; returns the measured stats (dict).

    ``model_luts`` replaces the golden LUTs (to prove the bench fails on a wrong model).
    """
    from axforge.generators.chip import chip_verilog
    from .cocotb_run import run_tb
    files = chip_verilog(chip)
    work = Path(tempfile.mkdtemp(dir=cache_dir(), prefix=".chiptb."))
    try:
        luts = work / "luts.npz"
        np.savez(luts, **{f"lut{k}": lut for k, lut in enumerate(model_luts or chip_luts(chip))})
        stats = work / "stats.json"
        env = {"AXF_CHIP": json.dumps(chip.to_dict()), "AXF_LUTS": str(luts), "AXF_STATS": str(stats),
               "AXF_SEED": str(seed)}
        run_tb(f"chip {chip.name} ({chip.top})", files, chip.top, "axforge.sim.tb_chip", env,
               simulator=simulator, seed=seed, testcase=testcase)
        return json.loads(stats.read_text()) if stats.exists() else {}
    finally:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
