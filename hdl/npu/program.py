"""An NPU program: the integer network, as layers of neurons placed in the data memory.

A :class:`Program` is what the compiler produces and what both the RTL image
(:mod:`.image`) and the golden model (:mod:`.golden`) consume. Every value is an integer.

A sample runs in two phases. The *prediction* phase runs ``pred`` (the prediction subnet, whose
last layer writes the control vectors and the P(x) slot); the NPU then reads P(x): with one
output the sample is safe when ``P > 0``, with two when ``P[1] > P[0]``. An unsafe sample is
signalled to the CPU (a fallback beat with its index); a safe one runs the *approximation* phase,
``approx``, whose last layer writes ``H(x)`` at ``out_addr``. A one-pass / iterative pair is the
same program with no gate addresses.

Neuron ``j`` of a layer computes, with ``a = data[src : src + n_in]``::

    acc  = bias[j] + sum_k mult(a[k], w[j, k]) - zw[j] * sum_k a[k]    (mod 2**acc_width)
    t    = (acc * M[j] + round) >> S          round = 2**(S-1) if S > 0 else 0, arithmetic shift
    y    = out(kind[j], t)                     see KINDS
    y    = (y * data[gate + j] + 2**(F-1)) >> F   if the layer has a gate (F = config.gate_frac)
    data[dst + j] = y

``mult`` is the NPU's multiplier (its RTL LUT); ``zw`` is 0 on a signed NPU.
"""

from dataclasses import dataclass, field

import numpy as np

from axforge.errors import AxforgeError, bad_value

__all__ = ["KINDS", "Layer", "Program", "WIDE", "check_fits", "from_dict", "passes", "to_dict"]

#: output kinds: ``none`` clamps to the activation range (a linear hidden layer), ``relu``
#: clamps to [0, act max], ``sigmoid`` / ``tanh`` are the piecewise-linear units of
#: :mod:`.golden` (outputs with ``gate_frac`` fraction bits), ``wide`` clamps to ``out_width``
#: bits (H(x), P(x): never an operand)
KINDS = ("none", "relu", "sigmoid", "tanh", "wide")
WIDE = KINDS.index("wide")


@dataclass(frozen=True)
class Layer:
    """One layer of neurons (arrays are int64; ``kind`` holds indices into :data:`KINDS`)."""
    src: int
    dst: int
    weights: np.ndarray          # (n_out, n_in) weight codes
    bias: np.ndarray             # (n_out,) in the accumulator's units
    mult: np.ndarray             # (n_out,) requantisation multipliers M
    shift: int                   # S, shared by the layer
    kind: np.ndarray             # (n_out,) indices into KINDS
    zw: np.ndarray = None        # (n_out,) weight zero points (unsigned NPU), default 0
    gate: int = -1               # data address of c[0 .. n_out-1], or -1

    def __post_init__(self):
        w = np.asarray(self.weights, dtype=np.int64)
        if w.ndim != 2 or not w.size:
            raise AxforgeError(f"Layer weights must be a non-empty (n_out, n_in) array, not shape {w.shape}")
        object.__setattr__(self, "weights", w)
        for name in ("bias", "mult", "kind", "zw"):
            v = getattr(self, name)
            v = np.zeros(w.shape[0], dtype=np.int64) if v is None else np.asarray(v, dtype=np.int64).reshape(-1)
            if v.shape != (w.shape[0],):
                raise AxforgeError(f"Layer {name} must have one entry per neuron ({w.shape[0]}), not {v.shape[0]}")
            object.__setattr__(self, name, v)

    @property
    def n_in(self):
        return self.weights.shape[1]

    @property
    def n_out(self):
        return self.weights.shape[0]


@dataclass(frozen=True)
class Program:
    """A compiled network (see the module docstring); ``meta`` holds what the host needs and the
    RTL does not: the input quantiser, the output scale, the kernel, the method."""
    n_in: int
    pred: tuple                  # Layers of the prediction phase (the last one writes P)
    approx: tuple                # Layers of the approximation phase (the last one writes H)
    p_addr: int
    p_outputs: int               # 1 or 2
    out_addr: int
    n_out: int
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def layers(self):
        return tuple(self.pred) + tuple(self.approx)


def passes(n_neurons, n_pes):
    return -(-n_neurons // n_pes)


def _in_range(values, lo, hi, what):
    values = np.asarray(values)
    if values.size and (values.min() < lo or values.max() > hi):
        bad = values[(values < lo) | (values > hi)].flat[0]
        raise bad_value(what, int(bad), f"an integer between {lo} and {hi}")


def check_fits(program, config):
    """Raise a one-line :class:`AxforgeError` when ``program`` cannot run on ``config``.

    Checks the codes against the widths, that no layer is gated on an NPU with ``gating: false``,
    the memories (weights and neuron slots per PE, data words,
    layer descriptors) and the addresses. Returns ``{"weights_per_pe", "slots_per_pe", "data_words",
    "layers"}``, the resources the program uses."""
    c = config
    if program.p_outputs not in (1, 2):
        raise bad_value("Program p_outputs", program.p_outputs, "1 or 2")
    if not program.pred or not program.approx:
        raise AxforgeError("A program needs at least one prediction layer and one approximation layer")
    n_layers = len(program.layers)
    if n_layers > c.max_layers:
        raise bad_value("Network layers", n_layers, f"at most the NPU's max_layers = {c.max_layers}")
    wlo, whi = c.act_range
    alo, ahi = -(1 << (c.acc_width - 1)), (1 << (c.acc_width - 1)) - 1
    top = 0
    for what, start, n in (("Program inputs", 0, program.n_in), ("P(x) slot", program.p_addr, program.p_outputs),
                           ("Program outputs", program.out_addr, program.n_out)):
        if n < 1 or start < 0 or start + n > c.data_depth:
            raise bad_value(f"{what} addresses", f"{start}..{start + n - 1}",
                            f"within the data memory 0..{c.data_depth - 1}")
    weights_per_pe = slots_per_pe = 0
    for i, layer in enumerate(program.layers):
        where = f"Layer {i}"
        if layer.gate >= 0 and not c.gating:
            span = f"{layer.gate}..{layer.gate + layer.n_out - 1}"
            raise AxforgeError(f"{where} is gated (control values at data {span}), but the NPU has gating: false "
                               "(no Hadamard multiplier); run an ungated program (one-pass / iterative) or use an "
                               "NPU with gating: true")
        _in_range(layer.weights, wlo, whi, f"{where} weight code")
        _in_range(layer.bias, alo, ahi, f"{where} bias")
        _in_range(layer.mult, 1, (1 << c.mult_bits) - 1, f"{where} requantisation multiplier")
        _in_range([layer.shift], 0, (1 << c.shift_bits) - 1, f"{where} shift")
        _in_range(layer.kind, 0, len(KINDS) - 1, f"{where} output kind")
        _in_range(layer.zw, *(c.act_range if not c.signed else (0, 0)), f"{where} weight zero point")
        if c.signed is False and (layer.kind == KINDS.index("tanh")).any():
            raise bad_value(f"{where} activation", "tanh", "none, relu or sigmoid on an unsigned NPU")
        p = passes(layer.n_out, c.n_pes)
        weights_per_pe += p * layer.n_in
        slots_per_pe += p
        spans = [(layer.src, layer.n_in, "input"), (layer.dst, layer.n_out, "output")]
        if layer.gate >= 0:
            spans.append((layer.gate, layer.n_out, "gate"))
        for start, n, what in spans:
            if start < 0 or start + n > c.data_depth:
                raise bad_value(f"{where} {what} addresses", f"{start}..{start + n - 1}",
                                f"within the data memory 0..{c.data_depth - 1}")
            top = max(top, start + n)
    if weights_per_pe > c.weight_depth:
        raise bad_value("Weights per PE", weights_per_pe, f"at most the NPU's weight_depth = {c.weight_depth}")
    if slots_per_pe > c.neuron_depth:
        raise bad_value("Neuron slots per PE", slots_per_pe, f"at most the NPU's neuron_depth = {c.neuron_depth}")
    return {"weights_per_pe": weights_per_pe, "slots_per_pe": slots_per_pe, "data_words": top, "layers": n_layers}


_LAYER_ARRAYS = ("weights", "bias", "mult", "kind", "zw")


def to_dict(program):
    """A JSON-ready dict of ``program`` (integers and lists only)."""
    def layer(lay):
        return {"src": lay.src, "dst": lay.dst, "shift": int(lay.shift), "gate": lay.gate,
                **{k: getattr(lay, k).tolist() for k in _LAYER_ARRAYS}}
    return {"n_in": program.n_in, "pred": [layer(x) for x in program.pred],
            "approx": [layer(x) for x in program.approx], "p_addr": program.p_addr,
            "p_outputs": program.p_outputs, "out_addr": program.out_addr, "n_out": program.n_out,
            "meta": program.meta}


def from_dict(d):
    """The :class:`Program` of :func:`to_dict`'s output."""
    try:
        def layer(x):
            return Layer(src=int(x["src"]), dst=int(x["dst"]), shift=int(x["shift"]), gate=int(x["gate"]),
                         **{k: np.asarray(x[k], dtype=np.int64) for k in _LAYER_ARRAYS})
        return Program(n_in=int(d["n_in"]), pred=tuple(layer(x) for x in d["pred"]),
                       approx=tuple(layer(x) for x in d["approx"]), p_addr=int(d["p_addr"]),
                       p_outputs=int(d["p_outputs"]), out_addr=int(d["out_addr"]), n_out=int(d["n_out"]),
                       meta=dict(d.get("meta", {})))
    except (KeyError, TypeError, ValueError) as exc:
        raise AxforgeError(f"An NPU program must hold every field of a compiled image, not a broken one ({exc!r})")
