"""Task quality metrics (top-1, relative error, RMSE, miss rate): a registry of named, directed metrics.

A metric compares a network's (or kernel's) ``outputs`` with the exact
``targets`` and returns one float. Each has a direction ("maximize" or
"minimize") and the name a search objective built on it takes
(``objective``). Inputs may be numpy arrays or torch tensors (any shape);
the arithmetic is vectorised numpy in float64 (CPU tensors are read without
a copy). AxBench-style kernels measure their error with the last three::

    from axforge.models.quality import QUALITY
    QUALITY["top1"](logits, labels)                       # 0.97
    QUALITY["miss_rate"](y_approx, y_exact, bound=0.1)    # fraction of outputs more than 10 % off

A new metric is one decorated function in this file::

    @metric("mae", "minimize")
    def mae(outputs, targets):
        \"\"\"Mean absolute error.\"\"\"
        return np.abs(_f64(outputs) - _f64(targets)).mean()
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from axforge.errors import bad_value
from axforge.registry import Registry

__all__ = ["QUALITY", "Metric", "metric", "top1", "relative_error", "rmse", "miss_rate"]

QUALITY = Registry("Quality metric")


@dataclass(frozen=True)
class Metric:
    """A named quality metric: ``metric(outputs, targets, **options) -> float``.

    Attributes
    ----------
    name : str -- its registry name.
    direction : str -- "maximize" or "minimize".
    fn : callable -- the vectorised computation.
    objective : str -- the name of a search objective that measures it.
    """
    name: str
    direction: str
    fn: Callable
    objective: str

    def __post_init__(self):
        if self.direction not in ("minimize", "maximize"):
            raise bad_value(f"Direction of metric {self.name!r}", self.direction, "'minimize' or 'maximize'")

    def __call__(self, outputs, targets, **options):
        return float(self.fn(outputs, targets, **options))


def metric(name, direction, objective=None):
    """Register the decorated function as the :class:`Metric` ``name`` (objective name: ``objective``,
    default ``name``)."""
    def wrap(fn):
        return QUALITY.register(name, Metric(name, direction, fn, objective or name))
    return wrap


def _array(x):
    if hasattr(x, "detach"):             # a torch tensor: its memory, as numpy
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _f64(x):
    return _array(x).astype(np.float64, copy=False)


def _pair(outputs, targets):
    y, t = _f64(outputs), _f64(targets)
    if y.shape != t.shape:
        raise bad_value("Outputs shape", y.shape, f"the targets' shape {t.shape}")
    return y, t


@metric("top1", "maximize", objective="accuracy")
def top1(outputs, targets):
    """Top-1 accuracy in [0, 1]: the fraction of samples whose highest score is the target class.

    ``outputs``: scores (N, K) (argmax over the last axis) or predicted labels (N,); ``targets``: labels (N,).
    No samples gives 0.
    """
    y, t = _array(outputs), _array(targets)
    pred = y.argmax(-1) if y.ndim == t.ndim + 1 else y
    if pred.shape != t.shape:
        raise bad_value("Outputs shape", y.shape, f"(N, K) scores or (N,) labels for targets of shape {t.shape}")
    return int(np.count_nonzero(pred == t)) / max(1, t.size)


def _relative(y, t, floor):
    return np.abs(y - t) / np.maximum(np.abs(t), floor)


@metric("relative_error", "minimize")
def relative_error(outputs, targets, floor=1e-9):
    """Mean relative error over every output element: mean of ``|y - t| / max(|t|, floor)``.

    ``floor`` keeps exact zeros finite (a zero target then counts the absolute error over ``floor``).
    """
    y, t = _pair(outputs, targets)
    return _relative(y, t, floor).mean() if y.size else 0.0


@metric("rmse", "minimize")
def rmse(outputs, targets):
    """Root mean square error over every element, in the outputs' units (pixel RMSE for images)."""
    y, t = _pair(outputs, targets)
    return np.sqrt(np.mean(np.square(y - t))) if y.size else 0.0


@metric("miss_rate", "minimize")
def miss_rate(outputs, targets, bound=0.1, floor=1e-9):
    """The fraction of output elements whose relative error ``|y - t| / max(|t|, floor)`` exceeds
    ``bound`` (strictly); 0 when all are within it."""
    if not bound >= 0:
        raise bad_value("Miss-rate bound", bound, "a relative error >= 0")
    y, t = _pair(outputs, targets)
    return np.count_nonzero(_relative(y, t, floor) > bound) / max(1, y.size)
