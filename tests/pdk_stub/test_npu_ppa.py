"""The AXNet NPU through the gate-level PPA path: netlist == RTL == golden beats, cycles equal the
cycle model, energy split into the prediction and the approximation phase, the cache.

The default tests need no synthesis (the forced-unsafe program, the RTL against the golden model).
The gate-level runs are ``slow``: a small NPU (two PEs, 16-word memories) takes about 2.5 minutes
with a cold cache, the presets ``npu-tiny`` and ``npu-tiny-u`` about four minutes each.
"""

import json

import numpy as np
import pytest
import torch

from axforge.generators.design import design_files
from axforge.generators.npu import NpuSpec, preset
from axforge.hdl.npu import golden
from axforge.hdl.npu.cycles import sample_cycles, stream_cycles
from axforge.models.axnet import AXNet, PairNet
from axforge.models.axnet.integer import compile_net, quantise_inputs
from axforge.pdk_stub import npu_ppa as npu_ppa_mod
from axforge.pdk_stub.npu_ppa import (
    forced_unsafe,
    is_cached,
    npu_ppa,
)
from axforge.pdk_stub.pdk import default_pdk
from axforge.sim.lut import extract_lut
from axforge.sim.workloads import NpuSamples

torch.set_num_threads(1)

MICRO = {"name": "npu-micro", "tiles": 1, "pes": 2, "weight_depth": 16, "neuron_depth": 8, "data_depth": 16,
         "max_layers": 4}


def _micro(signed=True):
    return NpuSpec.from_dict({**MICRO, "signed": signed})


def _program(spec, kind="axnet", topology="2-3-1", pred=(2,), n=30, seed=0):
    """A random-init AXNet (or a one-pass / iterative pair) compiled for ``spec``, its P(x) bias set
    so that about half of the ``n`` samples are safe; returns ``(program, input codes)``."""
    torch.manual_seed(seed)
    net = AXNet(topology, pred) if kind == "axnet" else PairNet(topology, pred, p_outputs=2)
    n_in = int(topology.split("-")[0])
    x = torch.from_numpy(np.random.default_rng(seed).uniform(-1, 1, (300, n_in)).astype(np.float32))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
        z = net.pred(x)
        net.pred.layers[-1].bias[-1] -= (z[:, -1] if kind == "axnet" else z[:, -1] - z[:, -2]).median()
    prog = compile_net(net.eval(), spec.config, x)
    return prog, np.asarray(quantise_inputs(prog, x[:n]), dtype=np.int64)


def _check_result(r, spec, prog, x):
    c = spec.config
    out = golden.run(prog, x, extract_lut(spec.mult_spec), c)
    n, n_safe = len(x), int(out["safe"].sum())
    assert 0 < n_safe < n                                               # both phases were priced
    assert (r["samples"], r["safe_samples"], r["forced_safe_samples"]) == (n, n_safe, 0)
    # the path compared the netlist's beats with the RTL's and the golden model's, both runs
    mixed, forced = r["equivalence"].split("; forced: ")
    assert "gate level = RTL" in mixed and "gate level = RTL = golden model" in forced
    cyc = sample_cycles(prog, c)
    assert r["cycles"] == {"mixed": stream_cycles(prog, c, out["safe"]), "forced": n * cyc["unsafe"]}
    assert r["cycles"]["mixed"] == n_safe * cyc["safe"] + (n - n_safe) * cyc["unsafe"]
    assert r["area_um2"] > r["sequential_area_um2"] > 0 and r["cells"] > r["sequential_cells"] > 0
    assert r["delay_ns"] > 0 and r["fmax_mhz"] == pytest.approx(1000 / r["delay_ns"], rel=1e-4)
    assert r["freq_mhz"] == pytest.approx(min(500.0, r["fmax_mhz"]))
    d = r["dynamic_pj"]
    assert d["mixed"] > d["forced"] > 0 and r["leakage_uw"] > 0
    assert r["pred_dynamic_pj"] == pytest.approx(d["forced"] / n, rel=1e-4)
    assert r["approx_dynamic_pj"] == pytest.approx((d["mixed"] - d["forced"]) / n_safe, rel=1e-4)
    assert r["approx_dynamic_pj"] > 0 and r["approx_pj"] > r["approx_dynamic_pj"]
    assert r["pred_pj"] > r["pred_dynamic_pj"] > 0
    leak = r["leakage_uw"] * r["cycles"]["mixed"] / r["freq_mhz"]   # uW x us = pJ
    assert r["leakage_pj"]["mixed"] == pytest.approx(leak, rel=1e-4)
    assert r["energy_pj_per_sample"] == pytest.approx(r["dynamic_pj_per_sample"] + leak / n, rel=1e-4)
    # per-sample energy of the mixed stream = its pred phase for all + the approximation for the safe ones
    assert r["energy_pj_per_sample"] == pytest.approx(r["pred_pj"] + r["approx_pj"] * n_safe / n, rel=1e-3)
    # the memories are SRAM macros; their reads and writes are part of the internal energy
    mem = r["memory"]
    assert mem["macros"] > 0 and 0 < mem["area_um2"] < r["sequential_area_um2"] and mem["leakage_uw"] > 0
    assert 0 < d["forced_memory"] < d["forced_internal"] and 0 < d["mixed_memory"] - d["forced_memory"]
    assert mem["pred_pj"] == pytest.approx(d["forced_memory"] / n, rel=1e-4)
    assert any(t.startswith("AXF_SRAM_") for t in r["cell_counts"])
    assert {"synth_s", "sta_s", "gate_sim_s", "forced_gate_sim_s", "total_s"} <= set(r["timing"])
    json.dumps(r)


@pytest.mark.parametrize("kind", ["axnet", "pair"])
def test_forced_unsafe_changes_only_the_p_neuron(kind):
    spec = _micro()
    prog, x = _program(spec, kind)
    lut = extract_lut(spec.mult_spec)
    forced = forced_unsafe(prog, spec.config, lut)
    assert not golden.run(forced, x, lut, spec.config)["safe"].any()
    assert golden.run(prog, x, lut, spec.config)["safe"].any()
    assert forced.approx is prog.approx and all(a is b for a, b in zip(forced.pred[:-1], prog.pred[:-1]))
    p, q = prog.pred[-1], forced.pred[-1]
    changed = np.flatnonzero((p.bias != q.bias) | (p.mult != q.mult))
    assert changed.tolist() == [prog.p_addr + prog.p_outputs - 1 - p.dst]
    assert np.array_equal(p.weights, q.weights)


def test_rtl_beats_and_cycles_equal_the_golden_model():
    spec = _micro(signed=False)
    prog, x = _program(spec, "pair")
    wl = NpuSamples(prog, x)
    design = spec.design
    beats = wl.run(design, design_files(design))
    assert beats.shape[1] == 4 and np.array_equal(beats, wl.reference(design))
    assert wl.cycles == stream_cycles(prog, spec.config, wl.golden(design)["safe"]) and wl.ops == len(x)
    with pytest.raises(Exception, match="input codes"):
        NpuSamples(prog, x[:, :1])


@pytest.fixture(scope="module")
def micro():
    spec = _micro()
    prog, x = _program(spec)
    return spec, prog, x, npu_ppa(spec, prog, x)


@pytest.mark.slow
def test_micro_npu_through_the_gate_level_path(micro):
    spec, prog, x, r = micro
    _check_result(r, spec, prog, x)


@pytest.mark.slow
def test_cache_returns_the_same_dict_and_rebuilds_a_corrupt_entry(micro, monkeypatch):
    spec, prog, x, r = micro
    assert is_cached(spec, prog, x)
    assert npu_ppa(spec, prog, x) == r
    slow = npu_ppa(spec, prog, x, freq_mhz=10.0)
    assert slow["freq_mhz"] == 10.0 and slow["dynamic_pj"] == r["dynamic_pj"]
    assert slow["leakage_pj_per_sample"] > r["leakage_pj_per_sample"]
    entry = npu_ppa_mod._entry(spec, default_pdk(), prog, x, True)[2]
    data = json.loads(entry.read_text())
    stored = json.loads(json.dumps(data["value"]))
    data["value"]["area_um2"] += 1.0                 # tampered with: the digest no longer matches
    entry.write_text(json.dumps(data))
    assert not is_cached(spec, prog, x)
    calls = []      # the rebuild runs the flow again (a minute of synthesis): stand in for it
    monkeypatch.setattr(npu_ppa_mod, "_build", lambda *a: calls.append(a) or json.loads(json.dumps(stored)))
    again = npu_ppa(spec, prog, x)
    assert len(calls) == 1 and again == r and is_cached(spec, prog, x)
    assert npu_ppa(spec, prog, x) == r and len(calls) == 1      # the rewritten entry is read back
    entry.write_text("{not json")
    assert not is_cached(spec, prog, x)
    assert npu_ppa(spec, prog, x) == r and len(calls) == 2


@pytest.mark.slow
def test_a_corrupt_entry_is_rebuilt_by_the_flow(micro):
    spec, prog, x, r = micro
    entry = npu_ppa_mod._entry(spec, default_pdk(), prog, x, True)[2]
    entry.write_text(entry.read_text()[:-20])
    assert not is_cached(spec, prog, x)
    again = npu_ppa(spec, prog, x)                 # synthesis, both runs and every check again
    assert is_cached(spec, prog, x) and again["timing"]["synth_s"] > 0
    assert {k: v for k, v in again.items() if k != "timing"} == {k: v for k, v in r.items() if k != "timing"}


@pytest.mark.slow
@pytest.mark.parametrize("name, kind", [("npu-tiny", "axnet"), ("npu-tiny-u", "pair")])
def test_tiny_presets_through_the_gate_level_path(name, kind):
    spec = preset(name)
    prog, x = _program(spec, kind, "3-6-5-2", (4,), n=30)
    r = npu_ppa(spec, prog, x)
    _check_result(r, spec, prog, x)
    assert npu_ppa(spec, prog, x) == r
