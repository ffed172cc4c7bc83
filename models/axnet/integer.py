"""Integer-only AXNet: a trained network compiled to an NPU :class:`~axforge.hdl.npu.program.Program`.

The compiler quantises a method's networks for an NPU (:class:`~axforge.hdl.npu.config.NpuConfig`)
the way integer-only inference does (Jacob et al. 2018), with every scale calibrated on the
training split in float:

- the inputs: symmetric codes ``round(x / s_x)`` on a signed NPU; on an unsigned one
  ``round(x / s_x) + z_x`` with the zero point folded into the first layers' biases;
- the weights: one scale per neuron, symmetric (signed) or with a per-neuron zero point ``zw``
  (unsigned; the NPU subtracts ``zw * sum(a)``); biases in the accumulator's units;
- each neuron's output scale: ReLU layers from the largest calibrated activation; sigmoid (the
  control vectors) at the fixed input scale ``2**-sigmoid_in_frac`` of the PLAN unit; wide outputs
  (``H(x)`` per output, ``P(x)`` one scale for its one or two logits) from their calibrated range;
- the requantisation ``M / 2**S``: one shift per layer, the largest for which every neuron's
  ``M`` fits ``mult_bits``.

The data memory holds ``x`` at 0, then the prediction subnet's hidden layers, its output layer
``[c(1) | ... | c(l) | P]``, the approximation subnet's hidden layers and ``H(x)``. A gated
hidden layer reads its control vector's address as its gate. A one-pass or iterative pair
compiles to the same layout without gates. The golden model (:func:`axforge.hdl.npu.golden.run`)
then runs the program with the multiplier's RTL LUT: :func:`integer_metrics` are the metrics the
NPU itself produces.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from axforge.errors import bad_value
from axforge.hdl.npu import golden
from axforge.hdl.npu.program import KINDS, Layer, Program, check_fits

from .metrics import quality_metrics
from .nets import AXNet, PairNet

__all__ = ["compile_net", "dequantise", "integer_metrics", "quantise_inputs"]


def _linear_params(layer):
    return layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy()


@torch.no_grad()
def _calibrate(net, x):
    """Float pre-activations of every layer on ``x``: ``(pred: [z...], approx: [z...])`` and the
    approximator's (ungated) hidden activations where gating applies after the clamp."""
    x = x.double()
    net = net.double()
    try:
        pz, a = [], x
        layers = list(net.pred.layers)
        for i, layer in enumerate(layers):
            z = layer(a)
            pz.append(z)
            a = F.relu(z) if i < len(layers) - 1 else z
        if isinstance(net, AXNet):
            cs, _ = net.controls(x)
        else:
            cs = [None] * (len(net.approx.layers) - 1)
        az, a = [], x
        layers = list(net.approx.layers)
        acts = net.approx.acts
        for i, layer in enumerate(layers):
            if i and cs[i - 1] is not None:
                a = a * cs[i - 1]
            z = layer(a)
            az.append(z)
            a = _FLOAT[acts[i]](z) if i < len(layers) - 1 else z
    finally:
        net.float()
    return [z.numpy() for z in pz], [z.numpy() for z in az]


_FLOAT = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


def _weight_codes(w, config):
    """Per-neuron codes of ``w`` (n_out, n_in): ``(codes, scales, zero points)``."""
    n = config.width
    if config.signed:
        qmax = (1 << (n - 1)) - 1
        s = np.abs(w).max(axis=1) / qmax
        s = np.where(s > 0, s, 1.0)
        return np.clip(np.round(w / s[:, None]), -qmax, qmax).astype(np.int64), s, np.zeros(len(w), np.int64)
    qmax = (1 << n) - 1
    lo, hi = np.minimum(w.min(axis=1), 0), np.maximum(w.max(axis=1), 0)
    s = (hi - lo) / qmax
    s = np.where(s > 0, s, 1.0)
    zw = np.clip(np.round(-lo / s), 0, qmax).astype(np.int64)
    return np.clip(np.round(w / s[:, None]) + zw[:, None], 0, qmax).astype(np.int64), s, zw


def _requant(ratio, config, where):
    """``(M per neuron, S)`` with ``M / 2**S ~ ratio``, the largest S that keeps every M in range."""
    mmax = (1 << config.mult_bits) - 1
    smax = min((1 << config.shift_bits) - 1, config.acc_width + config.mult_bits)
    s = min(smax, min(math.floor(math.log2(mmax / r)) for r in ratio))
    if s < 0:
        raise bad_value(f"{where} requantisation ratio", float(max(ratio)),
                        f"at most {mmax} (the NPU's mult_bits = {config.mult_bits})")
    m = np.clip(np.round(np.asarray(ratio) * 2.0 ** s), 1, mmax).astype(np.int64)
    return m, s


def _input_quant(x, config):
    n = config.width
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    if config.signed:
        qmax = (1 << (n - 1)) - 1
        s = max(hi, -lo) / qmax or 1.0
        return {"scale": s, "zero_point": 0, "lo": -qmax, "hi": qmax}
    qmax = (1 << n) - 1
    s = (hi - lo) / qmax or 1.0
    return {"scale": s, "zero_point": int(np.clip(round(-lo / s), 0, qmax)), "lo": 0, "hi": qmax}


def quantise_inputs(program, x_net):
    """Network-unit inputs (N, n_in) -> the NPU's input codes, with the program's input quantiser."""
    q = program.meta["input"]
    x = np.asarray(x_net.numpy() if torch.is_tensor(x_net) else x_net, dtype=np.float64)
    return np.clip(np.round(x / q["scale"]) + q["zero_point"], q["lo"], q["hi"]).astype(np.int64)


def dequantise(program, h_codes):
    """H(x) codes (N, n_out) -> network units (float32)."""
    return (np.asarray(h_codes, dtype=np.float64) * np.asarray(program.meta["out_scales"])).astype(np.float32)


class _Builder:
    def __init__(self, config):
        self.c = config
        self.addr = 0

    def alloc(self, n):
        a = self.addr
        self.addr += n
        return a

    def layer(self, lin, src, s_in, z_in, out_scale, kind, where, gate=-1, dst=None):
        """A Layer for ``nn.Linear`` ``lin`` reading codes at scale ``s_in`` (zero point ``z_in``)."""
        c = self.c
        w, b = _linear_params(lin)
        wq, sw, zw = _weight_codes(w, c)
        bias = np.round(b / (s_in * sw)).astype(np.int64)
        if z_in:
            bias = bias - z_in * (wq - zw[:, None]).sum(axis=1)
        m, s = _requant(s_in * sw / np.asarray(out_scale), c, where)
        dst = self.alloc(len(w)) if dst is None else dst
        return Layer(src=src, dst=dst, weights=wq, bias=bias, mult=m, shift=s,
                     kind=np.asarray(kind, dtype=np.int64), zw=zw if not c.signed else None, gate=gate)


def _act_scale(z, config, where):
    """A ReLU layer's per-neuron output scale: the layer's largest calibrated activation -> act max."""
    hi = float(np.maximum(z, 0).max())
    return (hi if hi > 0 else 1.0) / config.act_range[1]


def compile_net(net, config, calib_x, meta=None):
    """Compile ``net`` (:class:`.nets.AXNet` or :class:`.nets.PairNet`) for ``config``.

    ``calib_x``: network-unit inputs (the training split) that calibrate every scale. Returns the
    :class:`Program`; raises a one-line error when it cannot fit the NPU (:func:`check_fits`)."""
    if not isinstance(net, (AXNet, PairNet)):
        raise bad_value("Network", type(net).__name__, "an AXNet or an approximator + predictor pair "
                        "(the weight-sharing net has no NPU mapping)")
    c = config
    x = calib_x if torch.is_tensor(calib_x) else torch.as_tensor(np.asarray(calib_x))
    pz, az = _calibrate(net, x)
    inq = _input_quant(x.double().numpy(), c)
    relu, sig, wide = KINDS.index("relu"), KINDS.index("sigmoid"), KINDS.index("wide")
    bld = _Builder(c)
    n_in = x.shape[1]
    bld.alloc(n_in)
    pred, approx = [], []
    gated = isinstance(net, AXNet)
    splits = net.splits if gated else (net.p_outputs,)
    # prediction subnet
    src, s_in, z_in = 0, inq["scale"], inq["zero_point"]
    layers = list(net.pred.layers)
    for i, lin in enumerate(layers[:-1]):
        scale = _act_scale(pz[i], c, f"Prediction layer {i}")
        pred.append(bld.layer(lin, src, s_in, z_in, scale, [relu] * lin.out_features, f"Prediction layer {i}"))
        src, s_in, z_in = pred[-1].dst, scale, 0
    zp = pz[-1]
    p_cols = slice(sum(splits[:-1]), None)
    p_scale = (float(np.abs(zp[:, p_cols]).max()) or 1.0) / c.wide_range[1]
    ctrl_scale = 2.0 ** -c.sigmoid_in_frac
    n_ctrl = sum(splits[:-1])
    scales = [ctrl_scale] * n_ctrl + [p_scale] * splits[-1]
    kinds = [sig] * n_ctrl + [wide] * splits[-1]
    pred.append(bld.layer(layers[-1], src, s_in, z_in, scales, kinds, "Prediction output layer"))
    ctrl_addr = pred[-1].dst
    p_addr = ctrl_addr + n_ctrl
    gate_of = {}
    if gated:
        off = ctrl_addr
        for layer_idx, width in zip(net.gated, splits[:-1]):
            gate_of[layer_idx] = off
            off += width
    # approximation subnet
    src, s_in, z_in = 0, inq["scale"], inq["zero_point"]
    layers = list(net.approx.layers)
    for i, lin in enumerate(layers[:-1]):
        where = f"Approximation layer {i}"
        act = net.approx.acts[i]
        if act == "relu":                  # calibrated output scale
            scale, out_scale = _act_scale(az[i], c, where), None
        elif act == "tanh" and not c.signed:
            raise bad_value(f"{where} activation", act, "relu or sigmoid on an unsigned NPU (tanh needs signed codes)")
        else:                              # PLAN: fixed input and output scales
            scale, out_scale = ctrl_scale, 2.0 ** -c.gate_frac
        approx.append(bld.layer(lin, src, s_in, z_in, scale, [KINDS.index(act)] * lin.out_features, where,
                                gate=gate_of.get(i + 1, -1)))
        src, s_in, z_in = approx[-1].dst, out_scale or scale, 0
    zh = az[-1]
    out_scales = np.where(np.abs(zh).max(axis=0) > 0, np.abs(zh).max(axis=0), 1.0) / c.wide_range[1]
    approx.append(bld.layer(layers[-1], src, s_in, z_in, out_scales, [wide] * layers[-1].out_features,
                            "Approximation output layer"))
    prog = Program(n_in=n_in, pred=tuple(pred), approx=tuple(approx), p_addr=p_addr, p_outputs=splits[-1],
                   out_addr=approx[-1].dst, n_out=layers[-1].out_features,
                   meta={"input": inq, "out_scales": out_scales.tolist(), "p_scale": p_scale, **(meta or {})})
    if bld.addr > c.data_depth:
        raise bad_value("Data words the network needs", bld.addr, f"at most the NPU's data_depth = {c.data_depth}")
    check_fits(prog, c)
    return prog


def integer_metrics(program, config, lut, kernel, x_net, t_raw, group):
    """``(metrics, golden outputs)``: the NPU's own metrics (:func:`.metrics.quality_metrics`) of
    ``program`` on network-unit inputs ``x_net`` against the raw exact outputs ``t_raw``."""
    xq = quantise_inputs(program, x_net)
    out = golden.run(program, xq, lut, config)
    h = dequantise(program, out["h"])
    errors = kernel.errors(kernel.from_net_out(h), t_raw)
    m = quality_metrics(errors, errors < kernel.bound(group), out["safe"])
    return m, {**out, "x": xq, "errors": errors}

