"""``fft``: the twiddle factor of a radix-2 FFT (AxBench's ``fftSinCos``).

Input (raw): ``x = k / N`` in [0, 0.5), sampled as ``k`` uniform in 0 .. N/2 - 1 with
N = 65536. Outputs, in this order: ``sin`` = sin(-2 pi x) and ``cos`` = cos(-2 pi x) (AxBench's
``fftSinCos(x, &s, &c)`` order), computed in float64 and returned in float32, as AxBench stores
them. Networks see and learn the raw values.

The relative error's floor is 0.1: ``sin`` is 0 at x = 0 and ``cos`` at x = 1/4, where a relative
error has no meaning; outputs below 0.1 in magnitude (7.1 % of the train samples' ``sin``, 5.9 %
of their ``cos``, seed 0) are compared as absolute error / 0.1.
"""

import numpy as np

from . import KERNELS, Kernel
from ._checks import column_check, within

__all__ = ["twiddle"]

N_FFT = 65536


def twiddle(x):
    """Raw (N, 1) inputs -> (N, 2) float32 (sin(-2 pi x), cos(-2 pi x))."""
    a = -2 * np.pi * np.asarray(x, dtype=np.float64).reshape(-1, 1)
    return np.concatenate([np.sin(a), np.cos(a)], axis=1).astype(np.float32)


def _sample(n, rng):
    return (rng.integers(0, N_FFT // 2, n) / N_FFT)[:, None]


def _same(v):
    return np.asarray(v, dtype=np.float32)


@KERNELS.register("fft")
def _fft():
    return Kernel(
        name="fft", inputs=("x",), outputs=("sin", "cos"),
        exact=twiddle, sample=_sample, check=column_check("fft", ("x",), [within(0.0, 0.5, open_hi=True)]),
        to_net_in=_same, to_net_out=_same, from_net_out=_same,
        error_kind="relative", bounds=(0.0001, 0.001), metric="relative error",
        ops={"mul": 1, "trig": 2},     # a = -2 pi x; sin(a), cos(a)
        n_train=8000, n_test=4000, floor=0.1,
        domain=f"x = k/N in [0, 0.5) (sampled: k in 0..N/2-1, N = {N_FFT}); outputs sin(-2 pi x), cos(-2 pi x)",
        source="AxBench fft (fftSinCos)")
