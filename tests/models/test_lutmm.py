"""ProductTable: the three paths against a naive LUT gather, exactness, bounds, accumulator wrap."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import reference as ref
from axforge.errors import AxforgeError
from axforge.hdl.arith import MultSpec
from axforge.models import convolution, int8gemm, intfactor, lutmm
from axforge.models.exact import exact_matmul
from axforge.models.lutmm import ProductTable


def naive(table, x, w):
    """sum_k LUT[x[m,k], w[k,n]] by direct gather (int64)."""
    return table.table[(x - table.a_min)[:, :, None], (w - table.b_min)[None, :, :]].sum(1)


def trunc_lut(k, a=8, b=8):
    """A synthetic truncated multiplier: partial-product columns < k dropped (layout of extract_lut)."""
    av, bv = np.meshgrid(np.arange(1 << a), np.arange(1 << b), indexing="ij")
    out = np.zeros_like(av)
    for i in range(a):
        for j in range(b):
            if i + j >= k:
                out += (((av >> i) & 1) * ((bv >> j) & 1)) << (i + j)
    return out.reshape(-1)


def operands(t, m, k, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(t.a_min, t.a_max + 1, (m, k), generator=g),
            torch.randint(t.b_min, t.b_max + 1, (k, n), generator=g))


@pytest.mark.parametrize("text", ["trunc:8x8u:k=6,comp=const", "drum:8x8s:k=5", "bam:8x8u:h=2,v=7"])
def test_paths_agree_with_naive_gather_on_rtl_luts(text):
    t = ProductTable(MultSpec.parse(text))
    x, w = operands(t, 37, 300, 19)
    ref = naive(t, x, w)
    assert not t.is_exact
    assert torch.equal(t.matmul(x, w, "lut"), ref)
    info = t.lowrank_info(300)
    assert info.exact and info.method == "lattice" and info.denominator == 1 and info.rank == t.exact_rank() <= 8
    assert torch.equal(t.matmul(x, w, "lowrank"), ref)
    assert t.resolve("auto") == "lowrank"
    # the exact path ignores the approximation: it must differ here
    assert not torch.equal(t.matmul(x, w, "exact"), ref)


def test_exact_rank_of_truncation_is_small_and_skeleton_is_integer():
    t = ProductTable(None, lut=trunc_lut(4), a_width=8, b_width=8)
    assert t.exact_rank() <= 4
    fa, fb, d, _ = t.skeleton()
    assert fa.dtype == np.int64 and fb.dtype == np.int64
    assert np.array_equal(fa @ fb.T, d * t.error)


def test_truncated_rank_reports_a_bound_that_holds():
    t = ProductTable(MultSpec.parse("trunc:8x8u:k=6,comp=const"))
    x, w = operands(t, 64, 128, 16, seed=3)
    ref = naive(t, x, w)
    y, info = t._lowrank_matmul(x, w, rank=2)
    assert info.method == "svd" and info.rank == 2 and not info.exact and info.bound > 0.5
    assert (y - ref).abs().max() <= info.bound + 0.5
    assert not torch.equal(y, ref)


def test_high_rank_lut_uses_the_lut_path():
    rng = np.random.default_rng(0)
    t = ProductTable(None, lut=rng.integers(0, 1 << 16, 1 << 16), a_width=8, b_width=8)
    assert t.exact_rank() > 8 and t.resolve("auto") == "lut"
    x, w = operands(t, 20, 700, 5)          # K > the float32-exact chunk of the LUT path
    assert torch.equal(t.matmul(x, w, "lut"), naive(t, x, w))


def test_exact_matmul_is_exact_beyond_float32_range():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (8, 5000), generator=g)
    w = torch.randint(0, 256, (5000, 3), generator=g)
    assert torch.equal(exact_matmul(x, w, 128, 128), x @ w)
    xs = torch.randint(-32768, 32768, (4, 3000), generator=g)
    ws = torch.randint(-32768, 32768, (3000, 2), generator=g)
    assert torch.equal(exact_matmul(xs, ws), xs @ ws)


def test_accumulator_wrap_matches_the_array_golden():
    from axforge.generators.chip import ChipSpec
    from axforge.sim.chip_sim import golden_matmul
    chip = ChipSpec.from_dict({"rows": 8, "cols": 4, "acc_width": 16, "multipliers": ["trunc:8x8u:k=6,comp=const"]})
    t = ProductTable(chip.mult_specs[0])
    x, w = operands(t, 10, 29, 6, seed=5)
    lut = t.table.numpy().reshape(-1)      # unsigned: value index == raw index
    ref = golden_matmul(chip, x.numpy(), w.numpy(), lut=lut)
    assert t.wraps(29, 16, 8)
    for path in ("lut", "lowrank"):
        assert np.array_equal(t.matmul(x, w, path, acc_width=16, tile_rows=8).numpy(), ref)
    assert not np.array_equal(naive(t, x, w).numpy(), ref)   # the wrap really happened


def test_bad_path_and_out_of_range_operands():
    t = ProductTable(None)
    with pytest.raises(AxforgeError, match=r"^Emulation path must be one of auto, lut, lowrank, exact, not 'fast'$"):
        t.resolve("fast")
    with pytest.raises(AxforgeError, match=r"Quantised activations must lie in \[0, 255\], not \[0, 256\]"):
        t.check_operands(torch.tensor([[256, 0]]), torch.zeros(2, 1, dtype=torch.int64))


@pytest.mark.parametrize("route", ref.ROUTES)
@pytest.mark.parametrize("text", ["trunc:8x8u:k=6,comp=const", "drum:8x8s:k=4", "drum:8x8u:k=4", "bam:8x8u:h=2,v=7",
                                  "mitchell:8x8u:ec=1", "trunc:6x4s:k=3", "exact:8x8u"])
def test_every_gemm_route_gives_the_lut_sums(text, route, monkeypatch):
    """The int8 route (digit-split skeleton factors, ``torch._int_mm``), the u8x7 route (weight digits
    in [-64, 64] on oneDNN's u8 linear) and the float route give the LUT's sums, from float32 codes
    and from integer tensors, with K long enough that the u8x7 sums come in several exact chunks,
    and leave the caller's operands untouched."""
    t = lutmm.table_for(MultSpec.parse(text))
    ref.set_route(monkeypatch, route)
    assert t.route() == (route if t.a_width <= 8 and t.b_width <= 8 else "float")
    assert t.int8_ok() == (t.route() != "float")
    for k in (77, 1500):
        x, w = operands(t, 41, k, 13, seed=3)
        want = naive(t, x, w)
        for xin in (x.clone(), x.float()):
            before = xin.clone()
            assert torch.equal(t.matmul(xin, w, "lowrank", wcache={}), want), (route, k, xin.dtype)
            assert torch.equal(t.matmul(xin, w, "exact"), x @ w), (route, k, xin.dtype)
            assert torch.equal(xin, before), "the operands were modified"


def test_direct_lut_layout_when_cheaper():
    """Unsigned DRUM's LUT is D(a) D(b), rank 1 where a'b' + E has rank 3: the int8 route lays out
    the whole LUT (one digit slot, two weight scales) instead of the centred product (four slots).
    Truncation keeps the centred layout (its LUT needs more terms than a'b' + E)."""
    drum = ProductTable(MultSpec.parse("drum:8x8u:k=4"))
    assert int(np.linalg.matrix_rank(drum.table.numpy().astype(float))) == 1 and drum.exact_rank() == 2
    plan = drum._i8_terms()
    assert plan.direct and [(ta.shape[1], len(levels)) for ta, levels in plan.groups] == [(1, 2)]
    assert not ProductTable(MultSpec.parse("trunc:8x8u:k=6,comp=const"))._i8_terms().direct
    # on the u8x7 route too: two slots (D(b) in [0, 240], centred by 120, in two parts in [-64, 64]),
    # its weight-only centre an activation-only term
    plan7 = drum._i8_terms("u8x7")
    assert plan7.direct and plan7.act is not None and [(ta.shape[1], len(lv)) for ta, lv in plan7.groups] == [(2, 1)]
    # the direct layout's int8 GEMMs give the LUT's sums (its convolution: test_int8_tap_convolution_...)
    x, w = operands(drum, 29, 150, 11, seed=5)
    assert torch.equal(drum.matmul(x.float(), w, "lowrank", wcache={}), naive(drum, x, w))


@pytest.mark.parametrize("u8", ["off", "probed", "forced"])
@pytest.mark.parametrize("text", ["trunc:8x8u:k=6,comp=const", "bam:8x8u:h=2,v=7", "mitchell:8x8u:ec=1"])
def test_u8_linear_route_is_exact_and_falls_back(text, u8, monkeypatch):
    """Narrow outputs go through oneDNN's u8 x s8 linear where its probe passes (float32 sums, used
    only where they provably stay below 2^24), else through int8 GEMMs; both give the LUT's sums.
    K = 2000 exceeds the float32 bound for trunc and BAM, so those take the int8 GEMM there.
    The int8 route is forced on whatever the CPU autodetects; ``probed`` checks the fallback on any
    CPU, ``forced`` runs the u8 linear itself where it is exact (CPUs with VNNI)."""
    ref.require_int8_gemm()
    monkeypatch.setattr(int8gemm, "INT8_GEMM", True)
    if u8 == "forced":
        why = ref.u8_linear_status()
        if why:
            pytest.skip(f"u8 linear route not runnable: {why}; covered on CPUs with AVX-512 VNNI or AVX-VNNI")
    monkeypatch.setattr(int8gemm, "_U8_GEMM", {"off": False, "probed": None, "forced": True}[u8])
    t = lutmm.table_for(MultSpec.parse(text))     # shared: its factors are computed once
    plan = t._i8_terms()
    peak = max(int((ta.long() @ tb.long().T).abs().max()) for ta, levels in plan.groups for _, tb in levels)
    for k in (300, 2000):
        x, w = operands(t, 23, k, 64, seed=k)
        want = naive(t, x, w)
        cache = {}
        assert torch.equal(t.matmul(x.float(), w, "lowrank", wcache=cache), want), (k, u8)
        used = any(isinstance(wt, tuple) for *_, wt in cache[("i8", "int8")][0])
        eligible = k * peak < 1 << 24
        if u8 == "probed" and eligible:   # probed now; its verdict is this CPU's: exact here or not used
            assert int8gemm._U8_GEMM == (ref.u8_linear_status() is None)
        assert used == (u8 != "off" and bool(int8gemm._U8_GEMM) and eligible), (k, u8)


@pytest.mark.parametrize("int8,u8x7,route", [("0", "0", "float"), ("1", "0", "int8"), ("1", "1", "int8"),
                                              ("0", "1", "u8x7")])
def test_gemm_route_env_vars_force_the_route(int8, u8x7, route):
    """``AXFORGE_INT8_GEMM=0/1`` and ``AXFORGE_U8X7_GEMM=0/1`` override the CPU detection on first use
    (the int8 route first), and the forced route gives the LUT's sums on saturating operands (every
    activation 255, weights 0 and 255: the exact product's digits at their bounds);
    ``AXFORGE_U8_GEMM=0`` turns the u8 linear off without probing it."""
    if route == "u8x7":
        ref.require_u8x7()
    env = dict(os.environ, AXFORGE_INT8_GEMM=int8, AXFORGE_U8X7_GEMM=u8x7, AXFORGE_U8_GEMM="0")
    code = ("import torch; from axforge.hdl.arith import MultSpec; from axforge.models import int8gemm, lutmm;"
            "t = lutmm.table_for(MultSpec.parse('trunc:8x8u:k=6,comp=const'));"
            "x = torch.full((6, 1200), 255); x[3:, ::2] = 0; w = torch.zeros(1200, 4, dtype=torch.int64);"
            "w[:, 1::2] = 255; w[::3, 2] = 7;"
            "same = torch.equal(t.matmul(x.float(), w, 'lowrank', wcache={}), t.matmul(x, w, 'lut'));"
            "print(int8gemm.INT8_GEMM, t.route(), int8gemm._u8_linear_available(), int8gemm._U8X7_RATE is None,"
            " same)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    # a forced u8x7 route is probed for exactness, never timed
    assert out.stdout.split() == [str(int8 == "1"), route, "False", "True", "True"]


def test_int8_gemm_autodetection(monkeypatch):
    """Without the override the int8 route is on exactly where the CPU has int8 dot products."""
    monkeypatch.delenv("AXFORGE_INT8_GEMM", raising=False)
    want = bool({"avx512_vnni", "avx_vnni", "amx_int8"} & ref.cpu_flags()) and hasattr(torch, "_int_mm")
    assert int8gemm._int8_gemm_available() == want
    monkeypatch.setenv("AXFORGE_INT8_GEMM", "1")
    assert int8gemm._int8_gemm_available()
    monkeypatch.setenv("AXFORGE_INT8_GEMM", "0")
    assert not int8gemm._int8_gemm_available()


def test_int8_digits_and_chunked_int_gemm():
    rng = np.random.default_rng(0)
    v = rng.integers(-(1 << 40), 1 << 40, 500)
    for bits in (2, 3, 8):
        digits = intfactor.digits(v, bits)
        half = 1 << (bits - 1)
        assert all(d.min() >= -half and d.max() < half for d in digits)
        assert (sum(d.astype(object) * (1 << bits) ** i for i, d in enumerate(digits)) == v.astype(object)).all()
    assert len(intfactor.digits(np.array([127, -128]))) == 1 and len(intfactor.digits(np.array([128]))) == 2
    a = torch.randint(-128, 128, (9, 50), dtype=torch.int8)
    b = torch.randint(-128, 128, (50, 7), dtype=torch.int8)
    # a peak this large forces one-column K-chunks; the sum stays exact
    assert torch.equal(int8gemm._imm(a, b, int8gemm._I32_MAX), a.long() @ b.long())
    assert torch.equal(int8gemm._imm(a, b, 1 << 14), a.long() @ b.long())


@pytest.mark.parametrize("text", ["cmp42:8x8u:c=8,design=maj", "drum:8x8s:k=5"])
def test_lut_path_chunks_long_sums_exactly(text):
    """K long enough that the (centred) table's float32 sums need several bags per row."""
    t = ProductTable(MultSpec.parse(text))
    x, w = operands(t, 3, 2500, 4, seed=7)
    assert torch.equal(t.matmul(x, w, "lut"), naive(t, x, w))
    assert torch.equal(t.matmul(x.float(), w, "lut", wcache={}), naive(t, x, w))


def test_lattice_factors_are_short_and_exact_and_the_skeleton_is_the_fallback(monkeypatch):
    """The LLL-reduced factors of a truncated multiplier's E are scaled bit planes: entries <= 64
    on one side and <= 4 on the other, d = 1 (the skeleton's were up to 320 with d = 5)."""
    t = ProductTable(MultSpec.parse("trunc:8x8u:k=6,comp=const"))
    fa, fb, d, peak = t.skeleton()
    assert t.factor_method() == "lattice" and d == 1
    assert np.array_equal(fa @ fb.T, t.error)
    assert max(np.abs(fa).max(), np.abs(fb).max()) <= 64 and min(np.abs(fa).max(), np.abs(fb).max()) <= 4
    assert peak == int((np.abs(fa) @ np.abs(fb).T).max())
    # the same terms with the lattice step failing: the skeleton (d > 1) still gives exact sums
    monkeypatch.setattr(intfactor, "lattice_factors", lambda e, r: None)
    s = ProductTable(MultSpec.parse("trunc:8x8u:k=6,comp=const"))
    fa2, fb2, d2, _ = s.skeleton()
    assert s.factor_method() == "skeleton" and d2 > 1 and np.array_equal(fa2 @ fb2.T, d2 * s.error)
    x, w = operands(s, 23, 140, 9, seed=2)
    for route in ref.ROUTES:     # float first: a route this CPU cannot run skips the rest
        ref.set_route(monkeypatch, route)
        assert torch.equal(s.matmul(x, w, "lowrank", wcache={}), naive(s, x, w)), route


def test_lll_keeps_the_lattice_and_shortens_it():
    rng = np.random.default_rng(4)
    short = rng.integers(-3, 4, (40, 3)).astype(object)
    mix = np.array([[1, 7, -20], [0, 1, 9], [0, 0, 1]], dtype=object)     # unimodular
    red = intfactor.lll(short @ mix)
    assert np.abs(red).max() <= 3 * np.abs(short).max()
    # same lattice: each side's columns are integer combinations of the other's
    for a, b in ((red, short), (short, red)):
        coef = intfactor._coefficients(b, a)
        assert all(v.denominator == 1 for row in coef for v in row)


@pytest.mark.parametrize("fa,fb,single", [
    (np.arange(-40, 41), np.arange(-3, 4).repeat(12)[:81], True),          # fits: one term
    (np.arange(0, 256), np.arange(0, 16).repeat(16), True),                # offset 128 centres fa
    (np.arange(-1000, 1000, 7), np.arange(-1, 2).repeat(100)[:286], True),  # split fa, scale fb
    (np.arange(-16, 16).repeat(8), np.arange(0, 256), False),              # needs a second scale
])
def test_column_terms_rebuild_the_column(fa, fb, single):
    c, terms = intfactor.column_terms(fa, fb)
    got = c * fb[None, :].astype(object) + sum((1 << sh) * np.outer(da, db).astype(object) for sh, da, db in terms)
    assert (got == np.outer(fa, fb).astype(object)).all()
    assert all(d.min() >= -128 and d.max() <= 127 for _, da, db in terms for d in (da, db))
    assert all(sh == 0 for sh, _, _ in terms) == single


@pytest.mark.parametrize("text", ["trunc:8x8u:k=6,comp=const", "drum:8x8u:k=4", "mitchell:8x8u:ec=1", "drum:8x8s:k=4"])
@pytest.mark.parametrize("cin,cout,k,stride,dil,pad", [(3, 16, 3, 1, 1, 1), (16, 8, 3, 2, 1, 1), (5, 8, 1, 2, 1, 0),
                                                       (8, 16, 3, 1, 2, 2), (4, 8, 2, 1, 1, 0), (6, 8, 3, 3, 1, 2),
                                                       (4, 8, 3, 2, 2, 0)])
@pytest.mark.parametrize("unfold", [False, True])
@pytest.mark.parametrize("route", ["int8", "u8x7"])
def test_int8_tap_convolution_equals_the_float_convolution(text, cin, cout, k, stride, dil, pad, unfold, route,
                                                           monkeypatch):
    """The int8 conv routes (GEMMs on row-shifted views, strided convolutions split into phase
    grids, odd sizes padded; or one GEMM on unfolded rows, the u8 linear where it applies; one
    gather group for trunc and Mitchell, one digit at two scales for unsigned DRUM's whole LUT; on
    u8x7 the weight digits in [-64, 64] and the activation-only terms as window sums) give the
    float route's integers, which are the LUT's."""
    monkeypatch.setattr(convolution, "_UNFOLD", unfold)
    t = lutmm.table_for(MultSpec.parse(text))
    g = torch.Generator().manual_seed(cin * 31 + k)
    codes = torch.randint(t.a_min, t.a_max + 1, (3, cin, 9, 10), generator=g).float()
    wq = torch.randint(t.b_min, t.b_max + 1, (cout, cin, k, k), generator=g)
    got = {}
    for r in ("float", route):
        ref.set_route(monkeypatch, r)
        cache = {}
        got[r] = t.conv2d_parts(codes, wq, (stride, stride), (dil, dil), 1, "lowrank", cache, (pad, pad), t.a_max)
        if r != "float":
            assert cache["conv_i8_unfold"] == (route, unfold)
    assert torch.equal(got[route][0], got["float"][0]) and torch.equal(got[route][1], got["float"][1])
    # and both are the LUT's: every output pixel by direct gather from the RTL LUT
    want, box = ref.conv_acc(codes.long().numpy(), wq.numpy(), ref.lut2d(t.spec), (stride, stride), (pad, pad),
                             (dil, dil), 1, t.a_max)
    for r, (core, bx, const) in got.items():
        assert np.array_equal(bx.numpy(), box), r
        acc = core + t.b_mid * bx + const
        assert torch.equal(acc, acc.round()) and np.array_equal(acc.long().numpy(), want), r
