"""i8layout: the digit layouts of both int8 routes rebuild their target exactly; on the u8x7 route every
weight digit lies in [-64, 64], and products and convolutions stay exact on operands chosen to saturate
a u8 x s8 kernel (a control shows that wider digits do give wrong sums on such a kernel)."""

import numpy as np
import pytest
import torch

import reference as ref
from axforge.hdl.arith import MultSpec
from axforge.models import convolution, i8layout, int8gemm, intfactor
from axforge.models.lutmm import ProductTable, table_for

SPECS = ["trunc:8x8u:k=6,comp=const", "bam:8x8u:h=2,v=7", "drum:8x8u:k=4", "mitchell:8x8u:ec=1", "drum:8x8s:k=4",
         "trunc:6x4s:k=3", "exact:8x8u"]


def naive(table, x, w):
    return table.table[(x - table.a_min)[:, :, None], (w - table.b_min)[None, :, :]].sum(1)


def rebuilt(plan, na, nb):
    """``sum 2^shift Ta Tb^T + act + wconst`` (object ints, (2^a, 2^b)) of a layout."""
    out = np.zeros((na, nb), dtype=object)
    for ta, levels in plan.groups:
        for shift, tb in levels:
            out += (1 << shift) * (ta.long() @ tb.long().T).numpy().astype(object)
    if plan.act is not None:
        out += plan.act.numpy().astype(object)[:, None]
    if plan.wconst is not None:
        out += plan.wconst.numpy().astype(object)[None, :]
    return out


@pytest.mark.parametrize("route", ["int8", "u8x7"])
@pytest.mark.parametrize("text", SPECS)
def test_layout_digits_fit_and_rebuild_the_target(text, route):
    """Every activation digit is int8 and every weight digit in the route's range ([-64, 64] on u8x7);
    the digits, the activation-only and the weight-only terms rebuild ``d * LUT`` (direct layout) or
    ``d * (a'b' + E)`` (centred) exactly."""
    t = table_for(MultSpec.parse(text))
    plan = i8layout.layout(t, route)
    lo, hi = i8layout.B_RANGE[route]
    assert all(int(tb.min()) >= lo and int(tb.max()) <= hi for _, levels in plan.groups for _, tb in levels)
    assert plan.route == route and (plan.act is None or route == "u8x7")
    a = np.arange(t.a_min, t.a_max + 1) - t.a_mid
    b = np.arange(t.b_min, t.b_max + 1) - t.b_mid
    target = t.table.numpy() if plan.direct else np.outer(a, b) + t.error
    assert (rebuilt(plan, len(a), len(b)) == plan.d * target.astype(object)).all()


def test_u8x7_layouts_fit_one_gather_group():
    """trunc and BAM: the exact product's b' in two parts, their constant-weight error terms as an
    activation-only table: 8 slots, one gather of 8 bytes, as many as the int8 route's."""
    for text in ("trunc:8x8u:k=6,comp=const", "bam:8x8u:h=2,v=7"):
        t = table_for(MultSpec.parse(text))
        plan = i8layout.layout(t, "u8x7")
        assert [(ta.shape[1], len(lv)) for ta, lv in plan.groups] == [(8, 1)] and plan.act is not None, text
        assert [(ta.shape[1], len(lv)) for ta, lv in i8layout.layout(t, "int8").groups] == [(8, 1)], text


@pytest.mark.parametrize("fa,fb,slots", [
    (np.arange(-128, 128), np.arange(-128, 128), 2),              # the exact product: b' in two parts
    (np.arange(-12, 1).repeat(20)[:256], np.arange(0, 97).repeat(3)[:256], 1),   # fb - 48 fits, 48 fa apart
    (np.arange(-128, 128), 5 * np.arange(-128, 128), 2),          # d = 5: base-128 digits at shifts 0 and 7
    (np.arange(-40, 41), np.ones(81, dtype=np.int64), 0),         # constant weight: activation-only
])
def test_narrow_column_terms_rebuild_the_column(fa, fb, slots):
    c, terms = intfactor.column_terms(fa, fb, b_range=(-64, 64))
    got = c * fb[None, :].astype(object) + sum((1 << sh) * np.outer(da, db).astype(object) for sh, da, db in terms)
    assert (got == np.outer(fa, fb).astype(object)).all()
    assert all(da.min() >= -128 and da.max() <= 127 and db.min() >= -64 and db.max() <= 64 for _, da, db in terms)
    assert sum(not intfactor.constant(db) for _, _, db in terms) == slots


def adversarial(table, K):
    """Operands that drive the u8x7 GEMM to its bound: rows of the activation values whose digits (as
    uint8 codes) are largest and smallest, of a_max and a_min, and alternating a_max / a_min along K;
    weight columns of the values whose digits are largest, smallest and largest in magnitude, b_max, b_min."""
    plan = i8layout.layout(table, "u8x7")
    ta = torch.cat([g[0].long() for g in plan.groups], 1)
    tb = torch.cat([torch.cat([tb.long() for _, tb in g[1]], 1) for g in plan.groups], 1)
    avals = torch.tensor([int(ta.sum(1).argmax()), int(ta.sum(1).argmin()), table.a_max - table.a_min, 0])
    bvals = torch.tensor([int(tb.sum(1).argmax()), int(tb.sum(1).argmin()), int(tb.abs().sum(1).argmax()),
                          table.b_max - table.b_min, 0])
    x = avals[torch.arange(12) % 4].view(-1, 1).repeat(1, K) + table.a_min
    x[4:8, 1::2] = table.a_min
    w = bvals[torch.arange(10) % 5].view(1, -1).repeat(K, 1) + table.b_min
    return x, w


@pytest.mark.parametrize("text", SPECS[:5])
def test_u8x7_products_are_exact_on_saturating_operands(text, monkeypatch):
    """The lowrank product on the u8x7 route equals the LUT's sums on :func:`adversarial` operands,
    K = 600 and K = 3000 (several exact float32 chunks), and the convolution on images of them."""
    ref.set_route(monkeypatch, "u8x7")
    t = table_for(MultSpec.parse(text))
    for K in (600, 3000):
        x, w = adversarial(t, K)
        assert torch.equal(t.matmul(x.float(), w, "lowrank", wcache={}), naive(t, x, w)), K
    x, w = adversarial(t, 16 * 25)
    codes = x.reshape(12, 16, 5, 5).float()                  # images of the same rows
    wq = w[:16 * 9].T.contiguous().reshape(10, 16, 3, 3)
    want, _ = ref.conv_acc(codes.long().numpy(), wq.numpy(), ref.lut2d(t.spec), (1, 1), (1, 1), (1, 1), 1, t.a_max)
    for unfold in (False, True):
        monkeypatch.setattr(convolution, "_UNFOLD", unfold)
        core, box, const = t.conv2d_parts(codes, wq, (1, 1), (1, 1), 1, "lowrank", {}, (1, 1), t.a_max)
        acc = core + t.b_mid * box + const
        assert np.array_equal(acc.long().numpy(), want), unfold


@pytest.mark.parametrize("text", ["drum:8x8u:k=4", "mitchell:8x8u:ec=1"])
def test_wider_digits_would_saturate_here(text, monkeypatch):
    """The control: the same operands with the u8x7 layout built on full-range int8 weight digits give
    wrong sums on this CPU (vpmaddubsw saturates), so the exactness test above would catch digits
    outside [-64, 64]."""
    ref.set_route(monkeypatch, "u8x7")
    if ref.u8_linear_status() is None:
        pytest.skip("the u8 linear is exact on full-range weights here (VNNI): nothing saturates to show")
    monkeypatch.setitem(i8layout.B_RANGE, "u8x7", (-128, 127))
    monkeypatch.setattr(int8gemm, "W7_MAX", 128)
    shared = table_for(MultSpec.parse(text))
    t = ProductTable(MultSpec.parse(text))     # its factors from the shared table, its layouts afresh
    t._cache = {k: v for k, v in shared._cache.items() if not (isinstance(k, tuple) and k[0] == "i8") and k != "i8"}
    assert max(int(tb.abs().max()) for _, lv in i8layout.layout(t, "u8x7").groups for _, tb in lv) > 64
    x, w = adversarial(t, 600)
    assert not torch.equal(t.matmul(x.float(), w, "lowrank", wcache={}), naive(t, x, w))
