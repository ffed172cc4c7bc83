"""NPU-level PPA: the AXNet NPU synthesized, timed and priced at gate level on a compiled program.

Energy per inference comes from the mapped netlist simulated under a stream of samples
(:class:`~axforge.sim.workloads.NpuSamples`, SAIF toggle counts, the accounting of :mod:`.gate`),
split into the NPU's two phases by a second run on the same inputs:

- the *mixed* run: the program as given (safe samples run prediction + approximation, unsafe ones
  prediction + a fallback beat);
- the *forced* run: a copy of the program whose P(x) neuron always decides unsafe
  (:func:`forced_unsafe`), so every sample runs only the prediction phase.

Then ``E_pred = E_forced / N`` per sample and ``E_approx = (E_mixed - E_forced) / N_safe`` per safe
sample (the approximation layers and the emission, less the fallback beat they replace). Dynamic
energy (switching + cell internal, from the toggles) and leakage energy (leakage power x cycles / f)
are reported apart; both runs' cycles must equal :func:`~axforge.hdl.npu.cycles.stream_cycles`.

The netlist is synthesized once: :func:`~.gate.gate_level` prices the mixed run (synthesis, STA,
netlist == RTL == golden), and the forced run reuses its mapped netlist (its compiled simulation
too), checked the same way (``reuse_netlist=False`` runs ``gate_level`` twice instead).

Results are cached under ``$AXFORGE_CACHE/npuppa/`` keyed by the design, the PDK, the program, the
inputs and the flow's code, and verified on read; figures that depend on the clock are computed
from the cached ones on every call.
"""

import dataclasses
import hashlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from axforge.errors import AxforgeError
from axforge.generators.design import design_files, source_digest
from axforge.hdl.npu.cycles import sample_cycles, stream_cycles
from axforge.hdl.npu.program import to_dict
from axforge.paths import (
    atomic_dir,
    cache_dir,
    read_verified,
    sha256_text,
    write_json,
    write_verified,
)
from axforge.sim.lut import extract_lut
from axforge.sim.workloads import NpuSamples

from .gate import flow_digest, gate_level, netlist_energy, netlist_files, saif_node
from .pdk import default_pdk
from .sta import net_info

__all__ = ["DEFAULT_FREQ_MHZ", "forced_unsafe", "is_cached", "last_timing", "npu_ppa", "price_netlist"]

DEFAULT_FREQ_MHZ = 500.0
_timing = {}


def last_timing():
    """Step times (s) of the last :func:`npu_ppa` that ran the flow (not read from the cache)."""
    return dict(_timing)


def forced_unsafe(program, config, lut=None):
    """A copy of ``program`` whose P(x) always decides *unsafe*.

    The neuron that writes ``P`` (``P[1]`` with two outputs) gets the most negative bias that no sum
    of products can wrap past, and the largest requantisation multiplier, so its output clamps
    negative; every other neuron, weight and layer stays as it is (the prediction phase does the
    same work). ``lut``: the multiplier's products (bounds the sum; default the exact ``2**(2w-2)``).
    """
    c = config
    slot = program.p_addr + program.p_outputs - 1
    last = program.pred[-1]
    j = slot - last.dst
    if not 0 <= j < last.n_out:
        raise AxforgeError(f"The last prediction layer writes data {last.dst}..{last.dst + last.n_out - 1}, "
                           f"not the P(x) slot {slot}")
    top = int(np.abs(np.asarray(lut)).max()) if lut is not None else 1 << (2 * c.width - 2)
    lo_a, hi_a = c.act_range
    reach = last.n_in * top + (0 if c.signed else int(np.abs(last.zw).max()) * last.n_in * max(abs(lo_a), hi_a))
    bias_min = -(1 << (c.acc_width - 1))
    if reach >= 1 << (c.acc_width - 2):
        raise AxforgeError(f"Cannot force P(x) unsafe: products reach {reach}, too near the accumulator's "
                           f"{c.acc_width}-bit range")
    bias, mult = last.bias.copy(), last.mult.copy()
    bias[j], mult[j] = bias_min + reach, (1 << c.mult_bits) - 1
    layer = dataclasses.replace(last, bias=bias, mult=mult)
    return dataclasses.replace(program, pred=tuple(program.pred[:-1]) + (layer,))


def _digest(spec, pdk, program, x):
    body = to_dict(program)
    body.pop("meta", None)          # what the host needs, not the hardware
    prog_sha = sha256_text(json.dumps(body, sort_keys=True))
    x = np.ascontiguousarray(x, dtype=np.int64)
    x_sha = hashlib.sha256(x.tobytes() + str(x.shape).encode()).hexdigest()
    return prog_sha, x_sha


def _entry(spec, pdk, program, x, reuse_netlist):
    prog_sha, x_sha = _digest(spec, pdk, program, x)
    key = sha256_text(f"npuppa|{spec.design.content_hash}|{pdk.digest}|{prog_sha}|{x_sha}|{reuse_netlist}|"
                      f"{flow_digest()}|{source_digest(__name__)}")
    return prog_sha, x_sha, cache_dir() / "npuppa" / f"{key}.json"


def is_cached(spec, program, x, pdk=None, reuse_netlist=True):
    """Whether :func:`npu_ppa` would read its result from the cache (a verified entry)."""
    return read_verified(_entry(spec, pdk or default_pdk(), program, x, reuse_netlist)[2]) is not None


def _check(design, workload, y_gate, y_rtl, ref, what):
    if not (np.array_equal(y_gate, y_rtl) and np.array_equal(y_rtl, ref)):
        bad = int(np.sum(np.asarray(y_gate) != np.asarray(ref))) if np.shape(y_gate) == np.shape(ref) else "all"
        raise AxforgeError(f"npu {design.top} ({what} run): the mapped netlist's result beats differ from the "
                           f"RTL / golden model ({bad} of {np.asarray(ref).size} fields): a synthesis or RTL bug")
    return f"workload: {ref.size} of {ref.size} outputs equal (gate level = RTL = golden model)"


def price_netlist(mapped, design, pdk, workload, files=None):
    """The workload on an already mapped netlist (``gate_level(...).mapped``): netlist == RTL ==
    golden, then energy from its toggles. Returns ``(switching_fj, internal_fj, macro_fj, equivalence,
    timing)`` (``macro_fj``: the SRAM macros' accesses, part of ``internal_fj``).
    The compiled netlist and RTL simulations of an earlier run of the same design are reused."""
    files = design_files(design) if files is None else files
    lib = pdk.library
    t = {}
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".npugate.") as tmp:
        t0 = time.perf_counter()
        saif = Path(tmp) / "activity.saif"
        y_gate = workload.run(design, files, netlist=netlist_files(mapped, pdk), saif=saif)
        t["gate_sim_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        y_rtl = workload.run(design, files)
        equivalence = _check(design, workload, y_gate, y_rtl, workload.reference(design), "forced")
        t["equivalence_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        switching, internal, macro = netlist_energy(mapped.module, lib, net_info(mapped.module, lib),
                                                    saif_node(saif, design.top))
    t["energy_s"] = time.perf_counter() - t0
    return switching, internal, macro, equivalence, t


def _run_cycles(workload, program, config, safe, what):
    want = stream_cycles(program, config, safe)
    got = (workload.gate_cycles, workload.cycles)
    if got != (want, want):
        raise AxforgeError(f"NPU {what} run took {got[0]} cycles on the netlist and {got[1]} on the RTL, "
                           f"not the cycle model's {want}")
    return want


def _build(spec, pdk, program, x, reuse_netlist):
    design, c = spec.design, spec.config
    t_all = time.perf_counter()
    lut = extract_lut(spec.mult_spec)
    forced = forced_unsafe(program, c, lut)
    mixed_wl, forced_wl = NpuSamples(program, x, lut), NpuSamples(forced, x, lut)
    safe = mixed_wl.golden(design)["safe"]
    forced_safe = forced_wl.golden(design)["safe"]
    if forced_safe.any():
        raise AxforgeError(f"The forced-unsafe program still decides {int(forced_safe.sum())} samples safe")
    g = gate_level(design, pdk, mixed_wl)
    t = dict(g.timing)
    cyc_mixed = _run_cycles(mixed_wl, program, c, safe, "mixed")
    if reuse_netlist:
        sw_f, in_f, mc_f, eq_f, tf = price_netlist(g.mapped, design, pdk, forced_wl)
    else:
        gf = gate_level(design, pdk, forced_wl)
        sw_f, in_f, mc_f, eq_f, tf = gf.switching_fj, gf.internal_fj, gf.macro_fj, gf.equivalence, gf.timing
        if gf.mapped.verilog != g.mapped.verilog:
            raise AxforgeError("Synthesis of the same design gave two different netlists")
    t.update({f"forced_{k}": v for k, v in tf.items()})
    cyc_forced = _run_cycles(forced_wl, forced, c, forced_safe, "forced")
    t["total_s"] = time.perf_counter() - t_all
    n, n_safe = len(x), int(safe.sum())
    mixed_pj = (g.switching_fj + g.internal_fj) / 1000.0
    forced_pj = (sw_f + in_f) / 1000.0
    lib = pdk.library
    cells = g.mapped.module["cells"].values()
    delay = float(g.delay_ns)
    return {
        "npu": spec.to_dict(), "top": design.top, "pdk": pdk.name, "multiplier": spec.multiplier,
        "area_um2": round(g.area_um2, 3), "cells": g.cells, "cell_counts": g.mapped.cell_counts,
        "sequential_area_um2": round(g.sequential_area_um2, 3),
        "sequential_cells": sum(1 for cl in cells if lib.cells[cl["type"]].sequential),
        "leakage_uw": round(g.leakage_nw / 1000.0, 5),
        "delay_ns": delay, "fmax_mhz": round(1000.0 / delay, 3) if delay > 0 else None,
        "critical_path": g.critical_path,
        "workload": {"samples": n, "n_in": program.n_in, "n_out": program.n_out, "program_sha256":
                     _digest(spec, pdk, program, x)[0], "x_sha256": _digest(spec, pdk, program, x)[1]},
        "samples": n, "safe_samples": n_safe, "forced_safe_samples": int(forced_safe.sum()),
        "sample_cycles": sample_cycles(program, c),
        "cycles": {"mixed": cyc_mixed, "forced": cyc_forced},
        "dynamic_pj": {"mixed": round(mixed_pj, 5), "forced": round(forced_pj, 5),
                       "mixed_switching": round(g.switching_fj / 1000.0, 5),
                       "mixed_internal": round(g.internal_fj / 1000.0, 5),
                       "forced_switching": round(sw_f / 1000.0, 5), "forced_internal": round(in_f / 1000.0, 5),
                       "mixed_memory": round(g.macro_fj / 1000.0, 5), "forced_memory": round(mc_f / 1000.0, 5)},
        "memory": {"macros": g.macros, "area_um2": round(g.macro_area_um2, 3),
                   "leakage_uw": round(g.macro_leakage_nw / 1000.0, 5),
                   "pred_pj": round(mc_f / 1000.0 / n, 6),
                   "approx_pj": round((g.macro_fj - mc_f) / 1000.0 / n_safe, 6) if n_safe else None},
        "dynamic_pj_per_sample": round(mixed_pj / n, 6),
        "pred_dynamic_pj": round(forced_pj / n, 6),
        "approx_dynamic_pj": round((mixed_pj - forced_pj) / n_safe, 6) if n_safe else None,
        "equivalence": f"mixed: {g.equivalence}; forced: {eq_f}",
        "reuse_netlist": bool(reuse_netlist),
        "timing": {k: round(v, 3) for k, v in t.items()},
    }


def _with_clock(result, freq_mhz):
    """The figures that depend on the clock: leakage energy (leakage power x cycles / f), the
    totals per sample and per phase, and the average power."""
    r = dict(result)
    f = float(freq_mhz)
    leak = r["leakage_uw"]                     # uW x us = pJ
    n, n_safe = r["samples"], r["safe_samples"]
    cm, cf = r["cycles"]["mixed"], r["cycles"]["forced"]
    r["freq_mhz"] = f
    r["leakage_pj"] = {"mixed": round(leak * cm / f, 5), "forced": round(leak * cf / f, 5)}
    r["leakage_pj_per_sample"] = round(leak * cm / f / n, 6)
    r["pred_leakage_pj"] = round(leak * cf / f / n, 6)
    r["approx_leakage_pj"] = round(leak * (cm - cf) / f / n_safe, 6) if n_safe else None
    r["energy_pj_per_sample"] = round(r["dynamic_pj_per_sample"] + r["leakage_pj_per_sample"], 6)
    r["pred_pj"] = round(r["pred_dynamic_pj"] + r["pred_leakage_pj"], 6)
    r["approx_pj"] = round(r["approx_dynamic_pj"] + r["approx_leakage_pj"], 6) if n_safe else None
    r["cycles_per_sample"] = round(cm / n, 3)
    r["latency_us_per_sample"] = round(cm / n / f, 6)
    r["power_mw"] = round(r["dynamic_pj"]["mixed"] / cm * f / 1000.0 + leak / 1000.0, 6)
    return r


def npu_ppa(spec, program, x, pdk=None, freq_mhz=None, out_dir=None, reuse_netlist=True):
    """PPA of the NPU ``spec`` (:class:`~axforge.generators.npu.NpuSpec`) running ``program`` on
    input codes ``x`` (N, n_in): area, cells, sequential area, critical path, fmax, leakage, and
    energy per inference split into the prediction and the approximation phase (module docstring).

    ``freq_mhz``: the clock for the leakage energy and the power, default ``min(500, fmax)``.
    ``out_dir``: also write ``ppa.json`` there. Returns a dict (see :func:`_build` and
    :func:`_with_clock` for the keys); energies in pJ, ``*_pj_per_sample`` and ``pred_*`` per
    sample, ``approx_*`` per safe sample.
    """
    pdk = pdk or default_pdk()
    x = np.asarray(x)
    NpuSamples(program, x)                 # validates the shape before anything runs
    if freq_mhz is not None and not (isinstance(freq_mhz, (int, float)) and 0 < freq_mhz <= 100000):
        raise AxforgeError(f"freq_mhz must be a number in (0, 100000], not {freq_mhz!r}")
    if len(x) < 1:
        raise AxforgeError("NPU PPA needs at least one sample")
    entry = _entry(spec, pdk, program, x, reuse_netlist)[2]
    result = read_verified(entry)
    if result is None:
        result = _build(spec, pdk, program, x, reuse_netlist)
        _timing.clear()
        _timing.update(result["timing"])
        write_verified(entry, result)
    if freq_mhz is None:
        fmax = result["fmax_mhz"]
        freq_mhz = min(DEFAULT_FREQ_MHZ, fmax) if fmax else DEFAULT_FREQ_MHZ
    result = _with_clock(result, freq_mhz)
    if out_dir is not None:
        with atomic_dir(out_dir) as tmp:
            write_json(tmp / "ppa.json", result)
    return result
