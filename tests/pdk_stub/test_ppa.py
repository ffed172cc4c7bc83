"""The PPA flow end to end: synthesis, equivalence with the RTL, timing, activity-based energy."""

import json
from pathlib import Path

import numpy as np
import pytest

# the independent reference: own Liberty reader, netlist simulation and timing (same folder, on sys.path)
from test_energy_reference import (
    Circuit,
    hand_delay,
    hand_energy_vectorised,
    read_liberty,
    read_netlist,
)

from axforge.cli import main
from axforge.errors import AxforgeError
from axforge.hdl.arith import MultSpec
from axforge.pdk_stub import flow, gate
from axforge.pdk_stub.ppa import PPA_KEYS, ppa, uniform_stream
from axforge.pdk_stub.stub45 import LIB_PATH

SPEC8 = "exact:8x8u:arch=dadda"


def _p(text, **kw):
    return ppa(MultSpec.parse(text), **kw)


def test_ppa_json_keys_and_power_formula(tmp_path):
    res = _p(SPEC8, freq_mhz=250, out_dir=tmp_path / "o")
    data = json.loads((tmp_path / "o" / "ppa.json").read_text())
    for k in PPA_KEYS + ("critical_path",):
        assert k in data
    assert data["equivalence"].startswith("exhaustive: 65536 of 65536")
    assert data["power_mw"] == pytest.approx(res["energy_pj_per_op"] * 250 / 1000 + res["leakage_uw"] / 1000,
                                             rel=1e-5)
    path = data["critical_path"]
    assert path[0]["net"].startswith(("a[", "b[")) and path[-1]["net"].startswith("p[")
    assert path[-1]["arrival_ns"] == pytest.approx(data["delay_ns"])
    assert (tmp_path / "o" / "mapped.v").read_text().count("NAND2_X1") > 10
    # every figure against an independent reading of the Liberty and of the mapped netlist
    lib, circ = _independent(tmp_path / "o" / "mapped.v")
    types = [t for t, _, _ in circ.cells]
    assert data["cells"] == len(types) and sum(data["cell_counts"].values()) == len(types)
    assert data["area_um2"] == pytest.approx(sum(lib["cells"][t]["area"] for t in types), abs=5.01e-5)
    assert data["leakage_uw"] == pytest.approx(sum(lib["cells"][t]["leakage_nw"] for t in types) / 1000,
                                               abs=5.01e-7)
    assert data["delay_ns"] == pytest.approx(hand_delay(lib, circ)[0], abs=5.01e-6)
    _, internal, ops, _ = hand_energy_vectorised(lib, circ, uniform_stream(MultSpec.parse(SPEC8)), 8, 8)
    assert data["stream"]["vectors"] == 65536 and ops == 65535
    assert data["energy_breakdown_pj_per_op"]["internal"] == pytest.approx(internal / ops / 1000, abs=5.01e-7)


def _independent(mapped_v):
    lib = read_liberty(LIB_PATH.read_text())
    return lib, Circuit(lib, *read_netlist(Path(mapped_v).read_text()))


def test_switching_energy_of_the_8x8_dadda_equals_a_hand_computation(tmp_path):
    res = _p(SPEC8, out_dir=tmp_path / "o")
    lib, circ = _independent(tmp_path / "o" / "mapped.v")
    switching, internal, ops, _ = hand_energy_vectorised(lib, circ, uniform_stream(MultSpec.parse(SPEC8)), 8, 8)
    assert res["energy_breakdown_pj_per_op"]["switching"] == pytest.approx(switching / ops / 1000, abs=5.01e-7)
    assert res["energy_pj_per_op"] == pytest.approx((switching + internal) / ops / 1000, abs=5.01e-7)


def test_ranking_follows_truncation_and_exact_architectures():
    exact = _p("exact:8x8u:arch=dadda")
    t4 = _p("trunc:8x8u:k=4")
    t8 = _p("trunc:8x8u:k=8")
    for key in ("area_um2", "energy_pj_per_op", "leakage_uw"):
        assert t8[key] < t4[key] < exact[key], key
    array = _p("exact:8x8u:arch=array")
    # a ripple array is slower than a Dadda tree of about the same area
    assert array["delay_ns"] > 1.15 * exact["delay_ns"]
    assert 0.7 < array["area_um2"] / exact["area_um2"] < 1.4


def test_energy_depends_on_the_data():
    spec = MultSpec.parse("exact:8x8u:arch=dadda")
    uni = ppa(spec)
    ops = uniform_stream(spec, n=20000, seed=1)
    rng = np.random.default_rng(2)
    ops[rng.random(len(ops)) < 0.7, 0] = 0           # ReLU-like activations: 70 % zeros
    relu = ppa(spec, stream=ops, stream_label="relu")
    assert relu["energy_pj_per_op"] < 0.6 * uni["energy_pj_per_op"]
    assert relu["area_um2"] == uni["area_um2"]


def test_registered_and_signed_designs():
    reg = _p("exact:8x8s:arch=booth,reg=1")
    comb = _p("exact:8x8s:arch=booth")
    assert reg["equivalence"].startswith("exhaustive") and reg["sequential_area_um2"] > 16 * 4.5
    assert reg["area_um2"] > comb["area_um2"] and reg["energy_pj_per_op"] > comb["energy_pj_per_op"]
    assert comb["sequential_area_um2"] == 0


def test_a_synthesis_bug_never_passes(monkeypatch):
    real = flow.synthesize

    def broken(files, top, pdk, work_dir, script=None):
        m = real(files, top, pdk, work_dir, script=script)
        assert "  NAND2_X1 " in m.verilog
        bad = m.verilog.replace("  NAND2_X1 ", "  AND2_X1 ", 1)   # one gate loses its inversion
        return flow.Mapped(m.top, bad, m.netlist, m.stat)

    monkeypatch.setattr(gate, "synthesize", broken)   # the one gate-level path synthesizes
    with pytest.raises(AxforgeError, match="differs from the RTL .* a synthesis bug"):
        _p("exact:6x6u:arch=wallace")


def test_imported_verilog_gets_ppa(tmp_path):
    v = tmp_path / "m.v"
    v.write_text("module m4(input [3:0] A, input [3:0] B, output [7:0] O);\n"
                 "  wire [7:0] f = A * B;\n  assign O = {f[7:2], 2'b00};\nendmodule\n")
    res = ppa(MultSpec.parse(f"verilog:{v}@m4"))
    assert res["equivalence"].startswith("exhaustive: 256 of 256") and res["area_um2"] > 0


def test_cli_ppa_and_bad_streams(tmp_path, capsys):
    out = tmp_path / "ppa"
    assert main(["ppa", "trunc:6x6u:k=4", "-o", str(out), "--emit-script", "--freq-mhz", "200"]) == 0
    data = json.loads((out / "ppa.json").read_text())
    assert data["freq_mhz"] == 200.0
    assert {"synth.ys", "cells.lib", "mapped.v"} <= {p.name for p in out.iterdir()}
    assert "abc -liberty cells.lib" in (out / "synth.ys").read_text()
    capsys.readouterr()
    for arr, msg in ((np.zeros((10, 3), np.int64), "must have shape (N, 2) with N >= 2, not (10, 3)"),
                     (np.zeros((10, 2), np.float32), "must have an integer dtype, not float32"),
                     (np.full((10, 2), 64, np.int64), "operand a must lie in [0, 63]")):
        np.save(tmp_path / "s.npy", arr)
        dest = tmp_path / "bad"
        assert main(["ppa", "trunc:6x6u:k=4", "-o", str(dest), "--stream", str(tmp_path / "s.npy")]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1
        assert not dest.exists()


def test_cli_user_pdk_missing_attribute(tmp_path, capsys):
    from axforge.pdk_stub import stub45
    lib = tmp_path / "mine.lib"
    lib.write_text(stub45.liberty_text().replace("    capacitance : 1.700;\n", "", 1))
    rc = main(["ppa", "trunc:6x6u:k=4", "-o", str(tmp_path / "o"), "--liberty", str(lib),
               "--cells", str(stub45.CELLS_V_PATH)])
    assert rc == 2 and "cell INV_X1 pin A has no capacitance" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_netlist_that_does_not_map_is_reported(tmp_path):
    """A library without flip-flops cannot map a registered design: one line, with the log's path."""
    from axforge.pdk_stub import stub45
    from axforge.pdk_stub.pdk import PDK
    text = stub45.liberty_text()
    for cell in ("DFF_X1", "DFFR_X1"):
        start = text.index(f"  cell ({cell}) {{")
        text = text[:start] + text[text.index("\n  cell (", start + 1) + 1:]
    lib = tmp_path / "noff.lib"
    lib.write_text(text)
    pdk = PDK(str(lib), str(stub45.CELLS_V_PATH))
    with pytest.raises(AxforgeError) as exc:
        ppa(MultSpec.parse("exact:4x4u:arch=dadda,reg=1"), pdk)
    msg = str(exc.value)
    assert ("does not map" in msg or "Yosys failed" in msg) and "\n" not in msg
    import re
    log = re.search(r"full log: (\S+)\)", msg).group(1)
    assert "cannot be legalized" in open(log).read()     # the log outlives the temporary work dir
