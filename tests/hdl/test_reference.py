"""trunc, bam, cmp42, drum against independent references (tests/hdl/references.py).

The family models evaluate the same partial-product matrix or compressor
schedule as the circuits, so circuit == model only checks the lowering. Here
the models, the circuits (numpy backend) and the Verilog LUTs are each
compared with a reference written from the literature definition.
"""

import itertools
from fractions import Fraction

import numpy as np
import pytest

from axforge.hdl.arith import MultSpec
from axforge.hdl.arith._bits import NP
from axforge.hdl.arith._common import np_bits
from axforge.hdl.arith.base import to_signed

from references import (bw_constant, drum_reference, expected_dropped, partial_products,
                        reference, round_half_away)


def _circuit(spec, a, b):
    """The structural circuit itself, on the numpy backend."""
    bits = spec.family_obj.build(NP, np_bits(a % (1 << spec.a_width), spec.a_width),
                                 np_bits(b % (1 << spec.b_width), spec.b_width), spec)
    v = sum(np.asarray(x, dtype=np.int64) << i for i, x in enumerate(bits))
    v = np.broadcast_to(v, a.shape) % (1 << spec.out_width)
    return to_signed(v, spec.out_width) if spec.signed else v


def _model(spec, a, b):
    got = spec.model(a, b)
    assert got.shape == a.shape    # also where no partial product is left (trunc k = n+m-1)
    return got


def _specs_for(a_w, b_w):
    w, tag = a_w + b_w, f"{a_w}x{b_w}"
    out = []
    for s in "us":
        for comp in ("none", "const", "var"):
            for k in sorted({0, 1, 3, w // 2 - 2, w // 2, w // 2 + 1, w - 2, w - 1}):
                out.append(f"trunc:{tag}{s}:k={k},comp={comp}")
        for h, v in sorted({(0, 0), (0, 5), (2, 0), (2, 6), (b_w // 2, w // 2 + 1),
                            (1, w - 3), (b_w - 1, w - 1)}):
            out.append(f"bam:{tag}{s}:h={h},v={v}")
        out.append(f"cmp42:{tag}{s}:c=0,design=maj")
        for design in ("or", "pair", "maj"):
            for c in sorted({4, w // 2, w // 2 + 2, w - 3, w}):
                out.append(f"cmp42:{tag}{s}:c={c},design={design}")
        for k in (3, 4, 6):
            out.append(f"drum:{tag}{s}:k={k}")
    return out


SPECS_8 = _specs_for(8, 8)
WIDE = [(12, 12), (16, 16), (6, 10)]
SPECS_WIDE = [t for a_w, b_w in WIDE for t in _specs_for(a_w, b_w)]


def _first_mismatch(spec, a, b, got, want):
    bad = np.flatnonzero(got != want)
    if not bad.size:
        return ""
    i = bad[0]
    return (f"{spec}: {bad.size} mismatches, e.g. {a[i]} x {b[i]} -> {got[i]}, "
            f"reference {want[i]}")


def _random_operands(spec, count=20000, seed=0):
    rng = np.random.default_rng(seed)
    lo_a, hi_a = (-(1 << (spec.a_width - 1)), 1 << (spec.a_width - 1)) if spec.signed else (0, 1 << spec.a_width)
    lo_b, hi_b = (-(1 << (spec.b_width - 1)), 1 << (spec.b_width - 1)) if spec.signed else (0, 1 << spec.b_width)
    a = rng.integers(lo_a, hi_a, count)
    b = rng.integers(lo_b, hi_b, count)
    corners_a = [lo_a, hi_a - 1, 0, 1, hi_a - 1, lo_a, (lo_a + hi_a) // 2]
    corners_b = [lo_b, hi_b - 1, 0, 1, lo_b, hi_b - 1, hi_b - 1]
    a[:len(corners_a)], b[:len(corners_b)] = corners_a, corners_b
    return a, b


# -- the reference's own arithmetic ----------------------------------------------------

@pytest.mark.parametrize("n, m", [(4, 4), (3, 5)])
@pytest.mark.parametrize("signed", [False, True])
def test_reference_partial_products_sum_to_the_product(n, m, signed):
    """The Baugh-Wooley bits and constant add up to a x b (mod 2^(n+m)), for every pair."""
    spec = MultSpec.make("exact", n, m, signed)
    a, b = spec.operands()
    total = sum(bit << (i + j) for (i, j), bit in partial_products(a, b, n, m, signed).items())
    total = (total + bw_constant(n, m, signed)) % (1 << (n + m))
    assert np.array_equal(total, (a * b) % (1 << (n + m)))


@pytest.mark.parametrize("n, m", [(4, 4), (3, 5)])
@pytest.mark.parametrize("signed", [False, True])
def test_expected_dropped_is_the_exhaustive_mean(n, m, signed):
    """The Fraction expectation used for const/var compensation equals the mean over all operands."""
    spec = MultSpec.make("exact", n, m, signed)
    a, b = spec.operands()
    pp = partial_products(a, b, n, m, signed)
    for k in range(n + m):
        dropped = sum((bit << (i + j) for (i, j), bit in pp.items() if i + j < k), np.zeros_like(a))
        dropped = dropped + bw_constant(n, m, signed) % (1 << k)
        assert expected_dropped(n, m, signed, k) == Fraction(int(dropped.sum()), a.size)


def test_round_half_away_from_zero():
    assert [round_half_away(Fraction(x, 4), 1) for x in (-6, -5, -2, -1, 1, 2, 5, 6)] == \
        [-2, -1, -1, 0, 0, 1, 1, 2]
    assert round_half_away(Fraction(24), 16) == 32 and round_half_away(Fraction(-24), 16) == -32


# -- models and circuits against the references -------------------------------------

@pytest.mark.parametrize("impl", ["model", "circuit"])
@pytest.mark.parametrize("text", SPECS_8)
def test_model_and_circuit_match_reference_exhaustive(text, impl):
    spec = MultSpec.parse(text)
    a, b = spec.operands()
    got, want = (_model if impl == "model" else _circuit)(spec, a, b), reference(spec, a, b)
    assert np.array_equal(got, want), _first_mismatch(spec, a, b, got, want)


@pytest.mark.parametrize("text", SPECS_WIDE)
def test_model_matches_reference_random(text):
    spec = MultSpec.parse(text)
    a, b = _random_operands(spec, seed=spec.a_width * 100 + spec.b_width)
    got, want = _model(spec, a, b), reference(spec, a, b)
    assert np.array_equal(got, want), _first_mismatch(spec, a, b, got, want)


RTL_SPECS = [
    "trunc:8x8s:k=7,comp=const", "trunc:8x8u:k=6,comp=var",
    "bam:8x8u:h=2,v=6", "bam:8x8s:h=1,v=9",
    "cmp42:8x8s:c=8,design=pair", "cmp42:8x8u:c=10,design=or",
    "drum:8x8s:k=4", "drum:8x8u:k=3",
]


@pytest.mark.parametrize("text", RTL_SPECS)
def test_rtl_lut_matches_reference(text):
    """The Verilog as emitted (Verilator LUT) against the independent reference."""
    from axforge.sim.lut import extract_lut
    spec = MultSpec.parse(text)
    a, b = spec.operands()
    got, want = extract_lut(spec), reference(spec, a, b)
    assert np.array_equal(got, want), _first_mismatch(spec, a, b, got, want)


# -- DRUM's unbiasing bit --------------------------------------------------------------

# (spec, a, b, DRUM product, product without the forced 1) worked out by hand:
#   128 = 1000_0000b, k=4: window 1000 -> 1001 = 9, shifted back by 4: 144 (128 without it)
#   143 = 1000_1111b: window 1000 -> 1001: 144 (128); 3 fits in 4 bits and stays 3
#   200 = 1100_1000b: window 1100 -> 1101 = 13 -> 208 (192)
#   -100: |a| = 110_0100b (7 bits), window 1100 -> 1101 = 13 << 3 = 104 (96)
#   k=3, 255 = 1111_1111b: window 111 stays 111 -> 7 << 5 = 224 (224: the forced 1 is already there)
DRUM_CASES = [
    ("drum:8x8u:k=4", 128, 1, 144, 128),
    ("drum:8x8u:k=4", 128, 128, 144 * 144, 128 * 128),
    ("drum:8x8u:k=4", 143, 3, 432, 384),
    ("drum:8x8u:k=4", 200, 3, 624, 576),
    ("drum:8x8s:k=4", -128, 3, -432, -384),
    ("drum:8x8s:k=4", -100, 7, -728, -672),
    ("drum:8x8s:k=4", -100, -100, 104 * 104, 96 * 96),
    ("drum:8x8u:k=3", 255, 255, 224 * 224, 224 * 224),
    ("drum:8x8u:k=3", 7, 200, 7 * 224, 7 * 192),  # 200 = 1100_1000b: window 110 -> 111, << 5
]


@pytest.mark.parametrize("text, x, y, drum, unforced", DRUM_CASES)
def test_drum_forces_the_window_lsb(text, x, y, drum, unforced):
    spec = MultSpec.parse(text)
    a, b = np.array([x]), np.array([y])
    assert _model(spec, a, b)[0] == drum
    assert _circuit(spec, a, b)[0] == drum
    assert reference(spec, a, b)[0] == drum
    # the same cut without the forced bit: floor-truncated windows
    def cut(v):
        s = max(abs(v).bit_length() - spec.param_dict["k"], 0)
        return abs(v) >> s << s
    assert np.sign(x) * np.sign(y) * cut(x) * cut(y) == unforced


def test_drum_without_forced_lsb_is_biased():
    """The forced 1 is what makes DRUM unbiased: without it every cut operand rounds down."""
    spec = MultSpec.parse("drum:8x8u:k=4")
    a, b = spec.operands()
    exact = a * b
    got = _model(spec, a, b)

    def unforced(x):
        s = np.maximum(np.floor(np.log2(np.maximum(x, 1))).astype(np.int64) - 3, 0)
        return x >> s << s
    floor_drum = unforced(a) * unforced(b)
    nz = exact > 0
    rel = (got[nz] - exact[nz]) / exact[nz]
    rel_floor = (floor_drum[nz] - exact[nz]) / exact[nz]
    assert (floor_drum <= exact).all() and rel_floor.mean() < -0.03
    assert abs(rel.mean()) < abs(rel_floor.mean()) / 4
    assert (got != floor_drum).sum() > 10000
    assert np.array_equal(got, drum_reference(a, b, 8, 8, False, 4))


# -- small widths: every parameter point ------------------------------------------------

@pytest.mark.parametrize("a_w, b_w", [(3, 5), (4, 4)])
@pytest.mark.parametrize("signed", [False, True])
def test_every_parameter_at_small_widths(a_w, b_w, signed):
    """All trunc/bam/cmp42/drum parameter points at tiny widths, exhaustively, model and circuit."""
    w = a_w + b_w
    points = [("trunc", dict(k=k, comp=c)) for k in range(w) for c in ("none", "const", "var")]
    points += [("bam", dict(h=h, v=v)) for h in range(b_w) for v in range(w)]
    points += [("cmp42", dict(c=c, design=d)) for c in range(w + 1) for d in ("or", "pair", "maj")]
    points += [("drum", dict(k=k)) for k in range(2, max(a_w, b_w))]
    for family, params in points:
        spec = MultSpec.make(family, a_w, b_w, signed, **params)
        a, b = spec.operands()
        want = reference(spec, a, b)
        for name, got in (("model", _model(spec, a, b)), ("circuit", _circuit(spec, a, b))):
            assert np.array_equal(got, want), name + " " + _first_mismatch(spec, a, b, got, want)


def test_spec_lists_cover_the_families():
    fams = {MultSpec.parse(t).family for t in itertools.chain(SPECS_8, SPECS_WIDE, RTL_SPECS)}
    assert fams == {"trunc", "bam", "cmp42", "drum"}
