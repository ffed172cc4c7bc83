"""Input checks shared by the kernels: shape, numbers, and each column's domain, as one-line errors."""

import numpy as np

from axforge.errors import bad_value

__all__ = ["as_inputs", "column_check", "one_of", "within"]


def as_inputs(name, inputs, x):
    """``x`` as a float64 (N, len(inputs)) array, or the one-line error naming the kernel."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise bad_value(f"{name} input", f"an array of {arr.dtype}", "an array of real numbers")
    if arr.ndim != 2 or arr.shape[1] != len(inputs):
        raise bad_value(f"{name} input shape", tuple(arr.shape),
                        f"(N, {len(inputs)}) (one row per sample, one column per input)")
    return arr.astype(np.float64, copy=False)


def within(lo, hi, open_hi=False):
    """A column rule: finite and in [lo, hi] (or [lo, hi) with ``open_hi``)."""
    def ok(v):
        return np.isfinite(v) & (v >= lo) & ((v < hi) if open_hi else (v <= hi))
    return ok, f"a finite number in [{lo:g}, {hi:g}{')' if open_hi else ']'}"


def one_of(*values):
    """A column rule: exactly one of ``values``."""
    def ok(v):
        return np.isin(v, values)
    return ok, " or ".join(f"{v:g}" for v in values)


def column_check(name, inputs, rules, extra=None):
    """The ``check`` of a kernel: shape, then each column against its ``(ok, text)`` rule (the
    first bad value names its column and row), then ``extra(x)`` for conditions across columns."""
    def check(x):
        x = as_inputs(name, inputs, x)
        for j, (col, (ok, text)) in enumerate(zip(inputs, rules)):
            bad = ~ok(x[:, j])
            if bad.any():
                i = int(np.argmax(bad))
                raise bad_value(f"{name} input column {col} (row {i})", float(x[i, j]), text)
        if extra is not None:
            extra(x)
    return check
