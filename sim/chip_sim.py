"""Chip simulation: the cocotb bank testbench, and workload runs with toggle activity per PE."""

import json
import tempfile
from pathlib import Path

import numpy as np

from axforge.errors import AxforgeError
from axforge.generators.chip import chip_verilog
from axforge.paths import cache_dir, sha256_text
from axforge.sim.lut import extract_lut

from .burst import BURST_DEPTH, burst_top
from .cocotb_run import run_tb
from .saif import read_tree
from .verilator import build_harness

__all__ = ["chip_luts", "run_chip_tb", "TB_TESTS", "tb_access_vlt", "tb_files", "tb_wrapper", "TB_VERILATOR_ARGS",
           "run_workload", "golden_matmul",
           "golden", "pack", "unpack", "pe_activity", "check_workload", "tiles_of"]


def chip_luts(chip):
    """The LUT of each array's multiplier, extracted from its RTL (cached)."""
    return [extract_lut(s) for s in chip.mult_specs]


# -fno-inline: the PEs share one module's code, so big arrays compile in seconds.
# --no-public-flat-rw undoes the --public-flat-rw that cocotb's runner always passes
# (Verilator takes the last of the two): with every net of the gate-level multipliers
# reachable through VPI, a 16x16 array simulated ~5x slower. tb_access_vlt() makes
# public only what tb_chip reaches. Measured on the 16x16 array and not kept: -CFLAGS -O2
# (15 min build instead of 2, no faster), make's OPT_FAST=-O2 (no faster: 49-56 vs 47-49
# us/cycle), -O3 --x-assign fast --x-initial fast (45 MB of C++ instead of 16, an 11 min
# build, and slower: 74-92 vs 57-64 us/cycle). The model's code is per PE instance, so
# a cycle runs through megabytes of it; compiler flags barely move that.
TB_VERILATOR_ARGS = ("-fno-inline", "--no-public-flat-rw")


def tb_access_vlt(chip):
    """Verilator rules making public (VPI-visible) only the signals :mod:`axforge.sim.tb_chip` uses:
    the ports of the testbench top (:func:`tb_wrapper`) and, with several arrays, array 1's PE registers."""
    lines = ["`verilator_config",
             "// the testbench drives and samples the ports of its top (the chip's, and the burst transactor's)",
             f'public_flat_rw -module "axf_tb_{chip.top}" -var "*"']
    if len(chip.mult_specs) > 1:
        lines.append("// test_idle_arrays_hold_still reads the registers of array 1's PEs")
        lines += [f'public_flat_rd -module "{chip.pe_module(1)}" -var "{n}"' for n in ("a_out", "w_out", "psum_out")]
    return "\n".join(lines) + "\n"


def tb_files(chip, simulator="verilator"):
    """``(top, files)`` the cocotb benches build: the testbench top (:func:`tb_wrapper`) first,
    then the chip's Verilog, and for Verilator the access rules (:func:`tb_access_vlt`)."""
    files = chip_verilog(chip)
    top, text = tb_wrapper(chip, files)
    files = {f"{top}.v": text, **files}
    if simulator == "verilator":
        files["tb_access.vlt"] = tb_access_vlt(chip)
    return top, files


# the cocotb tests of axforge.sim.tb_chip, in the order they run
TB_TESTS = ("test_matmul_backpressure_and_route", "test_latency_and_throughput", "test_reset_mid_stream",
            "test_idle_arrays_hold_still", "test_burst_backpressure", "test_stream_rate")


def run_chip_tb(chip, seed=1, testcase=None, simulator="verilator", model_luts=None, rate_vectors=None):
    """Run :mod:`axforge.sim.tb_chip` on the chip's Verilog; returns the measured stats (dict).

    ``model_luts`` replaces the golden LUTs (to prove the bench fails on a wrong model).
    """
    top, files = tb_files(chip, simulator)
    work = Path(tempfile.mkdtemp(dir=cache_dir(), prefix=".chiptb."))
    try:
        luts = work / "luts.npz"
        np.savez(luts, **{f"lut{k}": lut for k, lut in enumerate(model_luts or chip_luts(chip))})
        stats = work / "stats.json"
        env = {"AXF_CHIP": json.dumps(chip.to_dict()), "AXF_LUTS": str(luts), "AXF_STATS": str(stats),
               "AXF_SEED": str(seed)}
        if rate_vectors:
            env["AXF_RATE_VECTORS"] = str(rate_vectors)
        run_tb(f"chip {chip.name} ({chip.top})", files, top, "axforge.sim.tb_chip", env,
               simulator=simulator, seed=seed, testcase=testcase, verilator_args=TB_VERILATOR_ARGS)
        return json.loads(stats.read_text()) if stats.exists() else {}
    finally:
        import shutil
        shutil.rmtree(work, ignore_errors=True)


# -- workloads through a compiled harness ---------------------------------------

CHIP_HARNESS = Path(__file__).with_name("chip_harness.cpp")
MAGIC = 0x41584657


def pack(values, width):
    """One integer holding ``values``, element i at bits ``[i*width +: width]`` (a stream payload)."""
    out = 0
    for i, v in enumerate(values):
        out |= (int(v) & ((1 << width) - 1)) << (i * width)
    return out


def unpack(raw, width, n, signed):
    """The ``n`` elements of a payload integer (two's complement when ``signed``)."""
    vals = [(raw >> (i * width)) & ((1 << width) - 1) for i in range(n)]
    if signed:
        vals = [v - (1 << width) if v >> (width - 1) else v for v in vals]
    return vals


def golden(x, w, lut, chip):
    """``x`` (M, R) @ ``w`` (R, C) with every product from ``lut``, wrapped to ``acc_width``.

    ``chip`` is a chip dict (:meth:`ChipSpec.to_dict`): the cocotb bench uses it too.
    """
    bw, acc, sgn = chip["b_width"], chip["acc_width"], chip["signed"]
    xa = np.asarray(x, dtype=np.int64) % (1 << chip["a_width"])
    wb = np.asarray(w, dtype=np.int64) % (1 << bw)
    prods = lut[(xa[:, :, None] << bw) | wb[None, :, :]]          # (M, R, C)
    y = prods.sum(axis=1) % (1 << acc)
    if sgn:
        y = np.where(y >= 1 << (acc - 1), y - (1 << acc), y)
    return y


def _words(values, width):
    """A payload as little-endian uint32 words (the harness's wire format)."""
    total = pack(values, width)
    return [(total >> (32 * k)) & 0xFFFFFFFF for k in range((len(values) * width + 31) // 32)]


def _unwords(words, width, n, signed):
    return unpack(sum(int(w) << (32 * k) for k, w in enumerate(words)), width, n, signed)


def check_workload(chip, x, w):
    """Validate integer matrices ``x`` (M, K) and ``w`` (K, N) against the chip's operand types."""
    x, w = np.asarray(x), np.asarray(w)
    for name, arr, width in (("x", x, chip.a_width), ("w", w, chip.b_width)):
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
            raise AxforgeError(f"Workload array {name} must be a 2-D integer matrix, not {arr.dtype} {arr.shape}")
        lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if chip.signed else (0, (1 << width) - 1)
        if arr.size and (arr.min() < lo or arr.max() > hi):
            raise AxforgeError(f"Workload array {name} must lie in [{lo}, {hi}], not [{arr.min()}, {arr.max()}]")
    if x.shape[1] != w.shape[0]:
        raise AxforgeError(f"Workload shapes must chain (x is M x K, w is K x N), not {x.shape} and {w.shape}")
    return x.astype(np.int64), w.astype(np.int64)


def tiles_of(chip, k_dim, n_dim):
    """(k0, n0) origins of the R x C weight tiles covering a K x N weight matrix."""
    return [(k0, n0) for n0 in range(0, n_dim, chip.cols) for k0 in range(0, k_dim, chip.rows)]


def workload_words(chip, x, w, route=0):
    R, C = chip.rows, chip.cols
    M, K = x.shape
    N = w.shape[1]
    aw_words = (R * chip.a_width + 31) // 32
    ww_words = (C * chip.b_width + 31) // 32
    rw_words = (C * chip.acc_width + 31) // 32
    tiles = tiles_of(chip, K, N)
    out = [MAGIC, route, len(tiles), M, aw_words, ww_words, rw_words]
    for k0, n0 in tiles:
        wt = np.zeros((R, C), dtype=np.int64)
        blk = w[k0:k0 + R, n0:n0 + C]
        wt[:blk.shape[0], :blk.shape[1]] = blk
        out.append(R)
        for i in reversed(range(R)):   # bottom row first
            out += _words(wt[i], chip.b_width)
        xt = np.zeros((M, R), dtype=np.int64)
        xb = x[:, k0:k0 + R]
        xt[:, :xb.shape[1]] = xb
        for m in range(M):
            out += _words(xt[m], chip.a_width)
    return np.array(out, dtype=np.uint32), tiles, rw_words


def run_workload(chip, x, w, route=0, saif_path=None, netlist=None, pdk=None):
    """Run ``x @ w`` tile by tile on array ``route``; returns ``(y (M, N) int64, cycles)``.

    Tiles' partial results are added by the host (in int64), as a driver would.
    ``netlist`` (mapped Verilog text) simulates the synthesized chip with the
    PDK's cell models instead of the RTL. ``saif_path`` records toggle counts.
    """
    import subprocess

    x, w = check_workload(chip, x, w)
    if netlist is None:
        files = {n: t for n, t in chip_verilog(chip).items()}
    else:
        files = {"mapped.v": netlist, "cells.v": pdk.cells_verilog()}
    saif = saif_path is not None
    key = sha256_text("chip|noinline0|" + json.dumps(files, sort_keys=True) + f"|{saif}|{CHIP_HARNESS.read_text()}")
    # RTL: modules stay un-inlined, so 256 PEs share one PE's code (a 16x16 array
    # compiles in seconds, not minutes); the flat mapped netlist has one module anyway.
    # -fno-dfg: Verilator's dataflow-graph pass took 5 of its 13 s on the 16x16 array and
    # grew the C++ from 13 to 16 MB; a workload runs a few thousand cycles, so build time rules.
    exe = build_harness(key, files, chip.top, saif=saif, opt="-O0",
                        source=CHIP_HARNESS, vextra=("-fno-inline", "-fno-dfg") if netlist is None else ())
    words, tiles, rw = workload_words(chip, x, w, route)
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".wl.") as tmp:
        inp, outp = Path(tmp) / "wl.bin", Path(tmp) / "out.bin"
        words.tofile(inp)
        cmd = [str(exe), str(inp), str(outp)] + ([str(saif_path)] if saif else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AxforgeError(f"Chip simulation failed: {(proc.stderr or proc.stdout).strip()[:300]}")
        raw = np.fromfile(outp, dtype=np.uint32)
    import re
    found = re.search(r"^CYCLES (\d+)", proc.stdout, re.M)
    cycles = int(found.group(1)) if found else -1
    M, N = x.shape[0], w.shape[1]
    y = np.zeros((M, N), dtype=np.int64)
    per_tile = M * rw
    for t, (k0, n0) in enumerate(tiles):
        block = raw[t * per_tile:(t + 1) * per_tile].reshape(M, rw)
        vals = np.array([_unwords(r, chip.acc_width, chip.cols, chip.signed) for r in block], dtype=np.int64)
        n = min(chip.cols, N - n0)
        y[:, n0:n0 + n] += vals[:, :n]
    return y, cycles


def golden_matmul(chip, x, w, route=0, lut=None):
    """``x @ w`` with each product from array ``route``'s RTL LUT and per-tile accumulator wrap."""
    lut = chip_luts(chip)[route] if lut is None else lut
    d = chip.to_dict()
    y = np.zeros((x.shape[0], w.shape[1]), dtype=np.int64)
    for k0, n0 in tiles_of(chip, x.shape[1], w.shape[1]):
        y[:, n0:n0 + chip.cols] += golden(x[:, k0:k0 + chip.rows], w[k0:k0 + chip.rows, n0:n0 + chip.cols], lut, d)
    return y


# -- SAIF hierarchy and per-PE activity -----------------------------------------

CLOCK_NETS = ("clk",)


def _total(node):
    """Data toggles below a node (clock nets excluded: they toggle every cycle by definition)."""
    return sum(v for n, v in node["nets"].items() if n not in CLOCK_NETS) + \
        sum(_total(c) for c in node["inst"].values())


def pe_activity(saif_path, chip):
    """Data-net toggle counts per array and per PE (R x C lists) from an RTL run's SAIF file.

    Clock nets are left out (an enable-gated PE still sees its clock; with the
    clock gate in the library a synthesis flow would stop that too).
    """
    tree = read_tree(saif_path)   # less the initial values SAIF counts as toggles (the .base file)
    bank = tree["inst"].get("TOP", tree)
    bank = bank["inst"].get(chip.top, bank)
    report = {"arrays": []}
    for k in range(len(chip.mult_specs)):
        arr = bank["inst"].get(f"array{k}", {"nets": {}, "inst": {}})
        grid = [[_total(arr["inst"].get(f"pe_{i}_{j}", {"nets": {}, "inst": {}})) for j in range(chip.cols)]
                for i in range(chip.rows)]
        report["arrays"].append({"index": k, "multiplier": chip.multipliers[k], "toggles": _total(arr),
                                 "pe_toggles": grid})
    report["bank_toggles"] = _total(bank)
    return report


# -- the cocotb top: the bank plus a burst transactor ----------------------------

def tb_wrapper(chip, files, depth=BURST_DEPTH):
    """``(module name, Verilog)``: the cocotb testbench's top, the chip plus a burst transactor
    on ``act_in`` -> ``res_out`` (:func:`axforge.sim.burst.burst_top`)."""
    return burst_top(chip.top, files[f"{chip.top}.v"], "act_in", "res_out", depth, instance="chip")
