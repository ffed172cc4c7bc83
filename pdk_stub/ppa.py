"""PPA of one multiplier: the gate-level path (:mod:`.gate`) under an operand stream.

``ppa(spec)`` runs the multiplier's design through :func:`.gate.gate_level`
with a :class:`~axforge.sim.workloads.PairStream`: synthesis, static timing,
the mapped netlist checked against the RTL LUT on every input pair up to 8x8
(on the stream beyond), activity from SAIF, energy. Results are cached by
(design, PDK, stream, load, flow code).
"""

import hashlib
from pathlib import Path

import numpy as np

from axforge.errors import AxforgeError
from axforge.generators.emit import MultDesign, design_hash, verilog_text
from axforge.generators.synth import LIB_NAME, synth_script
from axforge.paths import (
    atomic_dir,
    cache_dir,
    read_verified,
    sha256_text,
    write_json,
    write_verified,
)
from axforge.sim.saif import read_toggles
from axforge.sim.workloads import EXHAUSTIVE_MAX_BITS as EQUIV_MAX_BITS
from axforge.sim.workloads import PairStream

from .gate import energy_from_toggles, flow_digest, gate_level
from .pdk import default_pdk

__all__ = ["ppa", "uniform_stream", "load_stream", "read_toggles", "energy_from_toggles",
           "PPA_KEYS", "STREAM_VECTORS", "EQUIV_MAX_BITS"]

PPA_KEYS = ("area_um2", "cells", "leakage_uw", "delay_ns", "energy_pj_per_op", "power_mw", "freq_mhz")
STREAM_VECTORS = 65536
_timing = {}


def last_timing():
    """Seconds per step of the last uncached :func:`ppa` run (for benchmarks)."""
    return dict(_timing)


def uniform_stream(spec, n=STREAM_VECTORS, seed=0):
    """Uniformly random operand pairs (values: signed for signed specs), shape ``(n, 2)``."""
    rng = np.random.default_rng(seed)
    if spec.signed:
        lo_a, hi_a = -(1 << (spec.a_width - 1)), 1 << (spec.a_width - 1)
        lo_b, hi_b = -(1 << (spec.b_width - 1)), 1 << (spec.b_width - 1)
    else:
        lo_a, hi_a, lo_b, hi_b = 0, 1 << spec.a_width, 0, 1 << spec.b_width
    return np.stack([rng.integers(lo_a, hi_a, n), rng.integers(lo_b, hi_b, n)], axis=1)


def load_stream(path, spec):
    """Read and validate an operand stream ``.npy``: integers, shape ``(N, 2)``, N >= 2, in range."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise AxforgeError(f"Stream must be a readable .npy file, not {str(path)!r} ({exc})") from None
    return check_stream(arr, spec, str(path))


def check_stream(arr, spec, where="stream"):
    arr = np.asarray(arr)
    if not np.issubdtype(arr.dtype, np.integer):
        raise AxforgeError(f"Stream {where} must have an integer dtype, not {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 2:
        raise AxforgeError(f"Stream {where} must have shape (N, 2) with N >= 2, not {tuple(arr.shape)}")
    for col, w, name in ((0, spec.a_width, "a"), (1, spec.b_width, "b")):
        lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if spec.signed else (0, (1 << w) - 1)
        v = arr[:, col]
        if v.min() < lo or v.max() > hi:
            raise AxforgeError(f"Stream {where} operand {name} must lie in [{lo}, {hi}] "
                               f"({'signed' if spec.signed else 'unsigned'} {w}-bit), not [{v.min()}, {v.max()}]")
    return arr.astype(np.int64)


def _raw(values, width):
    return np.asarray(values, dtype=np.int64) % (1 << width)


def _result_key(spec, pdk, stream_sha, output_load_ff):
    return sha256_text(f"ppa|{design_hash(spec)}|{pdk.digest}|{stream_sha}|{output_load_ff}|{flow_digest()}")


def ppa(spec, pdk=None, freq_mhz=500.0, stream=None, stream_label="uniform", out_dir=None,
        emit_script=False, output_load_ff=1.14, equivalence=True):
    """Area, delay, leakage, energy and power of a multiplier spec; writes ``ppa.json`` into ``out_dir``.

    ``stream`` is an ``(N, 2)`` integer array of operand values (signed for
    signed specs); default: 65,536 uniform random pairs, seed 0.
    """
    pdk = pdk or default_pdk()
    if not (isinstance(freq_mhz, (int, float)) and 0 < freq_mhz <= 100000):
        raise AxforgeError(f"freq_mhz must be a number in (0, 100000], not {freq_mhz!r}")
    stream = uniform_stream(spec) if stream is None else check_stream(stream, spec, stream_label)
    raw = np.stack([_raw(stream[:, 0], spec.a_width), _raw(stream[:, 1], spec.b_width)], axis=1).astype(np.uint32)
    stream_sha = hashlib.sha256(raw.tobytes()).hexdigest()
    key = _result_key(spec, pdk, stream_sha, output_load_ff)
    entry = cache_dir() / "ppa" / f"{key}.json"
    files = verilog_text(spec)
    top = spec.module_name
    result = read_verified(entry)
    mapped_v = None
    if result is None:
        result, mapped_v = _run_flow(spec, pdk, raw, stream_label, output_load_ff, equivalence)
        result["stream"]["sha256"] = stream_sha
        write_verified(entry, result)
        (entry.with_suffix(".mapped.v")).write_text(mapped_v)
    result = dict(result)
    result["freq_mhz"] = float(freq_mhz)
    result["power_mw"] = round(result["energy_pj_per_op"] * freq_mhz / 1000.0 + result["leakage_uw"] / 1000.0, 6)
    if out_dir is not None:
        with atomic_dir(out_dir) as tmp:
            write_json(tmp / "ppa.json", result)
            cached_v = entry.with_suffix(".mapped.v")
            if mapped_v is None and cached_v.exists():
                mapped_v = cached_v.read_text()
            if mapped_v is not None:
                (tmp / "mapped.v").write_text(mapped_v)
            if emit_script:
                srcs = []
                for name, text in files.items():
                    (tmp / name).write_text(text)
                    if name.endswith((".v", ".sv")):
                        srcs.append(name)
                (tmp / LIB_NAME).write_text(pdk.liberty_text())
                (tmp / "synth.ys").write_text(synth_script(srcs, top))
    return result


def _run_flow(spec, pdk, raw, stream_label, output_load_ff, equivalence):
    design = MultDesign(spec)
    g = gate_level(design, pdk, PairStream(raw, spec.a_width, spec.b_width), output_load_ff, check=equivalence)
    _timing.clear()
    _timing.update(g.timing)
    ops = len(raw) - 1
    lib = pdk.library
    result = {
        "spec": str(spec), "module": design.top, "pdk": pdk.name, "pdk_sha256": pdk.digest,
        "area_um2": round(g.area_um2, 4),
        "sequential_area_um2": round(g.sequential_area_um2, 4),
        "cells": g.cells,
        "cell_counts": g.mapped.cell_counts,
        "leakage_uw": round(g.leakage_nw / 1000.0, 6),
        "delay_ns": g.delay_ns,
        "critical_path": g.critical_path,
        "energy_pj_per_op": round((g.switching_fj + g.internal_fj) / ops / 1000.0, 6),
        "energy_breakdown_pj_per_op": {"switching": round(g.switching_fj / ops / 1000.0, 6),
                                       "internal": round(g.internal_fj / ops / 1000.0, 6)},
        "toggles_per_op": round(g.toggles_per_run / ops, 3),
        "stream": {"kind": stream_label, "vectors": int(len(raw))},
        "equivalence": g.equivalence,
        "voltage_v": lib.voltage,
        "output_load_ff": output_load_ff,
    }
    return result, g.mapped.verilog
