"""Convolution accumulators of a product table, without unfolding the input.

:func:`conv2d_parts` gives a convolution's accumulators on activation codes as
``core + b_mid * box + const`` (the centred convolution plus the approximation error,
the window sums of the codes, a weight-only constant) through one of two routes:

* float convolutions that are exact by construction (:func:`.exact._int_conv`), for the
  ``exact`` path and for ``lowrank`` with integer factors (the error term is a
  convolution with C*r input channels on the gathered activation factors);
* int8 GEMMs on the integer factors' digits (:func:`conv2d_chunks`, layout
  :func:`.i8layout.layout`, geometry :class:`.conv_plan._TapPlan`) where the machine has
  an int8 GEMM route, ``int8`` or ``u8x7`` (:func:`conv_i8_ok`, :mod:`.int8gemm`).

A layer that :func:`conv_ok` turns down unfolds its input to matrix products instead.
Every function takes the :class:`~.lutmm.ProductTable` whose products it sums first.
"""

import numpy as np
import torch
import torch.nn.functional as F

from .conv_plan import _box_sum, _out_size, _scratch, _TapPlan
from .exact import F32_EXACT, _int_conv, _maxabs
from .i8layout import (
    _u8_group,
    _u8x7_group,
    act_columns,
    digit_route,
    gather_groups,
    group_peak,
    layout,
)
from .int8gemm import _PACKED, U8Weights

__all__ = ["conv2d_parts", "conv2d_chunks", "conv_const", "conv_i8_ok", "conv_centred", "conv_ok", "conv_variants"]

_CONV_CHUNK_BYTES = 4 << 20   # activation digits per batch chunk of the int8 route (stays in cache)
# None: each int8 convolution picks tap by tap (:meth:`.conv_plan._TapPlan.conv`) or one GEMM on
# unfolded rows (:meth:`.conv_plan._TapPlan.unfold_gemm`) by :meth:`.conv_plan._TapPlan.tap_cost`
# and ``unfold_cost``; True or False forces one (tests)
_UNFOLD = None


def conv2d_parts(table, codes, wq, stride, dilation, groups, path, wcache=None, padding=(0, 0), pad_code=0,
                 i8=True):
    """A convolution's accumulators on activation codes (float32 tensor of integers, padded by
    ``padding`` with ``pad_code`` here) and integer weights (O, C/g, kh, kw), through float
    convolutions that are exact by construction (paths ``exact`` and ``lowrank`` with integer
    factors) or int8 GEMMs (:func:`conv2d_chunks`), as parts:
    ``acc = core + b_mid * box + const`` without materialising ``acc``. ``core`` (B, O, OH, OW) is
    the convolution of centred codes and weights plus the approximation error, ``box`` (B, g, OH, OW)
    the sum of the codes under each window per group, ``const`` (1, O, 1, 1); all float64 integers.
    ``i8`` False keeps to the float convolutions where int8 GEMMs could run (``auto`` times both)."""
    cache = wcache if wcache is not None else {}
    O = wq.shape[0]
    const = conv_const(table, wq, cache)
    wc = cache["exact"][0]
    B, C, H, W = codes.shape
    if i8 and conv_i8_ok(table, path, groups):
        core = box = None
        for b0, b1, part, bx in conv2d_chunks(table, lambda b0, b1: codes[b0:b1], codes.shape, wq, stride,
                                              dilation, cache, padding, pad_code):
            if core is None:
                core = torch.empty(B, *part.shape[1:], dtype=torch.float64, memory_format=torch.channels_last)
                box = torch.empty(B, *bx.shape[1:], dtype=torch.float64)
            core[b0:b1] = part
            box[b0:b1] = bx
        if core is None:   # an empty batch
            oh, ow = (_out_size(n + 2 * p, k, s, dl) for n, p, k, s, dl in
                      zip((H, W), padding, wq.shape[2:], stride, dilation))
            core = torch.zeros(0, O, oh, ow, dtype=torch.float64)
            box = torch.zeros(0, 1, oh, ow, dtype=torch.float64)
        if not conv_centred(table, path, groups):
            core -= table.b_mid * box + const      # the contract's form: acc = core + b_mid box + const
        return core, box, const
    peak = _maxabs(table.a_min, table.a_max, table.a_mid) * _maxabs(table.b_min, table.b_max, table.b_mid)
    # the window sums of the codes: summed over each group's channels, then slices added
    # (a single-channel convolution measured 4x slower: 20.6 ms against 5.1 ms on 1000x34x34)
    cg = C // groups
    csum = codes.view(B, groups, cg, H, W).sum(2) if cg > 1 else codes
    ph, pw = padding
    if ph or pw:
        csum = F.pad(csum, (pw, pw, ph, ph), value=float(cg * pad_code))
    box = _box_sum(csum, wq.shape[2:], stride, dilation)
    if ph or pw:
        codes = F.pad(codes, (pw, pw, ph, ph), value=float(pad_code))
        H, W = codes.shape[2:]
    xc = codes - table.a_mid if table.a_mid else codes
    y = _int_conv(xc, wc, stride, dilation, groups, peak)
    if path == "lowrank" and not table.is_exact:
        fa, fb, d, _ = table.skeleton()
        r = fa.shape[1]
        if "lowrank" not in cache:
            gw = torch.from_numpy(fb).float()[wq - table.b_min]                  # (O, C/g, kh, kw, r)
            gw = gw.permute(0, 1, 4, 2, 3).reshape(O, -1, *wq.shape[2:]).contiguous()
            kr = gw[0].numel()
            fa_max, fb_max = int(np.abs(fa).max()), int(np.abs(fb).max())
            # split Fa = hi * 2^s + lo when one float32 convolution could not hold the sums exactly
            # (two exact convolutions instead of many channel chunks)
            shift = 0
            if kr * fa_max * fb_max >= F32_EXACT:   # the split that makes both parts smallest
                shift = min(range(1, 24), key=lambda t: max(fa_max >> t, (1 << t) - 1))
            fa_t = torch.from_numpy(fa.T.copy())
            parts = [(fa_t.float(), 1.0)] if not shift else [
                (torch.div(fa_t, 1 << shift, rounding_mode="floor").float(), float(1 << shift)),
                (torch.remainder(fa_t, 1 << shift).float(), 1.0)]
            terms = [int(p.abs().max()) * fb_max for p, _ in parts]
            cache["lowrank"] = (gw, parts, terms)
        gw, parts, terms = cache["lowrank"]
        idx = (codes - table.a_min).to(torch.int64)
        err = None
        for (fa_p, scale), term in zip(parts, terms):
            fx = torch.stack([fa_p[j].take(idx) for j in range(r)], dim=2).reshape(B, C * r, H, W)
            part = _int_conv(fx, gw, stride, dilation, groups, term)
            err = part * scale if err is None else err.add_(part.mul_(scale))
        y += err / d if d != 1 else err    # exact: err is a multiple of d below 2^53
    return y, box, const


def conv_const(table, wq, cache):
    """``a_mid * sum(w - b_mid)`` per output channel (1, O, 1, 1) float64: the accumulators'
    part that depends on the weights only (cached with the centred float weights)."""
    if "exact" not in cache:
        O = wq.shape[0]
        wc = (wq - table.b_mid).float()
        cache["exact"] = (wc, (table.a_mid * wc.reshape(O, -1).sum(1).double()).reshape(1, O, 1, 1))
    return cache["exact"][1]


def conv_i8_ok(table, path, groups):
    """Whether a convolution on ``path`` runs on int8 GEMMs (:func:`conv2d_chunks`)."""
    return path == "lowrank" and not table.is_exact and groups == 1 and table.int8_ok() \
        and table.skeleton() is not None and layout(table) is not None


def conv_centred(table, path, groups, i8=True):
    """Whether a convolution's accumulators are ``core + b_mid * box + const`` (:func:`conv2d_parts`);
    else, where the int8 route sums the whole LUT's factors (:meth:`~.lutmm.ProductTable.i8_direct`),
    they are ``core`` (``i8`` False: the float convolutions, always centred)."""
    return not (i8 and conv_i8_ok(table, path, groups) and table.i8_direct())


def _u8x7_peak(plan):
    """The most one k-term adds to an output of the u8x7 convolution's GEMMs (act column included)."""
    cols = act_columns(plan) if plan.act is not None else None
    return max(max(group_peak(ta, lv), 0 if cols is None else int((ta.long() @ cols[0][gi].long()).abs().max()))
               for gi, (ta, lv) in enumerate(plan.groups))


def conv_variants(table, channels, route=None):
    """The routes of :func:`conv2d_chunks` that can run with ``channels`` input channels: ``tap`` and
    ``unfold``, or ``unfold`` alone where a phase's u8x7 GEMM (``channels`` k-terms of one gather
    group) could reach 2^24 (its float32 sums would not be exact)."""
    route = route or digit_route()
    if route != "u8x7":
        return ["tap", "unfold"]
    peak = table.cached(("u8x7_peak",), lambda: _u8x7_peak(layout(table, route)))
    return ["unfold"] if channels * peak >= F32_EXACT else ["tap", "unfold"]


def conv2d_chunks(table, codes_of, shape, wq, stride, dilation, cache, padding=(0, 0), pad_code=0, unfold=None):
    """The int8-GEMM convolution in batch chunks: yields ``(b0, b1, core, box)`` with ``core``
    (b1-b0, O, OH, OW) channels-last float64 (centred product plus error, as in
    :func:`conv2d_parts`) and ``box`` (b1-b0, 1, OH, OW) float64 window sums of the codes.

    ``codes_of(b0, b1)`` gives the activation codes (float32 integers, unpadded) of images
    b0..b1-1 of ``shape`` (B, C, H, W), so that a layer can quantise chunk by chunk too.
    The activation digits are gathered once per input pixel (not once per window position, as
    an unfolded matrix product would) into channels-last int8 rows. Then either each kernel
    tap is a GEMM on a row-shifted view of them (:class:`.conv_plan._TapPlan`), nothing unfolded,
    or their rows are unfolded (one row gather) into a single GEMM
    (:meth:`.conv_plan._TapPlan.unfold_gemm`), whichever :meth:`.conv_plan._TapPlan.tap_cost` and
    ``unfold_cost`` estimate cheaper: the tap views compute whole phase grids (up to 4x the output
    rows on small maps) and sum wide outputs (taps x O columns), which costs most where a pixel
    has few digit bytes. Chunks hold
    about ``_CONV_CHUNK_BYTES`` of digits, so that the GEMMs read the gather's output from
    cache, and reuse their scratch buffers (fresh ones page-fault). ``unfold`` True or False picks
    the route instead of the estimate (``auto`` times both, :mod:`.autopath`), where the tap
    route can run (:func:`conv_variants`)."""
    O, C, KH, KW = wq.shape
    B, _, H, W = shape
    ph, pw = padding
    Hp, Wp = H + 2 * ph, W + 2 * pw
    one = _TapPlan((1, Hp, Wp), (KH, KW), stride, dilation)
    route = digit_route()
    i8 = layout(table, route)
    if "tap" not in conv_variants(table, C, route):
        unfold = True
    elif unfold is not None:
        pass
    elif _UNFOLD is not None:
        unfold = _UNFOLD
    else:
        # (on the u8x7 route this estimate picked the faster route on 7 of 9 ResNet-8 layer shapes,
        # one thread of the AMD EPYC; the two 1x1 shortcuts, where it did not, within 6 %)
        unfold = sum(one.unfold_cost(C * ta.shape[1], len(lv) * O) for ta, lv in i8.groups) < \
            sum(one.tap_cost(C * ta.shape[1], len(lv) * O) for ta, lv in i8.groups)
    if cache.get("conv_i8_unfold") != (route, unfold):
        wi = (wq - table.b_min).long()
        groups, wconst = gather_groups(table, wi, route)
        phases = _TapPlan.phase_taps((KH, KW), stride, dilation)
        order = [t for _, tl in phases for t, _, _ in tl]
        # u8x7: the activation-only terms as one more output column per tap (act_columns), whose
        # sums over the taps are their window sums
        cols = act_columns(i8) if route == "u8x7" and i8.act is not None else None
        taps = []   # wt (O, C, KH, KW, L, p) -> (KH*KW, C*p, L*O [+1]) -> per phase (C*p, taps*(L*O [+1]))
        for gi, ((packed, p, shifts, wt), (ta, levels)) in enumerate(zip(groups, i8.groups)):
            wt = wt.permute(2, 3, 1, 5, 4, 0).reshape(KH * KW, C * p, len(shifts) * O)
            if route == "u8x7":
                peak = group_peak(ta, levels)
                if cols is not None:
                    col = cols[0][gi]
                    wt = torch.cat([wt, col.repeat(C).view(1, C * p, 1).expand(KH * KW, -1, 1)], 2)
                    peak = max(peak, int((ta.long() @ col.long()).abs().max()))
                packed = _u8x7_group(ta, levels, wt[0])[0]
            if not unfold:
                walls = [wt[[t for t, _, _ in tl]].permute(1, 0, 2).reshape(C * p, -1).contiguous()
                         for _, tl in phases]
                if route == "u8x7":
                    walls = [U8Weights(w, p, peak) for w in walls]
            elif route == "u8x7":   # one weight matrix (taps * C * p, L * O [+1]), taps in the plan's order
                walls = U8Weights(wt[order].reshape(-1, wt.shape[2]).contiguous(), p, peak)
            else:
                packed, walls = _u8_group(packed, ta, levels, wt[order].reshape(-1, len(shifts) * O).contiguous(),
                                          len(order) * C)
            taps.append((packed, p, shifts, walls))
        wconst = None if wconst is None else wconst.reshape(O, -1).sum(1).double().view(1, O, 1, 1)
        extra = None if cols is None else float(len(order) * C * cols[1])   # the column's constant per window
        cache["conv_i8"] = (taps, wconst, extra)
        cache["conv_i8_unfold"] = (route, unfold)
    taps, wconst, extra = cache["conv_i8"]
    d = i8.d
    act = None
    if i8.act is not None and extra is None:   # the activation-only terms: sum_c h(code) under each window
        act = i8.act.to(torch.float32 if C * int(i8.act.abs().max()) < F32_EXACT else torch.float64)
    width = C * max(p for _, p, _, _ in taps)
    chunks = max(1, -(-B // max(1, _CONV_CHUNK_BYTES // (Hp * Wp * width))))
    per = max(1, -(-B // chunks))    # equal chunks (the last at most a few images fewer)
    scratch = {}
    rows = cache.setdefault("conv_rows", {})
    for b0 in range(0, B, per):
        nb = min(B, b0 + per) - b0
        codes = codes_of(b0, b0 + nb)
        csum = codes.sum(1, keepdim=True)
        if ph or pw:
            csum = F.pad(csum, (pw, pw, ph, ph), value=float(C * pad_code))
        box = _box_sum(csum, (KH, KW), stride, dilation)
        plan = _TapPlan((nb, Hp, Wp), (KH, KW), stride, dilation)
        # code - a_min of every padded pixel, per phase grid: (P, nb, Hq, Wq, C) int32
        idx = plan.indices(codes, padding, pad_code, -table.a_min)
        if unfold and (nb, Hp, Wp) not in rows:
            if len(rows) >= 4:     # input sizes change rarely: keep a few
                rows.clear()
            rows[(nb, Hp, Wp)] = plan.unfold_rows()
        core = None
        if not taps:
            core = torch.zeros(nb, O, plan.OH, plan.OW, dtype=torch.float64, memory_format=torch.channels_last)
        for packed, p, shifts, walls in taps:
            g = plan.buffer(C * p, scratch)
            torch.index_select(packed, 0, idx.view(-1), out=g[:plan.pixels].view(-1).view(_PACKED[p]))
            if unfold:
                prod = plan.unfold_gemm(g, rows[(nb, Hp, Wp)], walls, scratch)
            else:
                prod = plan.conv(g, walls, scratch)
            prod = prod.permute(0, 3, 1, 2)      # (nb, L*O, OH, OW), channels-last
            for li, shift in enumerate(shifts):
                part = prod[:, li * O:(li + 1) * O]
                if core is None:   # int32 (or exact float32) sums into the float64 core (exact below 2^53)
                    core = torch.empty(part.shape, dtype=torch.float64, memory_format=torch.channels_last)
                    core.copy_(part)
                    if shift:
                        core.mul_(1 << shift)
                else:
                    core.add_(part, alpha=1 << shift)
            if extra is not None:   # the act column: its window sums, for every output channel
                core.add_(prod[:, len(shifts) * O:])
        if wconst is not None:   # integers below 2^53: exact in float64
            core += wconst
        if extra:
            core += extra
        if act is not None:   # from the padded phase grids' indices: h of every pixel, summed over C
            hv = _scratch(scratch, "act", idx.numel(), act.dtype)
            hsum = torch.index_select(act, 0, idx.view(-1), out=hv).view(idx.shape).sum(-1)
            core += plan.window_sums(hsum)[:, None]
        if d != 1:
            core.div_(d).floor_()
        yield b0, b0 + nb, core, box


def conv_ok(table, path):
    """Whether :func:`conv2d_parts` can serve ``path`` (else the layer unfolds to matrix products)."""
    return path == "exact" or table.is_exact or (path == "lowrank" and table.skeleton() is not None)
