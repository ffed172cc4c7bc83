"""Bit-sliced LUT models: 64 operand pairs per Verilator ``eval()``.

Yosys lowers the design (``proc; flatten; techmap``) to single-bit gates;
``bitslice_top`` rewrites that netlist so every net is a 64-bit word whose bit
``j`` belongs to lane ``j``: each gate becomes one bitwise operation on
64-bit words, and one ``eval()`` of the resulting top computes 64 pairs.
Verilator still simulates the hardware; only the operand packing changes.
A design that does not lower to plain gates (flip-flops, latches, memories,
``x``/``z`` constants) is refused with :class:`Unsliceable`, and the caller
keeps the one-pair-per-eval harness.
"""

import json
import tempfile
from pathlib import Path

from axforge.errors import AxforgeError
from axforge.yosys import run_yosys

__all__ = ["bitslice_top", "Unsliceable", "SLICE_TOP", "LOWER_SCRIPT"]

SLICE_TOP = "axf_bitslice"
LANES = 64
LOWER_SCRIPT = "hierarchy -top {top}\nproc\nflatten\ntechmap\nopt_clean -purge\nwrite_json lowered.json\n"

# Yosys simple cells -> a bitwise expression over 64-bit words.
_GATES = {
    "$_BUF_": "{A}", "$_NOT_": "~{A}", "$_AND_": "{A} & {B}", "$_OR_": "{A} | {B}",
    "$_XOR_": "{A} ^ {B}", "$_NAND_": "~({A} & {B})", "$_NOR_": "~({A} | {B})",
    "$_XNOR_": "~({A} ^ {B})", "$_ANDNOT_": "{A} & ~{B}", "$_ORNOT_": "{A} | ~{B}",
    "$_MUX_": "({S} & {B}) | (~{S} & {A})", "$_NMUX_": "~(({S} & {B}) | (~{S} & {A}))",
}


class Unsliceable(AxforgeError):
    """The design does not lower to plain combinational gates."""


def _lower(files, top):
    with tempfile.TemporaryDirectory(prefix="axf-slice-") as tmp:
        reads = []
        for name, text in files.items():
            (Path(tmp) / name).write_text(text)
            if name.endswith((".v", ".sv")):
                reads.append(f"read_verilog -sv {name}\n")
        run_yosys("".join(reads) + LOWER_SCRIPT.format(top=top), tmp, "lower.log")
        return json.loads((Path(tmp) / "lowered.json").read_text())["modules"][top]


def bitslice_top(files, top, a_width, b_width, out_width):
    """The bit-sliced top for Verilog ``files`` and the harness header that drives it.

    The top ``axf_bitslice`` has one 64-bit input per operand bit (``a0`` is
    bit 0 of ``a`` in all 64 lanes) and one 64-bit output per product bit.
    Returns ``(Verilog text, C++ header text)``; the header defines
    ``AXF_BITSLICE``, ``axf_set_words`` and ``axf_get_words`` for
    ``harness.cpp``. Raises :class:`Unsliceable` if the design is not plain
    combinational gates with ports ``a``, ``b``, ``p`` of the given widths.
    """
    mod = _lower(files, top)
    ports = mod["ports"]
    want = {"a": ("input", a_width), "b": ("input", b_width), "p": ("output", out_width)}
    if {n: (p["direction"], len(p["bits"])) for n, p in ports.items()} != want:
        have = ", ".join(f"{p['direction']} {n}[{len(p['bits'])}]" for n, p in sorted(ports.items()))
        raise Unsliceable(f"Ports of {top} must be inputs a[{a_width}], b[{b_width}] and output p[{out_width}],"
                          f" not {have}")
    names = {}
    for port in ("a", "b"):
        for i, bit in enumerate(ports[port]["bits"]):
            if not isinstance(bit, int):
                raise Unsliceable(f"Input bit {port}[{i}] of {top} is a constant")
            names.setdefault(bit, f"{port}{i}")

    def net(bit):
        if bit == "0":
            return "64'd0"
        if bit == "1":
            return "~64'd0"
        if not isinstance(bit, int):
            raise Unsliceable(f"{top} has an undefined ('{bit}') bit after lowering")
        if bit not in names and bit not in driven:
            raise Unsliceable(f"{top} has an undriven net after lowering")
        return names.get(bit, f"n{bit}")

    cells = [c for c in mod["cells"].values() if c["type"] != "$scopeinfo"]
    driven = {c["connections"].get("Y", [None])[0] for c in cells}
    body = []
    for cell in cells:
        expr = _GATES.get(cell["type"])
        if expr is None:
            raise Unsliceable(f"{top} lowers to a {cell['type']} cell, not plain gates")
        conn = cell["connections"]
        y = conn["Y"][0]
        if not isinstance(y, int):
            raise Unsliceable(f"{top} drives a constant from a {cell['type']} cell")
        body.append(f"  assign n{y} = {expr.format(**{k: net(v[0]) for k, v in conn.items() if k != 'Y'})};\n")
    wires = "".join(f"  wire [63:0] n{b};\n" for b in sorted(driven))
    outs = "".join(f"  assign p{i} = {net(bit)};\n" for i, bit in enumerate(ports["p"]["bits"]))
    decl = ([f"input wire [63:0] a{i}" for i in range(a_width)] + [f"input wire [63:0] b{i}" for i in range(b_width)]
            + [f"output wire [63:0] p{i}" for i in range(out_width)])
    verilog = (f"// {top} bit-sliced: bit j of every word is lane j\n"
               f"module {SLICE_TOP} (\n  " + ",\n  ".join(decl) + "\n);\n" + wires + "".join(body) + outs
               + "endmodule\n")
    sets = " ".join([f"t.a{i} = wa[{i}];" for i in range(a_width)] + [f"t.b{i} = wb[{i}];" for i in range(b_width)])
    gets = " ".join(f"wp[{i}] = t.p{i};" for i in range(out_width))
    header = ("#pragma once\n#include <cstdint>\n#include \"Vdut.h\"\n"
              f"#define AXF_BITSLICE {LANES}\n#define AXF_OUT_BITS {out_width}\n"
              f"static inline void axf_set_words(Vdut& t, const uint64_t* wa, const uint64_t* wb) {{ {sets} }}\n"
              f"static inline void axf_get_words(const Vdut& t, uint64_t* wp) {{ {gets} }}\n")
    return verilog, header
