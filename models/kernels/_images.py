"""The image kernels' pictures: scikit-learn's two sample photographs, loaded on first use.

``china.jpg`` and ``flower.jpg`` (427 x 640 RGB, 8 bit). Grey levels are AxBench's luminance
``Y = 0.30 R + 0.59 G + 0.11 B`` (its ``makeGrayscale``), rounded to the nearest integer (0..255):
an 8-bit grey image.

Train and test come from different regions: a window of the ``"train"`` split lies wholly in the
left three quarters of a photo (columns 0-479), one of ``"test"`` wholly in the right quarter
(columns 480-639); both splits draw from both photos (each window's photo picked uniformly).
"""

from functools import cache

import numpy as np

from axforge.errors import bad_value

__all__ = ["PHOTOS", "SPLIT_COLUMN", "grey", "positions", "rgb", "windows", "per_256", "times_256"]

PHOTOS = ("china.jpg", "flower.jpg")
SPLIT_COLUMN = 480
LUMA = (0.30, 0.59, 0.11)


@cache
def rgb():
    """Both photos as one read-only uint8 array (2, 427, 640, 3)."""
    from sklearn.datasets import load_sample_image
    out = np.stack([load_sample_image(name) for name in PHOTOS])
    out.setflags(write=False)
    return out


@cache
def grey():
    """Both photos in grey levels, a read-only float64 array (2, 427, 640) of integers 0..255."""
    out = np.rint(rgb().astype(np.float64) @ np.array(LUMA))
    out.setflags(write=False)
    return out


def positions(n, rng, split, height, width, size, pad=0):
    """``n`` random (photo, row, col) of ``size`` x ``size`` windows in the split's region.

    Row and column are the top-left corner in the photo padded by ``pad`` on every side; the
    window's footprint in the photo (padding excluded) lies in the split's columns.
    """
    if split not in ("train", "test"):
        raise bad_value("Split", split, "'train' or 'test'")
    if split == "train":
        c_lo, c_hi = 0, SPLIT_COLUMN + pad - size              # footprint ends at column <= 479
    else:
        c_lo, c_hi = SPLIT_COLUMN + pad, width + 2 * pad - size  # footprint starts at column >= 480
    photo = rng.integers(0, len(PHOTOS), n)
    row = rng.integers(0, height + 2 * pad - size + 1, n)
    col = rng.integers(c_lo, c_hi + 1, n)
    return photo, row, col


def windows(n, rng, split, size, pad=0):
    """``n`` grey ``size`` x ``size`` windows (zero outside the photo), flattened row-major: (n, size**2)."""
    img = grey()
    if pad:
        img = np.pad(img, ((0, 0), (pad, pad), (pad, pad)))
    photo, row, col = positions(n, rng, split, img.shape[1] - 2 * pad, img.shape[2] - 2 * pad, size, pad)
    offs = np.arange(size)
    rows = row[:, None, None] + offs[None, :, None]
    cols = col[:, None, None] + offs[None, None, :]
    return img[photo[:, None, None], rows, cols].reshape(n, size * size)


def per_256(v, width, shift=0.0):
    """Pixel-unit values as the networks see them: ``(v - shift) / 256``, float32 (N, width)."""
    return ((np.asarray(v, dtype=np.float32) - shift) / 256).reshape(-1, width)


def times_256(z, width):
    """Network outputs back in pixel units: ``z * 256``, float32 (N, width)."""
    return (np.asarray(z, dtype=np.float32) * 256).reshape(-1, width)
