"""Verilator waivers for what a design does on purpose, derived from its function.

Perforated rows and truncated or broken columns leave operand bits that no
product depends on; Verilator rightly reports them as UNUSEDSIGNAL. The bits
are found from the bit-accurate model (flip the bit: does any product
change?), not from the lint output, so a bit that a bug disconnects is still
reported. Registered designs also waive PROCASSINIT on the output register,
which is how Amaranth emits reset values.
"""

import numpy as np

from axforge.hdl.arith.base import to_signed

__all__ = ["unused_input_bits", "waiver_text"]

_SAMPLES = 1 << 16


def _operand_pairs(spec, rng):
    if spec.a_width + spec.b_width <= 16:
        return spec.operands()
    ra = rng.integers(0, 1 << spec.a_width, _SAMPLES)
    rb = rng.integers(0, 1 << spec.b_width, _SAMPLES)
    if spec.signed:
        return to_signed(ra, spec.a_width), to_signed(rb, spec.b_width)
    return ra, rb


def unused_input_bits(spec):
    """``{"a": [bit, ...], "b": [...]}``: operand bits no product depends on."""
    if spec.family == "verilog":
        return {"a": [], "b": []}
    rng = np.random.default_rng(0)
    a, b = _operand_pairs(spec, rng)
    base = spec.model(a, b)
    out = {"a": [], "b": []}
    for port, width in (("a", spec.a_width), ("b", spec.b_width)):
        for i in range(width):
            if port == "a":
                fa = (a % (1 << width)) ^ (1 << i)
                fa = to_signed(fa, width) if spec.signed else fa
                flipped = spec.model(fa, b)
            else:
                fb = (b % (1 << width)) ^ (1 << i)
                fb = to_signed(fb, width) if spec.signed else fb
                flipped = spec.model(a, fb)
            if np.array_equal(flipped, base):
                out[port].append(i)
    return out


def waiver_text(spec, file_name):
    """Contents of a ``.vlt`` waiver file ('' when nothing needs waiving)."""
    rules = []
    for port, bits in unused_input_bits(spec).items():
        for i in bits:
            rules.append(f'lint_off -rule UNUSEDSIGNAL -file "*{file_name}" -match "*\'{port}\'*"'
                         f"  // bit {i} unused by design")
    if spec.registered:
        rules.append(f'lint_off -rule PROCASSINIT -file "*{file_name}" -match "*\'p\'*"')
    if not rules:
        return ""
    seen = []
    for r in rules:
        key = r.split("  //")[0]
        if key not in [s.split("  //")[0] for s in seen]:
            seen.append(r)
    header = "`verilator_config\n// Intentional: derived from the design's function by axforge.\n"
    return header + "".join(r.split("  //")[0] + "\n" for r in seen)
