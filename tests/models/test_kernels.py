"""The approximable kernels: exact outputs against independent closed forms and hand cases,
sampling and splits, errors and bounds, and the one-line input checks."""

import math

import numpy as np
import pytest
import scipy.fft
import scipy.special
from scipy.stats import norm

from axforge.errors import AxforgeError
from axforge.models.kernels import (ERROR_KINDS, KERNELS, Kernel, _images, blackscholes, fft, inversek2j, jmeint,
                                    jpeg, kernel)

NAMES = ("bessel", "blackscholes", "fft", "inversek2j", "jmeint", "jpeg", "kmeans", "sobel")


@pytest.fixture(scope="module")
def splits():
    """Every kernel's default splits with seed 0 (sampled once for the module)."""
    return {name: kernel(name).data(0) for name in NAMES}


# ---------------------------------------------------------------- the registry and the common contract

def test_every_kernel_is_registered_and_built_once():
    assert set(NAMES) <= set(KERNELS)
    for name in NAMES:
        k = kernel(name)
        assert isinstance(k, Kernel) and k.name == name and k is kernel(name)
        assert k.error_kind in ERROR_KINDS and k.metric and k.domain and k.source
        assert len(set(k.inputs)) == k.n_in and len(set(k.outputs)) == k.n_out
        assert k.bound(1) <= k.bound(2)
    with pytest.raises(AxforgeError, match=r"^Kernel must be one of .*blackscholes, .*, not 'nope'$"):
        kernel("nope")


@pytest.mark.parametrize("name", NAMES)
def test_splits_shapes_units_and_checks(name, splits):
    k = kernel(name)
    for split, n in (("train", k.n_train), ("test", k.n_test)):
        x, y = splits[name][split]
        assert x.shape == (n, k.n_in) and x.dtype == np.float64
        assert y.shape == (n, k.n_out) and y.dtype == np.float32
        assert np.isfinite(y).all()
        k.check(x)                                           # sampled inputs are in the domain
        np.testing.assert_array_equal(y, k.exact(x))
        zi, zo = k.to_net_in(x), k.to_net_out(y)
        assert zi.shape == x.shape and zo.shape == y.shape and zi.dtype == zo.dtype == np.float32
        assert np.abs(zi).max() <= 1.0 and np.abs(zo).max() <= 2.0  # networks see units of about 1
        np.testing.assert_allclose(k.from_net_out(zo), y, rtol=1e-6, atol=1e-6)
        assert (k.errors(k.from_net_out(zo), y) < 1e-6).all()
    assert not np.array_equal(splits[name]["train"][0][:100], splits[name]["test"][0][:100])


@pytest.mark.parametrize("name", NAMES)
def test_data_is_deterministic(name, splits):
    k = kernel(name)
    a = k.data(0, n_train=50, n_test=30)
    b = k.data(0, n_train=70, n_test=30)
    c = k.data(1, n_train=50, n_test=30)
    again = k.data(0)
    for split in ("train", "test"):
        for got, want in zip(again[split], splits[name][split]):
            np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(a["test"][0], b["test"][0])      # test does not move with n_train
    np.testing.assert_array_equal(a["test"][1], b["test"][1])
    assert not np.array_equal(a["train"][0], c["train"][0])


@pytest.mark.parametrize("name", NAMES)
def test_check_gives_one_line_naming_the_column(name):
    k = kernel(name)
    x = k.sample(5, np.random.default_rng(3))
    for j in (0, k.n_in - 1):
        bad = x.copy()
        bad[2, j] = np.nan
        with pytest.raises(AxforgeError) as info:
            k.check(bad)
        msg = str(info.value)
        assert "\n" not in msg and msg.startswith(f"{name} input column") and k.inputs[j] in msg
        assert "(row 2)" in msg and msg.endswith("not nan")
        bad[2, j] = 1e6
        with pytest.raises(AxforgeError, match=rf"^{name} input column.*{k.inputs[j]}.* not 1000000.0$"):
            k.check(bad)
    for shape in ((5, k.n_in + 1), (k.n_in,)):
        with pytest.raises(AxforgeError, match=rf"^{name} input shape must be \(N, {k.n_in}\)"):
            k.check(np.zeros(shape))
    with pytest.raises(AxforgeError, match=rf"^{name} input must be an array of real numbers"):
        k.check(np.full((2, k.n_in), "a"))
    k.check(np.zeros((0, k.n_in)))


def test_check_wording_of_a_range():
    with pytest.raises(AxforgeError, match=r"^blackscholes input column sigma \(row 0\) must be a finite number "
                                           r"in \[0\.1, 0\.3\], not 0\.5$"):
        kernel("blackscholes").check([[50, 50, 0.07, 0.5, 0.5, 0]])
    with pytest.raises(AxforgeError, match=r"^blackscholes input column otype \(row 0\) must be 0 or 1, not 0\.5$"):
        kernel("blackscholes").check([[50, 50, 0.07, 0.2, 0.5, 0.5]])
    with pytest.raises(AxforgeError, match=r"^fft input column x \(row 0\) must be a finite number in \[0, 0\.5\), "
                                           r"not 0\.5$"):
        kernel("fft").check([[0.5]])


# ---------------------------------------------------------------- errors and bounds

def test_errors_and_safe_on_hand_cases():
    bs = kernel("blackscholes")                                   # relative, floor 1
    t = np.array([[4.0], [0.5]])
    y = np.array([[4.0 + 2 ** -5], [0.5 + 2 ** -7]])
    np.testing.assert_array_equal(bs.errors(y, t), [2 ** -7, 2 ** -7])   # 0.5 < floor: divided by 1
    assert bs.safe(y, t, 1).tolist() == [True, True]
    y = np.array([[4.0 + 2 ** -3], [0.5 + 2 ** -4]])
    assert bs.safe(y, t, 2).tolist() == [False, False]
    fk = kernel("fft")                                            # mean over the two outputs, floor 0.1
    np.testing.assert_allclose(fk.errors([[0.001, 1.0]], [[0.0, 1.0]]), [0.005])
    sb = kernel("sobel")                                          # absolute / 256
    t = np.zeros((2, 1))
    y = np.array([[0.01 * 256], [np.nextafter(0.01 * 256, 0)]])
    assert sb.errors(y, t)[0] == 0.01
    assert sb.safe(y, t, 1).tolist() == [False, True]             # strictly below the bound
    jp = kernel("jpeg")
    t = np.zeros((1, 64))
    y = t.copy()
    y[0, 5] = 1
    assert jp.errors(y, t)[0] == 1 / 64 / 256
    jm = kernel("jmeint")                                         # miss
    t = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[0.6, 0.4], [0.7, 0.3]])
    assert jm.errors(y, t).tolist() == [0.0, 1.0] and jm.safe(y, t, 1).tolist() == [True, False]
    with pytest.raises(AxforgeError, match=r"^Outputs shape must be the exact outputs' shape \(2, 2\), not \(2, 1\)$"):
        jm.errors(np.zeros((2, 1)), t)
    with pytest.raises(AxforgeError, match=r"^Group must be 1 or 2, not 3$"):
        jm.bound(3)


# ---------------------------------------------------------------- blackscholes

def _bs_closed_form(x):
    s, k, r, sigma, t, otype = np.asarray(x, dtype=np.float64).T
    d1 = (np.log(s / k) + (r + sigma ** 2 / 2) * t) / (sigma * np.sqrt(t))
    d2 = d1 - sigma * np.sqrt(t)
    fk = k * np.exp(-r * t)
    return np.where(otype == 0, s * norm.cdf(d1) - fk * norm.cdf(d2), fk * norm.cdf(-d2) - s * norm.cdf(-d1))


def test_blackscholes_against_the_closed_form():
    x = kernel("blackscholes").sample(5000, np.random.default_rng(7))
    s, k, r, _, t, _ = x.T
    fk = k * np.exp(-r * t)
    ref = _bs_closed_form(x)
    # the polynomial CNDF is within 7.5e-8 of the normal CDF, so the price within 7.5e-8 (S + K e^-rT)
    assert (np.abs(blackscholes.price(x, np.float64)[:, 0] - ref) <= 7.5e-8 * (s + fk)).all()
    # float32, as AxBench: far below the 1 % bound (relative, floor 1)
    assert (np.abs(kernel("blackscholes").exact(x)[:, 0] - ref) / np.maximum(np.abs(ref), 1) < 5e-5).all()
    z = np.linspace(-6, 6, 1001)
    assert np.abs(blackscholes.cndf(z, np.float64) - norm.cdf(z)).max() < 7.5e-8


def test_blackscholes_put_call_parity_and_hulls_example():
    x = kernel("blackscholes").sample(5000, np.random.default_rng(8))
    call, put = x.copy(), x.copy()
    call[:, 5], put[:, 5] = 0, 1
    s, k, r, _, t, _ = x.T
    forward = s - k * np.exp(-r * t)
    for dtype, tol in ((np.float64, 1e-11), (np.float32, 5e-5)):
        parity = blackscholes.price(call, dtype)[:, 0] - blackscholes.price(put, dtype)[:, 0]
        assert np.abs(parity - forward).max() < tol
    # Hull, Options, Futures and Other Derivatives, example 15.6: c = 4.76, p = 0.81
    c, p = kernel("blackscholes").exact([[42, 40, 0.1, 0.2, 0.5, 0], [42, 40, 0.1, 0.2, 0.5, 1]])[:, 0]
    assert round(float(c), 2) == 4.76 and round(float(p), 2) == 0.81


# ---------------------------------------------------------------- fft

def test_fft_twiddles_at_hand_points():
    y = kernel("fft").exact([[0.0], [1 / 8], [1 / 4], [3 / 8]])
    h = math.sqrt(0.5)
    np.testing.assert_allclose(y, [[0, 1], [-h, h], [-1, 0], [-h, -h]], atol=1e-7)
    x = kernel("fft").sample(1000, np.random.default_rng(1))
    assert ((x * fft.N_FFT) % 1 == 0).all() and x.min() >= 0 and x.max() < 0.5
    np.testing.assert_allclose(fft.twiddle(x), np.c_[np.sin(-2 * np.pi * x), np.cos(-2 * np.pi * x)], atol=1e-7)


# ---------------------------------------------------------------- inversek2j

def test_inversek2j_round_trips():
    k = kernel("inversek2j")
    x = k.sample(5000, np.random.default_rng(4))
    theta = k.exact(x)
    np.testing.assert_allclose(inversek2j.forward(theta), x, atol=1e-6)     # forward(exact(x)) == x
    t = np.random.default_rng(5).uniform(0, np.pi / 2, (5000, 2))
    # exact(forward(t)) == t: the same elbow; float32's acos near theta2 = 0 costs up to ~3e-4 rad
    np.testing.assert_allclose(k.exact(inversek2j.forward(t)), t, atol=1e-3)
    np.testing.assert_allclose(k.exact([[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]]),
                               [[0, np.pi / 2], [0, 0], [np.pi / 2, 0]], atol=1e-3)


def test_inversek2j_unreachable_points_are_out_of_domain():
    k = kernel("inversek2j")
    k.check([[1.0, 0.0], [0.0, 0.0], [0.3, 0.4]])
    with pytest.raises(AxforgeError, match=r"^inversek2j input columns x, y \(row 1\) must be a point the arm "
                                           r"reaches: distance from the base between .* not \(0\.8, 0\.8\)$"):
        k.check([[0.5, 0.5], [0.8, 0.8]])


# ---------------------------------------------------------------- jmeint

V = [(0, 0, 0.5), (1, 0, 0.5), (0, 1, 0.5)]          # in the plane z = 0.5

JMEINT_CASES = {
    "pierces": ([(0.2, 0.2, 0), (0.2, 0.2, 1), (0.4, 0.1, 0.5)], True),
    "above": ([(0.2, 0.2, 0.6), (0.9, 0.2, 1), (0.2, 0.9, 0.7)], False),
    "cuts the plane outside": ([(0.9, 0.9, 0), (0.9, 0.9, 1), (0.8, 1.0, 0.5)], False),
    "touches at a vertex": ([(0, 0, 0.5), (0.5, 0, 1), (0, 0.5, 1)], True),
    "coplanar overlap": ([(0.25, 0.25, 0.5), (1, 0.25, 0.5), (0.25, 1, 0.5)], True),
    "coplanar inside": ([(0.125, 0.125, 0.5), (0.375, 0.125, 0.5), (0.125, 0.375, 0.5)], True),
    "coplanar apart": ([(0.75, 0.75, 0.5), (1, 0.75, 0.5), (0.75, 1, 0.5)], False),
}


@pytest.mark.parametrize("case", JMEINT_CASES)
def test_jmeint_hand_cases(case):
    u, hit = JMEINT_CASES[case]
    for a, b in ((V, u), (u, V)):                       # symmetric in the two triangles
        x = np.array([a + b], dtype=np.float64).reshape(1, 18)
        assert kernel("jmeint").exact(x).tolist() == [[1.0, 0.0] if hit else [0.0, 1.0]]


def _segment_hits_triangle(p0, p1, tri):
    """Plain-python Möller-Trumbore: does segment p0-p1 meet triangle tri (general position)."""
    def sub(a, b):
        return [a[i] - b[i] for i in range(3)]

    def cross(a, b):
        return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]

    def dot(a, b):
        return sum(a[i] * b[i] for i in range(3))

    d, e1, e2 = sub(p1, p0), sub(tri[1], tri[0]), sub(tri[2], tri[0])
    h = cross(d, e2)
    a = dot(e1, h)
    if abs(a) < 1e-15:
        return False
    s = sub(p0, tri[0])
    u = dot(s, h) / a
    q = cross(s, e1)
    v = dot(d, q) / a
    t = dot(e2, q) / a
    return 0 <= u <= 1 and 0 <= v and u + v <= 1 and 0 <= t <= 1


def _slow_intersects(row):
    p = [list(map(float, row[3 * i:3 * i + 3])) for i in range(6)]
    a, b = p[:3], p[3:]
    edges = ((0, 1), (1, 2), (2, 0))
    return any(_segment_hits_triangle(a[i], a[j], b) for i, j in edges) or \
        any(_segment_hits_triangle(b[i], b[j], a) for i, j in edges)


def test_jmeint_against_a_slow_segment_triangle_test():
    x = kernel("jmeint").sample(400, np.random.default_rng(11))
    fast = jmeint.intersects(x)
    slow = np.array([_slow_intersects(r) for r in x])
    assert 40 < slow.sum() < 360                          # both classes are well represented
    np.testing.assert_array_equal(fast, slow)


# ---------------------------------------------------------------- jpeg

def _round_half_away(v):
    return np.trunc(v + np.copysign(0.5, v))


def test_jpeg_against_scipy_dct_and_the_quality_50_table():
    assert jpeg.Q50[0].tolist() == [16, 11, 10, 16, 24, 40, 51, 61]
    assert jpeg.Q50[:, 0].tolist() == [16, 12, 14, 14, 18, 24, 49, 72] and jpeg.Q50[7, 7] == 99
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (200, 64)).astype(np.float64)
    c = jpeg.dct_matrix()
    block = x.reshape(-1, 8, 8) - 128
    ref = scipy.fft.dctn(block, axes=(1, 2), norm="ortho")
    np.testing.assert_allclose(np.einsum("ux,nxy,vy->nuv", c, block, c), ref, atol=1e-9)
    # ties are exact in the DC and u, v = 4 terms (multiples of 1/8): 1e-6 snaps float noise to them
    want = _round_half_away(_round_half_away(np.round(ref, 6)) / jpeg.Q50).reshape(-1, 64)
    np.testing.assert_array_equal(kernel("jpeg").exact(x), want)
    # flat blocks: DC only; 255 gives F = 8 * 127 = 1016, 1016 / 16 = 63.5 rounds away from zero
    flat = kernel("jpeg").exact(np.array([[128.0] * 64, [255.0] * 64, [0.0] * 64]))
    assert flat[:, 0].tolist() == [0, 64, -64] and not flat[:, 1:].any()
    real = kernel("jpeg").data(0, n_train=500, n_test=1)["train"][1]
    assert (real == np.rint(real)).all() and np.abs(real).max() <= 64


# ---------------------------------------------------------------- kmeans

def test_kmeans_against_numpy_norm_and_its_pixels():
    k = kernel("kmeans")
    x = k.sample(2000, np.random.default_rng(6))
    np.testing.assert_allclose(k.exact(x)[:, 0], np.linalg.norm(x[:, :3] - x[:, 3:], axis=1), rtol=1e-6)
    assert k.exact([[0, 0, 0, 255, 255, 255], [10, 20, 30, 13, 24, 30]])[:, 0].tolist() == \
        pytest.approx([255 * math.sqrt(3), 5.0])
    flat = {tuple(c) for c in _images.rgb().reshape(-1, 3).tolist()}     # pixel and centroid: photo colours
    assert all(tuple(int(v) for v in row[:3]) in flat and tuple(int(v) for v in row[3:]) in flat for row in x[:50])


# ---------------------------------------------------------------- sobel

def test_sobel_hand_windows():
    w = [[10, 20, 30, 40, 50, 60, 70, 80, 90],          # gx = 240 - 160 = 80, gy = 320 - 80 = 240
         [7] * 9,                                       # flat: 0
         [0, 0, 0, 0, 0, 0, 100, 100, 100]]             # gy = 400: clipped at 255
    np.testing.assert_allclose(kernel("sobel").exact(w)[:, 0], [math.sqrt(80 ** 2 + 240 ** 2), 0, 255], rtol=1e-6)


def test_sobel_windows_are_zero_padded_at_the_borders(monkeypatch):
    grey = _images.grey()
    h, w = grey.shape[1:]
    corners = {"train": (1, 0, 0), "test": (0, h - 1, w - 1)}       # top-left / bottom-right, padded coords
    for split, (photo, row, col) in corners.items():
        at = tuple(np.array([v]) for v in (photo, row, col))
        monkeypatch.setattr(_images, "positions", lambda *a, at=at, **k: at)
        x = kernel("sobel").sample(1, np.random.default_rng(0), split)
        win = np.zeros((3, 3))
        r0, c0 = row - 1, col - 1
        for i in range(3):
            for j in range(3):
                if 0 <= r0 + i < h and 0 <= c0 + j < w:
                    win[i, j] = grey[photo, r0 + i, c0 + j]
        np.testing.assert_array_equal(x[0], win.ravel())
        assert (win == 0).sum() == 5
        gx = (win[:, 2] * [1, 2, 1]).sum() - (win[:, 0] * [1, 2, 1]).sum()
        gy = (win[2] * [1, 2, 1]).sum() - (win[0] * [1, 2, 1]).sum()
        assert kernel("sobel").exact(x)[0, 0] == pytest.approx(min(math.hypot(gx, gy), 255), rel=1e-6)


def test_image_splits_come_from_separate_regions():
    grey = _images.grey()
    assert grey.shape == (2, 427, 640) and grey.min() >= 0 and grey.max() <= 255 and (grey == np.rint(grey)).all()
    r, g, b = (_images.rgb()[0, 0, 0].astype(float))
    assert grey[0, 0, 0] == round(0.30 * r + 0.59 * g + 0.11 * b)
    rng = np.random.default_rng(0)
    for size, pad in ((8, 0), (3, 1), (1, 0)):
        _, _, col = _images.positions(20000, rng, "train", 427, 640, size, pad)
        assert col.min() == 0 and (col - pad + size - 1).max() == _images.SPLIT_COLUMN - 1
        photo, row, col = _images.positions(20000, rng, "test", 427, 640, size, pad)
        assert (col - pad).min() == _images.SPLIT_COLUMN and col.max() == 640 + 2 * pad - size
        assert set(photo.tolist()) == {0, 1} and row.max() == 427 + 2 * pad - size
    with pytest.raises(AxforgeError, match=r"^Split must be 'train' or 'test', not 'val'$"):
        _images.positions(1, rng, "val", 427, 640, 3)


# ---------------------------------------------------------------- bessel

def test_bessel_against_closed_forms():
    x = np.array([0.5, 1.0, 3.0, 7.5, 10.0])
    k = kernel("bessel")
    half = k.exact(np.c_[np.full(5, 0.5), x])[:, 0]
    np.testing.assert_allclose(half, np.sqrt(2 / (np.pi * x)) * np.sin(x), rtol=1e-6, atol=1e-7)
    three_halves = k.exact(np.c_[np.full(5, 1.5), x])[:, 0]
    np.testing.assert_allclose(three_halves, np.sqrt(2 / (np.pi * x)) * (np.sin(x) / x - np.cos(x)),
                               rtol=1e-6, atol=1e-7)
    assert k.exact([[0, 0], [1, 0], [2, 0]])[:, 0].tolist() == [1, 0, 0]
    assert abs(k.exact([[0, 2.404825557695773]])[0, 0]) < 1e-7     # J0's first zero
    nu_x = k.sample(500, np.random.default_rng(0))
    np.testing.assert_allclose(k.exact(nu_x)[:, 0], scipy.special.jv(nu_x[:, 0], nu_x[:, 1]), rtol=1e-6, atol=1e-7)
