"""Imported Verilog netlists: ports from Yosys, errors, library, LUT and lint."""

import numpy as np
import pytest

from axforge.errors import AxforgeError
from axforge.hdl.arith import MultSpec
from axforge.hdl.arith.imported import import_to_library, list_library
from axforge.sim.lut import extract_lut

# A hand-written 4x4 truncated multiplier in the EvoApproxLib port style (A, B, O).
GOOD = """
module mul4u_tr(A, B, O);
  input [3:0] A;
  input [3:0] B;
  output [7:0] O;
  wire [7:0] full = A * B;
  assign O = {full[7:2], 2'b00};
endmodule
"""


@pytest.fixture
def good_v(tmp_path):
    p = tmp_path / "mul4u_tr.v"
    p.write_text(GOOD)
    return p


def test_import_spec_lut(good_v):
    spec = MultSpec.parse(f"verilog:{good_v}@mul4u_tr")
    assert (spec.a_width, spec.b_width, spec.signed) == (4, 4, False)
    lut = extract_lut(spec)
    a, b = spec.operands()
    assert np.array_equal(lut, (a * b) & ~3)
    signed = MultSpec.parse(f"verilog:{good_v}@mul4u_tr:s")
    assert extract_lut(signed).min() < 0


def test_import_into_library(good_v, user_library):
    name, spec = import_to_library(good_v, "mul4u_tr", False)
    assert name == "mul4u_tr" and (user_library / "mul4u_tr.v").exists()
    assert [n for n, _ in list_library()] == ["mul4u_tr"]
    assert MultSpec.parse("lib:mul4u_tr") == spec


def test_import_errors(tmp_path, good_v):
    with pytest.raises(AxforgeError, match="Verilog file must be an existing file"):
        MultSpec.parse(f"verilog:{tmp_path}/missing.v@x")
    with pytest.raises(AxforgeError, match="Top must be a module defined in .*, not 'nothere'"):
        MultSpec.parse(f"verilog:{good_v}@nothere")
    bad = tmp_path / "bad.v"
    bad.write_text("module m(input [3:0] a, input [3:0] b, output [6:0] o);\n"
                   "assign o = a * b;\nendmodule\n")
    with pytest.raises(AxforgeError, match=r"Width of output port 'o' of m must be 8 \(the sum"):
        MultSpec.parse(f"verilog:{bad}@m")
    three = tmp_path / "three.v"
    three.write_text("module t(input [3:0] a, input [3:0] b, input c, output [7:0] o);\n"
                     "assign o = a * b + c;\nendmodule\n")
    with pytest.raises(AxforgeError, match="Ports of t must be two inputs and one output"):
        MultSpec.parse(f"verilog:{three}@t")
