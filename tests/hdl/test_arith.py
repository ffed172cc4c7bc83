"""hdl/arith: specs, errors, and every family's circuit against its model and against theory."""

from fractions import Fraction

import numpy as np
import pytest

from axforge.errors import AxforgeError
from axforge.generators.spec import load_mult_spec
from axforge.hdl.arith import FAMILIES, MultSpec
from axforge.hdl.arith._bits import NP
from axforge.hdl.arith._common import np_bits
from axforge.hdl.arith.base import to_signed
from axforge.flows.char import library_specs


def circuit_np(spec):
    """Evaluate the structural circuit itself (numpy backend) on every input pair."""
    a, b = spec.operands()
    bits = spec.family_obj.build(NP, np_bits(a % (1 << spec.a_width), spec.a_width),
                                 np_bits(b % (1 << spec.b_width), spec.b_width), spec)
    v = sum(np.asarray(x, dtype=np.int64) << i for i, x in enumerate(bits))
    v = np.broadcast_to(v, a.shape) % (1 << spec.out_width)
    return a, b, (to_signed(v, spec.out_width) if spec.signed else v)


# -- specs ------------------------------------------------------------------------

def test_spec_string_round_trip():
    s = MultSpec.parse("trunc:8x4s:k=3,comp=var")
    assert (s.family, s.a_width, s.b_width, s.signed) == ("trunc", 8, 4, True)
    assert str(s) == "trunc:8x4s:k=3,comp=var,tree=dadda"
    assert MultSpec.parse(str(s)) == s
    assert MultSpec.parse("drum:k=5") == MultSpec.parse("drum:8x8u:k=5")
    assert str(MultSpec.parse("exact:8x8u:reg=1")).endswith("reg=1")


def test_yaml_spec(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("family: bam\na_width: 6\nb_width: 8\nsigned: true\nparams: {h: 2, v: 5}\n")
    assert load_mult_spec(str(p)) == MultSpec.parse("bam:6x8s:h=2,v=5")


@pytest.mark.parametrize("text, message", [
    ("nope:8x8u", "Family must be one of bam, cmp42, drum, exact, kulkarni, mitchell, perf, trunc, not 'nope'"),
    ("trunc:8x8u:k=17", "trunc parameter 'k' must be an integer between 0 and 15 for 8x8u, not 17"),
    ("trunc:8x8u:k=x", "trunc parameter 'k' must be an integer, not 'x'"),
    ("trunc:8x8u:comp=best", "trunc parameter 'comp' must be one of none, const, var, not 'best'"),
    ("trunc:8x8u:q=1", "Parameter of family 'trunc' must be one of k, comp, tree, not 'q'"),
    ("trunc:17x8u", "A width must be an integer between 2 and 16, not 17"),
    ("trunc:1x8u", "A width must be an integer between 2 and 16, not 1"),
    ("trunc:8by8", "Spec widths must be of the form AxB, AxBu or AxBs (e.g. 8x8u), not '8by8'"),
    ("trunc:8x8u:k", "Spec parameter must be of the form key=value, not 'k'"),
    ("perf:8x8u:start=6,count=3", "perf parameter 'count' must be an integer between 1 and 2 for 8x8u, not 3"),
    ("mitchell:8x8u:ec=1,w=3", "mitchell parameter 'w' must be an integer between 0 and 0 for 8x8u, not 3"),
])
def test_bad_specs_exact_message(text, message):
    with pytest.raises(AxforgeError) as exc:
        MultSpec.parse(text)
    assert str(exc.value) == message


def test_bad_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("family: trunc\nparams: [1, 2\n")
    with pytest.raises(AxforgeError, match=r"must be valid YAML \(parse error at line \d+\)"):
        load_mult_spec(str(p))
    p.write_text("family: trunc\nwidth: 8\n")
    with pytest.raises(AxforgeError, match="Key of spec file .* must be one of .*, not 'width'"):
        load_mult_spec(str(p))


# -- the library --------------------------------------------------------------------

def test_library_size_distinct_luts():
    luts = {}
    for spec in library_specs(8, 8):
        a, b = spec.operands()
        luts.setdefault(spec.signed, set()).add(spec.model(a, b).tobytes())
    assert len(luts[False]) >= 150
    assert len(luts[True]) >= 40


CASES = [(8, 8, False), (8, 8, True), (8, 4, False), (5, 7, True), (3, 6, False)]


@pytest.mark.parametrize("a_w, b_w, signed", CASES)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_circuit_matches_model(family, a_w, b_w, signed):
    fam = FAMILIES[family]
    for params in fam.library(a_w, b_w, signed):
        if params.get("arch") == "behav":
            continue
        spec = MultSpec.make(family, a_w, b_w, signed, **params)
        a, b, got = circuit_np(spec)
        assert np.array_equal(got, spec.model(a, b)), str(spec)


@pytest.mark.parametrize("arch", ["array", "wallace", "dadda", "booth"])
@pytest.mark.parametrize("a_w, b_w, signed", CASES + [(2, 2, True), (2, 2, False)])
def test_exact_circuits_are_exact(arch, a_w, b_w, signed):
    spec = MultSpec.make("exact", a_w, b_w, signed, arch=arch)
    a, b, got = circuit_np(spec)
    assert np.array_equal(got, a * b)


# -- theory: checks that do not use the family's own model ---------------------
# (trunc, bam, cmp42 and drum are compared bit for bit with independent
# references in test_reference.py; what stays here are statistical properties.)

@pytest.mark.parametrize("signed", [False, True])
def test_truncation_bias_and_compensation_constants(signed):
    """comp=none underestimates by the dropped part; comp=const adds exactly that part's
    exhaustive mean rounded to a multiple of 2^k; const and var are unbiased to within 2^(k-1)."""
    t = "s" if signed else "u"
    for k in (3, 6, 9):
        step = Fraction(2 ** k)
        a, b, none = circuit_np(MultSpec.parse(f"trunc:8x8{t}:k={k}"))
        dropped = a * b - none
        assert (dropped >= 0).all()
        mean_dropped = Fraction(int(dropped.sum()), dropped.size)
        if not signed:  # each dropped a_i b_j is 1 with probability 1/4
            assert mean_dropped == Fraction(sum(2 ** (i + j) for i in range(8) for j in range(8)
                                                if i + j < k), 4)
        _, _, const = circuit_np(MultSpec.parse(f"trunc:8x8{t}:k={k},comp=const"))
        comp = const - none
        assert (comp == comp[0]).all() and comp[0] % 2 ** k == 0
        c = int(comp[0])
        assert abs(c - mean_dropped) < step / 2  # never a tie: column 0 makes 4 E odd
        _, _, var = circuit_np(MultSpec.parse(f"trunc:8x8{t}:k={k},comp=var"))
        assert abs(Fraction(int((var - a * b).sum()), var.size)) <= step / 2


def test_compensation_reduces_bias():
    a, b, none = circuit_np(MultSpec.parse("trunc:8x8u:k=8"))
    for comp in ("const", "var"):
        _, _, comp_out = circuit_np(MultSpec.parse(f"trunc:8x8u:k=8,comp={comp}"))
        assert abs(np.mean(comp_out - a * b)) < abs(np.mean(none - a * b)) / 4
    _, _, var = circuit_np(MultSpec.parse("trunc:8x8u:k=8,comp=var"))
    _, _, const = circuit_np(MultSpec.parse("trunc:8x8u:k=8,comp=const"))
    assert np.mean(np.abs(var - a * b)) < np.mean(np.abs(const - a * b))


def test_mitchell_underestimates_within_one_ninth():
    a, b, got = circuit_np(MultSpec.parse("mitchell:8x8u:ec=0"))
    exact = a * b
    assert (got <= exact).all()
    nz = exact > 0
    rel = (exact[nz] - got[nz]) / exact[nz]
    assert rel.max() <= 1 / 9 + 1e-12
    assert rel.max() > 0.10  # the bound is approached (3x3 -> 8, etc.)
    assert got[(a == 3) & (b == 3)][0] == 8


def test_ilm_one_correction_beats_mitchell():
    a, b, ilm = circuit_np(MultSpec.parse("mitchell:8x8u:ec=1"))
    _, _, mit = circuit_np(MultSpec.parse("mitchell:8x8u:ec=0"))
    exact = a * b
    assert (ilm <= exact).all()
    assert np.mean(np.abs(ilm - exact)) < np.mean(np.abs(mit - exact)) / 3
    # error of the iterative multiplier is the (approximated) residue product: exact on powers of 2
    pw = (a & (a - 1) == 0) | (b & (b - 1) == 0)
    assert np.array_equal(ilm[pw], exact[pw])


def test_drum_relative_error_bound():
    for k in (3, 4, 6):
        a, b, got = circuit_np(MultSpec.parse(f"drum:8x8u:k={k}"))
        nz = a * b > 0
        rel = np.abs(got[nz] - (a * b)[nz]) / (a * b)[nz]
        assert rel.max() <= (1 + 2.0 ** (1 - k)) ** 2 - 1 + 1e-12
        assert np.array_equal(got[(a < 2 ** k) & (b < 2 ** k)], (a * b)[(a < 2 ** k) & (b < 2 ** k)])


def test_kulkarni_block():
    a, b, got = circuit_np(MultSpec.parse("kulkarni:2x2u:t=1"))
    assert got.tolist() == [x * y if x * y != 9 else 7 for x, y in zip(a, b)]
    # 8x8 with every block approximate: 255 * 255 has all sixteen 3x3 blocks
    a, b, got = circuit_np(MultSpec.parse("kulkarni:8x8u:t=7"))
    assert got[(a == 255) & (b == 255)][0] == 7 * sum(4 ** (i + j) for i in range(4) for j in range(4))


def test_perforation_drops_rows():
    a, b, got = circuit_np(MultSpec.parse("perf:8x8s:start=2,count=3"))
    bb = to_signed((b % 256) & ~0b11100, 8)
    assert np.array_equal(got, a * bb)


def test_compressor_designs_error_patterns():
    # 'maj' errs only when all four inputs are 1, so it is far more accurate than 'or'.
    a, b, maj = circuit_np(MultSpec.parse("cmp42:8x8u:c=10,design=maj"))
    _, _, orr = circuit_np(MultSpec.parse("cmp42:8x8u:c=10,design=or"))
    _, _, ex = circuit_np(MultSpec.parse("cmp42:8x8u:c=0"))
    assert np.array_equal(ex, a * b)
    assert 0 < np.mean(maj != a * b) < np.mean(orr != a * b)
