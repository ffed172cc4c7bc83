"""Chip specs, presets, emitted Verilog (lint) and the cocotb bank testbench."""

import json

import numpy as np
import pytest

from axforge.cli import main
from axforge.errors import AxforgeError
from axforge.generators.chip import PRESETS, ChipSpec, chip_verilog, emit_chip, load_chip, preset
from axforge.sim.chip_sim import chip_luts, run_chip_tb
from axforge.sim.verilator import lint


def _lint(chip, tmp_path):
    files = chip_verilog(chip)
    for n, t in files.items():
        (tmp_path / n).write_text(t)
    paths = [tmp_path / n for n in files if n.endswith(".vlt")] + [tmp_path / n for n in files if n.endswith(".v")]
    return lint(paths, chip.top)


@pytest.mark.parametrize("data, msg", [
    ({"rows": 1, "cols": 4, "multipliers": ["exact:8x8u"]}, "Chip key 'rows' must be an integer between 2 and 64, not 1"),
    ({"rows": 4, "cols": 65, "multipliers": ["exact:8x8u"]}, "Chip key 'cols' must be an integer between 2 and 64, not 65"),
    ({"rows": 4, "cols": 4, "multipliers": ["exact:4x4u"]},
     "Chip key 'multipliers[0]' widths must be 8x8u (the PE's operand type), not '4x4u'"),
    ({"rows": 4, "cols": 4, "dataflow": "rs", "multipliers": ["exact:8x8u"]},
     "Chip key 'dataflow' must be one of ws, os, not 'rs'"),
    ({"rows": 4, "cols": 4, "multipliers": ["exact:8x8u"], "dataflw": "ws"}, "unknown key 'dataflw'"),
    ({"rows": 4, "multipliers": ["exact:8x8u"]}, "missing key 'cols'"),
    ({"rows": 4, "cols": 4, "multipliers": ["foo:8x8u"]}, "foo"),
    ({"rows": 4, "cols": 4, "multipliers": ["exact:8x8u"], "acc_width": 12},
     "Chip key 'acc_width' must be an integer between 16 and 64, not 12"),
])
def test_bad_chip_specs(data, msg):
    with pytest.raises(AxforgeError, match=None) as exc:
        ChipSpec.from_dict(data)
    assert msg in str(exc.value)


def test_yaml_and_cli_errors_write_nothing(tmp_path, capsys):
    bad = tmp_path / "chip.yaml"
    bad.write_text("rows: 4\ncols: 4\nmultipliers: [exact:8x8u, trunc:8x4u:k=2]\n")
    assert main(["chip", "gen", str(bad), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "multipliers[1]' widths must be 8x8u" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
    bad.write_text("rows: [4\n")
    assert main(["chip", "gen", str(bad), "-o", str(tmp_path / "out")]) == 2
    assert "malformed" in capsys.readouterr().err
    assert main(["chip", "gen", "--preset", "nope", "-o", str(tmp_path / "out")]) == 2
    assert "Preset must be one of tiny2x2" in capsys.readouterr().err


def test_gen_writes_a_complete_chip(tmp_path, capsys):
    assert main(["chip", "gen", "--preset", "tiny2x2", "-o", str(tmp_path / "c")]) == 0
    man = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert man["latency_cycles"] == 3 and len(man["arrays"]) == 2
    names = {p.name for p in (tmp_path / "c").iterdir()}
    assert {"filelist.f", "synth.ys", "cells.lib", "chip.yaml", f"{man['top']}.v"} <= names
    # the chip.yaml round-trips to the same design
    assert load_chip(tmp_path / "c" / "chip.yaml").content_hash == preset("tiny2x2").content_hash
    # hierarchical: one PE module per multiplier, instantiated rows x cols times
    arr = (tmp_path / "c" / f"{man['arrays'][0]['module']}.v").read_text()
    assert arr.count("axf_pe_") == 4


def test_tiny_preset_is_lint_clean(tmp_path):
    assert _lint(preset("tiny2x2"), tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_lint_clean(name, tmp_path):
    assert _lint(preset(name), tmp_path) == []


CUSTOM = {"name": "mix3x4", "rows": 3, "cols": 4, "a_width": 5, "b_width": 4, "signed": True,
          "multipliers": ["exact:5x4s:arch=booth", "drum:5x4s:k=3", "trunc:5x4s:k=3,comp=var"]}


@pytest.mark.cocotb
@pytest.mark.parametrize("chip", [preset("tiny2x2"), ChipSpec.from_dict(CUSTOM)], ids=["tiny2x2", "mix3x4s"])
def test_cocotb_bank(chip):
    stats = run_chip_tb(chip, seed=3)
    assert stats["latency_cycles"] == stats["formula_cycles"] == chip.rows + chip.cols - 1
    assert stats["input_cycles_for_M"] == stats["output_cycles_for_M"] == stats["M"]
    assert stats["backpressure_results_checked"] > 20


@pytest.mark.cocotb
def test_cocotb_bank_detects_a_wrong_model():
    chip = preset("tiny2x2")
    luts = chip_luts(chip)
    assert not np.array_equal(luts[0], luts[1])
    with pytest.raises(AssertionError, match="differ|got"):
        run_chip_tb(chip, testcase="test_matmul_backpressure_and_route", model_luts=[luts[1], luts[0]])


@pytest.mark.slow
@pytest.mark.cocotb
@pytest.mark.parametrize("name", ["autoapprox4", "signed8"])
def test_cocotb_presets(name):
    chip = preset(name)
    stats = run_chip_tb(chip)
    assert stats["latency_cycles"] == chip.rows + chip.cols - 1
