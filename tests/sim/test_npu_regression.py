"""Slow regression: every NPU preset on every kernel, through cocotb + Verilator, bit for bit and
cycle for cycle (``make test-slow``). A network that does not fit a preset must fail with the
one-line fit error, and fit on ``npu-paper``."""

import pytest

from axforge.errors import AxforgeError
from axforge.generators.npu import PRESETS, preset
from axforge.models.axnet import train
from axforge.models.axnet.integer import compile_net, quantise_inputs
from axforge.models.axnet.methods import prepare_data
from axforge.models.kernels import KERNELS, kernel
from axforge.sim.lut import extract_lut
from axforge.sim.npu_sim import simulate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name in sorted(KERNELS):
        for method in ("axnet", "onepass"):
            out[name, method] = train(name, method, epochs=2, n_train=1500, n_test=200, progress=False)
    return out


@pytest.mark.parametrize("npu", sorted(PRESETS))
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_every_preset_on_every_kernel(npu, name, runs):
    spec = preset(npu)
    run = runs[name, "axnet" if spec.config.gating else "onepass"]
    c = run.config
    data = prepare_data(kernel(name), c.seed, c.n_train, c.n_test, c.val_fraction)
    try:
        prog = compile_net(run.net, spec.config, data["train"].x)
    except AxforgeError as exc:
        assert npu.startswith("npu-tiny") and "must be at most the NPU's" in str(exc) and "\n" not in str(exc)
        return
    x = quantise_inputs(prog, data["test"].x[:60])
    r = simulate(spec, prog, x, extract_lut(spec.mult_spec), cycle_samples=12)
    assert r["error"] is None and r["bit_exact"]
    assert r["cycles_rtl"] == r["cycles_model"]
