"""The stub library, the Liberty reader and static timing (no simulation needed)."""

import re

import pytest

from axforge.errors import AxforgeError
from axforge.pdk_stub import stub45
from axforge.pdk_stub.liberty import load_library, parse
from axforge.pdk_stub.pdk import PDK, default_pdk
from axforge.pdk_stub.sta import analyze, net_info


def test_committed_files_match_the_generator():
    assert stub45.LIB_PATH.read_text() == stub45.liberty_text()
    assert stub45.CELLS_V_PATH.read_text() == stub45.cells_verilog_text()


def test_default_library_has_every_cell_with_its_published_area():
    lib = default_pdk().library
    assert set(stub45.CELLS) <= set(lib.cells)
    # NanGate 45nm OCL X1 areas
    for name, area in {"INV_X1": 0.532, "NAND2_X1": 0.798, "XOR2_X1": 1.596, "FA_X1": 4.256,
                       "DFF_X1": 4.522, "MUX2_X1": 1.862}.items():
        assert lib.cells[name].area == pytest.approx(area)
    assert lib.voltage == pytest.approx(1.1)
    assert lib.cells["DFF_X1"].sequential and lib.cells["DFF_X1"].pins["CK"].energy_fj > 0
    assert lib.cells["DFF_X1"].pins["D"].setup_ns > 0


def test_nldm_table_interpolates_the_linear_model():
    lib = default_pdk().library
    arc = lib.cells["NAND2_X1"].pins["ZN"].arcs[0]
    c = stub45.CELLS["NAND2_X1"]["outputs"]["ZN"]
    slew, load = 0.03, 5.0
    want = max(d0 + stub45.SLEW_K * slew + r * load for d0, r in zip(c["d0"], c["r"]))
    assert arc.delay(slew, load) == pytest.approx(want, rel=1e-6)
    # a heavier load is slower
    assert arc.delay(slew, 20.0) > arc.delay(slew, 5.0)


def _lib_without(tmp_path, cell):
    text = stub45.liberty_text()
    start = text.index(f"  cell ({cell}) {{")
    end = text.index("\n  cell (", start + 1)
    path = tmp_path / "cut.lib"
    path.write_text(text[:start] + text[end + 1:])
    return path


def test_missing_required_cell_is_named(tmp_path):
    path = _lib_without(tmp_path, "FA_X1")
    with pytest.raises(AxforgeError, match=r"missing required cell\(s\): FA_X1"):
        load_library(path, tuple(stub45.CELLS))


def test_missing_attribute_and_bad_syntax(tmp_path):
    bad = tmp_path / "noarea.lib"
    bad.write_text(stub45.liberty_text().replace("    area : 0.532;\n", "", 1))
    with pytest.raises(AxforgeError, match="cell INV_X1 has no area attribute"):
        load_library(bad)
    broken = tmp_path / "broken.lib"
    broken.write_text(stub45.liberty_text()[:5000])
    with pytest.raises(AxforgeError, match="Liberty file"):
        load_library(broken)
    with pytest.raises(AxforgeError, match="nom_voltage"):
        parse_text = stub45.liberty_text().replace("  nom_voltage : 1.1;\n", "")
        p = tmp_path / "nov.lib"
        p.write_text(parse_text)
        load_library(p)


def test_user_pdk_needs_models_for_its_cells(tmp_path):
    models = tmp_path / "cells.v"
    models.write_text(re.sub(r"module FA_X1 .*?endmodule", "", stub45.cells_verilog_text(), flags=re.S))
    pdk = PDK(str(stub45.LIB_PATH), str(models))
    with pytest.raises(AxforgeError, match="lack module\\(s\\) for: FA_X1"):
        pdk.check_models()
    with pytest.raises(AxforgeError, match="PDK liberty must be an existing file"):
        PDK(str(tmp_path / "nope.lib"), str(models))


def test_parse_keeps_complex_attributes():
    g = parse('library (x) { nom_voltage : 1.0; cell (A) { area : 2; pin (Y) { direction : output; '
              'function : "!A"; } } }')
    assert g.args == ["x"] and g.sub("cell")[0].attrs["area"] == "2"


def _chain_module(n):
    """n inverters in a chain from input a to output y (Yosys JSON shape)."""
    cells = {}
    for i in range(n):
        cells[f"u{i}"] = {"type": "INV_X1", "connections": {"A": [2 + i], "ZN": [3 + i]}}
    return {"ports": {"a": {"direction": "input", "bits": [2]}, "y": {"direction": "output", "bits": [2 + n]}},
            "netnames": {}, "cells": cells}


def test_sta_of_an_inverter_chain_is_the_sum_of_its_arcs():
    lib = default_pdk().library
    mod = _chain_module(4)
    info = net_info(mod, lib, output_load_ff=2.0)
    delay, path = analyze(mod, lib, info, input_slew=0.02)
    arc = lib.cells["INV_X1"].pins["ZN"].arcs[0]
    cin = lib.cells["INV_X1"].pins["A"].capacitance
    wire1 = lib.wire_capacitance(1)
    inner_load = cin + wire1
    want, slew = 0.0, 0.02
    for i in range(4):
        load = inner_load if i < 3 else 2.0 + wire1
        want += arc.delay(slew, load)
        slew = arc.transition(0.02, load)
    assert delay == pytest.approx(want, abs=1e-5)
    assert [p["net"] for p in path] == ["a", "3", "4", "5", "y"]


def test_sta_longest_of_two_branches():
    lib = default_pdk().library
    # a -> INV -> y1 (short), a -> 3 x INV -> y2 (long): the long branch sets the delay
    cells = {"s": {"type": "INV_X1", "connections": {"A": [2], "ZN": [3]}}}
    for i in range(3):
        cells[f"l{i}"] = {"type": "INV_X1", "connections": {"A": [2 if i == 0 else 10 + i], "ZN": [11 + i]}}
    mod = {"ports": {"a": {"direction": "input", "bits": [2]}, "y1": {"direction": "output", "bits": [3]},
                     "y2": {"direction": "output", "bits": [13]}}, "netnames": {}, "cells": cells}
    delay, path = analyze(mod, lib)
    assert path[-1]["net"] == "y2" and len(path) == 4
    single, _ = analyze(_chain_module(1), lib)
    assert delay > 2.5 * single
