"""A trained method's networks deployed through the integer emulation of an approximate multiplier.

:func:`quantise` swaps every ``nn.Linear`` of the network (approximator, predictor, AXNet's
prediction subnet and its split output layer) for its :class:`~axforge.models.layers.ApproxLinear`
twin, all with one multiplier, and calibrates the activation ranges on the training split (in
float64, as :func:`~axforge.models.layers.calibrate` does). The layers' products are the
multiplier's, bit for bit; everything between layers stays float: ReLU, the sigmoid of the
control vectors, and AXNet's Hadamard gating ``a(i) ⊙ c(i)``, a float32 product of two
dequantised activations, which the next layer quantises again as its input (its calibrated range
is that of the gated activations).
"""

from axforge.errors import bad_value

from ..layers import QuantConfig, approximate, layer_names
from .metrics import net_metrics

__all__ = ["as_spec", "quantise", "quantised_metrics"]


def as_spec(mult):
    """A :class:`~axforge.hdl.arith.MultSpec` from a spec string (``"trunc:8x8u:k=6,comp=const"``)."""
    from axforge.hdl.arith import MultSpec
    if hasattr(mult, "a_width"):
        return mult
    if not isinstance(mult, str):
        raise bad_value("Multiplier", mult, "a multiplier spec string such as 'exact:8x8u'")
    return MultSpec.parse(mult)


def quantise(net, mult, calib_x, config=None, batch_size=4096):
    """``(quantised copy of net, layer report)``: every Linear through multiplier ``mult``.

    Parameters
    ----------
    net : torch.nn.Module -- forward ``x -> (H(x), P logits)``; not modified.
    mult : str or MultSpec
    calib_x : torch.Tensor -- network-unit inputs that calibrate the activation ranges.
    config : QuantConfig, optional -- default: the multiplier's operand widths and signedness,
        per-channel weights, path ``auto``.
    """
    spec = as_spec(mult)
    if config is None:
        config = QuantConfig(a_width=spec.a_width, b_width=spec.b_width, signed=spec.signed)
    calib = [calib_x[i:i + batch_size] for i in range(0, len(calib_x), batch_size)]
    return approximate(net, {name: spec for name in layer_names(net)}, calib, config)


def quantised_metrics(net, kernel, calib_x, x_net, t_raw, group, mults, config=None):
    """``{mult: metrics}`` (:func:`.metrics.net_metrics`) of ``net`` quantised with each multiplier
    of ``mults``, calibrated on ``calib_x`` and evaluated on ``x_net`` / ``t_raw``."""
    out = {}
    for mult in mults:
        qnet, _ = quantise(net, mult, calib_x, config)
        out[str(mult)] = net_metrics(qnet, kernel, x_net, t_raw, group)
    return out
