"""The golden model of the NPU: a :class:`~.program.Program` run on integer inputs, in numpy.

It is the integer arithmetic of :mod:`.program` exactly, vectorised over samples; the RTL must
agree with it bit for bit. The multiplier is a LUT (from its RTL, :func:`axforge.sim.lut.extract_lut`),
indexed ``a_raw << width | w_raw`` with two's complement raw codes.

Sigmoid is the PLAN piecewise-linear approximation (Amin, Curtis and Hayes-Gill, 1997), on
codes: the input ``v`` has ``fi = config.sigmoid_in_frac`` fraction bits, the output ``fo =
config.gate_frac``; for ``a = |v|``::

    a <  1                 y = 1/2     + a / 4       (each term floored to fo bits)
    1 <= a < 2.375         y = 5/8     + a / 8
    2.375 <= a < 5         y = 27/32   + a / 32
    a >= 5                 y = 1
    v < 0                  y = 1 - y(a)

and the result is clamped to the activation range. ``tanh(x) = 2 sigmoid(2x) - 1``: the same
unit with ``fi - 1`` input and ``fo + 1`` output fraction bits, minus ``2**fo``.
"""

import numpy as np

from .program import KINDS, WIDE, passes

__all__ = ["plan_sigmoid", "plan_tanh", "requant", "run", "unit_out"]


def _floor_shift(x, s):
    """``floor(x * 2**-s)`` for int64 arrays (``s`` may be negative: a left shift)."""
    return x >> s if s >= 0 else x << -s


def _plan_pos(a, fi, fo):
    """PLAN's y(a) for a >= 0, in ``fo`` fraction bits (before the clamp)."""
    one = 1 << fo
    r1 = (one >> 1) + _floor_shift(a << fo, fi + 2)
    r2 = ((5 << fo) >> 3) + _floor_shift(a << fo, fi + 3)
    r3 = ((27 << fo) >> 5) + _floor_shift(a << fo, fi + 5)
    return np.where(a < (1 << fi), r1,
                    np.where(8 * a < (19 << fi), r2, np.where(a < (5 << fi), r3, one)))


def plan_sigmoid(v, fi, fo, lo, hi):
    """Sigmoid of codes ``v`` (``fi`` fraction bits) -> codes (``fo`` bits), clamped to [lo, hi]."""
    v = np.asarray(v, dtype=np.int64)
    y = _plan_pos(np.abs(v), fi, fo)
    y = np.where(v < 0, (1 << fo) - y, y)
    return np.clip(y, lo, hi)


def plan_tanh(v, fi, fo, lo, hi):
    """``2 sigmoid(2x) - 1`` on codes (``fi >= 1``)."""
    v = np.asarray(v, dtype=np.int64)
    a = np.abs(v)
    y = _plan_pos(a, fi - 1, fo + 1)
    y = np.where(v < 0, (1 << (fo + 1)) - y, y) - (1 << fo)
    return np.clip(y, lo, hi)


def requant(acc, mult, shift):
    """``(acc * M + round) >> S`` (arithmetic; round = 2**(S-1), 0 when S = 0)."""
    acc = np.asarray(acc, dtype=np.int64)
    t = acc * np.asarray(mult, dtype=np.int64)
    if shift:
        t = (t + (1 << (shift - 1))) >> shift
    return t


def unit_out(t, kind, config):
    """The output unit: ``t`` (requantised) -> the neuron's output code, per :data:`.program.KINDS`."""
    c = config
    lo, hi = c.act_range
    kind = np.broadcast_to(np.asarray(kind), t.shape)
    vin = np.clip(t, -(1 << (c.width - 1)), (1 << (c.width - 1)) - 1)
    out = np.clip(t, lo, hi)                                            # none
    out = np.where(kind == KINDS.index("relu"), np.clip(t, 0, hi), out)
    sig = plan_sigmoid(vin, c.sigmoid_in_frac, c.gate_frac, max(lo, 0), hi)
    out = np.where(kind == KINDS.index("sigmoid"), sig, out)
    if c.signed:
        tnh = plan_tanh(vin, c.sigmoid_in_frac, c.gate_frac, lo + 1, hi)
        out = np.where(kind == KINDS.index("tanh"), tnh, out)
    out = np.where(kind == WIDE, np.clip(t, *c.wide_range), out)
    return out


def _wrap(x, bits):
    m = 1 << bits
    return ((x + (m >> 1)) % m) - (m >> 1)


def _layer(data, layer, lut, config):
    c = config
    a = data[:, layer.src:layer.src + layer.n_in]                       # (N, n_in)
    mask = (1 << c.width) - 1
    idx = ((a & mask) << c.width)[:, None, :] | (layer.weights & mask)[None, :, :]
    acc = lut[idx].sum(axis=2) + layer.bias[None, :]
    if not c.signed:
        acc = acc - layer.zw[None, :] * a.sum(axis=1, keepdims=True)
    acc = _wrap(acc, c.acc_width)
    y = unit_out(requant(acc, layer.mult[None, :], layer.shift), layer.kind[None, :], c)
    if layer.gate >= 0:
        g = data[:, layer.gate:layer.gate + layer.n_out]
        f = c.gate_frac
        y = (y * g + (1 << (f - 1))) >> f
    data[:, layer.dst:layer.dst + layer.n_out] = y


def run(program, x, lut, config):
    """Run ``program`` on input codes ``x`` (N, n_in).

    Returns a dict: ``safe`` (N,) bool, ``p`` (N, p_outputs) the P(x) codes, ``h`` (N, n_out) the
    output codes (``H(x)``; for unsafe samples what the approximation phase *would* write, which
    the NPU never computes), ``data`` (N, data_depth) the data memory after both phases (as if
    every sample were safe), ``pred_data`` the data memory after the prediction phase.
    """
    x = np.asarray(x, dtype=np.int64)
    lut = np.asarray(lut, dtype=np.int64)
    data = np.zeros((len(x), config.data_depth), dtype=np.int64)
    data[:, :program.n_in] = x
    for layer in program.pred:
        _layer(data, layer, lut, config)
    pred_data = data.copy()
    p = data[:, program.p_addr:program.p_addr + program.p_outputs]
    safe = p[:, 0] > 0 if program.p_outputs == 1 else p[:, 1] > p[:, 0]
    for layer in program.approx:
        _layer(data, layer, lut, config)
    return {"safe": safe, "p": p.copy(), "h": data[:, program.out_addr:program.out_addr + program.n_out].copy(),
            "data": data, "pred_data": pred_data}


def layer_passes(program, config):
    """Passes of each layer (prediction layers first)."""
    return [passes(layer.n_out, config.n_pes) for layer in program.layers]
