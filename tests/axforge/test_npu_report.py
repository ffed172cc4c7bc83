"""``axforge npu report`` and ``npu ppa``: the choice of priced inputs, the table and the winners;
end to end on a small NPU (slow: it synthesises)."""

import csv
import json

import numpy as np
import pytest

from axforge.cli import main
from axforge.flows.npu_report import markdown, ppa_inputs, winners
from axforge.flows.npu_system import load_cpu
from axforge.generators.npu import preset


def test_ppa_inputs_take_both_kinds_half_and_half():
    safe = np.array([1, 1, 1, 1, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert list(ppa_inputs(safe, 4)) == [0, 1, 4, 6]
    assert list(ppa_inputs(safe, 6)) == [0, 1, 2, 3, 4, 6]         # all the unsafe ones, then safe
    assert list(ppa_inputs(np.ones(5, bool), 4)) == [0, 1, 2, 3]
    assert list(ppa_inputs(np.zeros(5, bool), 3)) == [0, 1, 2]


def _row(kernel, method, er, fits=True):
    return {"kernel": kernel, "method": method, "multiplier": "exact:8x8s", "fits": fits, "true_invocation": 0.5,
            "predicted_invocation": 0.6, "cycles_safe": 100, "cycles_unsafe": 40, "pred_pj": 10.0, "approx_pj": 5.0,
            "speedup": 2.0, "energy_reduction": er, "note": "" if fits else "Weights per PE must be at most 4"}


def test_winners_and_the_table():
    rows = [_row("a", "axnet", 3.0), _row("a", "onepass", 4.0), _row("b", "axnet", 2.0), _row("b", "iterative", 1.5),
            _row("c", "axnet", 9.0), _row("c", "onepass", 0, fits=False)]
    assert winners(rows) == {("a", "exact:8x8s"): "onepass", ("b", "exact:8x8s"): "axnet"}
    md = markdown(rows, preset("npu-tiny"), load_cpu())
    assert "AXNet on 1 of the 2 kernel x multiplier cases where every method fits the NPU (cases where one does not: 1)" in md
    assert "does not fit: Weights per PE" in md
    assert "| a | one-pass | exact:8x8s | 50.0 % | 60.0 % | 100 / 40 | 10 | 5 | 2x | 4x |" in md


@pytest.mark.slow
def test_report_and_ppa_end_to_end(tmp_path, capsys):
    npu = tmp_path / "micro.yaml"
    npu.write_text("tiles: 1\npes: 2\nweight_depth: 256\nneuron_depth: 32\ndata_depth: 64\nmax_layers: 6\n")
    runs = tmp_path / "cmp"
    assert main(["axnet", "compare", "--kernels", "kmeans", "--methods", "axnet,onepass", "--epochs", "1",
                 "--n-train", "600", "-q", "-o", str(runs)]) == 0
    capsys.readouterr()
    assert main(["npu", "report", str(runs), "--npu", str(npu), "--samples", "8", "-q", "-o", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "Most energy-efficient method:" in out
    rows = list(csv.DictReader((tmp_path / "r" / "report.csv").open()))
    assert {r["method"] for r in rows} == {"axnet", "onepass"} and all(r["fits"] == "True" for r in rows)
    assert all(float(r["energy_reduction"]) > 0 and float(r["pred_pj"]) > 0 for r in rows)
    assert (tmp_path / "r" / "fig10b.png").stat().st_size > 10_000
    assert main(["npu", "ppa", str(npu), "--workload", str(runs / "runs" / "kmeans" / "axnet" / "seed0"),
                 "--samples", "8", "-o", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "energy per inference: prediction" in out and "equivalence: mixed: workload" in out
    ppa = json.loads((tmp_path / "p" / "ppa.json").read_text())
    assert ppa["pred_pj"] > 0 and ppa["samples"] == 8
