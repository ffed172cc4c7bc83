"""Approximable kernels (AxBench's regions, regenerated offline): the exact function, its inputs, its error.

A :class:`Kernel` is one compute-heavy function that a small network may replace. Each lives in
its own file of this package and registers itself::

    @KERNELS.register("inversek2j")
    def _inversek2j():
        return Kernel(name="inversek2j", inputs=("x", "y"), outputs=("theta1", "theta2"), ...)

``KERNELS`` imports every module of the package on its first lookup, so a new file needs no
import line elsewhere; a registered object is a zero-argument factory (built on first use, so
that loading images or tables costs nothing until a kernel is asked for), and
:func:`kernel` returns the built :class:`Kernel`.

Units: ``exact`` takes and returns *raw* values, the kernel's own units in the order of
``inputs`` / ``outputs`` (what ``axforge kernel eval`` reads and writes, comparable with
AxBench's C code). The networks see ``to_net_in(x)`` and learn ``to_net_out(y)``;
``from_net_out`` maps their outputs back. Errors, the bounds and the metric are defined on
raw outputs by :meth:`Kernel.errors` (per sample), so they do not depend on a normalisation.
"""

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from axforge.errors import bad_value
from axforge.registry import Registry

__all__ = ["KERNELS", "Kernel", "kernel", "ERROR_KINDS", "OP_CLASSES"]

KERNELS = Registry("Kernel", package="axforge.models.kernels")

# How a kernel's per-sample error is computed from raw outputs y (approximate) and t (exact):
#   relative: mean over outputs of |y - t| / max(|t|, floor)          (blackscholes, fft, inversek2j)
#   absolute: mean over outputs of |y - t| / scale                     (jpeg, sobel, kmeans, bessel)
#   miss:     0 if argmax(y) == argmax(t) else 1 (one-hot classes)     (jmeint)
ERROR_KINDS = ("relative", "absolute", "miss")
# classes of Kernel.ops: add (add, subtract, compare, abs, min/max, select), mul, div, sqrt,
# exp_log (exp, log), trig (sin, cos, atan2, acos), branch (a data-dependent branch), bessel_jv (a
# call of the Bessel function J_nu(x))
OP_CLASSES = ("add", "mul", "div", "sqrt", "exp_log", "trig", "branch", "bessel_jv")


@dataclass(frozen=True)
class Kernel:
    """One approximable kernel.

    Attributes
    ----------
    name : str
    inputs, outputs : tuple of str -- names of the raw columns, in order.
    exact : callable -- raw (N, n_in) float array -> raw (N, n_out) float32 array, vectorised.
    sample : callable -- ``sample(n, rng)``: n raw inputs from the kernel's input distribution
        (``rng`` a ``numpy.random.Generator``); for image kernels, windows cut from the images.
        With ``sample_by_split`` it is ``sample(n, rng, split="train")``, drawing from that
        split's own region ("train" or "test").
    check : callable -- ``check(x)`` raises :func:`axforge.errors.bad_value` naming the column,
        the value and the domain when a raw input is outside it; returns None otherwise.
    to_net_in, to_net_out, from_net_out : callable -- raw <-> network units, float32.
    error_kind : str -- one of :data:`ERROR_KINDS`.
    bounds : (float, float) -- the error bounds of group 1 and group 2; a sample is *safe*
        when its error is strictly below the bound (for ``miss``: 0.5, i.e. classified right).
    metric : str -- the application metric's name as AxBench calls it ("relative error",
        "miss rate", "pixel difference", "output difference").
    n_train, n_test : int -- split sizes (the trainers carve their validation split from train).
    domain : str -- one line describing the raw inputs' domain (``axforge kernel list``).
    source : str -- where the definition comes from (an AxBench file, or "axforge" for ours).
    scale : float -- the divisor of ``absolute`` errors (1.0 elsewhere).
    floor : float -- the ``relative`` error's denominator floor.
    sample_by_split : bool -- ``sample`` takes the split as a third argument, so that
        :meth:`data` draws train and test from different regions (the image kernels).
    ops : dict -- the floating-point work of one exact invocation, ``{class: count}``, counted by
        hand from this file's implementation (classes :data:`OP_CLASSES`; loads, stores and
        address arithmetic are not counted). A CPU model prices them (``axforge npu report``).
    """
    name: str
    inputs: tuple
    outputs: tuple
    exact: Callable
    sample: Callable
    check: Callable
    to_net_in: Callable
    to_net_out: Callable
    from_net_out: Callable
    error_kind: str
    bounds: tuple
    metric: str
    n_train: int
    n_test: int
    domain: str
    source: str
    scale: float = 1.0
    floor: float = 1e-6
    notes: dict = field(default_factory=dict)
    sample_by_split: bool = False
    ops: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.error_kind not in ERROR_KINDS:
            raise bad_value(f"Kernel {self.name!r} error_kind", self.error_kind, " or ".join(ERROR_KINDS))
        for op, n in self.ops.items():
            if op not in OP_CLASSES or isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise bad_value(f"Kernel {self.name!r} op count {op!r}", n,
                                f"a count >= 0 of one of {', '.join(OP_CLASSES)}")

    @property
    def n_in(self):
        return len(self.inputs)

    @property
    def n_out(self):
        return len(self.outputs)

    def bound(self, group):
        """The error bound of ``group`` (1 or 2)."""
        if group not in (1, 2):
            raise bad_value("Group", group, "1 or 2")
        return float(self.bounds[group - 1])

    def errors(self, y, t):
        """Per-sample error (N,) float64 of raw approximate outputs ``y`` against raw exact ``t``."""
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        t = np.asarray(t, dtype=np.float64).reshape(len(t), -1)
        if y.shape != t.shape:
            raise bad_value("Outputs shape", y.shape, f"the exact outputs' shape {t.shape}")
        if self.error_kind == "relative":
            return (np.abs(y - t) / np.maximum(np.abs(t), self.floor)).mean(axis=1)
        if self.error_kind == "absolute":
            return (np.abs(y - t) / self.scale).mean(axis=1)
        return (y.argmax(axis=1) != t.argmax(axis=1)).astype(np.float64)

    def safe(self, y, t, group):
        """p_label: True where the sample's error is strictly below the group's bound."""
        return self.errors(y, t) < self.bound(group)

    def data(self, seed, n_train=None, n_test=None):
        """Raw splits ``{"train": (x, y), "test": (x, y)}`` drawn with ``seed`` (test from a
        separate stream, so its inputs do not change with ``n_train``; with ``sample_by_split``
        also from its own region of the inputs)."""
        n_train = self.n_train if n_train is None else n_train
        n_test = self.n_test if n_test is None else n_test
        out = {}
        for i, (split, n) in enumerate((("train", n_train), ("test", n_test))):
            rng = np.random.default_rng([seed, i])
            drawn = self.sample(n, rng, split) if self.sample_by_split else self.sample(n, rng)
            x = np.asarray(drawn, dtype=np.float64)
            out[split] = (x, np.asarray(self.exact(x), dtype=np.float32))
        return out


def kernel(name, field_name="Kernel"):
    """The :class:`Kernel` registered as ``name`` (built once), or a one-line error naming the kernels."""
    factory = KERNELS.lookup(name, field_name)
    return _built(factory)


_BUILT = {}


def _built(factory):
    if factory not in _BUILT:
        _BUILT[factory] = factory()
    return _BUILT[factory]
