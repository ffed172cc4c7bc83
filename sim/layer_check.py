"""Run one network layer through a chip's Verilog in cocotb and compare with the emulation."""

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from axforge.paths import cache_dir

from .chip_sim import TB_VERILATOR_ARGS, check_workload, chip_luts, tb_files
from .cocotb_run import run_tb

__all__ = ["run_layer_tb", "layer_operands"]


def run_layer_tb(chip, x, w, route, seed=1):
    """``x @ w`` (integer operand matrices) on array ``route`` of ``chip`` through cocotb + Verilator.

    Returns the accumulators (M, N) int64, tiles added by the host.
    """
    x, w = check_workload(chip, x, w)
    top, files = tb_files(chip)
    work = Path(tempfile.mkdtemp(dir=cache_dir(), prefix=".layertb."))
    try:
        np.savez(work / "luts.npz", **{f"lut{k}": lut for k, lut in enumerate(chip_luts(chip))})
        np.savez(work / "wl.npz", x=x, w=w, route=route)
        env = {"AXF_CHIP": json.dumps(chip.to_dict()), "AXF_LUTS": str(work / "luts.npz"),
               "AXF_WORKLOAD": str(work / "wl.npz"), "AXF_RESULT": str(work / "y.npz"), "AXF_SEED": str(seed)}
        run_tb(f"chip {chip.name} ({chip.top})", files, top, "axforge.sim.tb_layer", env, seed=seed,
               verilator_args=TB_VERILATOR_ARGS)
        return np.load(work / "y.npz")["y"]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def layer_operands(qmodel, layer, x, max_rows=64):
    """The integer operands one approximate layer of ``qmodel`` feeds the array for input batch ``x``:
    ``(acc, xq, wq)`` with at most ``max_rows`` rows (positions), from the emulation."""
    import torch
    captured = {}
    mod = qmodel.get_submodule(layer)

    def hook(m, inputs):
        captured["x"] = inputs[0].detach()
    h = mod.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            qmodel(x)
    finally:
        h.remove()
    acc, xq, wq = mod.accumulators(captured["x"])
    return acc[:max_rows], xq[:max_rows], wq
