"""NAS with the NPU in the loop: the objective on hand-computed cases, the approximator-alone
accounting, networks that do not fit, resume without repeats, the energy model's fit, and the
``nas`` commands end to end (the gate-level calibration replaced by a fixed model; the real one is
in the slow test at the end)."""

import json

import numpy as np
import pytest

from axforge.cli import main
from axforge.errors import AxforgeError
from axforge.flows import npu_energy
from axforge.flows.nas import NasProblem, NasSettings, nas_search, pareto_rows
from axforge.flows.npu_energy import EnergyModel, phase_features

COEF = (50.0, 2.0, 0.5, 3.0)


def _model(spec):
    return EnergyModel(spec.name, spec.multiplier, COEF, 100.0, 200.0, 0.0, 0.0, 6, 3)


@pytest.fixture
def fixed_model(monkeypatch):
    """Every NPU's energy model is :data:`COEF` (no gate-level runs); the search runs in this
    process (as inside a pinned one), so the model reaches it."""
    monkeypatch.setattr(NasProblem, "_calibrate", lambda self, spec: _model(spec))
    monkeypatch.setenv("AXFORGE_TRAIN_CHILD", "1")


def _settings(**kw):
    return NasSettings("inversek2j", **{"npu": "npu-tiny", "epochs": 2, "max_neurons": 8, **kw})


def _point(a, b, act="sigmoid"):
    return {"layer_len": 2, "layer0_neurons": a, "layer0_act": act, "layer1_neurons": b, "layer1_act": act}


def test_f_perf_is_the_weighted_sum(fixed_model, tmp_path, monkeypatch):
    prob = NasProblem(_settings(alpha=1.0, beta=0.1, eps=0.01), tmp_path)
    monkeypatch.setattr(NasProblem, "figures", lambda self, run, prog, spec, split: {
        "accuracy": 0.5, "speedup": 2.0, "energy_reduction": 10.0, "npu_cycles": 40.0, "npu_energy_pj": 1.0,
        "invoked": 1.0, "approximator_within": 0.5})
    r = prob.evaluate(_point(4, 2))
    assert r.feasible and r.values["f_perf"] == pytest.approx(0.5 + 0.2 + 0.1)
    assert (r.values["accuracy"], r.values["speedup"], r.values["energy_reduction"]) == (0.5, 2.0, 10.0)
    assert r.attrs["topology"] == "2-4-2-2" and r.attrs["method"] == "approximator"


def test_the_approximator_alone_runs_the_approximation_phase_on_every_input(fixed_model, tmp_path):
    from axforge.hdl.npu.cycles import sample_cycles
    from axforge.models.axnet.integer import compile_net, integer_metrics
    from axforge.models.axnet.run import load
    from axforge.sim.lut import extract_lut
    prob = NasProblem(_settings(), tmp_path)
    r = prob.evaluate(_point(4, 2))
    spec = prob.specs[prob.default_mult]
    run = load(r.attrs["checkpoint"])
    assert run.method == "approximator"
    prog = compile_net(run.net, spec.config, prob.data["train"].x)
    cyc = sample_cycles(prog, spec.config)
    assert r.attrs["npu_cycles"] == cyc["fetch"] + cyc["approx"] + cyc["emit"]
    f = phase_features(prog, spec.config)
    pred_cycles = cyc["fetch"] + cyc["pred"] + cyc["decide"] + cyc["fallback"]
    want = np.dot(COEF, f["approx"]) + np.dot(COEF, f["pred"]) * cyc["fetch"] / pred_cycles
    assert r.attrs["npu_energy_pj"] == pytest.approx(want, abs=1e-3)
    val = prob.data["val"]
    m, out = integer_metrics(prog, spec.config, extract_lut(spec.mult_spec), prob.kernel, val.x, val.t, 1)
    assert out["safe"].all()                           # the always-safe predictor
    assert r.values["accuracy"] == pytest.approx(np.mean(out["errors"] < prob.kernel.bound(1)))
    assert r.values["accuracy"] == pytest.approx(m["true_invocation"])
    assert r.attrs["invoked"] == 1.0


def test_a_network_that_does_not_fit_is_infeasible_and_not_trained(fixed_model, tmp_path):
    prob = NasProblem(_settings(max_neurons=64), tmp_path)
    r = prob.evaluate(_point(64, 64))                  # 32 neurons per PE: npu-tiny holds 16
    assert not r.feasible and r.constraints["fits"] == 1.0 and "does not fit the NPU" in r.attrs["note"]
    assert prob.trained == 0 and not (tmp_path / "nets").exists()
    assert r.values["f_perf"] == 0.0


def test_resume_trains_nothing_twice(fixed_model, tmp_path):
    s = _settings()
    first = nas_search(s, ("random",), 3, tmp_path, progress=False)
    assert first["methods"]["random"]["trained_now"] == 3
    again = nas_search(s, ("random",), 5, tmp_path, resume=True, progress=False)
    m = again["methods"]["random"]
    assert (m["evaluations"], m["resumed"], m["trained_now"]) == (5, 3, 2)
    evals = json.loads((tmp_path / "evaluations_random.json").read_text())
    keys = {json.dumps(e["params"], sort_keys=True) for e in evals}
    assert len(keys) == 5
    with pytest.raises(AxforgeError, match="already holds 5 evaluations"):
        nas_search(s, ("random",), 6, tmp_path, progress=False)


def test_pareto_rows_keep_the_non_dominated_feasible_networks():
    from axforge.search.objectives import Result

    def res(acc, sp, er, fits=0.0):
        return Result({"x": acc}, {"f_perf": acc, "accuracy": acc, "speedup": sp, "energy_reduction": er},
                      {"fits": fits}, {"topology": "2-1-2", "acts": ["relu"], "pred_neurons": 0, "multiplier": "m",
                                       "method": "approximator", "npu_cycles": 1, "npu_energy_pj": 1,
                                       "checkpoint": "c"})
    rows = pareto_rows([res(0.9, 1, 2), res(0.5, 1, 5), res(0.4, 1, 4), res(0.95, 9, 9, fits=1.0),
                        res(0.9, 1, 2)], "m")
    assert [r["id"] for r in rows] == ["m#0", "m#4", "m#1"]       # #2 dominated by #1, #3 infeasible


def test_energy_fit_recovers_a_linear_model(monkeypatch):
    from axforge.generators.npu import preset
    from axforge.hdl.npu.program import Layer, Program
    spec = preset("npu-tiny")
    rng = np.random.default_rng(0)

    def layer(src, dst, n_in, n_out):
        return Layer(src, dst, rng.integers(-5, 5, (n_out, n_in)), np.zeros(n_out), np.ones(n_out), 8,
                     np.zeros(n_out))
    progs = [Program(2, (layer(0, 8, 2, 1),), (layer(0, 10, 2, h), layer(10, 20, h, 2)), 8, 1, 20, 2)
             for h in (2, 3, 5, 8)]
    truth = np.array([20.0, 1.5, 0.25, 4.0])

    def fake_ppa(spec, prog, x):
        f = phase_features(prog, spec.config)
        return {"pred_dynamic_pj": float(truth @ f["pred"]), "approx_dynamic_pj": float(truth @ f["approx"]),
                "leakage_uw": 7.0, "freq_mhz": 100.0}
    monkeypatch.setattr("axforge.pdk_stub.npu_ppa.npu_ppa", fake_ppa)
    m = npu_energy.calibrate(spec, progs, [np.zeros((2, 2))] * 4, progress=False)
    assert np.allclose(m.coef, truth, rtol=1e-6) and m.loo_max_error < 1e-6
    assert (m.points, m.programs, m.leakage_uw) == (8, 4, 7.0)
    with pytest.raises(AxforgeError, match="at least 3 programs"):
        npu_energy.calibrate(spec, progs[:2], [np.zeros((2, 2))] * 2, progress=False)


def test_settings_reject_bad_values():
    with pytest.raises(AxforgeError, match="NAS option 'group' must be 1 or 2, not 3"):
        NasSettings("inversek2j", group=3)
    with pytest.raises(AxforgeError, match="NAS weight 'beta' must be a number >= 0, not -1"):
        NasSettings("inversek2j", beta=-1)
    with pytest.raises(AxforgeError, match="NAS option 'energy' must be one of model, gate"):
        NasSettings("inversek2j", energy="spice")
    with pytest.raises(AxforgeError, match="Kernel must be one of"):
        NasSettings("nope")


def test_cli_search_select_and_errors(fixed_model, tmp_path, capsys):
    out = tmp_path / "nas"
    argv = ["nas", "search", "inversek2j", "--npu", "npu-tiny", "--method", "random,fixed", "--budget", "4",
            "--epochs", "2", "--max-neurons", "8", "-o", str(out), "-q"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "random: 4 evaluations" in text and "Pareto set" in text and "fixed: 4 evaluations" in text
    for f in ("summary.json", "pareto_random.json", "pareto_fixed.csv", "fig3.png", "fig4b.png", "convergence.png",
              "study.db"):
        assert (out / f).exists(), f
    front = json.loads((out / "pareto_fixed.json").read_text())["networks"]
    assert front and all("test_accuracy" in r for r in front)
    assert main(["nas", "select", str(out), "--method", "fixed", "--mode", "quality"]) == 0
    text = capsys.readouterr().out
    best = max(front, key=lambda r: (r["accuracy"], r["energy_reduction"], r["speedup"]))
    assert f"chosen: {best['id']}" in text and "axforge npu compile" in text and best["checkpoint"] in text
    assert main(["npu", "compile", best["checkpoint"], "--npu", "npu-tiny", "-o", str(tmp_path / "img")]) == 0
    assert "approximator on inversek2j -> npu-tiny" in capsys.readouterr().out
    assert main(["nas", "select", str(out), "--mode", "energy", "--min-accuracy", "1.0"]) == 2
    assert "No network meets the constraints; the closest is" in capsys.readouterr().err
    assert main(["nas", "select", str(out), "--mode", "energy", "--min-accuracy", "0.1", "--theta", "0.3"]) == 2
    assert "--theta applies to --mode integrated only" in capsys.readouterr().err
    assert main(["nas", "select", str(out), "--mode", "quality", "--method", "smac"]) == 2
    assert "NAS method must be one the search ran: random, fixed, not 'smac'" in capsys.readouterr().err
    assert main(argv[:-3] + ["--energy", "gate", "--calib-programs", "4", "-o", str(tmp_path / "x")]) == 2
    assert "--calib-programs and --calib-epochs apply to --energy model only" in capsys.readouterr().err
    assert main(argv[:-3] + ["--worker", "1", "-o", str(tmp_path / "y")]) == 2
    assert "--worker applies to a --shared study only" in capsys.readouterr().err
    assert main(argv[:-3] + ["--method", "fixed,nope", "-o", str(tmp_path / "z")]) == 2
    assert "NAS method must be one of" in capsys.readouterr().err


def test_cli_compare_uses_a_common_threshold(fixed_model, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["nas", "compare", "--kernels", "inversek2j", "--npu", "npu-tiny", "--method", "fixed,random",
                 "--budget", "3", "--epochs", "2", "--max-neurons", "8", "-o", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    rows = json.loads((out / "compare.json").read_text())["rows"]
    assert len(rows) == 2 and (out / "fig5.png").exists()
    best = [max(r["accuracy"] for r in json.loads((out / "inversek2j" / "g1" / f"pareto_{m}.json").read_text())
                ["networks"]) for m in ("fixed", "random")]
    assert rows[0]["threshold"] == rows[1]["threshold"] == pytest.approx(min(0.9, *best))
    assert "| 1 | inversek2j | fixed |" in text and "ratio to fixed" in text


@pytest.mark.slow
def test_real_calibration_on_the_tiny_npu(tmp_path):
    prob = NasProblem(_settings(calib_programs=4, calib_epochs=1, ppa_samples=4), tmp_path, progress=False)
    prob.prepare()
    m = prob.models[prob.default_mult]
    assert m.programs == 4 and m.points == 8 and m.leakage_uw > 0
    assert m.loo_mean_error < 0.25, m
    r = prob.evaluate(_point(4, 4))
    assert r.feasible and r.values["energy_reduction"] > 0 and r.values["speedup"] > 0


def test_two_workers_share_one_study(fixed_model, tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    s = _settings()
    a = nas_search(s, ("random",), 3, tmp_path / "w0", storage=url, shared=True, worker=0, progress=False)
    b = nas_search(s, ("random",), 5, tmp_path / "w1", storage=url, shared=True, worker=1, progress=False)
    assert a["methods"]["random"]["evaluations"] == 3
    m = b["methods"]["random"]
    assert m["evaluations"] == 5 and m["trained_now"] == 2          # worker 1 read worker 0's three
    evals = json.loads((tmp_path / "w1" / "evaluations_random.json").read_text())
    assert len({json.dumps(e["params"], sort_keys=True) for e in evals}) == 5


def test_workers_on_postgresql(postgres, fixed_model, tmp_path, capsys):
    common = ["nas", "search", "inversek2j", "--npu", "npu-tiny", "--method", "random", "--epochs", "2",
              "--max-neurons", "8", "--storage", postgres, "--shared", "-q"]
    assert main([*common, "--budget", "3", "--worker", "0", "-o", str(tmp_path / "w0")]) == 0
    assert main([*common, "--budget", "5", "--worker", "1", "-o", str(tmp_path / "w1")]) == 0
    assert "random: 5 evaluations" in capsys.readouterr().out.split("\n\n")[-2]
    summary = json.loads((tmp_path / "w1" / "summary.json").read_text())["methods"]["random"]
    assert (summary["evaluations"], summary["trained_now"]) == (5, 2)


def test_a_trained_network_that_does_not_fit_is_infeasible(fixed_model, tmp_path, monkeypatch):
    import axforge.models.axnet.integer as integer
    real, calls = integer.compile_net, []

    def compile_net(net, config, x, meta=None):
        calls.append(1)
        if len(calls) == 2:                        # the trained network's compile
            raise AxforgeError("Layer 1 bias must be an integer between -8388608 and 8388607, not 23858751")
        return real(net, config, x, meta)
    monkeypatch.setattr(integer, "compile_net", compile_net)
    r = NasProblem(_settings(), tmp_path).evaluate(_point(4, 2))
    assert not r.feasible and r.attrs["note"].startswith("trained, does not fit the NPU: Layer 1 bias")


def test_the_optional_dimensions_axnet_predictor_and_multiplier(fixed_model, tmp_path):
    from axforge.models.axnet.integer import compile_net, integer_metrics
    from axforge.models.axnet.run import load
    from axforge.sim.lut import extract_lut
    mults = ("exact:8x8s", "bam:8x8s:h=1,v=4,tree=array")
    prob = NasProblem(_settings(pred_max=4, mults=mults), tmp_path)
    assert {"pred_neurons", "mult"} <= set(prob.space.names)
    r = prob.evaluate({**_point(4, 2, "relu"), "pred_neurons": 3, "mult": mults[1]})
    assert r.feasible and r.attrs["method"] == "axnet" and r.attrs["multiplier"].startswith("bam:8x8s:h=1,v=4")
    run = load(r.attrs["checkpoint"])
    spec = prob.specs[mults[1]]
    prog = compile_net(run.net, spec.config, prob.data["train"].x)
    val = prob.data["val"]
    _, out = integer_metrics(prog, spec.config, extract_lut(spec.mult_spec), prob.kernel, val.x, val.t, 1)
    within = out["errors"] < prob.kernel.bound(1)
    assert r.values["accuracy"] == pytest.approx(np.mean(~out["safe"] | within))   # rejected inputs run exact
    assert r.attrs["invoked"] == pytest.approx(out["safe"].mean())
    plain = prob.evaluate({**_point(4, 2, "relu"), "pred_neurons": 0, "mult": mults[0]})
    assert plain.attrs["method"] == "approximator" and plain.attrs["invoked"] == 1.0
