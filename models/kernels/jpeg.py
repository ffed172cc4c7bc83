"""``jpeg``: the forward DCT and quantisation of one 8 x 8 grey block (AxBench's jpeg encoder).

Raw input: the 64 grey levels (0..255) of a block, row-major ``p00 p01 .. p77`` (``p<row><col>``).
Raw output: its 64 quantised coefficients, integers, row-major ``q00 .. q77`` (``q<v><u>``: row =
vertical frequency; not zig-zag order)::

    F = round(C (P - 128) C^T)          the orthonormal 2-D DCT-II, rounded to integers
    q = round(F / Q50)                  Q50: the standard luminance table (JPEG Annex K, quality 50)

``C[u, x] = a(u) cos((2x + 1) u pi / 16)``, ``a(0) = sqrt(1/8)``, ``a(u) = sqrt(2/8)``, in float64;
``round`` rounds halves away from zero (the DCT first snapped to 6 decimals, so that its exact
halves, which the DC and u, v = 4 terms of integer pixels can be, round as in exact arithmetic).
AxBench's encoder runs a fixed-point integer DCT instead (scaled by 2^10, truncating shifts); the
float DCT rounded is axforge's choice of "the integer DCT".

Networks see ``(P - 128) / 256`` and learn ``q / 256``; the error is the mean absolute
difference of the 64 coefficients divided by 256 (``scale = 256``), so the bounds apply on the
networks' /256 units. Blocks: 8 x 8 windows at any offset (not only the encoder's 8-aligned grid),
wholly inside a photo and inside the split's region (see ``_images``).
"""

import numpy as np

from . import KERNELS, Kernel, _images
from ._checks import column_check, within

__all__ = ["Q50", "dct_matrix", "quantised"]

INPUTS = tuple(f"p{r}{c}" for r in range(8) for c in range(8))
OUTPUTS = tuple(f"q{r}{c}" for r in range(8) for c in range(8))
Q50 = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
], dtype=np.float64)
Q50.setflags(write=False)


# The DC and the u, v = 4 coefficients of integer pixels are multiples of 1/8, so they may be exact
# halves; float64 noise (1e-13) must not decide their rounding: snap to 6 decimals first.
TIE_DIGITS = 6


def dct_matrix():
    """The orthonormal 8-point DCT-II matrix ``C`` (8, 8): row u, column x."""
    u, x = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    c = np.sqrt(2 / 8) * np.cos((2 * x + 1) * u * np.pi / 16)
    c[0] = np.sqrt(1 / 8)
    return c


def _round(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quantised(x):
    """Raw (N, 64) blocks -> (N, 64) float32 quantised coefficients (integers)."""
    block = np.asarray(x, dtype=np.float64).reshape(-1, 8, 8) - 128
    c = dct_matrix()
    coef = _round(np.round(np.einsum("ux,nxy,vy->nuv", c, block, c), TIE_DIGITS))
    return _round(coef / Q50).reshape(-1, 64).astype(np.float32)


@KERNELS.register("jpeg")
def _jpeg():
    return Kernel(
        name="jpeg", inputs=INPUTS, outputs=OUTPUTS,
        exact=quantised, sample=lambda n, rng, split="train": _images.windows(n, rng, split, 8),
        check=column_check("jpeg", INPUTS, [within(0.0, 255.0)] * 64),
        to_net_in=lambda x: _images.per_256(x, 64, shift=128), to_net_out=lambda y: _images.per_256(y, 64),
        from_net_out=lambda z: _images.times_256(z, 64),
        error_kind="absolute", bounds=(0.002, 0.005), metric="pixel difference",
        # level shift (64 add); the separable float DCT, two 8x8x8 matrix products (1024 mul, 896
        # add); two roundings of 64 values (abs, +0.5, sign: 3 add and 1 branch each); 64 divisions
        ops={"add": 1344, "mul": 1024, "div": 64, "branch": 128},
        n_train=8000, n_test=2000, scale=256.0, sample_by_split=True,
        domain="64 grey levels in [0, 255] of an 8x8 block, row-major; outputs its 64 quantised "
               "DCT coefficients (integers, row-major); networks see (p-128)/256, learn q/256",
        source="AxBench jpeg (float DCT rounded instead of its fixed-point DCT; Q50 luminance table)")
