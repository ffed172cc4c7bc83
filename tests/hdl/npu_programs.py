"""Random valid NPU programs for the RTL tests, and the exact LUT of a multiplier in numpy.

:func:`random_program` builds a prediction subnet whose last layer writes the control vectors and
the P(x) slot, and an approximation subnet (from the inputs) whose gated layers read those control
vectors and whose last layer writes H(x). Each layer's requantisation (``M``, ``S``) and biases are
calibrated on random inputs through the golden model, so the outputs span the codes (clamps,
sigmoid segments, the P(x) decision both ways) instead of saturating.
"""

import numpy as np

from axforge.hdl.npu.golden import run
from axforge.hdl.npu.program import KINDS, Layer, Program

__all__ = ["exact_lut", "layer_sums", "random_inputs", "random_program"]


def exact_lut(config):
    """The exact multiplier's LUT (index ``a_raw << width | b_raw``)."""
    w = config.width
    codes = np.arange(1 << w, dtype=np.int64)
    vals = codes - (1 << w) * (codes >> (w - 1)) if config.signed else codes
    return (vals[:, None] * vals[None, :]).reshape(-1)


def random_inputs(config, n, n_in, rng):
    lo, hi = config.act_range
    return rng.integers(lo, hi + 1, (n, n_in))


def layer_sums(data, layer, lut, config):
    """A layer's accumulators before the wrap, on the samples' data memories (N, n_out)."""
    return _acc(data, layer.src, layer.weights, layer.zw, lut, config) + layer.bias[None, :]


def _acc(data, src, weights, zw, lut, config):
    """The accumulators of a layer (before the bias) on the samples' data memories."""
    c = config
    a = data[:, src:src + weights.shape[1]]
    mask = (1 << c.width) - 1
    acc = lut[((a & mask) << c.width)[:, None, :] | (weights & mask)[None, :, :]].sum(axis=2)
    if not c.signed:
        acc = acc - zw[None, :] * a.sum(axis=1, keepdims=True)
    return acc


def _layer(rng, config, lut, data, src, n_in, dst, kinds, gate=-1, centred=0, edge=False):
    """One layer with random weights, calibrated on ``data`` (the data memories before it); its
    last ``centred`` neurons (P(x)) get the bias that centres their sums, so P decides both ways;
    with ``edge`` the biases sit at the accumulator's limits instead, so that its sums wrap."""
    c = config
    lo, hi = c.act_range
    n_out = len(kinds)
    weights = rng.integers(lo, hi + 1, (n_out, n_in))
    zw = np.zeros(n_out, dtype=np.int64) if c.signed else rng.integers(lo, hi + 1, n_out)
    acc = _acc(data, src, weights, zw, lut, c)
    spread = np.maximum(acc.std(axis=0), 1.0)
    amax = (1 << (c.acc_width - 1)) - 1
    offset = rng.normal(0, 1, n_out)
    offset[n_out - centred:] = 0
    bias = np.clip(np.round(offset * spread - acc.mean(axis=0)), -amax, amax).astype(np.int64)
    if edge:
        bias = np.where(rng.random(n_out) < 0.5, -amax, amax) - np.round(acc.mean(axis=0))
        bias = np.clip(bias, -amax, amax).astype(np.int64)
    mult = rng.integers(1 << (c.mult_bits - 2), 1 << c.mult_bits, n_out)
    target = (1 << (c.width - 1)) * 2.0 ** rng.uniform(-1.5, 1.0)       # spread of t, in codes
    shift = int(np.clip(np.round(np.log2(np.median(spread * mult) / target)), 0, (1 << c.shift_bits) - 1))
    if shift == 0:   # a small sum: scale M down instead
        mult = np.clip(np.round(target / spread), 1, (1 << c.mult_bits) - 1).astype(np.int64)
    return Layer(src=src, dst=dst, weights=weights, bias=bias, mult=mult, shift=shift,
                 kind=np.array([KINDS.index(k) for k in kinds]), zw=zw, gate=gate)


def _hidden_kinds(rng, config, n):
    names = ["none", "relu", "sigmoid"] + (["tanh"] if config.signed else [])
    return [names[i] for i in rng.integers(0, len(names), n)]


def random_program(config, lut, rng, *, n_in=4, pred=(3,), approx=(3, 2), p_outputs=1, gated=(True, True),
                   wrap=False, calib=64):
    """A random program: prediction hidden layers of sizes ``pred`` then the layer of control
    vectors + P(x); approximation layers of sizes ``approx`` (the last is H(x)), layer ``i`` gated
    when ``gated[i]``; with ``wrap`` the first layer's sums wrap around the accumulator about half
    the time. Data layout: inputs, then each layer's outputs in order."""
    x = random_inputs(config, calib, n_in, rng)
    layers, top = [], n_in

    def data_before():
        prog = Program(n_in, tuple(layers), (), 0, 1, 0, 1)
        return run(prog, x, lut, config)["data"] if layers else _inputs_only()

    def _inputs_only():
        d = np.zeros((calib, config.data_depth), dtype=np.int64)
        d[:, :n_in] = x
        return d

    src, width = 0, n_in
    for n in pred:
        layers.append(_layer(rng, config, lut, data_before(), src, width, top, _hidden_kinds(rng, config, n),
                             edge=wrap and not layers))
        src, width, top = top, n, top + n
    n_ctl = max([n for n, g in zip(approx, gated) if g], default=0)
    ctl_kinds = ["sigmoid" if rng.random() < 0.7 else k for k in _hidden_kinds(rng, config, n_ctl)]
    ctl_addr = top
    layers.append(_layer(rng, config, lut, data_before(), src, width, top, ctl_kinds + ["wide"] * p_outputs,
                         centred=p_outputs))
    p_addr, top = top + n_ctl, top + n_ctl + p_outputs
    n_pred = len(layers)
    src, width = 0, n_in
    for i, (n, g) in enumerate(zip(approx, gated)):
        last = i == len(approx) - 1
        kinds = ["wide"] * n if last else _hidden_kinds(rng, config, n)
        gate = ctl_addr + int(rng.integers(0, n_ctl - n + 1)) if g else -1
        layers.append(_layer(rng, config, lut, data_before(), src, width, top, kinds, gate))
        src, width, top = top, n, top + n
    return Program(n_in=n_in, pred=tuple(layers[:n_pred]), approx=tuple(layers[n_pred:]), p_addr=p_addr,
                   p_outputs=p_outputs, out_addr=src, n_out=approx[-1])
