"""``kmeans``: the distance of a pixel to a cluster centroid in RGB space (AxBench's kmeans).

Raw inputs: the pixel's ``r g b`` and the centroid's ``cr cg cb``, each in [0, 255]. Raw output:
the Euclidean ``distance`` sqrt((r - cr)^2 + (g - cg)^2 + (b - cb)^2), in float32 as AxBench.
Networks see every value / 256 and learn distance / 256; the error is the absolute difference /
256 (``scale = 256``), so the bounds apply on those units.

Samples: a random pixel of a photo and, as the centroid, another random pixel of the same photo
and the same split region (see ``_images``): the centroids k-means starts from are such pixels.
"""

import numpy as np

from . import KERNELS, Kernel, _images
from ._checks import column_check, within

__all__ = ["distance"]

INPUTS = ("r", "g", "b", "cr", "cg", "cb")


def distance(x):
    """Raw (N, 6) -> (N, 1) float32 Euclidean distances."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, 6)
    d = x[:, :3] - x[:, 3:]
    return np.sqrt((d * d).sum(axis=1, dtype=np.float32))[:, None]


def _sample(n, rng, split="train"):
    img = _images.rgb()
    photo, r1, c1 = _images.positions(n, rng, split, img.shape[1], img.shape[2], 1)
    _, r2, c2 = _images.positions(n, rng, split, img.shape[1], img.shape[2], 1)
    return np.concatenate([img[photo, r1, c1], img[photo, r2, c2]], axis=1).astype(np.float64)


@KERNELS.register("kmeans")
def _kmeans():
    return Kernel(
        name="kmeans", inputs=INPUTS, outputs=("distance",),
        exact=distance, sample=_sample, check=column_check("kmeans", INPUTS, [within(0.0, 255.0)] * 6),
        to_net_in=lambda x: _images.per_256(x, 6), to_net_out=lambda y: _images.per_256(y, 1),
        from_net_out=lambda z: _images.times_256(z, 1),
        error_kind="absolute", bounds=(0.05, 0.1), metric="output difference",
        ops={"add": 5, "mul": 3, "sqrt": 1},     # three differences, their squares, the sum, sqrt
        n_train=16000, n_test=4000, scale=256.0, sample_by_split=True,
        domain="pixel r, g, b and centroid cr, cg, cb in [0, 255]; output their Euclidean distance; "
               "networks see /256",
        source="AxBench kmeans (euclideanDistance)")
