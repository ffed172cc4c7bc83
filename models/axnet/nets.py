"""The networks: approximator, predictor, AXNet (gated by control vectors), the weight-sharing net.

Every network is built from ``nn.Linear`` layers, so :func:`axforge.models.layers.approximate`
can swap each for its integer-emulated twin; everything between layers (ReLU, the control
vectors' sigmoid, the Hadamard gating) is plain float arithmetic on the layers' outputs.

Index convention (as in the paper, Sec. III-B): the approximator ``n_0-n_1-...-n_l-n_out`` has
``l`` hidden layers. ``a(0) = x``; ``a(1) = relu(W(0)^T x + b(0))``; for ``i = 1..l``::

    a(i+1) = f(W(i)^T (a(i) ⊙ c(i)) + b(i))        f = relu for i < l, identity for i = l

so ``c(i)`` (width ``n_i``) gates the *output of hidden layer i* where the next layer reads it,
and ``H(x) = a(l+1)``. The input ``x`` is never gated. An ungated hidden layer (the simplified
variant, ``control=k``) has ``c(i) = 1``. The prediction subnet is an MLP on ``x`` whose last
layer has ``n_1 + ... + n_l + p_outputs`` units (``n_k + p_outputs`` with ``control=k``),
ordered ``[c(1) | ... | c(l) | P]``: ``c(i) = sigmoid(z_i)`` in (0, 1) (1 lets a neuron
through, 0 switches it off), and ``P`` is one logit (``P(x) = sigmoid``) or two (``P(x) =
softmax``, class 1 = safe).
"""

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from axforge.errors import bad_value

__all__ = ["ACTIVATIONS", "AXNet", "Approximator", "PairNet", "Predictor", "SharingNet", "always_safe",
           "check_acts", "match_predictor", "n_params", "parse_topology", "safe_logit", "topology_text"]


def parse_topology(text, what="Topology", min_layers=2):
    """``"6-8-8-1"`` (or a sequence of ints) -> ``(6, 8, 8, 1)``: widths, input first."""
    if isinstance(text, str):
        parts = text.strip().split("-")
        try:
            widths = tuple(int(p) for p in parts)
        except ValueError:
            widths = ()
    elif isinstance(text, (tuple, list)) and all(isinstance(w, int) and not isinstance(w, bool) for w in text):
        widths = tuple(text)
    else:
        widths = ()
    if len(widths) < min_layers or any(w < 1 for w in widths):
        example = "'6-8-8-1'" if min_layers > 1 else "'6-8'"
        raise bad_value(what, text, f"at least {min_layers} positive widths joined by '-' (e.g. {example})")
    return widths


def topology_text(widths):
    return "-".join(str(w) for w in widths)


def _check_p_outputs(p_outputs):
    if p_outputs not in (1, 2) or isinstance(p_outputs, bool):
        raise bad_value("Predictor outputs", p_outputs, "1 (sigmoid) or 2 (softmax)")


def safe_logit(p_logits):
    """The prediction as one score ``s`` with ``P(x) > 0.5  <=>  s > 0``: the logit itself for one
    output, ``z_safe - z_unsafe`` for two (softmax, class 1 = safe; a tie is unsafe)."""
    return p_logits[:, 0] if p_logits.shape[1] == 1 else p_logits[:, 1] - p_logits[:, 0]


def _mlp(widths):
    return nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(widths))


#: the hidden-layer activations an approximator may use (the NPU's output units, :data:`KINDS`)
ACTIVATIONS = ("relu", "sigmoid", "tanh")
_ACT = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


def check_acts(acts, n_hidden, what="Approximator activations"):
    """``acts`` as a tuple of ``n_hidden`` names of :data:`ACTIVATIONS` (None: all ReLU)."""
    if acts is None:
        return ("relu",) * n_hidden
    acts = tuple(acts)
    if len(acts) != n_hidden or any(a not in ACTIVATIONS for a in acts):
        raise bad_value(what, list(acts), f"{n_hidden} of " + ", ".join(ACTIVATIONS) + " (one per hidden layer)")
    return acts


def _run(layers, x, controls=None, acts=None):
    """The MLP ``layers`` on ``x``: ``acts[i]`` (default ReLU) after every layer but the last;
    ``controls[i - 1]`` (``c(i)``, or None) gates the input of layer ``i`` for i >= 1."""
    a = x
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        if i and controls is not None and controls[i - 1] is not None:
            a = a * controls[i - 1]
        a = layer(a)
        if i < last:
            a = _ACT[acts[i]](a) if acts else F.relu(a)
    return a


class Approximator(nn.Module):
    """The MLP ``H``: ReLU hidden layers (or one activation per hidden layer), a linear output.

    Parameters
    ----------
    topology : str or sequence of int -- ``"input-hidden...-output"``, e.g. ``"6-8-8-1"``.
    acts : sequence of str, optional -- one of :data:`ACTIVATIONS` per hidden layer (default ReLU);
        the NPU computes sigmoid and tanh with its PLAN units.

    Attributes
    ----------
    widths : tuple of int
    acts : tuple of str
    layers : nn.ModuleList of nn.Linear -- ``layers[i]`` is ``W(i), b(i)``.
    """

    def __init__(self, topology, acts=None):
        super().__init__()
        self.widths = parse_topology(topology, "Approximator topology")
        self.acts = check_acts(acts, len(self.widths) - 2)
        self.layers = _mlp(self.widths)

    @property
    def hidden(self):
        """Widths of the hidden layers ``n_1..n_l``."""
        return self.widths[1:-1]

    def forward(self, x, controls=None):
        """``H(x)``; ``controls[i - 1]`` is ``c(i)`` (N, n_i) or None (ungated), for i = 1..l."""
        return _run(self.layers, x, controls, self.acts)


class Predictor(nn.Module):
    """The MLP ``P``: ReLU hidden layers and ``n_classes`` output logits (1: sigmoid, 2: softmax).

    Parameters
    ----------
    n_in : int
    hidden : sequence of int -- hidden widths (may be empty: logistic regression).
    n_classes : int -- the number of output logits.
    """

    def __init__(self, n_in, hidden, n_classes):
        super().__init__()
        self.widths = (int(n_in), *(int(h) for h in hidden), int(n_classes))
        parse_topology(self.widths, "Predictor widths")
        self.layers = _mlp(self.widths)

    def forward(self, x):
        return _run(self.layers, x)


class AXNet(nn.Module):
    """The approximation subnet gated by control vectors from the prediction subnet.

    Parameters
    ----------
    topology : str -- the approximation subnet, ``"input-hidden...-output"`` (``l >= 1`` hidden).
    pred_hidden : sequence of int -- hidden widths of the prediction subnet (its input is ``x``).
    p_outputs : 1 or 2 -- P(x) as one sigmoid logit or two softmax logits.
    control : "all" or int -- one control vector per hidden layer, or only at hidden layer ``k``
        (1-based, ``1 <= k <= l``; the simplified variant of Sec. III-D).
    acts : sequence of str, optional -- the approximation subnet's hidden activations
        (:class:`Approximator`; default ReLU).

    Attributes
    ----------
    approx : Approximator -- ``H``.
    pred : Predictor -- trunk and the split output layer ``[c(1) | ... | c(l) | P]``.
    gated : tuple of int -- the hidden layers that get a control vector (1-based).
    """

    def __init__(self, topology, pred_hidden, p_outputs=1, control="all", acts=None):
        super().__init__()
        _check_p_outputs(p_outputs)
        self.approx = Approximator(topology, acts)
        hidden = self.approx.hidden
        if not hidden:
            raise bad_value("AXNet topology", topology_text(self.approx.widths), "at least one hidden layer")
        if control == "all":
            self.gated = tuple(range(1, len(hidden) + 1))
        elif isinstance(control, int) and not isinstance(control, bool) and 1 <= control <= len(hidden):
            self.gated = (control,)
        else:
            raise bad_value("AXNet control", control, f"'all' or a hidden layer index between 1 and {len(hidden)}")
        self.control = control
        self.p_outputs = p_outputs
        self.splits = tuple(hidden[i - 1] for i in self.gated) + (p_outputs,)
        self.pred = Predictor(self.approx.widths[0], pred_hidden, sum(self.splits))

    def controls(self, x):
        """(``[c(1), ..., c(l)]`` with None for ungated layers, P logits (N, p_outputs))."""
        parts = torch.split(self.pred(x), self.splits, dim=1)
        cs = [None] * len(self.approx.hidden)
        for i, z in zip(self.gated, parts[:-1]):
            cs[i - 1] = torch.sigmoid(z)
        return cs, parts[-1]

    def forward(self, x):
        """(``H(x)`` (N, n_out), P logits (N, p_outputs))."""
        cs, p = self.controls(x)
        return self.approx(x, cs), p


class SharingNet(nn.Module):
    """The weight-sharing false start (Sec. III-A, Fig. 2): one ReLU trunk, two heads ``H`` and ``P``.

    Parameters
    ----------
    topology : str -- ``"input-hidden...-output"``: the trunk is the hidden layers, ``head`` the
        output layer of ``H``; ``p_head`` maps the last hidden layer to the P logits.
    p_outputs : 1 or 2
    """

    def __init__(self, topology, p_outputs=1):
        super().__init__()
        _check_p_outputs(p_outputs)
        self.widths = parse_topology(topology, "SharingNet topology")
        if len(self.widths) < 3:
            raise bad_value("SharingNet topology", topology_text(self.widths), "at least one hidden layer")
        self.p_outputs = p_outputs
        self.trunk = _mlp(self.widths[:-1])
        self.head = nn.Linear(self.widths[-2], self.widths[-1])
        self.p_head = nn.Linear(self.widths[-2], p_outputs)

    def forward(self, x):
        a = x
        for layer in self.trunk:
            a = F.relu(layer(a))
        return self.head(a), self.p_head(a)


class PairNet(nn.Module):
    """A separate approximator and predictor (the one-pass and iterative baselines), as one module
    whose forward gives ``(H(x), P logits)`` like :class:`AXNet`."""

    def __init__(self, topology, pred_hidden, p_outputs=1, acts=None):
        super().__init__()
        _check_p_outputs(p_outputs)
        self.approx = Approximator(topology, acts)
        self.p_outputs = p_outputs
        self.pred = Predictor(self.approx.widths[0], pred_hidden, p_outputs)

    def forward(self, x):
        return self.approx(x), self.pred(x)


def always_safe(pair):
    """``pair`` (a :class:`PairNet` with a logistic-regression predictor) with its predictor fixed
    to say *safe* on every input: zero weights, bias +1, not trained (``requires_grad`` off). The
    NPU compiles it as any pair; its one prediction neuron always decides safe."""
    if not isinstance(pair, PairNet) or len(pair.pred.layers) != 1 or pair.p_outputs != 1:
        raise bad_value("Always-safe network", type(pair).__name__, "a PairNet with a one-logit, no-hidden predictor")
    lin = pair.pred.layers[0]
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.fill_(1.0)
    for p in pair.pred.parameters():
        p.requires_grad_(False)
    return pair


def n_params(module):
    """The number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _mlp_params(widths):
    return sum((a + 1) * b for a, b in pairwise(widths))


def match_predictor(topology, pred_hidden, p_outputs=1, control="all", tol=0.03, max_width=4096):
    """The baselines' predictor hidden width for an equal-parameter comparison with AXNet.

    The baseline predictor has as many hidden layers as AXNet's prediction subnet, all of one
    width ``h``; ``h`` is the width whose approximator + predictor parameter count is closest to
    AXNet's (the smaller ``h`` on a tie).

    Returns
    -------
    dict -- ``hidden`` (tuple of widths), ``axnet_params``, ``baseline_params``,
        ``approximator_params``, ``predictor_params``, ``rel_diff`` (baseline / AXNet - 1).

    Raises
    ------
    AxforgeError -- when no width comes within ``tol`` (relative) of AXNet's count.
    """
    ax = AXNet(topology, pred_hidden, p_outputs, control)
    target = n_params(ax)
    widths = ax.approx.widths
    depth = max(1, len(tuple(pred_hidden)))
    approx = _mlp_params(widths)
    best = None
    for h in range(1, max_width + 1):
        total = approx + _mlp_params((widths[0],) + (h,) * depth + (p_outputs,))
        if best is None or abs(total - target) < abs(best[1] - target):
            best = (h, total)
        if total > target:
            break
    h, total = best
    rel = total / target - 1
    if abs(rel) > tol:
        raise bad_value(f"The baseline predictor's parameter count for AXNet {topology_text(widths)} "
                        f"(prediction hidden {list(pred_hidden)}, {target} parameters)", total,
                        f"within {100 * tol:g} % of AXNet's")
    return {"hidden": (h,) * depth, "axnet_params": target, "baseline_params": total, "approximator_params": approx,
            "predictor_params": total - approx, "rel_diff": rel}
