"""How a workload drives a design in simulation, on its RTL or on its mapped netlist.

A design names its kind of workload (:attr:`axforge.generators.design.Design.workload`):

- ``"pairs"`` (:class:`PairStream`): operand pairs on ports ``a``, ``b``, the
  result on ``p``, one pair per evaluation (per rising ``clk`` when the design
  has one) through the Verilator harness ``harness.cpp``;
- ``"matmul"`` (:class:`MatmulTiles`): ``x @ w`` in weight tiles through the
  bank's streams (``chip_harness.cpp``);
- ``"npu"`` (:class:`NpuSamples`): a compiled AXNet program and samples of input
  codes through the NPU's streams (``npu_harness.cpp``): reset, the program's
  configuration writes on ``cfg`` (not traced), then the samples' input beats
  back to back on ``samples`` with ``results`` always ready; the outputs are the
  result beats ``(data, index, fallback, last)``, and ``cycles`` the stream's
  cycles (first input beat to last result beat, as :mod:`axforge.hdl.npu.cycles`
  counts them).

``run(design, files, netlist=None, saif=None)`` returns the outputs of the
workload; with ``netlist`` (``{file: text}`` of the mapped netlist and the
cell models) it simulates the gates, with ``saif`` it records toggle counts.
"""

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from axforge.errors import AxforgeError
from axforge.hdl.npu import golden
from axforge.hdl.npu.core import INDEX_BITS
from axforge.hdl.npu.cycles import sample_cycles
from axforge.hdl.npu.image import MemoryMap
from axforge.paths import cache_dir, sha256_text

from .chip_sim import golden_matmul, run_workload
from .lut import extract_lut
from .npu_sim import config_beats, decode_result, expected_beats
from .verilator import build_harness, run_harness

__all__ = ["EXHAUSTIVE_MAX_BITS", "NPU_HARNESS", "MatmulTiles", "NpuSamples", "PairStream"]

EXHAUSTIVE_MAX_BITS = 16   # up to 8x8 the netlist is simulated on every input pair


class PairStream:
    """Operand pairs ``raw`` (N, 2) (unsigned bit patterns) for a design with ports a, b -> p.

    Up to :data:`EXHAUSTIVE_MAX_BITS` input bits the simulation runs every
    input pair once and the stream's outputs are read from that table, so the
    equivalence of netlist and RTL is proved on all inputs, not only the stream.
    """

    def __init__(self, raw, a_width, b_width):
        self.raw = np.ascontiguousarray(raw, dtype=np.uint32)
        self.a_width, self.b_width = a_width, b_width
        self.exhaustive = a_width + b_width <= EXHAUSTIVE_MAX_BITS
        self.table = None    # the last run's outputs on every input pair (when exhaustive)

    @property
    def ops(self):
        """Operations whose energy the run measures (the first pair only sets the start state)."""
        return len(self.raw) - 1

    def _index(self):
        return (self.raw[:, 0].astype(np.int64) << self.b_width) | self.raw[:, 1]

    def rtl_table(self, design):
        """The RTL's outputs on every input pair (raw), from the LUT cache where the design has one."""
        spec = getattr(design, "spec", None)
        if spec is not None:
            lut = extract_lut(spec)
            return lut.astype(np.int64) % (1 << (self.a_width + self.b_width))
        return None

    def run(self, design, files, netlist=None, saif=None, outputs=True):
        clocked = any(p["name"] == "clk" for p in design.ports())
        if netlist is None:
            table = self.rtl_table(design)
            if table is not None and self.exhaustive and saif is None and outputs:
                self.table = table
                return table[self._index()]
            sim_files, key = files, sha256_text(f"rtl|{design.content_hash}|{clocked}|{saif is not None}")
        else:
            sim_files = netlist
            key = sha256_text(f"gate|{netlist['mapped.v']}|{sha256_text(netlist['cells.v'])}|{clocked}")
        top = design.top
        exe = build_harness(key, sim_files, top, clocked=clocked, saif=saif is not None,
                            opt="-O0" if netlist is not None else None)
        out = None
        if self.exhaustive and outputs:
            table, _ = run_harness(exe, self.a_width, self.b_width)
            self.table = table.astype(np.int64)
            out = self.table[self._index()]
        if saif is not None:
            with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".act.") as tmp:
                inp = Path(tmp) / "stream.bin"
                self.raw.tofile(inp)
                proc = subprocess.run([str(exe), str(self.a_width), str(self.b_width), "activity", str(inp),
                                       str(saif)], capture_output=True, text=True)
            if proc.returncode != 0 or not Path(saif).exists():
                raise AxforgeError(f"Activity simulation failed: {(proc.stderr or proc.stdout).strip()[:200]}")
        if out is None and outputs:
            raw_out, _ = run_harness(exe, self.a_width, self.b_width, self.raw)
            out = raw_out.astype(np.int64)
        return out


class MatmulTiles:
    """``x`` (M, K) @ ``w`` (K, N) on array ``route`` of a chip design, tile by tile."""

    def __init__(self, x, w, route=0, pdk=None):
        self.x, self.w, self.route, self.pdk = x, w, route, pdk
        self.cycles = None

    def reference(self, design):
        """The products from the route's RTL LUT, with the per-tile accumulator wrap."""
        return golden_matmul(design.chip, self.x, self.w, self.route)

    def run(self, design, files, netlist=None, saif=None, outputs=True):
        y, cycles = run_workload(design.chip, self.x, self.w, self.route, saif_path=saif,
                                 netlist=None if netlist is None else netlist["mapped.v"], pdk=self.pdk)
        if netlist is not None:
            self.cycles = cycles
        return y


NPU_HARNESS = Path(__file__).with_name("npu_harness.cpp")
NPU_MAGIC = 0x4158464E


def _words32(value, n):
    return [(int(value) >> (32 * k)) & 0xFFFFFFFF for k in range(n)]


class NpuSamples:
    """Input codes ``x`` (N, n_in) run through an NPU design configured with ``program``.

    ``run`` returns the result beats, an int64 array (N_beats, 4) of ``(data, index, fallback,
    last)``, and sets ``cycles`` (and, for a netlist run, ``gate_cycles``) to the stream's cycles.
    ``reference`` gives the golden model's beats (``lut``: the multiplier's LUT; default the one
    extracted from the design's RTL multiplier). ``ops`` is the number of samples.
    """

    def __init__(self, program, x, lut=None):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != program.n_in or not np.issubdtype(x.dtype, np.integer):
            raise AxforgeError(f"NPU samples must be an integer (N, {program.n_in}) array of input codes, "
                               f"not {x.dtype} {x.shape}")
        self.program, self.x, self.lut = program, x.astype(np.int64), lut
        self.cycles = None          # the last run's stream cycles
        self.gate_cycles = None     # the last netlist run's stream cycles

    @property
    def ops(self):
        """Samples (inferences) whose energy a run measures."""
        return len(self.x)

    def golden(self, design):
        """:func:`axforge.hdl.npu.golden.run` of the program on the samples."""
        lut = extract_lut(design.spec.mult_spec) if self.lut is None else self.lut
        return golden.run(self.program, self.x, lut, design.spec.config)

    def reference(self, design):
        """The golden model's result beats, as :meth:`run` returns them."""
        beats = expected_beats(self.golden(design), self.program.n_out)
        return np.array(beats, dtype=np.int64).reshape(-1, 4)

    def words(self, design):
        """``(uint32 workload words, result payload words)``: the harness's input file."""
        c = design.spec.config
        lo, hi = c.act_range
        if self.x.size and (self.x.min() < lo or self.x.max() > hi):
            raise AxforgeError(f"NPU input codes must lie in [{lo}, {hi}], not [{self.x.min()}, {self.x.max()}]")
        mm = MemoryMap(c)
        cw = (mm.addr_width + mm.data_width + 31) // 32
        res_bits = c.out_width + INDEX_BITS + 2
        rw = (res_bits + 31) // 32
        cfg = config_beats(self.program, c)
        beats = (self.x.reshape(-1) & ((1 << c.width) - 1)).tolist()
        cyc = sample_cycles(self.program, c)
        max_cycles = min(0xFFFFFFFF, self.ops * max(cyc["safe"], cyc["unsafe"]) + 1000)
        out = [NPU_MAGIC, len(cfg), cw, len(beats), self.ops, rw, res_bits - 1, max_cycles]
        for v in cfg:
            out += _words32(v, cw)
        out += beats
        return np.array(out, dtype=np.uint32), rw

    def run(self, design, files, netlist=None, saif=None, outputs=True):
        """Simulate the RTL (``files``) or the mapped ``netlist``; ``saif`` records toggle counts.
        Returns the result beats (``outputs`` is accepted for the common interface: the beats
        come out of every run)."""
        c = design.spec.config
        traced = saif is not None
        if netlist is None:
            sim_files = files
            key = sha256_text(f"npu|rtl|{design.content_hash}|{traced}")
            vextra = ("-fno-inline", "-fno-dfg")
        else:
            sim_files = {"mapped.v": netlist["mapped.v"], "cells.v": netlist["cells.v"]}
            key = sha256_text(f"npu|gate|{sha256_text(netlist['mapped.v'])}|{sha256_text(netlist['cells.v'])}|"
                              f"{traced}")
            vextra = ("-fno-dfg",)     # Verilator's dataflow pass: a third of the build, no faster run
        exe = build_harness(key, sim_files, design.top, saif=traced, opt="-O0", source=NPU_HARNESS, vextra=vextra)
        words, rw = self.words(design)
        with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".npuwl.") as tmp:
            inp, outp = Path(tmp) / "wl.bin", Path(tmp) / "out.bin"
            words.tofile(inp)
            cmd = [str(exe), str(inp), str(outp)] + ([str(saif)] if traced else [])
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
            if proc.returncode != 0 or (traced and not Path(saif).exists()):
                raise AxforgeError(f"NPU simulation failed: {(proc.stderr or proc.stdout).strip()[:300]}")
            raw = np.fromfile(outp, dtype=np.uint32)
        n_beats, cycles = int(raw[0]), int(raw[1])
        payload = raw[3:3 + n_beats * rw].reshape(n_beats, rw)
        beats = [decode_result(sum(int(w) << (32 * k) for k, w in enumerate(row)), c) for row in payload]
        found = re.search(r"^CYCLES (\d+)", proc.stdout, re.MULTILINE)
        if found is None or int(found.group(1)) != cycles:
            raise AxforgeError(f"NPU simulation did not report its cycles: {proc.stdout.strip()[:200]}")
        self.cycles = cycles
        if netlist is not None:
            self.gate_cycles = cycles
        return np.array(beats, dtype=np.int64).reshape(-1, 4)
