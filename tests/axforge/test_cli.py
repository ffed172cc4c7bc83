"""The axforge CLI: commands, outputs, bad input (exit 2, one line, nothing written)."""

import json

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
    for col in ("area_um2", "delay_ns", "leakage_uw", "energy_pj_per_op", "power_mw", "mae_pct"):
        assert all(float(r[col]) >= 0 for r in rows), col
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
