"""The ``lut`` path: every product gathered from a per-layer weight table with ``embedding_bag``.

For weights ``w`` (K, N) the table ``T_w[k, a, n] = LUT'[a, w[k, n]]`` holds one row per
(k, activation value), so a layer is M*K contiguous row additions instead of M*K*N
scattered 2-D lookups. ``LUT'`` is the centred table (:func:`centred_table`): for
unsigned operands ``LUT - b_mid*a - a_mid*b + a_mid*b_mid`` (``= a'b' + E``, about 4x
smaller), so more k fit one exact float32 bag; the removed terms come back from the
row and column sums of the operands. Rows are summed in K-chunks whose float32 sums
stay below 2^24, so the accumulators are exact.
"""

import torch

from .exact import F32_EXACT, _row_sums

__all__ = ["lut_matmul", "centred_table"]

_TABLE_BYTES = 256 << 20   # weight tables larger than this are built per block of columns


def centred_table(table):
    """``LUT - b_mid*a - a_mid*b + a_mid*b_mid`` (int64) of ``table`` (a :class:`~.lutmm.ProductTable`),
    the table the lut path sums; computed once per table."""
    return table.cached("centred", lambda: _centre(table))


def _centre(table):
    t = table.table
    if table.a_mid or table.b_mid:
        a = torch.arange(table.a_min, table.a_max + 1)[:, None]
        b = torch.arange(table.b_min, table.b_max + 1)[None, :]
        t = t - table.b_mid * a - table.a_mid * b + table.a_mid * table.b_mid
    return t


def lut_matmul(table, xq, wq, wcache=None):
    """The int64 accumulators of ``xq (M, K) @ wq (K, N)`` (operand values, integer or float32
    tensors) with every product from ``table``'s LUT.

    ``wcache`` (a dict) keeps the weight tables and the index buffer between calls with the
    same weights."""
    K, N = wq.shape
    A = table.a_max - table.a_min + 1
    centred = centred_table(table)
    peak = max(1, int(centred.abs().max()))
    chunk = max(1, min(K, (F32_EXACT - 1) // peak))
    nchunks = -(-K // chunk)
    M = xq.shape[0]
    # the row of table k for x, in an index buffer kept with the weights (a fresh ~10 MB
    # tensor per call costs page faults), padded to whole chunks with the zero row
    cache = wcache if wcache is not None else {}
    buf = cache.get("lut_idx")
    if buf is None or buf.shape != (M, nchunks * chunk):   # one buffer per layer: the last batch shape
        buf = cache["lut_idx"] = torch.full((M, nchunks * chunk), K * A, dtype=torch.int32)
    buf[:, :K].copy_(xq).add_(torch.arange(K, dtype=torch.int32) * A - table.a_min)
    xi = buf.view(-1, chunk)
    cols = max(1, min(N, _TABLE_BYTES // (4 * (K * A + 1))))
    out = torch.empty(M, N, dtype=torch.int64)
    for n0 in range(0, N, cols):
        key = ("lut", n0, cols)
        tw = wcache.get(key) if wcache is not None else None
        if tw is None:
            wi = wq[:, n0:n0 + cols] - table.b_min                   # (K, n)
            tw = centred[:, wi].permute(1, 0, 2).reshape(K * A, -1).float()
            tw = torch.cat([tw, tw.new_zeros(1, tw.shape[1])])
            if wcache is not None:
                wcache[key] = tw
        part = torch.nn.functional.embedding_bag(xi, tw, mode="sum")  # (M * nchunks, n)
        if nchunks == 1:
            out[:, n0:n0 + cols] = part.to(torch.int64)
        else:
            out[:, n0:n0 + cols] = part.reshape(M, nchunks, -1).to(torch.int64).sum(1)
    if table.b_mid:
        out += table.b_mid * _row_sums(xq, table.a_max)
    if table.a_mid:
        out += table.a_mid * wq.sum(0, keepdim=True, dtype=torch.int64)
    if table.a_mid and table.b_mid:
        out -= K * table.a_mid * table.b_mid
    return out
