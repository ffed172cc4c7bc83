"""docs/extending.md: its example design runs through emit, lint and PPA as the page says."""

import importlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def _blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture(scope="module")
def adder_module(tmp_path_factory):
    """The page's first block as a module file of its own, imported as a user would."""
    folder = tmp_path_factory.mktemp("extending")
    (folder / "my_adder.py").write_text(_blocks()[0])
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("my_adder")
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("my_adder", None)


def test_the_design_is_short():
    assert len(_blocks()[0].strip().splitlines()) < 40


def test_emit_lint_ppa(adder_module, tmp_path, monkeypatch, capsys):
    from axforge.generators.design import DESIGNS
    from axforge.pdk_stub.gate import gate_level
    from axforge.pdk_stub.pdk import default_pdk
    from axforge.sim.workloads import PairStream

    monkeypatch.chdir(tmp_path)
    exec(compile(_blocks()[1], str(DOC), "exec"), dict(adder_module.__dict__))
    out = capsys.readouterr().out
    ppa = eval(out.strip().splitlines()[-1])
    adder = adder_module.AdderDesign(8)
    assert DESIGNS["adder"] is adder_module.AdderDesign
    man = json.loads((tmp_path / "out" / "adder8" / "manifest.json").read_text())
    assert man["kind"] == "adder" and man["top"] == adder.top
    assert sorted((p["name"], p["direction"], p["width"]) for p in man["ports"]) == [
        ("a", "input", 8), ("b", "input", 8), ("clk", "input", 1), ("p", "output", 9), ("rst", "input", 1)]
    assert (tmp_path / "out" / "adder8" / "synth.ys").read_text().count("read_verilog") == 1
    # nine flops and an 8-bit adder: some area, a register on every output bit, energy per add
    assert ppa["area_um2"] > 0 and ppa["energy_pj_per_op"] > 0 and ppa["delay_ns"] > 0
    assert ppa["equivalence"] == "exhaustive: 65536 of 65536 input pairs equal to the RTL LUT"
    # and the RTL adds: the exhaustive table of the RTL run is a + b
    raw = np.array([[3, 4], [255, 255]], dtype=np.uint32)
    wl = PairStream(raw, 8, 8)
    g = gate_level(adder, default_pdk(), wl)
    idx = np.arange(1 << 16)
    assert np.array_equal(wl.table, (idx >> 8) + (idx & 255))
    assert g.outputs.tolist() == [7, 510]
