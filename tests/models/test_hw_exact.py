"""The emulation equals the generated hardware: one real conv layer, lowered to a 64x64x64 matmul,
through the autoapprox4 chip's RTL (Verilator) and through the approximate layer: identical accumulators."""

import pytest
import torch

from axforge.generators.chip import load_chip
from axforge.models.layers import ApproxConv2d, QuantConfig, calibrate


def conv_operands(spec, path):
    """A 16->64 channel 2x2 conv on a 9x9 input: M = 64 positions, K = 16*2*2 = 64, N = 64."""
    torch.manual_seed(7)
    conv = ApproxConv2d(16, 64, 2, spec=spec, config=QuantConfig(path=path))
    x = torch.relu(torch.randn(1, 16, 9, 9))
    calibrate(conv, [x])
    return conv.accumulators(x)


@pytest.mark.parametrize("route", [1, 3])   # trunc k=6 + const compensation, DRUM k=4
def test_layer_accumulators_equal_the_rtl(route):
    from axforge.sim.chip_sim import run_workload
    chip = load_chip("autoapprox4")
    spec = chip.mult_specs[route]
    acc_lut, xq, wq = conv_operands(spec, "lut")
    acc_low, xq2, wq2 = conv_operands(spec, "lowrank")
    assert acc_lut.shape == (64, 64) and torch.equal(xq, xq2) and torch.equal(wq, wq2)
    y, cycles = run_workload(chip, xq.numpy(), wq.numpy(), route=route)
    assert cycles > 0
    assert (acc_lut.numpy() == y).all()
    assert (acc_low.numpy() == y).all()
    exact = (xq @ wq).numpy()
    assert (exact != y).any()          # the approximation is visible in the accumulators


def lowered_conv_as_linear(spec, path):
    """A 16->64 channel 2x2 conv on a 9x9 input, lowered to a matmul (im2col: 64 positions x K = 64)
    and run through ApproxLinear with the conv's weights: returns (accumulators, xq, wq)."""
    import torch.nn.functional as F

    from axforge.models.layers import ApproxLinear
    torch.manual_seed(11)
    x = torch.relu(torch.randn(1, 16, 9, 9))
    weight = torch.randn(64, 16, 2, 2) * 0.2
    cols = F.unfold(x, 2).transpose(1, 2).reshape(-1, 64)          # (64 positions, 64)
    lin = ApproxLinear(64, 64, bias=False, spec=spec, config=QuantConfig(path=path))
    with torch.no_grad():
        lin.weight.copy_(weight.reshape(64, -1))
    calibrate(lin, [cols])
    return lin.accumulators(cols)


@pytest.mark.cocotb
@pytest.mark.parametrize("route", [1, 3])   # trunc k=6 + const compensation, DRUM k=4
def test_lowered_conv_through_approx_linear_equals_the_array_in_cocotb(route):
    from axforge.sim.layer_check import run_layer_tb
    chip = load_chip("autoapprox4")
    spec = chip.mult_specs[route]
    acc, xq, wq = lowered_conv_as_linear(spec, "lut")
    assert acc.shape == (64, 64)
    assert torch.equal(lowered_conv_as_linear(spec, "lowrank")[0], acc)
    y = run_layer_tb(chip, xq.numpy(), wq.numpy(), route)
    assert (y == acc.numpy()).all()
    assert (y != (xq @ wq).numpy()).any()
