"""The gate-level PPA path every design goes through.

:func:`gate_level`: the design's files -> synthesis onto the PDK (:mod:`.flow`)
-> static timing (:mod:`.sta`) -> the mapped netlist simulated with the cell
models under a workload (:mod:`axforge.sim.workloads`), recording SAIF ->
the same workload on the RTL, whose outputs must equal the netlist's (a
synthesis bug never passes silently) -> energy: per net ``toggles * C * V^2 / 2``
plus each cell's internal energy per output (and clock-pin) transition, plus each SRAM macro's
energy per read and per write times its accesses (:mod:`.sram`: the toggles of its model's
``rd_tick`` / ``wr_tick``).

A design with a ``synth_script(sources)`` method (the NPU) is synthesized with that script.
"""

import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

import axforge.sim as sim
from axforge.errors import AxforgeError
from axforge.generators.design import design_files, source_digest
from axforge.paths import cache_dir, sha256_text
from axforge.sim.saif import find_instance, read_tree
from axforge.sim.workloads import PairStream

from .flow import synthesize
from .sram import parse_macro
from .sta import analyze, net_info

__all__ = ["GateLevel", "gate_level", "design_ppa", "energy_from_toggles", "flow_digest", "netlist_energy",
           "netlist_files", "saif_node"]


@lru_cache(maxsize=1)
def flow_digest():
    """Hash of the code of this path (and of what it imports) and of the simulation harnesses."""
    cpp = sorted([*Path(sim.__file__).parent.glob("*.cpp"), *Path(sim.__file__).parent.glob("*.h")])
    return sha256_text(source_digest(__name__) + "".join(sha256_text(p.read_text()) for p in cpp))


@dataclass
class GateLevel:
    """What :func:`gate_level` measured (energies in fJ over the whole run)."""

    mapped: object                 # flow.Mapped
    delay_ns: float
    critical_path: list
    toggles: dict
    nets: dict                     # bit -> net name (sta.net_info)
    switching_fj: float
    internal_fj: float
    leakage_nw: float
    sequential_area_um2: float
    outputs: np.ndarray
    equivalence: str
    timing: dict = field(default_factory=dict)
    macro_fj: float = 0.0          # the SRAM macros' reads and writes (part of internal_fj)
    macro_area_um2: float = 0.0
    macro_leakage_nw: float = 0.0
    macros: int = 0

    @property
    def area_um2(self):
        return float(self.mapped.stat.get("area", 0.0))

    @property
    def cells(self):
        return int(self.mapped.stat.get("num_cells", len(self.mapped.module["cells"])))

    @property
    def toggles_per_run(self):
        """Toggles summed over the netlist's nets, each net counted once."""
        return sum(self.toggles[n] for n in set(self.nets.values()) if n in self.toggles)


def energy_from_toggles(module, lib, info, toggles):
    """(switching fJ, internal fJ, nets without a toggle count) summed over the run."""
    v2 = lib.voltage ** 2
    switching, missing = 0.0, []
    tc = {}
    for bit, name in info.names.items():
        if name in toggles:
            tc[bit] = toggles[name]
        elif bit in info.loads or bit in info.outputs:
            missing.append(name)
    for bit, n in tc.items():
        switching += n * 0.5 * info.cap_ff.get(bit, 0.0) * v2
    internal = 0.0
    for cell in module["cells"].values():
        lc = lib.cells[cell["type"]]
        for pname, bits in cell["connections"].items():
            pin = lc.pins[pname]
            if pin.energy_fj and (pin.direction == "output" or pin.clock):
                internal += sum(tc.get(b, 0) for b in bits if not isinstance(b, str)) * pin.energy_fj
    return switching, internal, missing


def macro_energy(module, lib, node):
    """fJ of the SRAM macros' reads and writes: ``node`` is the top's SAIF instance subtree."""
    total = 0.0
    for cname, cell in module["cells"].items():
        lc = lib.cells[cell["type"]]
        if not hasattr(lc, "read_fj"):
            continue
        nets = node["inst"].get(cname.replace("\\", ""), {}).get("nets", {})
        if "rd_tick" not in nets or "wr_tick" not in nets:
            raise AxforgeError(f"SAIF lacks the access counts of SRAM macro {cname} ({cell['type']})")
        total += nets["rd_tick"] * lc.read_fj + nets["wr_tick"] * lc.write_fj
    return total


def saif_node(saif, top):
    """The SAIF subtree of instance ``top`` (its nets' toggles and its instances')."""
    node = find_instance(read_tree(saif), top)
    if node is None:
        raise AxforgeError(f"SAIF has no instance {top}")
    return node


def netlist_energy(module, lib, info, node):
    """``(switching fJ, internal fJ, macro fJ)`` of a netlist run from its SAIF subtree
    (:func:`saif_node`): the internal energy includes the SRAM macros' accesses, which
    ``macro fJ`` repeats on its own."""
    switching, internal, missing = energy_from_toggles(module, lib, info, dict(node["nets"]))
    if missing:
        raise AxforgeError(f"SAIF lacks toggle counts for {len(missing)} nets (e.g. {missing[0]})")
    macro = macro_energy(module, lib, node)
    return switching, internal + macro, macro


def netlist_files(mapped, pdk):
    """The files a netlist simulation compiles: the mapped netlist and the PDK's cell models."""
    return {"mapped.v": mapped.verilog, "cells.v": pdk.cells_verilog()}


def synthesize_design(design, files, pdk, work_dir):
    """:func:`.flow.synthesize` with the design's own script where it has one."""
    own = getattr(design, "synth_script", None)
    return synthesize({n: s for n, s in files.items() if n.endswith((".v", ".sv"))}, design.top, pdk, work_dir,
                      script=own)


def gate_level(design, pdk, workload, output_load_ff=None, check=True):
    """Synthesize, time, simulate under ``workload`` and price ``design`` on ``pdk``.

    ``check`` compares the netlist's outputs with the RTL's on the same
    workload (and with ``workload.reference(design)`` where there is one).
    """
    files = design_files(design)
    top = design.top
    lib = pdk.library
    t = {}
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".gate.") as tmp:
        t0 = time.perf_counter()
        mapped = synthesize_design(design, files, pdk, Path(tmp) / "synth")
        t["synth_s"] = time.perf_counter() - t0
        module = mapped.module
        t0 = time.perf_counter()
        info = net_info(module, lib) if output_load_ff is None else net_info(module, lib, output_load_ff)
        delay, path = analyze(module, lib, info)
        t["sta_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        saif = Path(tmp) / "activity.saif"
        y_gate = workload.run(design, files, netlist=netlist_files(mapped, pdk), saif=saif, outputs=check)
        t["gate_sim_s"] = time.perf_counter() - t0
        equivalence = "skipped"
        if check:
            t0 = time.perf_counter()
            gate_table = getattr(workload, "table", None)
            y_rtl = workload.run(design, files)
            rtl_table = getattr(workload, "table", None)
            ref = workload.reference(design) if hasattr(workload, "reference") else y_rtl
            if gate_table is not None and rtl_table is not None:
                bad = np.flatnonzero(gate_table != rtl_table)
                if bad.size:
                    i = int(bad[0])
                    raise AxforgeError(f"Mapped netlist differs from the RTL on {bad.size} of {rtl_table.size} "
                                       f"input pairs (first: index {i}, RTL {rtl_table[i]}, netlist "
                                       f"{gate_table[i]}): a synthesis bug")
                equivalence = f"exhaustive: {rtl_table.size} of {rtl_table.size} input pairs equal to the RTL LUT"
            elif not np.array_equal(y_gate, y_rtl) or not np.array_equal(y_rtl, ref):
                bad = int(np.sum(np.asarray(y_gate) != np.asarray(ref)))
                raise AxforgeError(f"{design.kind} {top}: the mapped netlist's results differ from the RTL / "
                                   f"model in {bad} of {np.asarray(ref).size} outputs (a synthesis or RTL bug)")
            else:
                equivalence = (f"workload: {np.asarray(ref).size} of {np.asarray(ref).size} outputs equal "
                               "(gate level = RTL" + (" = LUT model)" if hasattr(workload, "reference") else ")"))
            t["equivalence_s"] = time.perf_counter() - t0
        node = saif_node(saif, top)
        toggles = dict(node["nets"])
        switching, internal, macro_fj = netlist_energy(module, lib, info, node)
    leakage_nw = sum(lib.cells[c["type"]].leakage_nw for c in module["cells"].values())
    seq_area = sum(lib.cells[c["type"]].area for c in module["cells"].values() if lib.cells[c["type"]].sequential)
    macros = [lib.cells[c["type"]] for c in module["cells"].values() if parse_macro(c["type"])]
    return GateLevel(mapped, delay, path, toggles, dict(info.names), switching, internal, leakage_nw, seq_area,
                     y_gate, equivalence, t, macro_fj, sum(c.area for c in macros),
                     sum(c.leakage_nw for c in macros), len(macros))


def design_ppa(design, pdk, workload=None, vectors=4096, seed=0):
    """Area, delay, leakage and energy per operation of any design on ``pdk``, as a dict.

    Without ``workload``, a ``"pairs"`` design gets ``vectors`` uniform random
    operand pairs for the widths of its ports ``a`` and ``b`` (seeded).
    """
    if workload is None:
        if design.workload != "pairs":
            raise AxforgeError(f"Design {design.kind} ({design.workload} workload) needs a workload to price")
        widths = {p["name"]: p["width"] for p in design.ports()}
        rng = np.random.default_rng(seed)
        raw = np.stack([rng.integers(0, 1 << widths["a"], vectors), rng.integers(0, 1 << widths["b"], vectors)],
                       axis=1)
        workload = PairStream(raw, widths["a"], widths["b"])
    g = gate_level(design, pdk, workload)
    ops = workload.ops
    return {"kind": design.kind, "top": design.top, "pdk": pdk.name, "area_um2": round(g.area_um2, 4),
            "cells": g.cells, "delay_ns": g.delay_ns, "leakage_uw": round(g.leakage_nw / 1000.0, 6),
            "energy_pj_per_op": round((g.switching_fj + g.internal_fj) / ops / 1000.0, 6),
            "equivalence": g.equivalence}
