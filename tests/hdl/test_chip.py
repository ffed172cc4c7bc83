"""Chip specs, presets, emitted Verilog (lint) and the cocotb bank testbench."""

import json

import numpy as np
import pytest

from axforge.cli import main
from axforge.errors import AxforgeError
from axforge.generators.chip import PRESETS, ChipSpec, chip_verilog, load_chip, preset
from axforge.sim.chip_sim import TB_VERILATOR_ARGS, chip_luts, run_chip_tb, tb_access_vlt, tb_files
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


def test_cocotb_build_makes_public_only_what_the_bench_reads():
    """cocotb's --public-flat-rw is undone; the bench top's ports and array 1's PE registers stay readable."""
    assert "--no-public-flat-rw" in TB_VERILATOR_ARGS
    chip = preset("tiny2x2")
    top, files = tb_files(chip)
    assert top == f"axf_tb_{chip.top}" and list(files)[0] == f"{top}.v" and "tb_access.vlt" in files
    rules = [ln for ln in tb_access_vlt(chip).splitlines() if ln.startswith("public")]
    assert rules == [f'public_flat_rw -module "{top}" -var "*"'] + [
        f'public_flat_rd -module "{chip.pe_module(1)}" -var "{n}"' for n in ("a_out", "w_out", "psum_out")]
    one = ChipSpec.from_dict({"rows": 2, "cols": 2, "multipliers": ["exact:8x8u"]})
    assert [ln for ln in tb_access_vlt(one).splitlines() if ln.startswith("public")] == [
        f'public_flat_rw -module "axf_tb_{one.top}" -var "*"']


@pytest.mark.parametrize("chip", [preset("tiny2x2"), ChipSpec.from_dict(CUSTOM)], ids=["tiny2x2", "mix3x4s"])
def test_bench_top_is_lint_clean(chip, tmp_path):
    """The burst transactor around the chip passes verilator -Wall too (the bench builds it)."""
    top, files = tb_files(chip, simulator="icarus")
    for n, t in files.items():
        (tmp_path / n).write_text(t)
    paths = [tmp_path / n for n in files if n.endswith(".vlt")] + [tmp_path / n for n in files if n.endswith(".v")]
    assert lint(paths, top) == []
    text = files[f"{top}.v"]
    assert f"{chip.top} chip (" in text and f"input [{256 * chip.rows * chip.a_width - 1}:0] burst_beats;" in text


@pytest.mark.parametrize("width, signed", [(8, False), (8, True), (5, True), (4, False), (16, True), (1, False)])
def test_testbench_packs_payloads_like_chip_sim(width, signed):
    """The bench's vectorised packing gives the integers of chip_sim.pack, row by row."""
    from axforge.sim.chip_sim import pack
    from axforge.sim.tb_chip import _pack_rows
    rng = np.random.default_rng(width)
    lo, hi = (-(1 << (width - 1)), 1 << (width - 1)) if signed else (0, 1 << width)
    x = rng.integers(lo, hi, (9, 13))
    assert _pack_rows(x, width) == [pack(row, width) for row in x]
    assert _pack_rows(x[3::-1], width) == [pack(x[i], width) for i in reversed(range(4))]
    assert _pack_rows(np.zeros((0, 13), np.int64), width) == []


@pytest.mark.cocotb
@pytest.mark.parametrize("chip", [preset("tiny2x2"), ChipSpec.from_dict(CUSTOM)], ids=["tiny2x2", "mix3x4s"])
def test_cocotb_bank(chip):
    stats = run_chip_tb(chip, seed=3)
    assert stats["latency_cycles"] == stats["formula_cycles"] == chip.rows + chip.cols - 1
    assert stats["input_cycles_for_M"] == stats["output_cycles_for_M"] == stats["M"]
    assert stats["backpressure_results_checked"] > 20
    # the rate test streamed its vectors at one per cycle (plus the pipeline's latency)
    assert stats["rate_cycles"] == stats["rate_vectors"] + chip.rows + chip.cols - 1
    # ... and through one burst: the start cycle, the vectors, the drain allowance, the read-back cycle
    assert stats["burst_rate_cycles"] == stats["rate_vectors"] + chip.rows + chip.cols + 4
    assert stats["burst_results_checked"] > stats["burst_depth"] * len(chip.mult_specs)


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


def test_workload_tiles_and_idle_arrays_do_not_toggle(tmp_path, capsys):
    """A K x N product larger than the array, tiled; the unselected array has zero data toggles."""
    rng = np.random.default_rng(5)
    np.savez(tmp_path / "layer.npz", x=rng.integers(0, 16, (9, 5)), w=rng.integers(0, 16, (5, 3)))
    assert main(["chip", "sim", "--preset", "tiny2x2", "--workload", str(tmp_path / "layer.npz"),
                 "--route", "1", "--activity", "-o", str(tmp_path / "s")]) == 0
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["bit_exact_vs_lut_model"] is True
    act = json.loads((tmp_path / "s" / "activity.json").read_text())
    assert act["arrays"][0]["toggles"] == 0 < act["arrays"][1]["toggles"]
    assert all(t > 0 for row in act["arrays"][1]["pe_toggles"] for t in row)
    assert (tmp_path / "s" / "activity.png").read_bytes()[:4] == b"\x89PNG"
    x = np.load(tmp_path / "layer.npz")["x"]
    w = np.load(tmp_path / "layer.npz")["w"]
    y = np.load(tmp_path / "s" / "results.npy")
    # array 1 is trunc:4x4u:k=3: the partial products a_i w_j with i + j < 3 are not built
    trunc = sum(((x[:, :, None] >> i) & 1) * ((w[None, :, :] >> j) & 1) << (i + j)
                for i in range(4) for j in range(4) if i + j >= 3)
    assert np.array_equal(y, trunc.sum(1)) and not np.array_equal(y, x @ w)


def test_bad_workloads(tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", x=np.zeros((4, 3), np.int64), w=np.zeros((2, 2), np.int64))
    assert main(["chip", "sim", "--preset", "tiny2x2", "--workload", str(tmp_path / "bad.npz"),
                 "-o", str(tmp_path / "o")]) == 2
    assert "must chain" in capsys.readouterr().err and not (tmp_path / "o").exists()
    np.savez(tmp_path / "big.npz", x=np.full((4, 2), 16, np.int64), w=np.zeros((2, 2), np.int64))
    assert main(["chip", "sim", "--preset", "tiny2x2", "--workload", str(tmp_path / "big.npz"),
                 "-o", str(tmp_path / "o")]) == 2
    assert "x must lie in [0, 15]" in capsys.readouterr().err
    assert main(["chip", "sim", "--preset", "tiny2x2", "--route", "2", "-o", str(tmp_path / "o")]) == 2
    assert "Route must be an array index between 0 and 1, not 2" in capsys.readouterr().err


def test_chip_ppa_reports_array_and_multiplier_energy(tmp_path, capsys):
    assert main(["ppa", "chip:tiny2x2", "--route", "1", "-o", str(tmp_path / "p")]) == 0
    data = json.loads((tmp_path / "p" / "ppa.json").read_text())
    assert data["equivalence"].startswith("workload: 512 of 512 outputs equal")
    for k in ("area_um2", "delay_ns", "leakage_uw", "energy_pj_per_mac", "mult_energy_pj_per_op", "power_mw"):
        assert data[k] > 0, k
    # the array pays for registers, adders and clocking on top of the multiplier
    assert data["energy_pj_per_mac"] > 2 * data["mult_energy_pj_per_op"]
    exact = json.loads((lambda: (main(["ppa", "chip:tiny2x2", "--route", "0", "-o", str(tmp_path / "q")]),
                                 (tmp_path / "q" / "ppa.json").read_text())[1])())
    assert exact["area_um2"] == data["area_um2"]           # same chip
    assert exact["mult_energy_pj_per_op"] > data["mult_energy_pj_per_op"]   # truncation saves energy


def test_tb_tests_lists_the_benchs_cocotb_tests():
    """chip verify offers exactly the bench's cocotb tests, in the order cocotb runs them."""
    import inspect

    from axforge.sim import tb_chip
    from axforge.sim.chip_sim import TB_TESTS
    src = inspect.getsource(tb_chip)
    defined = sorted((n for n in vars(tb_chip) if n.startswith("test_")), key=lambda n: src.index(f"def {n}("))
    assert tuple(defined) == TB_TESTS


def test_chip_verify_cli_errors(capsys):
    assert main(["chip", "verify", "--preset", "tiny2x2", "--test", "test_nope"]) == 2
    err = capsys.readouterr().err
    assert "Test must be one of test_matmul_backpressure_and_route" in err and err.count("\n") == 1
    assert main(["chip", "verify", "--preset", "tiny2x2", "--rate-vectors", "0"]) == 2
    assert "--rate-vectors must be a positive integer, not 0" in capsys.readouterr().err


@pytest.mark.cocotb
def test_chip_verify_cli_runs_the_cocotb_bench(capsys):
    assert main(["chip", "verify", "--preset", "tiny2x2", "--test", "test_latency_and_throughput"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] and out["tests"] == ["test_latency_and_throughput"]
    assert out["latency_cycles"] == out["formula_cycles"] == 3
