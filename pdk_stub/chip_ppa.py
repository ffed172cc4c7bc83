"""Array-level PPA: synthesize a chip (bank), time it, and price a real matrix product at gate level.

Energy per MAC comes from a gate-level simulation of the mapped netlist under
a workload (``x @ w``, tiled onto the selected array), with the same SAIF
toggle accounting as :mod:`.ppa`. The multiplier-only energy under the
operand pairs that the PEs actually saw is reported next to it: AutoApprox
found the two only weakly correlated, so both are kept.
"""

import hashlib
import time
from pathlib import Path

import numpy as np

from axforge.errors import AxforgeError
from axforge.generators.chip import ChipDesign
from axforge.paths import (
    atomic_dir,
    cache_dir,
    read_verified,
    sha256_text,
    write_json,
    write_verified,
)
from axforge.sim.chip_sim import check_workload, tiles_of
from axforge.sim.workloads import MatmulTiles

from .gate import flow_digest, gate_level
from .pdk import default_pdk
from .ppa import ppa

__all__ = ["chip_ppa", "is_cached", "default_workload", "load_workload", "MULT_STREAM_MAX"]

MULT_STREAM_MAX = 65536
_timing = {}


def last_timing():
    return dict(_timing)


def default_workload(chip, vectors=None, seed=0):
    """A uniform random one-tile product: x (M, rows) @ w (rows, cols), M = 256 vectors by default."""
    rng = np.random.default_rng(seed)
    m = vectors or 256

    def draw(shape, width):
        lo, hi = (-(1 << (width - 1)), 1 << (width - 1)) if chip.signed else (0, 1 << width)
        return rng.integers(lo, hi, shape)
    return draw((m, chip.rows), chip.a_width), draw((chip.rows, chip.cols), chip.b_width)


def load_workload(path, chip):
    """``x`` (M, K) and ``w`` (K, N) from an ``.npz`` (keys ``x`` and ``w``), validated."""
    p = Path(path)
    try:
        data = np.load(p, allow_pickle=False)
        x, w = data["x"], data["w"]
    except (OSError, ValueError, KeyError) as exc:
        raise AxforgeError(f"Workload must be an .npz with integer arrays x (M, K) and w (K, N), "
                           f"not {str(p)!r} ({exc})") from None
    return check_workload(chip, x, w)


def _mult_pairs(chip, x, w):
    """Operand pairs in the order the PEs of the first tile see them (PE by PE), at most 65,536."""
    R, C = chip.rows, chip.cols
    xs = np.zeros((x.shape[0], R), dtype=np.int64)
    xs[:, :min(R, x.shape[1])] = x[:, :R]
    ws = np.zeros((R, C), dtype=np.int64)
    blk = w[:R, :C]
    ws[:blk.shape[0], :blk.shape[1]] = blk
    pairs = [np.stack([xs[:, r], np.full(len(xs), ws[r, c])], axis=1) for r in range(R) for c in range(C)]
    return np.concatenate(pairs)[:MULT_STREAM_MAX]


def _entry(chip, pdk, workload, route):
    """The workload (validated), its digest and the cache entry of ``chip_ppa(chip, pdk, workload, route)``."""
    x, w = default_workload(chip) if workload is None else check_workload(chip, *workload)
    wl_sha = hashlib.sha256(x.tobytes() + b"|" + w.tobytes() + str(x.shape + w.shape).encode()).hexdigest()
    key = sha256_text(f"chipppa|{chip.content_hash}|{pdk.digest}|{wl_sha}|{route}|{flow_digest()}")
    return x, w, wl_sha, cache_dir() / "chipppa" / f"{key}.json"


def is_cached(chip, pdk=None, workload=None, route=0):
    """Whether :func:`chip_ppa` would read its result from the cache (a verified entry) instead of
    running the flow."""
    return read_verified(_entry(chip, pdk or default_pdk(), workload, route)[3]) is not None


def chip_ppa(chip, pdk=None, workload=None, route=0, freq_mhz=500.0, out_dir=None, label="uniform"):
    """PPA of a chip: area, delay, leakage, energy per MAC on array ``route``, and the multiplier's alone."""
    pdk = pdk or default_pdk()
    if not isinstance(route, int) or not 0 <= route < len(chip.mult_specs):
        raise AxforgeError(f"Route must be an array index between 0 and {len(chip.mult_specs) - 1}, not {route!r}")
    if not (isinstance(freq_mhz, (int, float)) and 0 < freq_mhz <= 100000):
        raise AxforgeError(f"freq_mhz must be a number in (0, 100000], not {freq_mhz!r}")
    x, w, wl_sha, entry = _entry(chip, pdk, workload, route)
    result = read_verified(entry)
    if result is None:
        wl = MatmulTiles(x, w, route, pdk)
        g = gate_level(ChipDesign(chip), pdk, wl)
        t = dict(g.timing)
        switching, internal, cycles, mapped = g.switching_fj, g.internal_fj, wl.cycles, g.mapped
        n_tiles = len(tiles_of(chip, x.shape[1], w.shape[1]))
        macs = n_tiles * x.shape[0] * chip.rows * chip.cols
        total_pj = (switching + internal) / 1000.0
        t0 = time.perf_counter()
        mult = ppa(chip.mult_specs[route], pdk, stream=_mult_pairs(chip, x, w), stream_label="pe-operands",
                   equivalence=False)
        t["mult_ppa_s"] = time.perf_counter() - t0
        _timing.clear()
        _timing.update(t)
        leak_nw = g.leakage_nw
        result = {
            "chip": chip.to_dict(), "top": chip.top, "pdk": pdk.name, "route": route,
            "multiplier": chip.multipliers[route],
            "area_um2": round(float(mapped.stat.get("area", 0.0)), 3),
            "cells": int(mapped.stat.get("num_cells", 0)), "cell_counts": mapped.cell_counts,
            "leakage_uw": round(leak_nw / 1000.0, 5),
            "delay_ns": g.delay_ns, "critical_path": g.critical_path,
            "workload": {"kind": label, "x_shape": list(x.shape), "w_shape": list(w.shape), "tiles": n_tiles,
                         "sha256": wl_sha},
            "macs": macs, "cycles": cycles,
            "energy_pj_total": round(total_pj, 5),
            "energy_pj_per_mac": round(total_pj / macs, 6),
            "energy_pj_per_cycle": round(total_pj / max(cycles, 1), 6),
            "mult_energy_pj_per_op": mult["energy_pj_per_op"],
            "mult_area_um2": mult["area_um2"],
            "array_vs_mult_energy_ratio": round(total_pj / macs / mult["energy_pj_per_op"], 4)
            if mult["energy_pj_per_op"] else None,
            "equivalence": g.equivalence,
        }
        write_verified(entry, result)
    result = dict(result)
    result["freq_mhz"] = float(freq_mhz)
    # one cycle per clock: average energy per cycle of the run, times f, plus leakage
    result["power_mw"] = round(result["energy_pj_per_cycle"] * freq_mhz / 1000.0 + result["leakage_uw"] / 1000.0, 6)
    result["energy_pj_per_op"] = result["energy_pj_per_mac"]
    if out_dir is not None:
        with atomic_dir(out_dir) as tmp:
            write_json(tmp / "ppa.json", result)
    return result
