"""Post-training quantisation to a multiplier's operand widths (Jacob et al. 2018).

Unsigned multipliers get asymmetric (uint, zero point) quantisation, signed
ones symmetric (zero point 0). Weights may have one scale per output channel.
"""

from dataclasses import dataclass

import torch

from axforge.errors import bad_value

__all__ = ["QParams", "act_qparams", "weight_qparams", "quantize", "MinMaxObserver", "operand_range"]


def operand_range(bits, signed):
    """The integer range of one multiplier operand."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 16:
        raise bad_value("Quantisation width", bits, "an integer between 2 and 16")
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


@dataclass(frozen=True)
class QParams:
    """``q = clamp(round(x / scale) + zero_point, qmin, qmax)``; per channel along dim 0 when ``scale`` is 1-D."""
    scale: torch.Tensor
    zero_point: torch.Tensor
    qmin: int
    qmax: int

    def to_dict(self):
        return {"scale": self.scale.tolist(), "zero_point": self.zero_point.tolist(),
                "qmin": self.qmin, "qmax": self.qmax}


def _affine(lo, hi, bits, signed):
    """Scale and zero point for a range [lo, hi] (tensors of equal shape)."""
    qmin, qmax = operand_range(bits, signed)
    lo = torch.minimum(lo, torch.zeros_like(lo)).double()   # real 0 must be representable exactly
    hi = torch.maximum(hi, torch.zeros_like(hi)).double()
    if signed:   # symmetric: zero point 0, range [-(2^(n-1) - 1), 2^(n-1) - 1]
        scale = torch.maximum(hi, -lo) / qmax
        zp = torch.zeros_like(scale, dtype=torch.int64)
        qmin = -qmax
    else:
        scale = (hi - lo) / (qmax - qmin)
        zp = torch.zeros_like(scale, dtype=torch.int64)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    if not signed:
        zp = torch.clamp(torch.round(qmin - lo / scale), qmin, qmax).to(torch.int64)
    return QParams(scale.float(), zp, qmin, qmax)


def act_qparams(lo, hi, bits=8, signed=False):
    """Per-tensor activation parameters from a calibrated range."""
    return _affine(torch.tensor(float(lo)), torch.tensor(float(hi)), bits, signed)


def weight_qparams(w, bits=8, signed=False, per_channel=True):
    """Weight parameters: one (scale, zero point) per output channel (dim 0) or one per tensor."""
    w = w.detach()
    if per_channel:
        flat = w.reshape(w.shape[0], -1)
        return _affine(flat.min(dim=1).values, flat.max(dim=1).values, bits, signed)
    return _affine(w.min(), w.max(), bits, signed)


def quantize(x, qp, channel_dim=None, as_float=False):
    """Integer codes (int64, or float32 holding integers) of ``x``; ``channel_dim`` says where
    per-channel parameters apply."""
    scale, zp = qp.scale, qp.zero_point
    if scale.ndim == 1 and channel_dim is not None:
        shape = [1] * x.ndim
        shape[channel_dim] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    q = torch.div(x.detach().float(), scale).round_().add_(zp).clamp_(qp.qmin, qp.qmax)
    return q if as_float else q.to(torch.int64)


class MinMaxObserver:
    """Running min / max of the tensors it sees (calibration)."""

    def __init__(self):
        self.lo = float("inf")
        self.hi = float("-inf")
        self.count = 0

    def update(self, x):
        x = x.detach()
        self.lo = min(self.lo, float(x.min()))
        self.hi = max(self.hi, float(x.max()))
        self.count += 1

    def qparams(self, bits, signed):
        if not self.count:
            raise RuntimeError("observer saw no data: run calibration batches first")
        return act_qparams(self.lo, self.hi, bits, signed)
