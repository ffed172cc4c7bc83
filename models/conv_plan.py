"""Convolution planning for the int8 route: a convolution as GEMMs on shifted views of pixel rows.

:class:`_TapPlan` lays out one convolution's geometry (kernel, stride, dilation, padded
input) over channels-last rows of int8 digits: tap by tap, each tap a GEMM on a
row-shifted view (:meth:`_TapPlan.conv`), or one GEMM on unfolded rows
(:meth:`_TapPlan.unfold_gemm`), with a cost model that picks between them
(:meth:`_TapPlan.tap_cost`, :meth:`_TapPlan.unfold_cost`). :func:`_box_sum` gives the
window sums of the codes and :func:`_out_size` a convolution's output size.
"""

import torch

from .exact import F32_EXACT
from .int8gemm import _I32_MAX, U8Weights, _imm, _u8_linear

__all__ = []   # internal to the int8 convolution (:mod:`.convolution`) and the layers

_INT8_MACS_PER_NS = 400.0     # oneDNN int8 GEMM on the VNNI machine, 4096 x 4608 x 64
_BYTES_PER_NS = 30.0          # fitted to the tap sums' and the row gathers' measured times there


def _out_size(n, k, stride, dilation):
    """Output length of a convolution along one axis: input ``n`` (padded), kernel ``k``."""
    return (n - dilation * (k - 1) - 1) // stride + 1


def _scratch(store, key, numel, dtype):
    """A tensor of ``numel`` elements, reused from ``store`` (a dict) when it holds a large enough one."""
    if store is None:
        return torch.empty(numel, dtype=dtype)
    buf = store.get((key, dtype))
    if buf is None or buf.numel() < numel:
        buf = store[(key, dtype)] = torch.empty(numel, dtype=dtype)
    return buf[:numel]


def _phase_slices(n, pad, stride, phase):
    """(destination slice in the phase grid, source slice in the unpadded input) along one axis:
    phase position i holds padded position ``i*stride + phase``, input index ``i*stride + phase - pad``."""
    i0 = max(0, -(-(pad - phase) // stride))
    i1 = (n + pad - phase - 1) // stride + 1          # one past the last i with a source index < n
    if i1 <= i0:
        return slice(0, 0), slice(0, 0)
    y0 = i0 * stride + phase - pad
    return slice(i0, i1), slice(y0, y0 + (i1 - i0 - 1) * stride + 1, stride)


def _box_sum(csum, kernel, stride, dilation):
    """Window sums of ``csum`` (B, G, H, W) float32 integers, (B, G, OH, OW) float64: one strided
    slice added per kernel tap."""
    (KH, KW), (sh, sw), (dh, dw) = kernel, stride, dilation
    H, W = csum.shape[2:]
    OH, OW = _out_size(H, KH, sh, dh), _out_size(W, KW, sw, dw)
    out = None
    for ky in range(KH):
        for kx in range(KW):
            part = csum[:, :, ky * dh:ky * dh + (OH - 1) * sh + 1:sh, kx * dw:kx * dw + (OW - 1) * sw + 1:sw]
            out = part.double() if out is None else out.add_(part)
    return out


class _TapPlan:
    """A convolution as GEMMs on row-shifted views of channels-last pixel rows.

    With stride 1, output pixel (h, w) is ``sum_t x[h + dy_t, w + dx_t] @ W_t``; on the pixel
    rows of ``x`` (B*H*W rows of C values) that is row ``r(h, w) + dy_t*W + dx_t``, so tap t is a
    GEMM on the rows shifted by a constant: a view, no copy. All taps run as one GEMM of
    N = taps * O on row blocks, and their shifted slices are summed. The whole (H, W) grid is
    computed and cropped to (OH, OW): the rows that wrap into the next image row or image only
    reach cropped outputs. A stride s splits the input into s*s phase grids
    ``x[py::s, px::s]`` (one copy of the input, only the phases some tap reads); tap (dy, dx)
    reads phase (dy % s, dx % s) shifted by (dy // s, dx // s), so a strided convolution is a sum
    of stride-1 ones on the phases. Sums are int32 while ``taps * Cp * 128^2`` stays below 2^31,
    else int64."""

    BLOCK_BYTES = 1 << 22    # one row block's GEMM output: stays in cache

    def __init__(self, shape, kernel, stride, dilation):
        B, H, W = shape
        (KH, KW), (sh, sw), (dh, dw) = kernel, stride, dilation
        self.B, self.sh, self.sw = B, sh, sw
        self.OH, self.OW = _out_size(H, KH, sh, dh), _out_size(W, KW, sw, dw)
        self.Hq, self.Wq = -(-H // sh), -(-W // sw)
        phases = self.phase_taps(kernel, stride, dilation)
        self.phase_list = [ph for ph, _ in phases]
        self.offsets = [[sy * self.Wq + sx for _, sy, sx in tl] for _, tl in phases]   # row shift per tap
        self.shifts = [[(sy, sx) for _, sy, sx in tl] for _, tl in phases]
        self.rows = B * self.Hq * self.Wq          # rows per phase
        self.pixels = self.rows * len(self.phase_list)
        self.extra = max(max(offs) for offs in self.offsets)

    @staticmethod
    def phase_taps(kernel, stride, dilation):
        """``[((py, px), [(tap, sy, sx), ...]), ...]``: the phases some tap reads, in order, each with
        its taps (index ``ky*KW + kx``) and their shifts within the phase grid. :meth:`conv`
        takes its weights per phase in this order, the taps side by side."""
        (KH, KW), (sh, sw), (dh, dw) = kernel, stride, dilation
        by_phase = {}
        for ky in range(KH):
            for kx in range(KW):
                (sy, py), (sx, px) = divmod(ky * dh, sh), divmod(kx * dw, sw)
                by_phase.setdefault((py, px), []).append((ky * KW + kx, sy, sx))
        return sorted(by_phase.items())

    def indices(self, codes, padding, pad_code, offset):
        """``code + offset`` of every pixel of the padded input ``codes`` (B, C, H, W) (float32
        integers), channels-last and split into the phase grids the taps read: (P, B, Hq, Wq, C)
        int32, one pass over ``codes`` (the padding and whole-stride tails hold ``pad_code``, written
        around the copied pixels only)."""
        B, C, H, W = codes.shape
        out = torch.empty((len(self.phase_list), B, self.Hq, self.Wq, C), dtype=torch.int32)
        src = codes.permute(0, 2, 3, 1)
        fill = pad_code + offset
        for k, (py, px) in enumerate(self.phase_list):
            (dy, sy), (dx, sx) = (_phase_slices(n, pad, s, ph) for n, pad, s, ph in
                                  ((H, padding[0], self.sh, py), (W, padding[1], self.sw, px)))
            grid = out[k]
            grid[:, :dy.start].fill_(fill)
            grid[:, dy.stop:].fill_(fill)
            grid[:, dy, :dx.start].fill_(fill)
            grid[:, dy, dx.stop:].fill_(fill)
            dst = grid[:, dy, dx]
            dst.copy_(src[:, sy, sx])
            if offset:
                dst.add_(offset)
        return out

    def window_sums(self, grid):
        """(B, OH, OW) float64: for every output pixel the sum over its taps of ``grid`` (P, B, Hq, Wq),
        a value per pixel of the phase grids (:meth:`indices`' layout)."""
        out = None
        for k, shifts in enumerate(self.shifts):
            for sy, sx in shifts:
                part = grid[k, :, sy:sy + self.OH, sx:sx + self.OW]
                out = part.double() if out is None else out.add_(part)
        return out

    def tap_cost(self, cp, n):
        """Estimated ns per image tap by tap, ``cp`` digit bytes per pixel and ``n`` outputs per
        tap: GEMMs over the whole phase grids (wrapped rows and padding included) and the int32
        sums of the taps' shifted outputs (GEMM write, read, accumulator read and write)."""
        rows = self.rows // self.B
        taps = sum(len(o) for o in self.offsets)
        return rows * cp * taps * n / _INT8_MACS_PER_NS + taps * rows * n * 12 / _BYTES_PER_NS

    def unfold_cost(self, cp, n):
        """Estimated ns per image for :meth:`unfold_gemm`: the GEMM over the output pixels only and
        the unfolding row gather (read and write).

        Against measured times (ResNet-8 layer shapes, 60-327 images) this picked the faster
        route in each of 12 cases: unfolded 0.17-0.53x the tap route's time with few digit bytes
        per pixel (C*p = 16-32: DRUM, the 3-channel stem) and 0.28-0.82x on maps of 16x16 and
        below; tap by tap 0.72x the unfolded time on 32x32 maps with C*p = 128."""
        m = self.OH * self.OW
        taps = sum(len(o) for o in self.offsets)
        return m * taps * cp * n / _INT8_MACS_PER_NS + m * taps * cp * 2 / _BYTES_PER_NS

    def unfold_rows(self):
        """(B*OH*OW*T,) int32: for each output pixel the rows of the pixel rows its T taps read, taps
        in :meth:`phase_taps` order (phase by phase)."""
        b = torch.arange(self.B)[:, None, None] * (self.Hq * self.Wq)
        base = (b + torch.arange(self.OH)[None, :, None] * self.Wq + torch.arange(self.OW)[None, None, :]).reshape(-1)
        cols = [base + (k * self.rows + off) for k, offs in enumerate(self.offsets) for off in offs]
        return torch.stack(cols, 1).reshape(-1).to(torch.int32)

    def unfold_gemm(self, g, rows, w, scratch=None):
        """(B, OH, OW, N) view: the convolution as one GEMM on the unfolded rows (``rows`` from
        :meth:`unfold_rows`) of ``g``, gathered whole, against ``w`` (T*Cp, N) int8, or a
        :func:`.int8gemm._u8_pack` or :class:`.int8gemm.U8Weights` (``g`` then holds uint8 codes): no
        rows outside the outputs, no per-tap sums."""
        Cp = g.shape[1]
        T = sum(len(o) for o in self.offsets)
        M = self.B * self.OH * self.OW
        cols = _scratch(scratch, "unfold", M * T * Cp, torch.int8).view(M * T, Cp)
        torch.index_select(g, 0, rows, out=cols)
        if isinstance(w, U8Weights):
            out = w.matmul(cols.view(torch.uint8).view(M, T * Cp))
        elif isinstance(w, tuple):
            out = _u8_linear(cols.view(torch.uint8).view(M, T * Cp), w)
        elif T * Cp * (1 << 14) < _I32_MAX:
            out = torch._int_mm(cols.view(M, T * Cp), w)
        else:
            out = _imm(cols.view(M, T * Cp), w, 1 << 14)
        return out.view(self.B, self.OH, self.OW, -1)

    def buffer(self, width, scratch=None):
        """Pixel rows of ``width`` int8 values for every phase, and zero rows after them that the
        last shifted views read (from ``scratch``, a dict of reusable buffers, when given)."""
        g = _scratch(scratch, "rows", (self.pixels + self.extra) * width, torch.int8).view(-1, width)
        g[self.pixels:].zero_()
        return g

    def conv(self, g, walls, scratch=None):
        """(B, OH, OW, N) int32/int64 view: the convolution of the rows ``g`` with the weights
        ``walls``, per phase (Cp, taps*N) int8 with its taps side by side (:meth:`phase_taps`);
        its buffer from ``scratch`` when given. With :class:`.int8gemm.U8Weights` walls (the
        ``u8x7`` route, ``g`` holding uint8 codes) the sums are float32, or float64 where the
        taps' sum could reach 2^24."""
        taps = sum(len(o) for o in self.offsets)
        if isinstance(walls[0], U8Weights):
            N = walls[0].n // len(self.offsets[0])
            wide = taps * walls[0].k_terms * walls[0].peak >= F32_EXACT
            dtype = torch.float64 if wide else torch.float32
        else:
            Cp = walls[0].shape[0]
            N = walls[0].shape[1] // len(self.offsets[0])
            wide = sum(w.shape[1] // N for w in walls) * Cp * (1 << 14) >= _I32_MAX
            dtype = torch.int64 if wide else torch.int32
        out = _scratch(scratch, "out", self.rows * N, dtype).view(self.rows, N)
        first = True
        for k, (wall, offs) in enumerate(zip(walls, self.offsets)):
            base = k * self.rows
            block = max(1024, min(1 << 14, self.BLOCK_BYTES // (len(offs) * N * 4)))
            last = max(offs)
            for r0 in range(0, self.rows, block):
                r1 = min(self.rows, r0 + block)
                rows = g[base + r0:base + r1 + last]
                if isinstance(wall, U8Weights):
                    prod = wall.matmul(rows.view(torch.uint8))
                else:
                    prod = torch._int_mm(rows, wall)
                acc = out[r0:r1]
                for i, off in enumerate(offs):
                    part = prod[off:off + r1 - r0, i * N:(i + 1) * N]
                    if first and i == 0:
                        acc.copy_(part)
                    else:
                        acc.add_(part)
            first = False
        return out.view(self.B, self.Hq, self.Wq, N)[:, :self.OH, :self.OW]
