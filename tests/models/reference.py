"""An independent reference for the approximate layers, in numpy: quantise with its own round and
clamp (the layer's scale and zero point), gather every product from the multiplier's RTL LUT, sum,
remove the zero-point cross terms and rescale (Jacob et al. 2018, eq. 7). Also probes of the
machine-dependent int8 routes, so that a test can skip a route this CPU cannot run, saying why."""

import functools

import numpy as np
import pytest
import torch

__all__ = ["lut2d", "codes", "linear_ref", "conv_acc", "conv_ref", "assert_outputs", "require_int8_gemm",
           "u8_linear_status", "cpu_flags", "ROUTES", "set_route", "require_u8x7"]


@functools.lru_cache(maxsize=None)
def _lut(text, a_width, b_width, signed):
    if text is None:   # exact products, indexed by raw codes like the RTL LUT
        a = np.arange(1 << a_width)
        b = np.arange(1 << b_width)
        if signed:
            a = np.where(a >= 1 << (a_width - 1), a - (1 << a_width), a)
            b = np.where(b >= 1 << (b_width - 1), b - (1 << b_width), b)
        return np.outer(a, b)
    from axforge.hdl.arith import MultSpec
    from axforge.sim.lut import extract_lut
    spec = MultSpec.parse(text)
    return np.asarray(extract_lut(spec), dtype=np.int64).reshape(1 << spec.a_width, 1 << spec.b_width)


def lut2d(spec, a_width=8, b_width=8, signed=False, exact=False):
    """The products as ``L[a_raw, b_raw]`` (int64), the raw codes being the operands' two's complement
    bits: the RTL LUT of ``spec`` (:func:`extract_lut`'s ``a_raw << b_width | b_raw`` layout), or exact
    products where ``spec`` is None or ``exact`` (the ``exact`` path)."""
    if spec is not None:
        a_width, b_width, signed = spec.a_width, spec.b_width, spec.signed
    return _lut(None if spec is None or exact else str(spec), a_width, b_width, signed)


def _gather(lut, a, b):
    """``lut[a, b]`` for integer operand values (any broadcastable shapes), via their raw codes."""
    return lut[np.asarray(a) % lut.shape[0], np.asarray(b) % lut.shape[1]]


def codes(x, qp, channel_dim=None):
    """``clamp(round_half_even(x / scale) + zero_point, qmin, qmax)`` in float32 arithmetic (int64)."""
    x = np.asarray(x.detach() if torch.is_tensor(x) else x, dtype=np.float32)
    scale = qp.scale.numpy().astype(np.float32)
    zp = qp.zero_point.numpy().astype(np.int64)
    if scale.ndim and channel_dim is not None:
        shape = [1] * x.ndim
        shape[channel_dim] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    q = np.rint(x / scale).astype(np.int64) + zp
    return np.clip(q, qp.qmin, qp.qmax)


def _dequant(acc, xsum, wsum, K, act_qp, wqp, bias, axis):
    """Real outputs from accumulators (int64): ``sx sw (acc - zx sum w - zw sum x + K zx zw) + bias``,
    per output channel along ``axis``."""
    zx = int(act_qp.zero_point)
    O = acc.shape[axis]
    shape = [1] * acc.ndim
    shape[axis] = O
    zw = np.broadcast_to(wqp.zero_point.numpy().astype(np.int64), (O,)).reshape(shape)
    sw = np.broadcast_to(wqp.scale.numpy().astype(np.float64), (O,)).reshape(shape)
    ints = acc - zx * wsum.reshape(shape) - zw * xsum + K * zx * zw
    y = ints.astype(np.float64) * (float(act_qp.scale) * sw)
    if bias is not None:
        y = y + bias.detach().double().numpy().reshape(shape)
    return y, float(act_qp.scale) * sw


def linear_ref(layer, x, exact=False):
    """(accumulators (M, N) int64, outputs (M, N) float64, per-column accumulator step (1, N), codes):
    ``layer`` (an ApproxLinear) on ``x`` (M, K), products from the LUT (exact ones where ``exact``)."""
    _, wqp = layer._weights()
    xq = codes(x, layer.act_qp).reshape(-1, layer.in_features)
    wq = codes(layer.weight, wqp, channel_dim=0)                       # (N, K)
    lut = lut2d(layer.spec, layer.config.a_width, layer.config.b_width, layer.config.signed, exact)
    acc = _gather(lut, xq[:, :, None], wq.T[None, :, :]).sum(1)        # (M, N)
    y, step = _dequant(acc, xq.sum(1, keepdims=True), wq.sum(1), xq.shape[1], layer.act_qp, wqp, layer.bias, 1)
    return acc, y, step, (xq, wq)


def conv_acc(xq, wq, lut, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, pad_code=0):
    """Accumulators (B, O, OH, OW) int64 and window code sums (B, g, OH, OW) of a convolution of codes
    ``xq`` (B, C, H, W) padded with ``pad_code``, and weight codes ``wq`` (O, C/g, KH, KW): every
    product gathered from ``lut`` (:func:`lut2d`), all output pixels at once (``lut`` None: exact
    products, as a float64 convolution, for whole networks)."""
    xq, wq = np.asarray(xq, dtype=np.int64), np.asarray(wq, dtype=np.int64)
    (ph, pw), (sh, sw), (dh, dw) = padding, stride, dilation
    xp = np.pad(xq, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_code)
    O, cg, KH, KW = wq.shape
    H, W = xp.shape[2:]
    OH, OW = (H - dh * (KH - 1) - 1) // sh + 1, (W - dw * (KW - 1) - 1) // sw + 1
    rows = (np.arange(OH) * sh)[:, None] + (np.arange(KH) * dh)[None, :]          # (OH, KH)
    cols = (np.arange(OW) * sw)[:, None] + (np.arange(KW) * dw)[None, :]          # (OW, KW)
    win = xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]                 # (B, C, OH, OW, KH, KW)
    og = O // groups
    if lut is None:   # exact products: a float64 convolution of the codes is exact (sums far below 2^53)
        acc = torch.nn.functional.conv2d(torch.from_numpy(xp).double(), torch.from_numpy(wq).double(),
                                         None, stride, 0, dilation, groups)
        box = win.reshape(xp.shape[0], groups, cg, OH, OW, KH, KW).sum((2, 5, 6))
        return acc.numpy().astype(np.int64), box
    acc, box = [], []
    for g in range(groups):
        wg = win[:, g * cg:(g + 1) * cg]                                            # (B, cg, OH, OW, KH, KW)
        w = wq[g * og:(g + 1) * og]                                                 # (og, cg, KH, KW)
        prod = _gather(lut, wg[:, None], w[None, :, :, None, None, :, :])           # (B, og, cg, OH, OW, KH, KW)
        acc.append(prod.sum((2, 5, 6)))
        box.append(wg.sum((1, 4, 5)))
    return np.concatenate(acc, 1), np.stack(box, 1)


def conv_ref(layer, x, exact=False, gather_exact=True):
    """(accumulators, outputs float64, per-channel step (1, O, 1, 1)) of ``layer`` (an ApproxConv2d)
    on ``x``: padded with the activation zero point (the code of a real 0), as the layer documents.
    Exact products are gathered too unless ``gather_exact`` is False (a float64 convolution then)."""
    _, wqp = layer._weights()
    xq = codes(x, layer.act_qp)
    wq = codes(layer.weight, wqp, channel_dim=0)
    if not gather_exact and (exact or layer.spec is None):
        lut = None
    else:
        lut = lut2d(layer.spec, layer.config.a_width, layer.config.b_width, layer.config.signed, exact)
    acc, box = conv_acc(xq, wq, lut, layer.stride, layer.padding, layer.dilation, layer.groups,
                        int(layer.act_qp.zero_point))
    O, g = layer.out_channels, layer.groups
    xsum = np.repeat(box, O // g, axis=1)                                           # (B, O, OH, OW)
    y, step = _dequant(acc, xsum, wq.reshape(O, -1).sum(1), wq[0].size, layer.act_qp, wqp, layer.bias, 1)
    return acc, y, step


def assert_outputs(y, ref, step, slack=0, what=""):
    """``y`` (the layer's float32 output) equals the float64 reference up to float32 rounding, plus
    ``slack`` accumulator steps (an error bound); the tolerance stays below half a step, so a single
    accumulator off by one fails where ``slack`` is 0."""
    y = y.detach().double().numpy() if torch.is_tensor(y) else np.asarray(y, dtype=np.float64)
    assert y.shape == ref.shape, (what, y.shape, ref.shape)
    ulps = 4 * np.abs(ref).max() * 2.0 ** -24 + 1e-30     # a few float32 roundings at the largest output
    assert ulps < 0.5 * step.min(), f"{what}: outputs too large for the test to see one accumulator step"
    err = np.abs(y - ref)
    tol = ulps + slack * np.broadcast_to(step, ref.shape)
    bad = err > tol
    assert not bad.any(), f"{what}: {int(bad.sum())} of {bad.size} outputs off, worst {err.max():.3g} " \
                          f"(step {step.min():.3g})"


# -- the machine-dependent routes ----------------------------------------------------------------

def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return set(f.read().split())
    except OSError:
        return set()


@functools.lru_cache(maxsize=None)
def _int_mm_status():
    if not hasattr(torch, "_int_mm"):
        return "torch._int_mm is missing from this PyTorch build"
    g = torch.Generator().manual_seed(3)
    a = torch.randint(-128, 128, (33, 700), generator=g, dtype=torch.int8)
    b = torch.randint(-128, 128, (700, 9), generator=g, dtype=torch.int8)
    a[0], b[:, 0] = -128, -128
    try:
        ok = torch.equal(torch._int_mm(a, b).long(), a.long() @ b.long())
    except Exception as exc:   # noqa: BLE001 - any failure means: not on this CPU
        return f"torch._int_mm fails here ({exc})"
    return None if ok else "torch._int_mm gives wrong sums here"


def require_int8_gemm():
    """Skip unless ``torch._int_mm`` runs and is exact on this CPU (it is with AVX2 and with VNNI)."""
    why = _int_mm_status()
    if why:
        pytest.skip(f"int8 GEMM route not runnable: {why} (no usable int8 GEMM on this CPU); "
                    "covered on CPUs where oneDNN's int8 GEMM runs (AVX2, AVX-512 VNNI, AVX-VNNI, AMX)")


@functools.lru_cache(maxsize=None)
def u8_linear_status():
    """None where oneDNN's ``qlinear_pointwise`` (uint8 x int8) is exact on full-range int8 weights,
    else why not. Without VNNI oneDNN multiplies with ``vpmaddubsw``, whose pairs of u8 x s8
    products saturate at int16 (255 * 127 * 2 > 32767), so its sums are wrong there."""
    from axforge.models import int8gemm
    g = torch.Generator().manual_seed(5)
    a = torch.randint(-128, 128, (37, 512), generator=g, dtype=torch.int8)
    b = torch.randint(-128, 128, (512, 24), generator=g, dtype=torch.int8)
    a[0], b[:, 0] = 127, 127
    try:
        got = int8gemm._u8_linear(int8gemm._u8_of(a), int8gemm._u8_pack(b)).to(torch.int64)
    except Exception as exc:   # noqa: BLE001
        return f"onednn::qlinear_pointwise is unavailable ({type(exc).__name__})"
    if torch.equal(got, a.long() @ b.long()):
        return None
    vnni = {"avx512_vnni", "avx_vnni", "amx_int8"} & cpu_flags()
    missing = "" if vnni else "; the CPU lacks AVX-512 VNNI / AVX-VNNI (u8 x s8 pair sums saturate at int16)"
    return f"onednn::qlinear_pointwise gives wrong sums on full-range int8 weights{missing}"


def require_u8x7():
    """Skip unless oneDNN's u8 x s8 linear is exact on weights in [-64, 64] here (the ``u8x7`` route's
    own probe, :func:`axforge.models.int8gemm._u8x7_exact`, on adversarial operands)."""
    from axforge.models import int8gemm
    why = int8gemm._u8x7_exact()
    if why:
        pytest.skip(f"u8x7 GEMM route not runnable: {why}")


ROUTES = ("float", "int8", "u8x7")


def set_route(monkeypatch, route):
    """Force the GEMM route ``route`` (one of :data:`ROUTES`) whatever this CPU autodetects; skip a
    route this CPU cannot run exactly (``int8``: ``torch._int_mm``, exact with AVX2 and with VNNI;
    ``u8x7``: the u8 linear on weights in [-64, 64])."""
    from axforge.models import int8gemm
    if route == "int8":
        require_int8_gemm()
    elif route == "u8x7":
        require_u8x7()
    monkeypatch.setattr(int8gemm, "INT8_GEMM", route == "int8")
    monkeypatch.setattr(int8gemm, "U8X7_GEMM", route == "u8x7")
