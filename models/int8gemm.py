"""int8 GEMM kernels and the CPU probes that decide which of them the products use.

Three GEMM routes give the same integers (:func:`gemm_route`):

``int8``
    ``torch._int_mm`` multiplies int8 matrices into exact int32 sums; on CPUs with int8
    dot-product instructions (AVX-512 VNNI, AVX-VNNI, AMX) oneDNN's int8 GEMM beats the
    float32 one. :func:`int8_gemm` decides once, on first use, never at import: it reads
    ``AXFORGE_INT8_GEMM`` (``0``/``1`` force either way) and otherwise the CPU flags of
    ``/proc/cpuinfo`` (:func:`_cpu_int8_dot`, read at most once per process). The module
    attribute ``INT8_GEMM`` holds the decision once made; assigning it forces it (tests and
    benchmarks do). oneDNN's quantised linear (uint8 activations with zero point 128 times
    int8 weights) is a second, PyTorch-internal kernel here: :func:`_u8_linear_available`
    probes it against ``torch._int_mm`` on first use (``AXFORGE_U8_GEMM=0`` turns it off).
``u8x7``
    Without VNNI, oneDNN's u8 x s8 GEMM (``gemm:jit``) multiplies with ``vpmaddubsw``, which
    adds each pair of adjacent uint8 x int8 products into an int16 *with saturation*, then
    ``vpmaddwd`` widens the pairs to int32. With every weight digit in [-64, 64]
    (:data:`W7_MAX`) a pair is at most ``2 * 255 * 64 = 32640 <= 32767`` in magnitude, whatever
    the activations and whichever two products are paired, so nothing saturates and the
    int32 sums are exact. :func:`u8x7_gemm` decides whether this route runs (where the
    ``int8`` route is off): ``AXFORGE_U8X7_GEMM=0``/``1`` force it, else it runs where
    :func:`_u8x7_exact` finds the kernel exact on adversarial operands and
    :func:`_u8x7_rate` measures it faster than the float32 GEMM; ``U8X7_GEMM`` holds the
    decision. (``torch._int_mm`` on such CPUs runs no oneDNN kernel: exact, but 40-55x the
    float32 GEMM's time on 4096x576x64, so this route never uses it.)
``float``
    Neither: the float paths, exact by construction (:mod:`.exact`).
"""

import functools
import os
import time

import torch

from axforge.errors import AxforgeError

__all__ = ["int8_gemm", "u8x7_gemm", "gemm_route", "ROUTES", "W7_MAX", "U8Weights"]

ROUTES = ("int8", "u8x7", "float")
W7_MAX = 64          # the u8x7 route's weight digits lie in [-W7_MAX, W7_MAX]: 2 * 255 * 64 = 32640 <= 32767
_I32_MAX = (1 << 31) - 1
_F32_EXACT = 1 << 24
_U8X7_RATE = None    # the u8x7 probe's timing, (u8 linear, float32 GEMM) MACs per ns; None until timed
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


def u8x7_gemm():
    """Whether the lowrank products run as u8 x s8 GEMMs of weight digits in [-64, 64] (the ``u8x7``
    route) where the ``int8`` route is off.

    The value of the module attribute ``U8X7_GEMM`` where it is set (assigning forces it); else
    decided on this first call and kept there: ``AXFORGE_U8X7_GEMM=0`` turns it off, ``=1`` on
    (after the exactness probe, which must pass: :class:`~axforge.errors.AxforgeError` if not),
    and otherwise it is on where :func:`_u8x7_exact` passes and :func:`_u8x7_rate` times the u8
    linear faster than the float32 GEMM."""
    flag = globals().get("U8X7_GEMM")
    if flag is None:
        flag = globals()["U8X7_GEMM"] = _u8x7_available()
    return flag


def gemm_route():
    """The GEMM route of the exact and lowrank products here: ``int8`` (:func:`int8_gemm`), else
    ``u8x7`` (:func:`u8x7_gemm`), else ``float``. Probes on first use only."""
    if int8_gemm():
        return "int8"
    return "u8x7" if u8x7_gemm() else "float"


def __getattr__(name):
    # ``INT8_GEMM`` and ``U8X7_GEMM`` are not set at import (that would probe the CPU): reading decides them
    if name == "INT8_GEMM":
        return int8_gemm()
    if name == "U8X7_GEMM":
        return u8x7_gemm()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _u8x7_available():
    forced = os.environ.get("AXFORGE_U8X7_GEMM")
    if forced == "0":
        return False
    why = _u8x7_exact()
    if forced == "1":
        if why:
            raise AxforgeError(f"AXFORGE_U8X7_GEMM=1 asks for the u8x7 GEMM route, but {why}")
        return True
    if why:
        return False
    u8, f32 = _u8x7_rate()
    return u8 > f32


# shapes for the exactness probe: one row; K not a multiple of 4 (the kernel's K blocking) or long;
# outputs of one column, narrower and wider than 64 (oneDNN picks kernels and blockings by shape)
_PROBE_SHAPES = ((1, 7, 1), (3, 1030, 5), (64, 333, 64), (300, 1024, 130))


def _u8x7_operands(M, K, N, g):
    """Operands ``(x uint8 (M, K), w int8 (K, N))`` of the u8x7 probe. Rows cycle through every
    activation 255 (the largest uint8), 0 and 255 alternating along K, and random codes; columns
    through all -64, all 64, random signs of 64 and random weights in [-64, 64]. Against the rows of
    255 the constant columns put every product at the bound and every pair of them at -32640 or
    +32640: a kernel that saturated a pair, or summed more than two products in int16, is off."""
    x = torch.randint(0, 256, (M, K), generator=g, dtype=torch.uint8)
    x[0::3] = 255
    x[1::3, 0::2] = 255
    x[1::3, 1::2] = 0
    w = torch.randint(-W7_MAX, W7_MAX + 1, (K, N), generator=g, dtype=torch.int8)
    w[:, 0::4] = -W7_MAX
    w[:, 1::4] = W7_MAX
    w[:, 2::4] = (torch.randint(0, 2, (K, len(range(2, N, 4))), generator=g) * 2 - 1).to(torch.int8) * W7_MAX
    return x, w


def _u8x7_exact():
    """None where oneDNN's u8 x s8 linear gives exact sums for weights in [-64, 64] on adversarial
    operands (:func:`_u8x7_operands`, on :data:`_PROBE_SHAPES`), else why not. Runs at most once per
    process, only where the ``int8`` route is off."""
    if not hasattr(torch.ops, "onednn") or not hasattr(torch.ops.onednn, "qlinear_pointwise"):
        return "oneDNN's quantised linear (onednn::qlinear_pointwise) is missing from this PyTorch build"
    g = torch.Generator().manual_seed(7)
    try:
        for M, K, N in _PROBE_SHAPES:
            x, w = _u8x7_operands(M, K, N, g)
            want = (x.double() - 128) @ w.double()     # exact: |sums| <= 1030 * 128 * 64 < 2^53
            if not torch.equal(_u8_linear(x, _u8_pack(w)).double(), want):
                return f"oneDNN's u8 x s8 linear gives wrong sums here on weights in [-64, 64] ({M}x{K}x{N})"
    except Exception as exc:   # noqa: BLE001 - any failure means: not here
        return f"oneDNN's u8 x s8 linear fails here ({type(exc).__name__}: {exc})"
    return None


def _u8x7_rate():
    """``(u8 linear, float32 GEMM)`` MACs per ns, best of 5 back-to-back pairs on 512 x 2304 x 64
    (about 10 ms in all); timed once per process, kept in ``_U8X7_RATE``."""
    global _U8X7_RATE
    if _U8X7_RATE is None:
        M, K, N = 512, 2304, 64
        g = torch.Generator().manual_seed(8)
        x = torch.randint(0, 256, (M, K), generator=g, dtype=torch.uint8)
        w = torch.randint(-W7_MAX, W7_MAX + 1, (K, N), generator=g, dtype=torch.int8)
        packed, xf, wf = _u8_pack(w), x.float(), w.float()
        best = [float("inf"), float("inf")]
        for rep in range(6):
            t0 = time.perf_counter()
            _u8_linear(x, packed)
            t1 = time.perf_counter()
            xf @ wf
            t2 = time.perf_counter()
            if rep:   # the first pair warms both up
                best = [min(best[0], t1 - t0), min(best[1], t2 - t1)]
        _U8X7_RATE = tuple(M * K * N / (t * 1e9) for t in best)
    return _U8X7_RATE


class U8Weights:
    """int8 weights ``w`` (R, N) of the ``u8x7`` route, prepacked for oneDNN's u8 linear in row chunks
    whose sums are exact: :meth:`matmul` gives ``(x - 128) @ w`` for uint8 ``x`` (M, R).

    ``p`` rows make one k-term (the digit slots of one activation), ``peak`` bounds one k-term's
    contribution to an output; a chunk holds whole k-terms, fewer than ``2^24 / peak`` (its float32
    sums stay exact) and at most 65536 rows (so that the int32 sums of uncompensated uint8 codes,
    ``255 * 64`` per row, cannot overflow either). The weights must lie in [-64, 64] (checked).

    Attributes
    ----------
    n : int
        Output columns.
    p, peak, k_terms : int
        Rows per k-term, the bound on one k-term's contribution, k-terms (``R / p``).
    chunks : list of (r0, r1, packed)
        The prepacked row ranges."""

    def __init__(self, w, p=1, peak=1 << 14):
        if w.numel() and int(w.abs().max()) > W7_MAX:
            raise ValueError(f"u8x7 weights must lie in [-{W7_MAX}, {W7_MAX}], not up to {int(w.abs().max())}")
        rows, self.n = w.shape
        self.p, self.peak, self.k_terms = p, peak, rows // p
        per = max(1, min((_F32_EXACT - 1) // max(1, peak), (1 << 16) // p)) * p
        self.chunks = [(r0, min(rows, r0 + per), _u8_pack(w[r0:r0 + per].contiguous())) for r0 in range(0, rows, per)]

    def matmul(self, x):
        """``(x - 128) @ w`` (M, N): float32 from one chunk, float64 summed over several; exact integers."""
        if len(self.chunks) == 1:
            return _u8_linear(x, self.chunks[0][2])
        y = None
        for r0, r1, packed in self.chunks:
            part = _u8_linear(x[:, r0:r1].contiguous(), packed).double()
            y = part if y is None else y.add_(part)
        return y


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
