"""How a workload drives a design in simulation, on its RTL or on its mapped netlist.

A design names its kind of workload (:attr:`axforge.generators.design.Design.workload`):

- ``"pairs"`` (:class:`PairStream`): operand pairs on ports ``a``, ``b``, the
  result on ``p``, one pair per evaluation (per rising ``clk`` when the design
  has one) through the Verilator harness ``harness.cpp``;
- ``"matmul"`` (:class:`MatmulTiles`): ``x @ w`` in weight tiles through the
  bank's streams (``chip_harness.cpp``).

``run(design, files, netlist=None, saif=None)`` returns the outputs of the
workload; with ``netlist`` (``{file: text}`` of the mapped netlist and the
cell models) it simulates the gates, with ``saif`` it records toggle counts.
"""

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from axforge.errors import AxforgeError
from axforge.paths import cache_dir, sha256_text

from .chip_sim import golden_matmul, run_workload
from .lut import extract_lut
from .verilator import build_harness, run_harness

__all__ = ["PairStream", "MatmulTiles", "EXHAUSTIVE_MAX_BITS"]

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
