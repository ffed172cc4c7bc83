"""The stub SRAM compiler: its model, its macro cells, and memories mapped onto it by the NPU's
synthesis script (hierarchical, ``memory_libmap``), with every number checked against the model.

The NPU's gate-level tests (``test_npu_ppa.py``, slow) run netlists with macros against the RTL and
the golden model; here a small memory design is synthesized (seconds) and checked cell by cell.
"""

import pytest

from axforge.errors import AxforgeError
from axforge.generators.synth_hier import MEMORY_FILES, hierarchical_script
from axforge.pdk_stub.flow import synthesize
from axforge.pdk_stub.pdk import PDK, default_pdk
from axforge.pdk_stub.sram import MACRO, STUB45_SRAM, MacroCell, macro_name, parse_macro
from axforge.pdk_stub.sta import analyze, net_info
from axforge.pdk_stub.stub45 import CELLS_V_PATH, LIB_PATH

M = STUB45_SRAM

# two memories with a synchronous read port: 64 x 8 (a macro is far cheaper than 512 flip-flops)
# and 16 x 1 (16 flip-flops are cheaper than the smallest macro's periphery)
MEMS_V = """
module mems (input clk, input we, input re, input [5:0] wa, input [5:0] ra, input [7:0] wd, output reg [7:0] rd,
             input [3:0] sa, input [3:0] sb, input sd, input swe, output reg sq);
  reg [7:0] big [0:63];
  reg small [0:15];
  always @(posedge clk) begin
    if (we) big[wa] <= wd;
    if (re) rd <= big[ra];
    if (swe) small[sa] <= sd;
    sq <= small[sb];
  end
endmodule
"""


def test_names_round_trip_and_reject_other_cells():
    assert macro_name(9, 8) == "AXF_SRAM_512x8" and parse_macro("AXF_SRAM_512x8") == (9, 8)
    assert parse_macro("AXF_SRAM_48x8") is None            # not a power of two
    assert parse_macro("DFF_X1") is None and parse_macro("AXF_SRAM") is None


def test_model_is_the_documented_linear_formulas():
    rows, w = 512, 8
    assert M.area(9, 8) == pytest.approx(0.5 * rows * w + 2.5 * rows + 25.0 * w + 300.0)
    assert M.read_fj(9, 8) == pytest.approx(120.0 + 0.5 * rows + w * (15.0 + 0.12 * rows))
    assert M.write_fj(9, 8) == pytest.approx(150.0 + 0.5 * rows + w * (20.0 + 0.25 * rows))
    assert M.leakage_nw(9, 8) == pytest.approx(2.0 * rows * w + 30.0 * rows + 150.0 * w + 500.0)
    assert M.access_time_ns(9, 8) == pytest.approx(0.30 + 0.0006 * rows + 0.004 * w)
    # a write swings the bitlines fully: dearer than a read; more rows or columns cost more
    assert M.write_fj(9, 8) > M.read_fj(9, 8)
    assert M.area(10, 8) > M.area(9, 8) < M.area(9, 16)
    with pytest.raises(AxforgeError, match="address bits"):
        M.cell(13, 8)
    with pytest.raises(AxforgeError, match="data bits"):
        M.cell(9, 65)


def test_library_answers_every_macro_size():
    lib = default_pdk().library
    cell = lib.cells["AXF_SRAM_256x16"]
    assert isinstance(cell, MacroCell) and cell.sequential and (cell.abits, cell.width) == (8, 16)
    assert cell.area == pytest.approx(M.area(8, 16)) and cell.read_fj == pytest.approx(M.read_fj(8, 16))
    assert "AXF_SRAM_32x3" in lib.cells and lib.cells.get("AXF_SRAM_33x3") is None
    assert lib.cells.get("NOPE_X1") is None
    with pytest.raises(KeyError):
        lib.cells["NOPE_X1"]
    rd = cell.pins["RD"]
    assert rd.direction == "output" and rd.arcs[0].timing_type == "rising_edge"
    assert rd.arcs[0].delay(0.02, 0.0) == pytest.approx(M.access_time_ns(8, 16))
    assert cell.pins["RCK"].clock and cell.pins["RA"].setup_ns == M.setup_ns


def test_a_pdk_without_compiler_maps_memories_to_flip_flops():
    plain = PDK(str(LIB_PATH), str(CELLS_V_PATH), "plain")
    assert "AXF_SRAM_64x8" not in plain.library.cells and MACRO not in plain.cells_verilog()
    assert "ram" not in plain.memory_files()["memlib"].replace("no SRAM", "")
    assert plain.digest != default_pdk().digest
    assert f"module {MACRO}" in default_pdk().cells_verilog()


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    files = {"mems.v": MEMS_V}
    return synthesize(files, "mems", default_pdk(), tmp_path_factory.mktemp("synth"), cache=False,
                      script=lambda sources: hierarchical_script(sources, "mems"))


def test_the_big_memory_becomes_a_macro_and_the_small_one_flip_flops(mapped):
    types = [c["type"] for c in mapped.module["cells"].values()]
    assert types.count("AXF_SRAM_64x8") == 1 and not any(t.startswith("AXF_SRAM") and t != "AXF_SRAM_64x8"
                                                           for t in types)
    assert types.count("DFF_X1") >= 16 + 1          # the small memory's 16 bits and its read register
    (name,) = [n for n, c in mapped.module["cells"].items() if c["type"] == "AXF_SRAM_64x8"]
    assert name == "m0"
    # its read enable is the design's, not emulated around the macro
    conn = mapped.module["cells"][name]["connections"]
    ports = mapped.module["ports"]
    assert conn["RE"] == ports["re"]["bits"] and conn["RA"] == ports["ra"]["bits"]
    assert conn["RD"] == ports["rd"]["bits"] and conn["WE"] == ports["we"]["bits"]
    # stat counts Liberty cells only: the flow adds the macro's area from the model
    assert mapped.stat["macro_area"] == pytest.approx(M.area(6, 8))
    assert mapped.stat["num_cells_by_type"]["AXF_SRAM_64x8"] == 1


def test_timing_starts_at_the_macro(mapped):
    # the read register is the macro's own: its clock-to-RD arc drives the output port directly
    lib = default_pdk().library
    info = net_info(mapped.module, lib)
    delay, path = analyze(mapped.module, lib, info)
    (bit,) = [b for b, n in info.names.items() if n == "rd[0]"]
    want = M.access_time_ns(6, 8) + M.drive_ns_per_ff * info.cap_ff[bit]
    assert path[0]["through"] == "m0:AXF_SRAM_64x8.RCK->RD" and path[0]["arrival_ns"] == pytest.approx(want, abs=1e-4)
    assert delay == pytest.approx(want, abs=1e-4)


def test_the_memory_files_are_what_the_script_reads():
    files = default_pdk().memory_files()
    assert set(files) == set(MEMORY_FILES)
    script = hierarchical_script(["a.v"], "top")
    for kind, name in MEMORY_FILES.items():
        assert name in script
    assert "synth -flatten" not in script and script.index("abc -liberty") < script.index("flatten")
    assert "memory_libmap" in script and '$__AXF_SRAM_' in files["memlib"] and MACRO in files["techmap"]
