"""The NPU's golden model against an explicit per-neuron loop, PLAN against its definition, fitting."""

import math

import numpy as np
import pytest

from axforge.errors import AxforgeError
from axforge.hdl.npu.config import NpuConfig
from axforge.hdl.npu.golden import plan_sigmoid, plan_tanh, run
from axforge.hdl.npu.program import KINDS, Layer, Program, check_fits, from_dict, to_dict


def _exact_lut(width, signed):
    codes = np.arange(1 << width)
    vals = np.where(codes >= (1 << (width - 1)), codes - (1 << width), codes) if signed else codes
    return (vals[:, None] * vals[None, :]).reshape(-1)


def _plan_ref(x):
    """PLAN on a real number, as published (Amin et al. 1997)."""
    a = abs(x)
    y = 1.0 if a >= 5 else 0.03125 * a + 0.84375 if a >= 2.375 else 0.125 * a + 0.625 if a >= 1 else 0.25 * a + 0.5
    return y if x >= 0 else 1 - y


def test_plan_sigmoid_follows_the_published_segments():
    c = NpuConfig(width=8)
    v = np.arange(-128, 128)
    got = plan_sigmoid(v, c.sigmoid_in_frac, c.gate_frac, 0, 127)
    for code, y in zip(v, got):
        want = _plan_ref(code / 16)           # 4 fraction bits in, 7 out: floor of each term
        assert abs(y / 128 - min(want, 127 / 128)) <= 2 / 128, (code, y, want)
    # hand-computed codes: x = 0 -> 0.5; x = 1.5 (24) -> 0.625 + 0.1875 = 0.8125 (104); x = -8 -> 1 - 1 = 0
    assert list(plan_sigmoid(np.array([0, 24, -128, 127]), 4, 7, 0, 127)) == [64, 104, 0, 127]
    assert np.abs(got / 128 - 1 / (1 + np.exp(-v / 16))).max() < 0.025


def test_plan_tanh_is_twice_the_sigmoid_of_twice_the_input_minus_one():
    v = np.arange(-128, 128)
    got = plan_tanh(v, 4, 7, -127, 127)
    want = np.array([2 * _plan_ref(2 * x / 16) - 1 for x in v])
    assert np.abs(got / 128 - np.clip(want, -127 / 128, 127 / 128)).max() <= 2 / 128
    assert np.abs(got / 128 - np.tanh(v / 16)).max() < 0.045


def _ref_layer(mem, layer, lut, c):
    """One layer, one sample, one neuron at a time, in Python integers."""
    mask = (1 << c.width) - 1
    out = []
    for j in range(layer.n_out):
        acc = int(layer.bias[j])
        for k in range(layer.n_in):
            a, w = int(mem[layer.src + k]), int(layer.weights[j, k])
            acc += int(lut[((a & mask) << c.width) | (w & mask)])
            acc -= int(layer.zw[j]) * a
        acc = (acc + (1 << (c.acc_width - 1))) % (1 << c.acc_width) - (1 << (c.acc_width - 1))
        t = acc * int(layer.mult[j])
        if layer.shift:
            t = math.floor((t + (1 << (layer.shift - 1))) / (1 << layer.shift))
        kind = KINDS[layer.kind[j]]
        lo, hi = c.act_range
        if kind == "wide":
            y = min(max(t, c.wide_range[0]), c.wide_range[1])
        elif kind == "relu":
            y = min(max(t, 0), hi)
        elif kind == "none":
            y = min(max(t, lo), hi)
        else:
            v = min(max(t, -(1 << (c.width - 1))), (1 << (c.width - 1)) - 1)
            fn = plan_sigmoid if kind == "sigmoid" else plan_tanh
            y = int(fn(np.array([v]), c.sigmoid_in_frac, c.gate_frac, max(lo, 0) if kind == "sigmoid" else lo + 1,
                       hi)[0])
        if layer.gate >= 0:
            g = int(mem[layer.gate + j])
            y = math.floor((y * g + (1 << (c.gate_frac - 1))) / (1 << c.gate_frac))
        out.append(y)
    mem[layer.dst:layer.dst + layer.n_out] = out


def _program(c, rng, n_in=3, hidden=4, ctrl=True, p_outputs=1):
    lo, hi = c.act_range
    def lay(src, dst, n_i, n_o, kinds, gate=-1):
        return Layer(src=src, dst=dst, weights=rng.integers(lo, hi + 1, (n_o, n_i)),
                     bias=rng.integers(-3000, 3000, n_o), mult=rng.integers(1, 1 << 8, n_o), shift=int(rng.integers(9, 13)),
                     kind=kinds, zw=None if c.signed else rng.integers(0, hi + 1, n_o), gate=gate)
    relu, sig, wide = (KINDS.index(k) for k in ("relu", "sigmoid", "wide"))
    n_ctrl = hidden if ctrl else 0
    pred = (lay(0, 8, n_in, 3, [relu, relu, KINDS.index("tanh" if c.signed else "none")]),
            lay(8, 12, 3, n_ctrl + p_outputs, [sig] * n_ctrl + [wide] * p_outputs))
    approx = (lay(0, 20, n_in, hidden, [relu] * hidden, gate=12 if ctrl else -1),
              lay(20, 30, hidden, 2, [wide, wide]))
    return Program(n_in=n_in, pred=pred, approx=approx, p_addr=12 + n_ctrl, p_outputs=p_outputs, out_addr=30, n_out=2)


@pytest.mark.parametrize("signed, width, p_outputs", [(True, 8, 1), (False, 8, 2), (True, 6, 2)])
def test_golden_matches_a_per_neuron_loop(signed, width, p_outputs):
    c = NpuConfig(tiles=1, pes=2, width=width, signed=signed, acc_width=2 * width + 4, data_depth=40)
    rng = np.random.default_rng(width + signed)
    prog = _program(c, rng, p_outputs=p_outputs)
    lut = _exact_lut(width, signed)
    lut = lut + rng.integers(-2, 3, lut.shape)          # an "approximate" multiplier: the LUT is what counts
    x = rng.integers(*c.act_range, size=(20, 3), endpoint=True)
    got = run(prog, x, lut, c)
    for i in range(len(x)):
        mem = np.zeros(c.data_depth, dtype=object)
        mem[:3] = x[i]
        for layer in prog.pred:
            _ref_layer(mem, layer, lut, c)
        p = mem[prog.p_addr:prog.p_addr + p_outputs]
        assert got["safe"][i] == (p[0] > 0 if p_outputs == 1 else p[1] > p[0])
        for layer in prog.approx:
            _ref_layer(mem, layer, lut, c)
        assert list(got["data"][i]) == list(mem), i
    assert len(set(got["h"][:, 0])) > 3                                  # not all saturated


def test_accumulator_wraps():
    """A 9-bit accumulator holds -256..255: 4 * (-8 * -8) = 256 wraps to -256; 4 * (7 * 7) = 196 does not."""
    c = NpuConfig(pes=1, width=4, signed=True, acc_width=9, data_depth=8)
    for x, w, want in ((7, 7, 196), (-8, 7, -224), (-8, -8, -256)):
        lay = Layer(src=0, dst=4, weights=np.full((1, 4), w), bias=[0], mult=[1], shift=0, kind=[KINDS.index("wide")])
        prog = Program(n_in=4, pred=(lay,), approx=(lay,), p_addr=4, p_outputs=1, out_addr=4, n_out=1)
        assert run(prog, np.full((1, 4), x), _exact_lut(4, True), c)["h"][0, 0] == want


def test_program_round_trips_and_fit_errors():
    c = NpuConfig(tiles=1, pes=2, width=8, data_depth=40, weight_depth=64, neuron_depth=8)
    prog = _program(c, np.random.default_rng(0))
    back = from_dict(to_dict(prog))
    for a, b in zip(prog.layers, back.layers):
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.mult, b.mult) and a.shift == b.shift
    used = check_fits(prog, c)
    # passes per layer with 2 PEs: 3 -> 2, 5 -> 3, 4 -> 2, 2 -> 1; weights 2*3 + 3*3 + 2*3 + 1*4
    assert used == {"weights_per_pe": 25, "slots_per_pe": 8, "data_words": 32, "layers": 4}
    with pytest.raises(AxforgeError, match="Neuron slots per PE must be at most the NPU's neuron_depth = 7, not 8"):
        check_fits(prog, NpuConfig(tiles=1, pes=2, data_depth=40, neuron_depth=7))
    with pytest.raises(AxforgeError, match="Weights per PE must be at most the NPU's weight_depth = 24, not 25"):
        check_fits(prog, NpuConfig(tiles=1, pes=2, data_depth=40, weight_depth=24))
    with pytest.raises(AxforgeError, match="Program outputs addresses must be within the data memory 0..29, not .30..31."):
        check_fits(prog, NpuConfig(tiles=1, pes=2, data_depth=30))
    with pytest.raises(AxforgeError, match="Network layers must be at most the NPU's max_layers = 3, not 4"):
        check_fits(prog, NpuConfig(tiles=1, pes=2, data_depth=40, max_layers=3))
    with pytest.raises(AxforgeError, match="Layer 0 weight code must be an integer between -8 and 7"):
        check_fits(prog, NpuConfig(tiles=1, pes=2, width=4, data_depth=40))
