"""``inversek2j``: inverse kinematics of a two-joint planar arm (AxBench).

Links ``L1 = L2 = 0.5``. Inputs (raw): the end point ``x``, ``y``; outputs: the joint angles
``theta1``, ``theta2`` in radians, by the closed form of the elbow configuration that the
forward model uses (``theta2`` in [0, pi])::

    theta2 = acos((x^2 + y^2 - L1^2 - L2^2) / (2 L1 L2))
    theta1 = atan2(y, x) - atan2(L2 sin(theta2), L1 + L2 cos(theta2))

computed in float32, as AxBench does (AxBench writes ``theta1`` with an ``asin``, which agrees on
this domain). Samples: ``theta1``, ``theta2`` uniform in [0, pi/2], through :func:`forward`.
Networks see and learn the raw values.

The relative error's floor is 0.1 rad: angles below it (6.4 % of the train samples' ``theta1``,
6.6 % of their ``theta2``, seed 0) are compared as absolute error / 0.1 (a relative error of an
angle at 0 has no meaning).
"""

import numpy as np

from axforge.errors import bad_value

from . import KERNELS, Kernel
from ._checks import column_check, within

__all__ = ["L1", "L2", "forward", "inverse"]

L1 = L2 = 0.5


def forward(theta):
    """Joint angles (N, 2) -> end points (N, 2), float64."""
    t1, t2 = np.asarray(theta, dtype=np.float64).reshape(-1, 2).T
    return np.stack([L1 * np.cos(t1) + L2 * np.cos(t1 + t2), L1 * np.sin(t1) + L2 * np.sin(t1 + t2)], axis=1)


def inverse(x):
    """Raw (N, 2) end points -> (N, 2) float32 (theta1, theta2)."""
    f = np.float32
    px, py = np.asarray(x, dtype=f).reshape(-1, 2).T
    l1, l2 = f(L1), f(L2)
    c2 = (px * px + py * py - l1 * l1 - l2 * l2) / (f(2) * l1 * l2)
    t2 = np.arccos(np.clip(c2, f(-1), f(1)))
    t1 = np.arctan2(py, px) - np.arctan2(l2 * np.sin(t2), l1 + l2 * np.cos(t2))
    return np.stack([t1, t2], axis=1).astype(f)


def _reachable(x):
    d = np.hypot(x[:, 0], x[:, 1])
    bad = (d > (L1 + L2) * (1 + 1e-6)) | (d < abs(L1 - L2) * (1 - 1e-6))
    if bad.any():
        i = int(np.argmax(bad))
        raise bad_value(f"inversek2j input columns x, y (row {i})", (float(x[i, 0]), float(x[i, 1])),
                        f"a point the arm reaches: distance from the base between |L1 - L2| = {abs(L1 - L2):g} "
                        f"and L1 + L2 = {L1 + L2:g}")


def _sample(n, rng):
    return forward(rng.uniform(0, np.pi / 2, (n, 2)))


def _same(v):
    return np.asarray(v, dtype=np.float32)


@KERNELS.register("inversek2j")
def _inversek2j():
    rules = [within(-(L1 + L2), L1 + L2)] * 2
    return Kernel(
        name="inversek2j", inputs=("x", "y"), outputs=("theta1", "theta2"),
        exact=inverse, sample=_sample, check=column_check("inversek2j", ("x", "y"), rules, _reachable),
        to_net_in=_same, to_net_out=_same, from_net_out=_same,
        error_kind="relative", bounds=(0.01, 0.05), metric="relative error",
        # c2: x^2 + y^2 - l1^2 - l2^2 over 2 l1 l2 (mul 3, add 2), its clip (branch 2), acos;
        # atan2(y, x), sin and cos of theta2 (mul 2), l1 + .., atan2, the difference (add 2)
        ops={"add": 4, "mul": 5, "trig": 5, "branch": 2},
        n_train=16000, n_test=4000, floor=0.1,
        domain=f"(x, y) reachable: distance from the base <= L1 + L2 = {L1 + L2:g} (sampled: forward "
               "kinematics of theta1, theta2 uniform in [0, pi/2])",
        source="AxBench inversek2j (L1 = L2 = 0.5 instead of 50)")
