"""``bessel``: the Bessel function of the first kind, ``jv(nu, x)`` (axforge's own kernel).

AxBench has no such kernel; the AXNet paper plots a Bessel surface (its Fig. 4), and this is
axforge's definition of one: raw inputs the order ``nu`` in [0, 2] and the argument ``x`` in
[0, 10], both uniform; raw output ``jv`` = ``scipy.special.jv(nu, x)`` (computed in float64,
returned in float32), which lies in about [-0.40, 1]. Networks see nu / 2 and x / 10 (both in
[0, 1]) and learn the raw value; the error is the absolute difference (``scale = 1``), with
bounds 0.01 and 0.05: about 1 % and 5 % of the output's range.
"""

import numpy as np

from . import KERNELS, Kernel
from ._checks import column_check, within

__all__ = ["bessel"]

NU_MAX, X_MAX = 2.0, 10.0


def bessel(x):
    """Raw (N, 2) (nu, x) -> (N, 1) float32 jv(nu, x)."""
    from scipy.special import jv
    x = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    return jv(x[:, 0], x[:, 1]).astype(np.float32)[:, None]


def _sample(n, rng):
    return np.stack([rng.uniform(0, NU_MAX, n), rng.uniform(0, X_MAX, n)], axis=1)


@KERNELS.register("bessel")
def _bessel():
    return Kernel(
        name="bessel", inputs=("nu", "x"), outputs=("jv",),
        exact=bessel, sample=_sample,
        check=column_check("bessel", ("nu", "x"), [within(0.0, NU_MAX), within(0.0, X_MAX)]),
        to_net_in=lambda x: (np.asarray(x, dtype=np.float32).reshape(-1, 2)
                             / np.array([NU_MAX, X_MAX], dtype=np.float32)),
        to_net_out=lambda y: np.asarray(y, dtype=np.float32).reshape(-1, 1),
        from_net_out=lambda z: np.asarray(z, dtype=np.float32).reshape(-1, 1),
        error_kind="absolute", bounds=(0.01, 0.05), metric="output difference",
        ops={"bessel_jv": 1},
        n_train=16000, n_test=4000,
        domain="nu in [0, 2], x in [0, 10]; output scipy.special.jv(nu, x); networks see nu/2, x/10",
        source="axforge (AXNet's Fig. 4 Bessel surface; not in AxBench)")
