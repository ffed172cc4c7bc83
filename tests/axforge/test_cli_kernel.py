"""`axforge kernel list / eval`: every kernel listed, raw round trip, bad input (exit 2, one line,
nothing written)."""

import argparse
import subprocess
import sys

import numpy as np
import pytest

from axforge.cli import main
from axforge.cli_kernel import add_kernel_parser
from axforge.errors import AxforgeError
from axforge.models.kernels import KERNELS, kernel


def own(*argv):
    """Run through a parser of our own (as axforge.cli builds it, but with this subcommand only)."""
    p = argparse.ArgumentParser(prog="axforge")
    add_kernel_parser(p.add_subparsers(dest="cmd", required=True))
    args = p.parse_args(list(argv))
    return args.func(args)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_names_every_kernel(capsys):
    assert own("kernel", "list") == 0
    out = capsys.readouterr().out
    for name in KERNELS:
        k = kernel(name)
        assert f"{name}: {k.n_in} -> {k.n_out}\n" in out
        assert f"bounds g1 {k.bound(1):g}, g2 {k.bound(2):g}" in out and k.metric in out
        assert f"train {k.n_train}, test {k.n_test}" in out and k.source in out
    assert "inputs:  S, K, r, sigma, T, otype" in out and "outputs: sin, cos" in out
    assert "inputs:  p00, p01, p02, ..., p77 (64)" in out


@pytest.mark.parametrize("name", ["blackscholes", "jpeg", "jmeint"])
def test_eval_round_trip(name, tmp_path, capsys):
    k = kernel(name)
    x = k.sample(7, np.random.default_rng(0))
    np.save(tmp_path / "x.npy", x.astype(np.float32) if name == "jmeint" else x)
    assert own("kernel", "eval", name, "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")) == 0
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (7, k.n_out) and y.dtype == np.float32
    np.testing.assert_array_equal(y, k.exact(np.load(tmp_path / "x.npy")))
    assert f"{name}: 7 x {k.n_in} -> 7 x {k.n_out}" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy"]     # no temporary file left


def test_eval_bad_input_writes_nothing(tmp_path):
    np.save(tmp_path / "wide.npy", np.zeros((3, 7)))
    np.save(tmp_path / "nan.npy", np.array([[0.1], [np.nan]]))
    (tmp_path / "text.npy").write_text("not numpy")
    cases = {
        "wide.npy": r"^sobel input shape must be \(N, 9\)",
        "missing.npy": r"^Option --input must be an existing \.npy file, not '.*missing\.npy'$",
        "text.npy": r"^Option --input must be a \.npy array \(numpy\.save\), not '.*text\.npy'",
    }
    for name, pattern in cases.items():
        with pytest.raises(AxforgeError, match=pattern):
            own("kernel", "eval", "sobel", "--input", str(tmp_path / name), "-o", str(tmp_path / "y.npy"))
    with pytest.raises(AxforgeError, match=r"^fft input column x \(row 1\) must be a finite number in \[0, 0\.5\), "
                                           r"not nan$"):
        own("kernel", "eval", "fft", "--input", str(tmp_path / "nan.npy"), "-o", str(tmp_path / "y.npy"))
    with pytest.raises(AxforgeError, match=r"^Option -o must be a file in an existing folder"):
        own("kernel", "eval", "fft", "--input", str(tmp_path / "wide.npy"), "-o", str(tmp_path / "no" / "y.npy"))
    with pytest.raises(AxforgeError, match=r"^Kernel must be one of .*sobel.*, not 'sobol'$"):
        own("kernel", "eval", "sobol", "--input", str(tmp_path / "wide.npy"), "-o", str(tmp_path / "y.npy"))
    assert not (tmp_path / "y.npy").exists() and not (tmp_path / "no").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.npy", "text.npy", "wide.npy"]


def test_eval_keeps_an_old_output_on_error(tmp_path):
    np.save(tmp_path / "y.npy", np.ones(2))
    np.save(tmp_path / "bad.npy", np.array([[0.8, 0.8]]))
    with pytest.raises(AxforgeError, match=r"^inversek2j input columns x, y \(row 0\) must be a point the arm reaches"):
        own("kernel", "eval", "inversek2j", "--input", str(tmp_path / "bad.npy"), "-o", str(tmp_path / "y.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), np.ones(2))


def test_building_the_parser_imports_nothing_heavy():
    code = ("import argparse, sys; from axforge.cli_kernel import add_kernel_parser; "
            "add_kernel_parser(argparse.ArgumentParser().add_subparsers()); "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'numpy', 'scipy', 'sklearn', 'torch', 'matplotlib'})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


# ---------------------------------------------------------------- through `axforge` itself

def test_main_list(capsys):
    code, out, _ = run(capsys, "kernel", "list")
    assert code == 0 and all(f"{name}: " in out for name in KERNELS)


def test_main_eval_round_trip_and_bad_shape(tmp_path, capsys):
    x = kernel("kmeans").sample(5, np.random.default_rng(1))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "bad.npy", x[:, :5])
    code, out, _ = run(capsys, "kernel", "eval", "kmeans", "--input", str(tmp_path / "x.npy"),
                       "-o", str(tmp_path / "y.npy"))
    assert code == 0
    np.testing.assert_allclose(np.load(tmp_path / "y.npy")[:, 0], np.linalg.norm(x[:, :3] - x[:, 3:], axis=1),
                               rtol=1e-6)
    code, out, err = run(capsys, "kernel", "eval", "kmeans", "--input", str(tmp_path / "bad.npy"),
                         "-o", str(tmp_path / "z.npy"))
    assert code == 2 and out == ""
    assert err == ("axforge: error: kmeans input shape must be (N, 6) (one row per sample, one column per input), "
                   "not (5, 5)\n")
    assert not (tmp_path / "z.npy").exists()
