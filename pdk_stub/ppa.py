"""PPA of one multiplier: synthesis onto a PDK, static timing, activity-based energy.

``ppa(spec)`` maps the design with Yosys (:mod:`.flow`), times the mapped
netlist (:mod:`.sta`), checks it against the RTL LUT (exhaustive up to 8x8, a
synthesis bug must never pass silently), simulates it with Verilator and the
cell models under an operand stream with SAIF toggle counting, and sums per
net ``toggles * C * V^2 / 2`` plus each cell's internal energy per output (and
clock-pin) transition. Results are cached by (design, PDK, stream, flow code).
"""

import hashlib
import re
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from axforge.errors import AxforgeError
from axforge.paths import atomic_dir, cache_dir, read_verified, sha256_text, write_json, write_verified

from .flow import LIB_NAME, synth_script, synthesize
from .pdk import default_pdk
from .sta import analyze, net_info

__all__ = ["ppa", "uniform_stream", "load_stream", "parse_saif", "read_toggles", "energy_from_toggles",
           "PPA_KEYS", "STREAM_VECTORS", "EQUIV_MAX_BITS"]

PPA_KEYS = ("area_um2", "cells", "leakage_uw", "delay_ns", "energy_pj_per_op", "power_mw", "freq_mhz")
STREAM_VECTORS = 65536
EQUIV_MAX_BITS = 16          # exhaustive mapped-vs-RTL check up to 8x8
_timing = {}


def last_timing():
    """Seconds per step of the last uncached :func:`ppa` run (for benchmarks)."""
    return dict(_timing)


@lru_cache(maxsize=1)
def _flow_digest():
    here = Path(__file__).parent
    h = hashlib.sha256()
    for p in [here / n for n in ("flow.py", "sta.py", "ppa.py", "liberty.py")] + \
            [here.parent / "sim" / "harness.cpp"]:
        h.update(p.read_bytes())
    return h.hexdigest()


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


_NET = re.compile(r"^\s*\((\S+)\s+\(T0 \d+\)\s+\(T1 \d+\).*\(TC (\d+)\)\)\s*$")


def parse_saif(text, top):
    """Toggle counts of the nets of instance ``top`` (its first NET block) from a SAIF file."""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == f"(INSTANCE {top}"), None)
    if start is None:
        raise AxforgeError(f"SAIF has no instance {top}")
    out = {}
    for ln in lines[start + 1:]:
        s = ln.strip()
        if s.startswith("(INSTANCE"):
            break
        m = _NET.match(ln)
        if m:
            out[m.group(1).replace("\\", "")] = int(m.group(2))
    return out


def read_toggles(saif_path, top):
    """Net toggle counts of ``top`` from a harness's SAIF, less its ``.base`` companion.

    SAIF counts a signal that starts at 1 as one toggle; the harnesses write a
    one-dump baseline trace (``<saif>.base``) that holds exactly those.
    """
    toggles = parse_saif(Path(saif_path).read_text(), top)
    base = Path(f"{saif_path}.base")
    if base.exists():
        for name, n in parse_saif(base.read_text(), top).items():
            toggles[name] = toggles.get(name, 0) - n
    return toggles


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


def _raw(values, width):
    return np.asarray(values, dtype=np.int64) % (1 << width)


def _result_key(spec, pdk, stream_sha, output_load_ff):
    from axforge.generators.emit import design_hash
    return sha256_text(f"ppa|{design_hash(spec)}|{pdk.digest}|{stream_sha}|{output_load_ff}|{_flow_digest()}")


def ppa(spec, pdk=None, freq_mhz=500.0, stream=None, stream_label="uniform", out_dir=None,
        emit_script=False, output_load_ff=1.14, equivalence=True):
    """Area, delay, leakage, energy and power of a multiplier spec; writes ``ppa.json`` into ``out_dir``.

    ``stream`` is an ``(N, 2)`` integer array of operand values (signed for
    signed specs); default: 65,536 uniform random pairs, seed 0.
    """
    from axforge.generators.emit import verilog_text
    from axforge.sim.verilator import build_harness, run_harness
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
        result, mapped_v = _run_flow(spec, pdk, files, top, raw, stream_label, output_load_ff, equivalence,
                                     build_harness, run_harness)
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


def _run_flow(spec, pdk, files, top, raw, stream_label, output_load_ff, equivalence, build_harness, run_harness):
    from axforge.sim.lut import _to_values, extract_lut
    lib = pdk.library
    t = {}
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".ppa.") as tmp:
        t0 = time.perf_counter()
        mapped = synthesize(files, top, pdk, Path(tmp) / "synth")
        t["synth_s"] = time.perf_counter() - t0
        module = mapped.module
        t0 = time.perf_counter()
        info = net_info(module, lib, output_load_ff)
        delay, path = analyze(module, lib, info)
        t["sta_s"] = time.perf_counter() - t0
        ports = set(module["ports"])
        clocked = "clk" in ports
        sim_files = {"mapped.v": mapped.verilog, "cells.v": pdk.cells_verilog()}
        hkey = sha256_text(f"gate|{mapped.verilog}|{pdk.digest}|{clocked}")
        t0 = time.perf_counter()
        exe = build_harness(hkey, sim_files, top, clocked=clocked, saif=True, opt="-O0")
        t["build_s"] = time.perf_counter() - t0
        equiv = "skipped"
        if equivalence and spec.a_width + spec.b_width <= EQUIV_MAX_BITS:
            t0 = time.perf_counter()
            gate_raw, _ = run_harness(exe, spec.a_width, spec.b_width)
            rtl = extract_lut(spec)
            gate = _to_values(gate_raw, spec)
            bad = np.flatnonzero(gate != rtl)
            if bad.size:
                i = int(bad[0])
                raise AxforgeError(f"Mapped netlist differs from the RTL on {bad.size} of {rtl.size} input pairs "
                                   f"(first: index {i}, RTL {rtl[i]}, netlist {gate[i]}): a synthesis bug")
            equiv = f"exhaustive: {rtl.size} of {rtl.size} input pairs equal to the RTL LUT"
            t["equivalence_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        inp, saif = Path(tmp) / "stream.bin", Path(tmp) / "activity.saif"
        raw.tofile(inp)
        import subprocess
        proc = subprocess.run([str(exe), str(spec.a_width), str(spec.b_width), "activity", str(inp), str(saif)],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not saif.exists():
            raise AxforgeError(f"Activity simulation failed: {(proc.stderr or proc.stdout).strip()[:200]}")
        toggles = read_toggles(saif, top)
        ops = len(raw) - 1
        switching, internal, missing = energy_from_toggles(module, lib, info, toggles)
        if missing:
            raise AxforgeError(f"SAIF lacks toggle counts for {len(missing)} nets (e.g. {missing[0]})")
        t["activity_s"] = time.perf_counter() - t0
    _timing.clear()
    _timing.update(t)
    leakage_nw = sum(lib.cells[c["type"]].leakage_nw for c in module["cells"].values())
    energy_pj = (switching + internal) / ops / 1000.0
    seq_area = sum(lib.cells[c["type"]].area for c in module["cells"].values() if lib.cells[c["type"]].sequential)
    result = {
        "spec": str(spec), "module": top, "pdk": pdk.name, "pdk_sha256": pdk.digest,
        "area_um2": round(float(mapped.stat.get("area", 0.0)), 4),
        "sequential_area_um2": round(seq_area, 4),
        "cells": int(mapped.stat.get("num_cells", len(module["cells"]))),
        "cell_counts": mapped.cell_counts,
        "leakage_uw": round(leakage_nw / 1000.0, 6),
        "delay_ns": delay,
        "critical_path": path,
        "energy_pj_per_op": round(energy_pj, 6),
        "energy_breakdown_pj_per_op": {"switching": round(switching / ops / 1000.0, 6),
                                       "internal": round(internal / ops / 1000.0, 6)},
        "toggles_per_op": round(sum(toggles[n] for n in set(info.names.values()) if n in toggles) / ops, 3),
        "stream": {"kind": stream_label, "vectors": int(len(raw))},
        "equivalence": equiv,
        "voltage_v": lib.voltage,
        "output_load_ff": output_load_ff,
    }
    return result, mapped.verilog
