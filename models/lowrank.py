"""The ``lowrank`` path: the AutoApprox decomposition ``LUT(a, b) = a*b + E(a, b)`` as GEMMs.

``sum_k LUT(x, w) = x @ w + sum_k E(x, w)``, and with factors ``E = Fa Fb^T / d`` the error
sum is one GEMM of inner size K*r on ``Fa`` gathered by activation and ``Fb`` gathered by
weight. :func:`lowrank_matmul` uses, in this order:

* the exact product alone where E is 0 or rank 0 is asked for;
* exact integer factors (:func:`.factor.integer_factors`, the lattice or skeleton
  factorisation), when the rank asked for is not below E's: on int8 GEMMs of their digits
  (:func:`_lowrank_i8`, layout :func:`.i8layout.layout`) where the machine has an exact and fast
  int8 GEMM route (``int8`` or ``u8x7``, :func:`.int8gemm.gemm_route`), else one float GEMM of
  the factors extended by the centred exact product (:func:`merged_factors`), in K-chunks that
  keep its sums exact; bit for bit the LUT's sums;
* float64 SVD factors (:func:`.factor.svd_factors`) of the rank asked for, or of E's rank
  when no integer factors exist: the exact product plus the rounded error GEMM, with the
  bound on the deviation :func:`lowrank_info` reports (exact when the bound is below 1/2).
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import i8layout
from .exact import F32_EXACT, _plan, _row_sums
from .i8layout import _u8_group, _u8x7_group, digit_route, gather_groups, layout
from .int8gemm import _I32_MAX, _PACKED, U8Weights, _imm, _u8_linear

__all__ = ["LowRankInfo", "lowrank_info", "lowrank_matmul", "merged_factors"]

_EPS64 = 2.0 ** -53


def _gamma(n, eps):
    """Higham's gamma_n, the relative error bound of a float sum of n terms (unit roundoff ``eps``)."""
    return n * eps / (1 - n * eps)


@dataclass(frozen=True)
class LowRankInfo:
    """What the lowrank path did for one product shape."""
    rank: int            # components used
    exact_rank: int      # numerical rank of E
    dtype: str           # float32 or float64 for the error GEMM
    bound: float         # max |accumulator - LUT accumulator| before rounding
    exact: bool          # bit for bit equal to the LUT path
    method: str = "lattice"    # integer factors, "lattice" or "skeleton" (exact), or "svd" (float factors)
    denominator: int = 1       # integer factors: E = Fa Fb^T / d
    chunks: int = 1            # K-chunks needed to keep float partial sums exact

    def to_dict(self):
        return {"rank": self.rank, "exact_rank": self.exact_rank, "dtype": self.dtype, "bound": self.bound,
                "exact": self.exact, "method": self.method, "denominator": self.denominator, "chunks": self.chunks}


def merged_factors(table):
    """``table``'s integer factors extended by the centred exact product: ``[d a', Fa] . [b', Fb] =
    d (a'b' + E)`` (float64 tensors), and the largest magnitude of one k-term (sets the exact
    K-chunk); computed once per table."""
    return table.cached("merged", lambda: _merge(table))


def _merge(table):
    fa, fb, d, _ = table.skeleton()
    a = torch.arange(table.a_min, table.a_max + 1, dtype=torch.float64) - table.a_mid
    b = torch.arange(table.b_min, table.b_max + 1, dtype=torch.float64) - table.b_mid
    fa_ext = torch.cat([d * a[:, None], torch.from_numpy(fa).double()], 1)
    fb_ext = torch.cat([b[:, None], torch.from_numpy(fb).double()], 1)
    return fa_ext, fb_ext, float((fa_ext.abs() @ fb_ext.abs().T).max())


def lowrank_info(table, k_dim, rank=None):
    """Rank, method, precision and error bound (:class:`LowRankInfo`) the lowrank path of ``table``
    uses for inner size ``k_dim`` and the rank asked for (None: E's rank)."""
    r0 = table.exact_rank()
    skel = table.skeleton() if rank is None or rank >= r0 else None
    if r0 == 0:
        return LowRankInfo(0, 0, "float32", 0.0, True)
    if skel is not None:
        _, _, term = merged_factors(table)
        dtype, chunk = _plan(term, k_dim)
        return LowRankInfo(skel[0].shape[1], r0, dtype, 0.0, True, table.factor_method(), skel[2],
                           -(-k_dim // chunk))
    fa, fb, err, r0 = table.factors(rank)
    r = fa.shape[1]
    if r == 0:
        return LowRankInfo(0, r0, "float64", k_dim * err, k_dim * err < 0.5, "svd")
    mag = float((np.abs(fa) @ np.abs(fb).T).max())
    bound = k_dim * err + _gamma(k_dim * r + 1, _EPS64) * k_dim * mag
    return LowRankInfo(r, r0, "float64", bound, bound < 0.5, "svd")


def lowrank_matmul(table, xq, wq, rank=None, wcache=None):
    """``(accumulators, info)``: the int64 accumulators of ``xq (M, K) @ wq (K, N)`` on ``table``'s
    lowrank path and its :class:`LowRankInfo`. ``wcache`` (a dict) keeps the weight-side factors
    between calls with the same weights."""
    K, N = wq.shape
    info = lowrank_info(table, K, rank)
    if info.rank == 0:
        return table.matmul(xq, wq, "exact"), info
    if info.method == "svd":
        fa, fb, _, _ = table.factors(rank)
        exact = table.matmul(xq, wq, "exact")
        # the codes may be float32 tensors holding integers (a layer's activations): index with int64
        gw = torch.from_numpy(fb)[wq.long() - table.b_min].permute(0, 2, 1).reshape(K * info.rank, N)
        fx = torch.from_numpy(fa)[xq.long() - table.a_min].reshape(xq.shape[0], K * info.rank)
        return exact + torch.round(fx @ gw).to(torch.int64), info
    cache = wcache if wcache is not None else {}
    if table.int8_ok():
        return _lowrank_i8(table, xq, wq, cache), info
    # one GEMM of inner size K*(1+r): [d*a', Fa] . [b', Fb] = d*(a'b' + E), with a' = a - a_mid
    if "skel" not in cache:
        fa_ext, fb_ext, term = merged_factors(table)
        dtype, chunk = _plan(term, K)
        dt = torch.float32 if dtype == "float32" else torch.float64
        gw = fb_ext.to(dt)[wq - table.b_min].permute(0, 2, 1).contiguous()      # (K, 1+r, N)
        wsum = (wq - table.b_mid).sum(0, keepdim=True)
        cache["skel"] = (fa_ext.to(dt), gw, chunk, table.skeleton()[2], wsum)
    fa_ext, gw, chunk, d, wsum = cache["skel"]
    M = xq.shape[0]
    xi = xq.to(torch.int32) - table.a_min
    y = torch.zeros(M, N, dtype=torch.float64)
    for k0 in range(0, K, chunk):
        fx = F.embedding(xi[:, k0:k0 + chunk], fa_ext).reshape(M, -1)
        y += (fx @ gw[k0:k0 + chunk].reshape(-1, N)).double()
    acc = torch.div(y.to(torch.int64), d, rounding_mode="floor")
    if table.b_mid:
        acc += table.b_mid * (_row_sums(xq, table.a_max) - K * table.a_mid)
    if table.a_mid:
        acc += table.a_mid * wsum
    if table.a_mid and table.b_mid:
        acc += K * table.a_mid * table.b_mid
    return acc, info


def _lowrank_i8(table, xq, wq, cache):
    """The lowrank accumulators with int8 GEMMs: per scale, the activation digits times the weight
    digits, divided by ``d``; in the centred layout the exact product on centred operands rides
    in the same GEMMs.

    The activation digits of one value are packed into one 1/2/4/8-byte table entry, so a
    single ``index_select`` per group of up to 8 digits gathers them, already in the
    (M, K * p) int8 layout the GEMM reads (unused bytes are zero on the weight side). Its
    int32 index measured 1.6 ms against ``torch.take``'s int64 one at 2.8 ms on 4096x576.
    On the ``u8x7`` route every group runs on oneDNN's u8 linear (weight digits in [-64, 64],
    :class:`.int8gemm.U8Weights`); the layout and the weight tables are kept per route."""
    K, N = wq.shape
    M = xq.shape[0]
    route = digit_route()
    plan = layout(table, route)
    key = ("i8", route)
    if key not in cache:
        wi = (wq - table.b_min).long()
        groups, wconst = gather_groups(table, wi, route)     # wt (K, N, L, p) -> (K * p, L * N)
        act, rows, per = plan.act, bool(not plan.direct and table.b_mid), K
        # u8x7: the activation-only terms, with the centred layout's b_mid * sum_k a where d = 1, as
        # one more GEMM column (:func:`.i8layout.act_columns`), summed into every output
        cols = None
        if route == "u8x7" and (act is not None or rows):
            a = torch.arange(table.a_min, table.a_max + 1) - table.a_mid
            fold = rows and plan.d == 1
            cols = i8layout.act_columns(plan, [(table.b_mid, a)] if fold else (),
                                        table.b_mid * table.a_mid if fold else 0)
            if cols is None and fold and act is not None:
                fold, cols = False, i8layout.act_columns(plan)
            if cols is not None:
                act, rows = None, rows and not fold
        terms = []
        for gi, ((packed, p, shifts, wt), (ta, levels)) in enumerate(zip(groups, plan.groups)):
            wt = wt.permute(0, 3, 2, 1).reshape(K * p, len(shifts) * N).contiguous()
            if route == "u8x7":
                packed, wt = _u8x7_group(ta, levels, wt, None if cols is None else cols[0][gi])
            else:
                packed, wt = _u8_group(packed, ta, levels, wt, K)
            terms.append((packed, p, shifts, wt))
        # (1, N) int64 terms added before the division by d (the offsets' weight-only share, the
        # act column's constant) and after it (the centred layout's a_mid * sum_k b'; its b_mid
        # term is a row sum, or in the act column)
        pre = None if wconst is None else wconst.sum(0)[None, :]
        if cols is not None and cols[1]:
            pre = (0 if pre is None else pre) + K * cols[1]
        post = None
        if not plan.direct and table.a_mid:
            post = table.a_mid * (wq.to(torch.int64) - table.b_mid).sum(0, keepdim=True)
        if plan.d == 1 and post is not None:
            pre, post = post if pre is None else pre + post, None
        # otherwise the activation-only terms as one float32 table summed per row (embedding_bag; a
        # float64 one measured 30x slower), in K-chunks whose sums stay exact; the centred layout's
        # b_mid * sum_k a folds in where d = 1 and one chunk still holds the whole row
        if act is not None and plan.d == 1 and rows:
            merged = act + table.b_mid * torch.arange(table.a_min, table.a_max + 1)
            if K * int(merged.abs().max()) < F32_EXACT:
                act, rows = merged, False
        if act is not None:
            per = max(1, (F32_EXACT - 1) // max(1, int(act.abs().max())))
            act = act.float()[:, None]
        cache[key] = (terms, pre, post, (act, per), rows, cols is not None)
    terms, pre, post, (act, per), rows, extra = cache[key]
    # scratch buffers kept with the weights: a fresh ~20 MB tensor per call costs page faults
    # whose price varies with the machine's load more than the gather itself (so do the GEMMs'
    # int32 outputs: converting them into one int64 sum measured 0.4 ms less than `.to(int64)`
    # copies on DRUM's 4096x128)
    scratch = cache.get(("i8_scratch", route))
    if scratch is None or scratch[0] != M:
        scratch = (M, torch.empty(M * K, dtype=torch.int32), {},
                   torch.empty(M * max([0] + [wt.shape[1] for *_, wt in terms if torch.is_tensor(wt)]),
                               dtype=torch.int32))
        cache[("i8_scratch", route)] = scratch
    _, idx, outs, prod_buf = scratch
    idx.copy_(xq.reshape(-1))
    if table.a_min:
        idx.sub_(table.a_min)
    acc = torch.empty(M, N, dtype=torch.int64) if terms else torch.zeros(M, N, dtype=torch.int64)
    first = True
    for packed, p, shifts, wt in terms:
        if p not in outs:
            outs[p] = torch.empty(M * K, dtype=_PACKED[p])
        g = torch.index_select(packed, 0, idx, out=outs[p])
        if isinstance(wt, U8Weights):   # u8x7: exact float32 (or float64) sums
            prod = wt.matmul(g.view(torch.uint8).view(M, K * p))
        elif isinstance(wt, tuple):   # exact float32 sums
            prod = _u8_linear(g.view(torch.uint8).view(M, K * p), wt)
        elif K * p * (1 << 14) < _I32_MAX:    # int32 sums cannot overflow
            prod = torch._int_mm(g.view(torch.int8).view(M, K * p), wt,
                                 out=prod_buf[:M * wt.shape[1]].view(M, -1))
        else:
            prod = _imm(g.view(torch.int8).view(M, K * p), wt, 1 << 14)
        for li, shift in enumerate(shifts):
            part = prod[:, li * N:(li + 1) * N]
            if first:
                acc.copy_(part)
                if shift:
                    acc.mul_(1 << shift)
                first = False
            else:
                acc.add_(part.to(torch.int64), alpha=1 << shift)
        if extra:   # the act column: one value per row, for every output
            acc.add_(prod[:, len(shifts) * N:].to(torch.int64))
    if pre is not None:
        acc += pre
    if act is not None:
        ix = idx.view(M, K)
        for k0 in range(0, K, per):
            part = ix if per >= K else ix[:, k0:k0 + per].contiguous()
            acc += F.embedding_bag(part, act, mode="sum").to(torch.int64)
    if plan.d != 1:
        acc = acc.div_(plan.d, rounding_mode="floor")
    if post is not None:
        acc += post
    if rows:   # b_mid * sum_k a
        acc += table.b_mid * _row_sums(xq, table.a_max)
    return acc
