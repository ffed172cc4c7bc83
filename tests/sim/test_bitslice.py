"""sim/bitslice.py: the bit-sliced LUT harness equals the one-pair harness on the Verilog as emitted."""

import numpy as np
import pytest

from axforge.generators.emit import design_hash, verilog_text
from axforge.hdl.arith import MultSpec
from axforge.sim import verilator
from axforge.sim.bitslice import SLICE_TOP, Unsliceable, bitslice_top
from axforge.sim.lut import harness_for

# An approximate design, signed designs and a non-square one.
SPECS = ["mitchell:8x8u:ec=1", "exact:8x8s:arch=booth", "drum:8x8s:k=4", "exact:8x4u:arch=wallace",
         "trunc:4x6s:k=3,comp=const"]


def _lut(spec, sliced):
    raw, _ = verilator.run_harness(harness_for(spec, sliced), spec.a_width, spec.b_width)
    return raw


@pytest.mark.parametrize("text", SPECS)
def test_sliced_equals_single_pair(text):
    spec = MultSpec.parse(text)
    sliced, single = _lut(spec, True), _lut(spec, False)
    assert sliced.size == 1 << (spec.a_width + spec.b_width)
    assert np.array_equal(sliced, single)


@pytest.mark.parametrize("text", ["mitchell:8x8u:ec=1", "exact:8x4u:arch=wallace", "trunc:16x12s:k=10,comp=var"])
def test_sliced_pairs_mode(text):
    spec = MultSpec.parse(text)
    rng = np.random.default_rng(7)
    pairs = np.stack([rng.integers(0, 1 << spec.a_width, 1001), rng.integers(0, 1 << spec.b_width, 1001)], axis=1)
    got = [verilator.run_harness(harness_for(spec, s), spec.a_width, spec.b_width, pairs)[0] for s in (True, False)]
    assert got[0].size == 1001 and np.array_equal(got[0], got[1])


def test_sliced_top_is_plain_gates():
    spec = MultSpec.parse("mitchell:8x8u:ec=1")
    text, header = bitslice_top(verilog_text(spec), spec.module_name, 8, 8, 16)
    assert f"module {SLICE_TOP} (" in text and "input wire [63:0] a7" in text and "output wire [63:0] p15" in text
    assert "#define AXF_BITSLICE 64" in header and "#define AXF_OUT_BITS 16" in header


def test_unsliceable_designs_are_refused():
    spec = MultSpec.parse("exact:4x4u:arch=array,reg=1")
    ports = r"Ports of axf_exact_4x4u_\w+ must be inputs a\[4\], b\[4\] and output p\[8\], not input a\[4\]"
    with pytest.raises(Unsliceable, match=ports):
        bitslice_top(verilog_text(spec), spec.module_name, 4, 4, 8)
    flop = {"f.v": "module f(input [3:0] a, input [3:0] b, output [7:0] p);\n  reg [3:0] q;\n"
                   "  always @(posedge a[0]) q <= b;\n  assign p = q * b;\nendmodule\n"}
    with pytest.raises(Unsliceable, match=r"f lowers to a \$_DFF_P_ cell, not plain gates"):
        bitslice_top(flop, "f", 4, 4, 8)


def test_cache_key_covers_the_build(monkeypatch):
    spec = MultSpec.parse("exact:4x4u:arch=behav")
    files, key, top = verilog_text(spec), design_hash(spec), spec.module_name
    plain = verilator.build_harness(key, files, top)
    sliced = verilator.build_harness(key, files, top, sliced_widths=(4, 4, 8))
    assert plain != sliced
    monkeypatch.setattr(verilator, "CXXFLAGS", ["-O2", "-std=gnu++20", "-w"])
    assert verilator.build_harness(key, files, top) != plain


def test_imported_design_is_sliced(tmp_path):
    src = tmp_path / "mul4s.v"
    src.write_text("module mul4s(input signed [3:0] A, input signed [3:0] B, output signed [7:0] O);\n"
                   "  assign O = A * B;\nendmodule\n")
    spec = MultSpec.parse(f"verilog:{src}@mul4s:s")
    assert np.array_equal(_lut(spec, True), _lut(spec, False))
    a, b = spec.operands()
    raw = _lut(spec, True).astype(np.int64)
    assert np.array_equal(np.where(raw >= 128, raw - 256, raw), a * b)


def test_unsliceable_design_keeps_the_one_pair_harness():
    files = {"g.v": "module g(input [3:0] a, input [3:0] b, output [7:0] p);\n  reg [3:0] q;\n"
                    "  always @(posedge a[0]) q <= b;\n  assign p = a * b;\nendmodule\n"}
    exe = verilator.build_harness("test-unsliceable-g", files, "g", sliced_widths=(4, 4, 8))
    raw, _ = verilator.run_harness(exe, 4, 4)
    idx = np.arange(256)
    assert np.array_equal(raw, (idx >> 4) * (idx & 15))
