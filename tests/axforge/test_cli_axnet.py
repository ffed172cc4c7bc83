"""``axforge axnet``: train / eval / compare through the CLI, the flags that do not apply, the
comparison's table, matched invocation and gains."""

import csv
import json

import numpy as np
import pytest

from axforge.cli import main
from axforge.models.axnet import compare as cmp

TINY = ["--epochs", "1", "--n-train", "600"]


def test_flags_that_do_not_apply_are_errors(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["axnet", "train", "inversek2j", "--method", "onepass", "--control", "1", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--control" in err and "axnet" in err
    assert main(["axnet", "train", "inversek2j", "--iterations", "3", "-o", str(out)]) == 2
    assert "--iterations" in capsys.readouterr().err
    assert main(["axnet", "train", "inversek2j", "--method", "sharing", "--pred", "2-8", "-o", str(out)]) == 2
    assert "--pred" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_kernel_and_method_name_the_allowed(tmp_path, capsys):
    assert main(["axnet", "train", "nosuch", "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "nosuch" in err and "inversek2j" in err
    assert main(["axnet", "train", "inversek2j", "--method", "magic", "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "magic" in err and "iterative" in err


def test_train_then_eval_float_and_through_a_multiplier(tmp_path, capsys):
    out = tmp_path / "ik"
    assert main(["axnet", "train", "inversek2j", "--group", "2", "-q", "-o", str(out), *TINY]) == 0
    text = capsys.readouterr().out
    assert "axnet on inversek2j" in text and "true invocation" in text
    meta = json.loads((out / "meta.json").read_text())
    assert meta["config"]["n_train"] == 600 and meta["config"]["group"] == 2
    js = tmp_path / "eval.json"
    assert main(["axnet", "eval", str(out), "--mult", "exact:8x8s,trunc:8x8s:k=8,comp=none", "--json", str(js)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines[2:]] == ["float", "exact:8x8s", "trunc:8x8s:k=8,comp=none"]
    results = json.loads(js.read_text())["results"]
    # the float row of eval is the metrics train stored for the test split
    assert results[0]["true_invocation"] == pytest.approx(meta["metrics"]["true_invocation"])
    assert main(["axnet", "eval", str(tmp_path / "missing")]) == 2


def test_compare_writes_the_table_and_figures(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["axnet", "compare", "--kernels", "bessel", "--mults", "exact:8x8s", "-q", "-o", str(out),
                 *TINY]) == 0
    text = capsys.readouterr().out
    assert "| bessel | AXNet |" in text and "training time over one-pass" in text
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["method"], r["mult"]) for r in rows] == [(m, x) for m in ("axnet", "onepass", "iterative")
                                                        for x in ("float", "exact:8x8s")]
    for name in ("fig6_invocation.png", "fig7_accuracy.png", "fig8_error.png", "fig10a_time.png",
                 "fig4_bessel.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a second compare reads the finished runs back: the same numbers, no retraining
    stamp = (out / "runs" / "bessel" / "axnet" / "seed0" / "net.pt").stat().st_mtime_ns
    assert main(["axnet", "compare", "--kernels", "bessel", "-q", "-o", str(out), *TINY]) == 0
    capsys.readouterr()
    assert (out / "runs" / "bessel" / "axnet" / "seed0" / "net.pt").stat().st_mtime_ns == stamp
    with open(out / "results.csv") as f:
        again = list(csv.DictReader(f))
    assert again[0]["true_invocation"] == rows[0]["true_invocation"]


def test_threshold_gives_the_asked_invocation():
    z = np.arange(100, dtype=np.float64)
    for inv in (0.0, 0.1, 0.37, 0.5, 1.0):
        thr = cmp._threshold_for(z, inv)
        assert (z > thr).mean() == pytest.approx(inv)


def test_gains_are_ratios_of_the_seed_means():
    rows = []
    for s, (a, b) in enumerate([(0.6, 0.4), (0.4, 0.4)]):
        for m, v, t in (("axnet", a, 2.0), ("onepass", b, 1.0)):
            rows.append({"kernel": "k", "method": m, "seed": s, "mult": "float", "params": 10,
                         "true_invocation": v, "predicted_invocation": v, "accuracy": 1.0, "overall_error": 0.1,
                         "train_time_s": t})
    summary, gains = cmp.summarise(rows, ["axnet", "onepass"])
    assert summary[("k", "axnet")]["true_invocation"] == pytest.approx((0.5, 0.4, 0.6))
    assert gains["onepass"]["invocation"]["k"] == pytest.approx(0.25)      # 0.5 / 0.4 - 1
    assert gains["onepass"]["mean_time"] == pytest.approx(1.0)             # 2 s / 1 s - 1


def test_compare_with_the_sharing_net_draws_its_curves(tmp_path, capsys):
    out = tmp_path / "sh"
    assert main(["axnet", "compare", "--kernels", "jpeg", "--methods", "axnet,sharing", "--seeds", "0,1", "-q",
                 "-o", str(out), *TINY]) == 0
    text = capsys.readouterr().out
    assert "| jpeg | weight sharing |" in text and "over weight sharing" in text
    assert (out / "fig2_sharing.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "fig8_error.png").exists()      # normalised to one-pass, which did not run
