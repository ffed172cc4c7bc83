"""One meaning per flag: --signed/--unsigned are the operands' sign everywhere, a flag that does not
apply to what was asked exits 2 with one line, and a chip is named by ``chip:``, never guessed."""

import json

import pytest

from axforge.cli import main

SIGNED_EXACT = """module smul(input [3:0] a, input [3:0] b, output [7:0] p);
  assign p = $signed(a) * $signed(b);
endmodule
"""


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def signed_exact(tmp_path):
    path = tmp_path / "smul.v"
    path.write_text(SIGNED_EXACT)
    return f"verilog:{path}@smul"


def test_signed_characterizes_imported_verilog_as_signed(tmp_path, capsys, signed_exact):
    """An exact signed netlist is exact under --signed (and under its :s suffix), and far off when
    read as unsigned (the default, stated by --unsigned)."""
    maes = {}
    for tag, extra in (("flag", ["--signed"]), ("suffix", []), ("unsigned", ["--unsigned"])):
        spec = signed_exact + (":s" if tag == "suffix" else "")
        code, out, err = run(capsys, "mult", "char", spec, "-o", tmp_path / tag, *extra)
        assert code == 0, err
        maes[tag] = json.loads(out)["mae"]
    assert maes["flag"] == maes["suffix"] == 0
    assert maes["unsigned"] > 10


def test_signed_means_the_same_on_gen_and_ppa(tmp_path, capsys, signed_exact):
    code, out, err = run(capsys, "mult", "gen", signed_exact, "--signed", "-o", tmp_path / "g")
    assert code == 0, err
    manifest = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert manifest["design"]["signed"] is True
    code, out, err = run(capsys, "ppa", signed_exact, "--signed", "-o", tmp_path / "p")
    assert code == 0, err
    assert json.loads(out[:out.rindex("}") + 1])["spec"] == signed_exact + ":s"


@pytest.mark.parametrize("argv, words", [
    (["mult", "char", "trunc:8x8u:k=4", "--signed"], ["--signed", "imported Verilog"]),
    (["mult", "gen", "trunc:8x8s:k=4", "--unsigned"], ["--unsigned", "imported Verilog"]),
    (["ppa", "drum:8x8u:k=4", "--signed"], ["--signed"]),
    (["mult", "char", "trunc:8x8u:k=4", "--width", "4"], ["--width", "--all"]),
    (["mult", "char", "trunc:8x8u:k=4", "--family", "drum"], ["--family"]),
    (["mult", "char", "trunc:8x8u:k=4", "--no-ppa"], ["--no-ppa"]),
    (["mult", "char", "trunc:8x8u:k=4", "--jobs", "2"], ["--jobs"]),
    (["mult", "char", "--all", "--dist", "ops.npy"], ["--dist"]),
    (["ppa", "chip:tiny2x2", "--stream", "s.npy"], ["--stream", "chip"]),
    (["ppa", "chip:tiny2x2", "--emit-script"], ["--emit-script"]),
    (["ppa", "chip:tiny2x2", "--no-equiv"], ["--no-equiv"]),
    (["ppa", "chip:tiny2x2", "--signed"], ["--signed"]),
    (["ppa", "trunc:8x8u:k=4", "--route", "1"], ["--route", "chip:"]),
    (["ppa", "trunc:8x8u:k=4", "--workload", "w.npz"], ["--workload"]),
])
def test_a_flag_that_does_not_apply_is_an_error(tmp_path, capsys, argv, words):
    code, out, err = run(capsys, *argv, "-o", tmp_path / "out")
    assert code == 2
    assert err.startswith("axforge: error: ") and err.count("\n") == 1, err
    assert all(w in err for w in words), err
    assert not (tmp_path / "out").exists()


def test_a_contradicting_sign_is_an_error(tmp_path, capsys, signed_exact):
    code, _, err = run(capsys, "mult", "char", signed_exact + ":s", "--unsigned", "-o", tmp_path / "c")
    assert code == 2 and "contradicts" in err and not (tmp_path / "c").exists()


def test_signed_import_is_gone(tmp_path, capsys, signed_exact):
    """The old second spelling of the sign is not accepted (argparse: exit 2)."""
    with pytest.raises(SystemExit) as exc:
        main(["mult", "char", signed_exact, "--signed-import", "-o", str(tmp_path / "c")])
    assert exc.value.code == 2


def test_a_chip_yaml_needs_its_prefix(tmp_path, capsys):
    """A chip YAML given as a multiplier SPEC is not guessed into a chip: the error says chip:PATH."""
    chip = tmp_path / "chip.yaml"
    chip.write_text("name: c\nrows: 2\ncols: 2\nmultipliers: [exact:8x8u:arch=dadda]\n")
    code, _, err = run(capsys, "ppa", chip, "-o", tmp_path / "p")
    assert code == 2 and f"chip:{chip}" in err
