"""The NPU through cocotb + Verilator: a compiled AXNet against the golden model, bit for bit and
cycle for cycle; a wrong golden fails; the ``axforge npu`` commands end to end."""

import json

import numpy as np
import pytest
import torch

from axforge.cli import main
from axforge.generators.npu import preset
from axforge.hdl.npu import golden
from axforge.hdl.npu.cycles import sample_cycles
from axforge.models.axnet import AXNet, PairNet
from axforge.models.axnet.integer import compile_net, quantise_inputs
from axforge.sim.lut import extract_lut
from axforge.sim.npu_sim import expected_beats, run_npu_tb, simulate

torch.set_num_threads(1)


def _program(spec, kind="axnet", seed=0, acts=None):
    torch.manual_seed(seed)
    net = AXNet("3-6-5-2", (4,), acts=acts) if kind == "axnet" else PairNet("3-6-5-2", (4,), p_outputs=2, acts=acts)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
        net.pred.layers[-1].bias[-1] = 0.3          # P decides both ways on these inputs
    x = torch.from_numpy(np.random.default_rng(seed).uniform(-1, 1, (300, 3)).astype(np.float32))
    prog = compile_net(net.eval(), spec.config, x)
    return prog, quantise_inputs(prog, x[:40])


@pytest.mark.parametrize("name, mult, kind, acts", [("npu-tiny", "trunc:8x8s:k=6,comp=const", "axnet", None),
                                                    ("npu-tiny-u", None, "pair", None),
                                                    ("npu-tiny", None, "axnet", ("tanh", "sigmoid"))])
def test_rtl_equals_the_golden_model_bit_and_cycle(name, mult, kind, acts):
    spec = preset(name).with_multiplier(mult) if mult else preset(name)
    prog, x = _program(spec, kind, acts=acts)
    r = simulate(spec, prog, x, extract_lut(spec.mult_spec), cycle_samples=10)
    assert r["error"] is None and r["bit_exact"]
    assert 0 < r["golden"]["safe"].sum() < len(x)            # both fallbacks and results were checked
    assert r["cycles_rtl"] == r["cycles_model"] and len(r["cycles_rtl"]) == 10
    cyc = sample_cycles(prog, spec.config)
    assert set(r["cycles_rtl"]) <= {cyc["safe"], cyc["unsafe"]}
    assert np.array_equal(r["safe"], r["golden"]["safe"])
    assert np.array_equal(r["h"][r["safe"]], r["golden"]["h"][r["safe"]])


def test_a_wrong_golden_fails_the_bench():
    spec = preset("npu-tiny")
    prog, x = _program(spec)
    out = golden.run(prog, x, extract_lut(spec.mult_spec), spec.config)
    beats = expected_beats(out, prog.n_out)
    i = next(i for i, b in enumerate(beats) if not b[2])
    beats[i] = (beats[i][0] + 1, *beats[i][1:])
    stats = run_npu_tb(spec, prog, x, beats, testcase="test_stream", cycle_samples=4)
    assert "error" in stats and "got" in stats["error"] and "expected" in stats["error"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("npu") / "run"
    assert main(["axnet", "train", "inversek2j", "--epochs", "2", "--n-train", "800", "-q", "-o", str(d)]) == 0
    return d


def test_npu_commands_end_to_end(trained, tmp_path, capsys):
    assert main(["npu", "presets"]) == 0
    assert "npu-paper: 2 tile(s) x 8 PEs" in capsys.readouterr().out
    assert main(["npu", "gen", "npu-tiny", "--lint", "-o", str(tmp_path / "v")]) == 0
    assert "verilator -Wall: clean" in capsys.readouterr().out
    man = json.loads((tmp_path / "v" / "manifest.json").read_text())
    assert man["kind"] == "npu" and (tmp_path / "v" / f"{man['top']}.v").exists()
    img = tmp_path / "img"
    assert main(["npu", "compile", str(trained), "--npu", "npu-tiny", "-o", str(img)]) == 0
    out = capsys.readouterr().out
    assert "static schedule" in out or "layer-by-layer schedule" in out
    assert main(["npu", "sim", str(img), "--samples", "30", "-o", str(tmp_path / "s")]) == 0
    rep = json.loads((tmp_path / "s" / "sim.json").read_text())
    assert rep["bit_exact"] is True and rep["cycles_equal"] is True and rep["samples"] == 30
    assert np.load(tmp_path / "s" / "h_codes.npy").shape == (30, 2)
    assert main(["npu", "verify", str(img), "--samples", "16", "--test", "test_reset_mid_stream"]) == 0


def test_npu_errors_are_one_line_and_write_nothing(trained, tmp_path, capsys):
    y = tmp_path / "n.yaml"
    y.write_text("tiles: 1\npes: 2\nweight_depht: 64\n")
    assert main(["npu", "gen", str(y), "-o", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'weight_depht'" in err and err.count("\n") == 1 and not (tmp_path / "v").exists()
    y.write_text("tiles: 1\npes: 2\nweight_depth: 16\n")
    assert main(["npu", "compile", str(trained), "--npu", str(y), "-o", str(tmp_path / "i")]) == 2
    err = capsys.readouterr().err
    assert "Weights per PE must be at most the NPU's weight_depth = 16" in err and not (tmp_path / "i").exists()
    assert main(["npu", "compile", str(trained), "--npu", "npu-tiny", "--mult", "exact:8x8u",
                 "-o", str(tmp_path / "i")]) == 2
    assert "must be 8x8s" in capsys.readouterr().err
    assert main(["npu", "sim", str(tmp_path / "nothing"), "-o", str(tmp_path / "s")]) == 2
    assert "NPU image" in capsys.readouterr().err and not (tmp_path / "s").exists()
