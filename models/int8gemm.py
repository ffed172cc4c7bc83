"""int8 GEMM kernels and the CPU probe that decides whether the products use them.

``torch._int_mm`` multiplies int8 matrices into exact int32 sums; on CPUs with
int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI, AMX) oneDNN's int8 GEMM
beats the float32 one, elsewhere it may be slower and the float paths stay.
:func:`int8_gemm` decides once, on first use, never at import: it reads
``AXFORGE_INT8_GEMM`` (``0``/``1`` force either route) and otherwise the CPU flags
of ``/proc/cpuinfo`` (:func:`_cpu_int8_dot`, read at most once per process). The
module attribute ``INT8_GEMM`` holds the decision once made; assigning it forces
a route (tests and benchmarks do).

oneDNN's quantised linear (uint8 activations with zero point 128 times int8
weights) is a second, PyTorch-internal kernel: :func:`_u8_linear_available` probes
it against ``torch._int_mm`` on first use (``AXFORGE_U8_GEMM=0`` turns it off).
"""

import functools
import os

import torch

__all__ = ["int8_gemm"]

_I32_MAX = (1 << 31) - 1
_U8_MAX_N = 64       # widest GEMM output oneDNN's u8 x s8 linear is used for (see _u8_linear_available)
_U8_GEMM = None      # the u8 linear probe's verdict: None until probed, then True or False
_PACKED = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}   # p int8 digits in one entry


@functools.cache
def _cpu_int8_dot():
    """Whether ``/proc/cpuinfo`` lists int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI, AMX);
    read once per process, False where it cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return any(f in flags for f in ("avx512_vnni", "avx_vnni", "amx_int8"))


def _int8_gemm_available():
    """Whether int8 GEMMs (``torch._int_mm``: int8 x int8 -> int32, exact) beat float32 here.

    On CPUs with int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI, AMX) oneDNN's
    int8 GEMM measured 2.3x faster than the float32 one on this machine's 4096x576x64;
    elsewhere it may be slower, so the float paths stay. ``AXFORGE_INT8_GEMM=0/1`` overrides
    (read on every call; the CPU flags only once, :func:`_cpu_int8_dot`).
    """
    forced = os.environ.get("AXFORGE_INT8_GEMM")
    if forced in ("0", "1"):
        return forced == "1"
    if not hasattr(torch, "_int_mm"):
        return False
    return _cpu_int8_dot()


def int8_gemm():
    """Whether the exact and lowrank products run as int8 GEMMs on this machine.

    The value of the module attribute ``INT8_GEMM`` where it is set (assigning True or False
    forces a route); else :func:`_int8_gemm_available`, decided on this first call and kept
    in ``INT8_GEMM``.
    """
    flag = globals().get("INT8_GEMM")
    if flag is None:
        flag = globals()["INT8_GEMM"] = _int8_gemm_available()
    return flag


def __getattr__(name):
    # ``INT8_GEMM`` is not set at import (that would probe the CPU): reading it decides it
    if name == "INT8_GEMM":
        return int8_gemm()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _u8_linear_available():
    """Whether oneDNN's quantised linear (``onednn::qlinear_pointwise``: uint8 activations with a
    zero point of 128 times int8 weights, float32 out) runs here and gives ``torch._int_mm``'s sums.

    It is a PyTorch-internal operator, so it is probed once on small operands (including sums
    whose uncompensated form exceeds float32's exact range) and the int8 GEMM stays the fallback.
    On a 4096 x (576 * 8) x 64 product it measured 0.72-0.79x ``_int_mm``'s time (VNNI reads uint8
    activations natively), on outputs wider than 64 columns 1.1-1.35x, so it serves narrow
    outputs only. ``AXFORGE_U8_GEMM=0`` turns it off."""
    global _U8_GEMM
    if _U8_GEMM is None:
        _U8_GEMM = False
        if os.environ.get("AXFORGE_U8_GEMM") != "0":
            try:
                g = torch.Generator().manual_seed(1)
                a = torch.randint(-128, 128, (37, 1024), generator=g, dtype=torch.int8)
                a[0] = 127
                b = torch.randint(-128, 128, (1024, 24), generator=g, dtype=torch.int8)
                b[:, 0] = 127
                _U8_GEMM = torch.equal(_u8_linear(_u8_of(a), _u8_pack(b)).to(torch.int64),
                                       torch._int_mm(a, b).to(torch.int64))
            except Exception:   # noqa: BLE001 - any failure means: not here
                _U8_GEMM = False
    return _U8_GEMM


def _u8_of(t):
    """int8 values as the uint8 codes of zero point 128 (the top bit flipped)."""
    return t.view(torch.uint8).bitwise_xor(128)


def _u8_pack(w):
    """int8 weights (K, N) prepacked for :func:`_u8_linear`."""
    n = w.shape[1]
    return (torch.ops.onednn.qlinear_prepack(w.t().contiguous(), None), torch.ones(n),
            torch.zeros(n, dtype=torch.int64))


def _u8_linear(x, packed):
    """``(x - 128) @ w`` for uint8 ``x`` (M, K) and :func:`_u8_pack`'s ``w``: int32 sums, returned as
    float32 (exact while they stay below 2^24 in magnitude)."""
    pw, ws, wz = packed
    return torch.ops.onednn.qlinear_pointwise(x, 1.0, 128, pw, ws, wz, None, 1.0, 0, torch.float32, "none", [], "")


def _packed_width(t):
    """Bytes of the table entry that packs ``t`` int8 digits (1, 2, 4 or 8; ``t`` <= 8)."""
    return next(q for q in (1, 2, 4, 8) if q >= t)


def _imm(a, b, peak):
    """Exact int64 ``a @ b`` of int8 matrices through int32 GEMMs (``torch._int_mm``); ``peak`` bounds
    one product's magnitude, and K is cut so that no int32 sum can overflow."""
    K = a.shape[1]
    chunk = max(1, _I32_MAX // max(1, peak))
    if chunk >= K:
        return torch._int_mm(a, b).to(torch.int64)
    y = None
    for k0 in range(0, K, chunk):
        part = torch._int_mm(a[:, k0:k0 + chunk].contiguous(), b[k0:k0 + chunk].contiguous()).to(torch.int64)
        y = part if y is None else y.add_(part)
    return y


def _to_i8(t, mid):
    """Operand codes (a float32 tensor of integers, or an integer tensor) minus ``mid``, as int8."""
    if mid == 128:   # unsigned 8-bit: x - 128 is x with its top bit flipped, read as int8
        u = t.to(torch.uint8, copy=True)   # never the caller's tensor: the flip is in place
        return u.bitwise_xor_(128).view(torch.int8)
    return (t - mid).to(torch.int8) if mid else t.to(torch.int8)


def _i8_exact(xq, wq, a_mid=0, b_mid=0):
    """Exact integer ``xq @ wq`` for operands whose centred values fit int8, with one int8 GEMM:
    ``x'w'`` plus ``b_mid * sum_k x'`` (a column of ones next to ``w'``) and the ``a_mid`` terms."""
    K, N = wq.shape
    xi = _to_i8(xq, a_mid)
    wc = wq.to(torch.int64) - b_mid
    wi = torch.cat([wc, torch.ones(K, 1, dtype=torch.int64)], 1).to(torch.int8) if b_mid else wc.to(torch.int8)
    y = _imm(xi, wi, 1 << 14)
    if b_mid:
        y = y[:, :N] + b_mid * y[:, N:]
    if a_mid:
        y += a_mid * wc.sum(0, keepdim=True)
    if a_mid and b_mid:
        y += K * a_mid * b_mid
    return y
