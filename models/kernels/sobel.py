"""``sobel``: the Sobel gradient magnitude of one 3 x 3 grey window (AxBench's sobel).

Raw inputs: the window's grey levels (0..255), row-major ``w00 w01 .. w22`` (``w<row><col>``,
``w11`` the centre). Raw output: ``magnitude`` = min(sqrt(gx^2 + gy^2), 255) with::

    gx = (w02 + 2 w12 + w22) - (w00 + 2 w10 + w20)      gy = (w20 + 2 w21 + w22) - (w00 + 2 w01 + w02)

in float32. Deviation from AxBench: AxBench works on pixels / 256, clips the magnitude at
1/sqrt(2) (about 181 grey levels) and writes it scaled by 256 sqrt(2); axforge clips the magnitude
itself at 255, the largest grey level. Networks see /256 and learn magnitude / 256; the error
is the absolute difference / 256 (``scale = 256``), so the bounds apply on those units.

Samples: the window around a random pixel, zero outside the photo (as the filter pads at the
borders), wholly in the split's region (see ``_images``).
"""

import numpy as np

from . import KERNELS, Kernel, _images
from ._checks import column_check, within

__all__ = ["GX", "GY", "magnitude"]

INPUTS = tuple(f"w{r}{c}" for r in range(3) for c in range(3))
GX = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
GY = GX.T.copy()


def magnitude(x):
    """Raw (N, 9) windows -> (N, 1) float32 gradient magnitudes, clipped at 255."""
    w = np.asarray(x, dtype=np.float32).reshape(-1, 9)
    gx = w @ GX.reshape(9)
    gy = w @ GY.reshape(9)
    return np.minimum(np.sqrt(gx * gx + gy * gy), np.float32(255))[:, None]


@KERNELS.register("sobel")
def _sobel():
    return Kernel(
        name="sobel", inputs=INPUTS, outputs=("magnitude",),
        exact=magnitude, sample=lambda n, rng, split="train": _images.windows(n, rng, split, 3, pad=1),
        check=column_check("sobel", INPUTS, [within(0.0, 255.0)] * 9),
        to_net_in=lambda x: _images.per_256(x, 9), to_net_out=lambda y: _images.per_256(y, 1),
        from_net_out=lambda z: _images.times_256(z, 1),
        error_kind="absolute", bounds=(0.01, 0.05), metric="pixel difference",
        # two 3x3 dot products (9 mul, 8 add each), gx^2 + gy^2, sqrt, the clip at 255
        ops={"add": 17, "mul": 20, "sqrt": 1, "branch": 1},
        n_train=16000, n_test=4000, scale=256.0, sample_by_split=True,
        domain="9 grey levels in [0, 255] of a 3x3 window, row-major (zero outside the photo); "
               "output the gradient magnitude clipped at 255; networks see /256",
        source="AxBench sobel (clip at 255 on 0..255 pixels)")
