"""The axforge CLI: commands, outputs, bad input (exit 2, one line, nothing written)."""

import json
import re

import numpy as np
import pytest

from axforge.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json(capsys):
    code, out, _ = run(capsys, "mult", "list", "--width", "8", "--unsigned", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) >= 150
    assert {"spec", "family", "a_width", "b_width", "signed"} <= set(rows[0])
    code, out, _ = run(capsys, "mult", "list", "--width", "8", "--signed", "--json")
    assert len(json.loads(out)) >= 40 and all(r["signed"] for r in json.loads(out))


def test_gen_and_char(tmp_path, capsys):
    code, out, _ = run(capsys, "mult", "gen", "kulkarni:8x8u:t=1", "-o", str(tmp_path / "g"))
    assert code == 0 and (tmp_path / "g" / "manifest.json").exists()
    code, out, _ = run(capsys, "mult", "char", "kulkarni:8x8u:t=1", "-o", str(tmp_path / "c"),
                       "--plots")
    assert code == 0
    metrics = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert list(metrics) == ["mae", "mae_pct", "wce", "wce_pct", "wcre_pct", "ep_pct",
                             "mre_pct", "mse", "bias"]
    assert np.load(tmp_path / "c" / "lut.npy").shape == (65536,)
    assert (tmp_path / "c" / "heatmap.png").read_bytes()[:4] == b"\x89PNG"
    # only the 3x3 block at digit position 0 is approximate: 9 -> 7 on a quarter of 1/16
    assert metrics["wce"] == 2 and metrics["ep_pct"] == 100 / 16


def test_char_with_distribution(tmp_path, capsys):
    pairs = np.array([[0, 5], [0, 7], [0, 255]], dtype=np.int64)
    np.save(tmp_path / "ops.npy", pairs)
    code, out, _ = run(capsys, "mult", "char", "trunc:8x8u:k=6", "-o", str(tmp_path / "c"),
                       "--dist", str(tmp_path / "ops.npy"))
    assert code == 0 and json.loads(out)["mae"] == 0


def test_char_all_small(tmp_path, capsys):
    code, out, _ = run(capsys, "mult", "char", "--all", "--width", "4", "--family", "drum,kulkarni",
                       "--unsigned", "-o", str(tmp_path / "lib"), "--jobs", "1", "-q", "--no-ppa")
    assert code == 0
    lines = (tmp_path / "lib" / "library.csv").read_text().splitlines()
    assert lines[0].startswith("spec,family,a_width,b_width,signed,gates,mae,")
    assert len(lines) == 1 + 2 + 3  # drum k=2,3 ; kulkarni t=1..3
    assert (tmp_path / "lib" / "error_vs_cost.png").exists()


def test_char_all_with_ppa_columns_and_pareto_plots(tmp_path, capsys):
    code, out, _ = run(capsys, "mult", "char", "--all", "--width", "3", "--family", "drum,exact",
                       "--unsigned", "-o", str(tmp_path / "lib"), "-q")
    assert code == 0
    import csv
    rows = list(csv.DictReader((tmp_path / "lib" / "library.csv").open()))
    # each row's PPA columns are that spec's own flow figures (cached: no second synthesis) ...
    from axforge.hdl.arith import MultSpec
    from axforge.pdk_stub.ppa import ppa
    for r in rows:
        direct = ppa(MultSpec.parse(r["spec"]))
        for col in ("area_um2", "delay_ns", "leakage_uw", "energy_pj_per_op", "power_mw", "cells"):
            assert float(r[col]) == pytest.approx(direct[col], rel=1e-9), (r["spec"], col)
        assert float(r["power_mw"]) == pytest.approx(float(r["energy_pj_per_op"]) * 500 / 1000
                                                     + float(r["leakage_uw"]) / 1000, abs=2e-6)
        assert float(r["area_um2"]) > 0 and float(r["delay_ns"]) > 0 and float(r["energy_pj_per_op"]) > 0
    # ... and for two of them, area, cell count and leakage equal the Liberty's numbers summed over the
    # mapped netlist (read here with regexes, not with the flow's Liberty reader)
    from axforge.pdk_stub.stub45 import LIB_PATH
    lib = {m[0]: (float(m[1]), float(m[2])) for m in re.findall(
        r"cell \((\w+)\) \{\s*area : ([\d.]+);\s*cell_leakage_power : ([\d.]+);", LIB_PATH.read_text())}
    for r in (next(r for r in rows if r["family"] == "drum"), next(r for r in rows if r["spec"].endswith("=array"))):
        ppa(MultSpec.parse(r["spec"]), out_dir=tmp_path / "direct" / r["family"])
        types = re.findall(r"^\s*(\w+_X1)\s+\S+\s*\(", (tmp_path / "direct" / r["family"] / "mapped.v").read_text(),
                           re.M)
        assert int(r["cells"]) == len(types) > 3, r["spec"]
        assert float(r["area_um2"]) == pytest.approx(sum(lib[t][0] for t in types), abs=5.01e-5), r["spec"]
        assert float(r["leakage_uw"]) == pytest.approx(sum(lib[t][1] for t in types) / 1000, abs=5.01e-7), r["spec"]
    assert len(rows) == 6  # exact: 5 architectures; drum: k=2
    drum = next(r for r in rows if r["family"] == "drum")
    assert float(drum["mae_pct"]) > 0 and all(float(r["mae_pct"]) == 0 for r in rows if r["family"] == "exact")
    for png in ("pareto_energy.png", "pareto_area.png"):
        assert (tmp_path / "lib" / png).read_bytes()[:4] == b"\x89PNG"


def test_bad_input_exit_2_nothing_written(tmp_path, capsys):
    for argv in (["mult", "gen", "trunc:8x8u:k=16", "-o", str(tmp_path / "x")],
                 ["mult", "char", "foo:8x8u", "-o", str(tmp_path / "y")],
                 ["mult", "list", "--width", "17"],
                 ["mult", "gen", f"verilog:{tmp_path}/none.v@top", "-o", str(tmp_path / "z")]):
        code, out, err = run(capsys, *argv)
        assert code == 2, argv
        assert err.startswith("axforge: error: ") and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_import_cli(tmp_path, capsys, user_library):
    v = tmp_path / "m.v"
    v.write_text("module m(input [3:0] x, input [3:0] y, output [7:0] z);\n"
                 "assign z = x * y;\nendmodule\n")
    code, out, _ = run(capsys, "mult", "import", str(v), "--top", "m")
    assert code == 0 and "lib:m" in out
    code, out, _ = run(capsys, "mult", "list", "--width", "4", "--family", "verilog", "--json")
    assert [r["spec"] for r in json.loads(out)] == [f"verilog:{user_library / 'm.v'}@m"]


@pytest.mark.slow
def test_demo_runs_the_whole_story(tmp_path, capsys):
    """`axforge demo` on a small budget: multipliers, network, search, chip and its cocotb check."""
    from axforge.cli import main
    assert main(["demo", "-o", str(tmp_path / "demo"), "-q", "--budget", "60"]) == 0
    out = capsys.readouterr().out
    assert "bit-exact with the emulation = True" in out
    for name in ("char/library.csv", "resnet8/model.pt", "map/report.md", "map/pareto.png", "map/chip/chip.yaml"):
        assert (tmp_path / "demo" / name).exists(), name


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`axforge mult list | head -1`: the CLI stops quietly when its stdout closes (here the reader,
    `true`, has left before the CLI writes its first line)."""
    import subprocess
    import sys
    from pathlib import Path
    exe = Path(sys.executable).parent / "axforge"
    proc = subprocess.run(f"'{exe}' mult list --width 8 | true", shell=True, capture_output=True,
                          text=True, timeout=120)
    assert proc.stderr == ""
