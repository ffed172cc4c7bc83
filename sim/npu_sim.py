"""NPU simulation: the cocotb + Verilator bench of :mod:`axforge.sim.tb_npu`, and its golden beats.

:func:`simulate` runs a compiled program on integer input codes through the NPU's RTL and returns
what came out: the result beats, decoded; whether they equal the golden model's bit for bit; the
cycles per sample measured in the RTL next to the cycle model's; and the simulation rate. The
bench configures the NPU through its ``cfg`` stream with the image's writes, then streams the
samples: the first ones cycle by cycle with neither idle cycles nor back-pressure (their cycles
are exact: first input beat accepted to last result beat accepted), the rest through the burst
transactor (:func:`axforge.sim.burst.burst_top`) with random idle cycles and back-pressure.
"""

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from axforge.generators.design import design_files
from axforge.hdl.npu import golden
from axforge.hdl.npu.core import INDEX_BITS
from axforge.hdl.npu.cycles import sample_cycles
from axforge.hdl.npu.image import MemoryMap, image_words
from axforge.paths import cache_dir

from .burst import burst_top
from .cocotb_run import run_tb

__all__ = ["BURST_DEPTH", "TB_TESTS", "config_beats", "decode_result", "expected_beats", "npu_tb_files",
           "run_npu_tb", "simulate"]

BURST_DEPTH = 256       # beats each way per burst
BURST_LEN_BITS = 16     # a burst runs up to 65,535 cycles
TB_VERILATOR_ARGS = ("-fno-inline", "--no-public-flat-rw")
TB_TESTS = ("test_stream", "test_idle_and_backpressure", "test_reset_mid_stream")


def config_beats(program, config):
    """The ``cfg`` payloads of the program's image: ``addr`` in the low bits, ``data`` above."""
    mm = MemoryMap(config)
    mask = (1 << mm.data_width) - 1
    return [int(a) | ((int(d) & mask) << mm.addr_width) for a, d in image_words(program, config)]


def decode_result(raw, config):
    """A ``results`` payload -> ``(data, index, fallback, last)``."""
    ow = config.out_width
    value = raw & ((1 << ow) - 1)
    value -= (value >> (ow - 1)) << ow
    rest = raw >> ow
    return (int(value), int(rest & ((1 << INDEX_BITS) - 1)), int((rest >> INDEX_BITS) & 1),
            int((rest >> (INDEX_BITS + 1)) & 1))


def expected_beats(out, n_out, first_index=0):
    """The golden ``results`` beats ``(data, index, fallback, last)`` of :func:`golden.run`'s output."""
    beats = []
    for i, safe in enumerate(out["safe"]):
        idx = (first_index + i) & ((1 << INDEX_BITS) - 1)
        if safe:
            beats += [(int(out["h"][i, j]), idx, 0, int(j == n_out - 1)) for j in range(n_out)]
        else:
            beats.append((0, idx, 1, 1))
    return beats


def npu_tb_files(spec):
    """``(top, files)``: the bench's top (the NPU plus a burst transactor on samples -> results)
    first, the NPU's Verilog, and Verilator's access rules (only the top's ports are public)."""
    files = design_files(spec.design)
    top, text = burst_top(spec.top, files[f"{spec.top}.v"], "samples", "results", BURST_DEPTH,
                          len_bits=BURST_LEN_BITS, instance="npu")
    access = ("`verilator_config\n// the testbench drives and samples the ports of its top\n"
              f'public_flat_rw -module "{top}" -var "*"\n')
    return top, {f"{top}.v": text, **files, "tb_access.vlt": access}


def run_npu_tb(spec, program, x, expect, seed=1, testcase=None, cycle_samples=8, idle=0.2, stall=0.2):
    """Run :mod:`axforge.sim.tb_npu` and return its measurements (dict; see the bench).

    ``expect``: the golden beats (:func:`expected_beats`) the bench's scoreboard compares with; a
    mismatch fails the bench (:class:`AssertionError`) after it wrote its measurements.
    """
    c = spec.config
    top, files = npu_tb_files(spec)
    work = Path(tempfile.mkdtemp(dir=cache_dir(), prefix=".nputb."))
    try:
        cyc = sample_cycles(program, c)
        n_burst = max(1, BURST_DEPTH // max(program.n_in, program.n_out))
        burst_len = min((1 << BURST_LEN_BITS) - 1, int(n_burst * cyc["safe"] * (1 + 2 * max(idle, stall))) + 64)
        job = {"config": config_beats(program, c), "x": np.asarray(x, dtype=np.int64).reshape(-1).tolist(),
               "n_in": program.n_in, "n_out": program.n_out, "width": c.width, "out_width": c.out_width,
               "expect": [list(b) for b in expect], "cycle_samples": cycle_samples, "idle": idle, "stall": stall,
               "burst_len": burst_len, "safe_cycles": cyc["safe"]}
        (work / "job.json").write_text(json.dumps(job))
        result = work / "result.json"
        env = {"AXF_NPU_JOB": str(work / "job.json"), "AXF_NPU_RESULT": str(result), "AXF_SEED": str(seed)}
        error = None
        try:
            run_tb(f"npu {spec.name} ({spec.top})", files, top, "axforge.sim.tb_npu", env, seed=seed,
                   testcase=testcase, verilator_args=TB_VERILATOR_ARGS)
        except AssertionError as exc:
            error = exc
        stats = json.loads(result.read_text()) if result.exists() else {}
        if error is not None:
            stats["error"] = str(error)
        return stats
    finally:
        shutil.rmtree(work, ignore_errors=True)


def simulate(spec, program, x, lut, seed=1, cycle_samples=8, idle=0.2, stall=0.2):
    """Run ``program`` on input codes ``x`` (N, n_in) through the RTL; returns a dict with
    ``bit_exact``, ``beats`` (decoded), ``safe`` (per sample, from the RTL), ``h`` (the RTL's
    H(x) codes, zeros for unsafe samples), ``cycles_rtl`` / ``cycles_model`` (per
    measured sample), ``sim_cycles_per_s``, ``samples_per_s``, ``error`` (the bench's message,
    or None) and ``golden`` (:func:`golden.run`'s output)."""
    c = spec.config
    out = golden.run(program, x, lut, c)
    expect = expected_beats(out, program.n_out)
    t0 = time.perf_counter()
    stats = run_npu_tb(spec, program, x, expect, seed=seed, testcase="test_stream", cycle_samples=cycle_samples,
                       idle=idle, stall=stall)
    wall = time.perf_counter() - t0
    beats = [decode_result(b, c) for b in stats.get("beats", [])]
    n = len(x)
    safe = np.zeros(n, dtype=bool)
    h = np.zeros((n, program.n_out), dtype=np.int64)
    for data, idx, fallback, _ in beats:
        if idx < n and not fallback:
            safe[idx] = True
    pos = {}
    for data, idx, fallback, _ in beats:
        if idx < n and not fallback:
            j = pos.get(idx, 0)
            if j < program.n_out:
                h[idx, j] = data
            pos[idx] = j + 1
    cyc = sample_cycles(program, c)
    measured = stats.get("sample_cycles", [])
    model = [cyc["safe"] if s else cyc["unsafe"] for s in out["safe"][:len(measured)]]
    return {"bit_exact": beats == expect and "error" not in stats, "beats": beats, "safe": safe, "h": h,
            "cycles_rtl": measured, "cycles_model": model, "sim_cycles_per_s": stats.get("burst_cycles_per_s"),
            "samples_per_s": stats.get("burst_samples_per_s"), "wall_s": wall, "error": stats.get("error"),
            "golden": out}
