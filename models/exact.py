"""Exact integer products, sums and convolutions computed with float GEMMs.

A float GEMM on integer-valued operands is exact while every partial sum stays
below 2^24 (float32) or 2^53 (float64). :func:`_plan` picks the precision and the
K-chunk that guarantee it; :func:`exact_matmul` (the ``exact`` path) and
:func:`_int_conv` cut the reduction into such chunks, and :func:`_row_sums` sums
operand rows the same way. Unsigned operands are centred (``a - a_mid``) first,
which keeps the products about 4x smaller.
"""

import torch
import torch.nn.functional as F

__all__ = ["F32_EXACT", "F64_EXACT", "exact_matmul"]

F32_EXACT = 1 << 24   # integers of smaller magnitude, and their sums below it, are exact in float32
F64_EXACT = 1 << 53   # the same for float64


def _plan(peak, k_dim):
    """(dtype, K-chunk) for exact integer products of magnitude <= ``peak`` summed over ``k_dim``."""
    peak = max(1, int(peak))
    if peak * min(k_dim, 64) < F32_EXACT:
        return "float32", max(1, (F32_EXACT - 1) // peak)
    return "float64", max(1, (F64_EXACT - 1) // peak)


def _maxabs(lo, hi, mid):
    """The largest magnitude of a centred operand ``v - mid`` for ``v`` in [lo, hi]."""
    return max(abs(lo - mid), abs(hi - mid))


def _row_sums(x, peak):
    """Exact int64 row sums (M, 1) of ``x`` (integer values of magnitude <= ``peak``): in float32
    when every partial sum stays below 2^24 (a float64 sum converts the whole matrix first and
    measured as long as the float32 GEMM it accompanies), else in float64."""
    if not x.is_floating_point():
        return x.sum(1, keepdim=True)
    dt = torch.float32 if x.shape[1] * abs(peak) < F32_EXACT else torch.float64
    return x.sum(1, keepdim=True, dtype=dt).to(torch.int64)


def exact_matmul(xq, wq, a_mid=0, b_mid=0, max_prod=None):
    """Exact integer ``xq @ wq`` with float GEMMs on centred operands (int64 result).

    Parameters
    ----------
    xq : Tensor
        (M, K) activation codes: an integer tensor, or a float32 tensor holding integer codes
        (no integer round trip then).
    wq : Tensor
        (K, N) weight codes, likewise.
    a_mid, b_mid : int
        Centres subtracted from the operands before the GEMM and added back after it.
    max_prod : int, optional
        A bound on one centred product's magnitude (computed from the operands when omitted);
        it sets the precision and the K-chunks (:func:`_plan`).
    """
    K = xq.shape[1]
    if max_prod is None:
        xa = (xq - a_mid).abs().max() if xq.numel() else 1
        wa = (wq - b_mid).abs().max() if wq.numel() else 1
        max_prod = max(1, int(xa)) * max(1, int(wa))
    dtype, chunk = _plan(max_prod, K)
    dt = torch.float32 if dtype == "float32" else torch.float64
    xf = xq.to(dt) - a_mid if a_mid else xq.to(dt)
    wf = wq.to(dt) - b_mid if b_mid else wq.to(dt)
    if chunk >= K:
        y = (xf @ wf).to(torch.int64)
    else:
        y = torch.zeros(xq.shape[0], wq.shape[1], dtype=torch.int64)
        for k0 in range(0, K, chunk):
            y += (xf[:, k0:k0 + chunk] @ wf[k0:k0 + chunk]).to(torch.int64)
    if b_mid:
        y += b_mid * xf.sum(1, keepdim=True, dtype=torch.float64).to(torch.int64)
    if a_mid:
        y += a_mid * wf.sum(0, keepdim=True, dtype=torch.float64).to(torch.int64)
    if a_mid and b_mid:
        y += K * a_mid * b_mid
    return y


def _int_conv(x, w, stride, dilation, groups, peak):
    """Exact integer convolution of integer-valued float32 tensors whose products are <= ``peak``
    (float64 result): input channels are split so that every float32 partial sum stays below 2^24."""
    K = w[0].numel()
    dtype, chunk = _plan(peak, K)
    cg = w.shape[1]
    if dtype == "float64":
        return F.conv2d(x.double(), w.double(), None, stride, 0, dilation, groups)
    per = max(1, chunk // (w.shape[2] * w.shape[3]))   # input channels per exact chunk
    if per >= cg:
        return F.conv2d(x, w, None, stride, 0, dilation, groups).double()
    out = None
    for c0 in range(0, cg, per):
        if groups == 1:
            xs = x[:, c0:c0 + per]
        else:
            xs = x[:, torch.cat([torch.arange(gi * cg + c0, gi * cg + min(cg, c0 + per)) for gi in range(groups)])]
        part = F.conv2d(xs, w[:, c0:c0 + per], None, stride, 0, dilation, groups).double()
        out = part if out is None else out.add_(part)
    return out
