"""LUT extraction from the RTL itself: ``extract_lut(spec)`` and ``evaluate_rtl(spec, a, b)``.

The LUT that later stages use is the one the hardware produced, never the
Python model. LUTs are cached as ``.npy`` under the design's content hash
with a SHA-256 sidecar that is checked on every read.
"""

import json

import numpy as np

from axforge.errors import AxforgeError
from axforge.generators.emit import design_hash, verilog_text
from axforge.paths import atomic_write_bytes, cache_dir, sha256_bytes

from .verilator import build_harness, run_harness

__all__ = ["extract_lut", "evaluate_rtl", "harness_for", "MAX_LUT_BITS", "last_sweep_ns"]

MAX_LUT_BITS = 20  # 2^20 entries (4 MiB); wider designs are evaluated on samples
_last = {"ns": float("nan")}


def last_sweep_ns():
    return _last["ns"]


def harness_for(spec, sliced=True):
    """The harness executable of a spec's combinational design.

    ``sliced`` (the default) simulates 64 pairs per eval on the bit-sliced
    model where the design lowers to plain gates (``bitslice.py``); ``False``
    is the one-pair-per-eval harness on the Verilog as emitted.
    """
    comb = spec.combinational() if spec.family != "verilog" else spec
    widths = (comb.a_width, comb.b_width, comb.out_width) if sliced and not comb.registered else None
    return build_harness(design_hash(comb), verilog_text(comb), comb.module_name, sliced_widths=widths)


def _to_values(raw, spec):
    vals = raw.astype(np.int64)
    if spec.signed:
        w = spec.out_width
        vals = np.where(vals >= (1 << (w - 1)), vals - (1 << w), vals)
    return vals


def extract_lut(spec):
    """Products for every input pair, index ``a_raw << b_width | b_raw`` (int64; signed values if signed)."""
    bits = spec.a_width + spec.b_width
    if bits > MAX_LUT_BITS:
        raise AxforgeError(f"LUT width a_width + b_width must be at most {MAX_LUT_BITS}, not {bits}"
                           " (use sampled characterization)")
    key = design_hash(spec.combinational() if spec.family != "verilog" else spec)
    path = cache_dir() / "lut" / f"{key}.npy"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        data = path.read_bytes()
        try:
            ok = json.loads(meta.read_text()).get("sha256") == sha256_bytes(data)
        except ValueError:
            ok = False
        if ok:
            return np.load(path)
    raw, ns = run_harness(harness_for(spec), spec.a_width, spec.b_width)
    _last["ns"] = ns
    if raw.size != 1 << bits:
        raise AxforgeError(f"LUT harness returned {raw.size} outputs, expected {1 << bits}")
    lut = _to_values(raw, spec)
    import io
    buf = io.BytesIO()
    np.save(buf, lut)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    atomic_write_bytes(meta, json.dumps({"sha256": sha256_bytes(data), "spec": str(spec)}).encode())
    return lut


def evaluate_rtl(spec, a, b):
    """Run the RTL on operand arrays (signed values for signed specs)."""
    a = np.asarray(a, dtype=np.int64) % (1 << spec.a_width)
    b = np.asarray(b, dtype=np.int64) % (1 << spec.b_width)
    raw, _ = run_harness(harness_for(spec), spec.a_width, spec.b_width, np.stack([a, b], axis=1))
    return _to_values(raw, spec)
