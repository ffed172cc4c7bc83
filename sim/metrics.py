"""Error metrics with EvoApproxLib's definitions, over uniform or supplied operand distributions.

For ``err = approx - exact`` over all input pairs (weights ``w``, uniform by
default): ``mae`` = E|err|, ``wce`` = max |err|, ``ep_pct`` = 100 P(err != 0),
``mse`` = E err^2, ``bias`` = E err, ``mre_pct`` = 100 E(|err| / |exact|) over
pairs with ``exact != 0``, ``wcre_pct`` = 100 max |err| / |exact| over the same
pairs, and ``mae_pct`` / ``wce_pct`` = value / 2^(a_width + b_width) x 100.
Maxima are over pairs of non-zero weight.
"""

import numpy as np

from axforge.errors import AxforgeError, bad_value

__all__ = ["METRIC_KEYS", "error_metrics", "distribution_weights", "load_distribution"]

METRIC_KEYS = ("mae", "mae_pct", "wce", "wce_pct", "wcre_pct", "ep_pct", "mre_pct", "mse", "bias")


def error_metrics(approx, exact, out_width, weights=None):
    """Metrics of ``approx`` against ``exact`` (aligned int arrays) as a dict."""
    approx = np.asarray(approx, dtype=np.int64)
    exact = np.asarray(exact, dtype=np.int64)
    err = (approx - exact).astype(np.float64)
    w = np.full(err.shape, 1.0 / err.size) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    live = w > 0
    abs_err = np.abs(err)
    nz = (exact != 0) & live
    rel = np.zeros_like(err)
    rel[nz] = abs_err[nz] / np.abs(exact[nz])
    wnz = w[nz].sum()
    scale = float(1 << out_width)
    mae = float((w * abs_err).sum())
    wce = float(abs_err[live].max()) if live.any() else 0.0
    return {
        "mae": mae,
        "mae_pct": mae / scale * 100,
        "wce": wce,
        "wce_pct": wce / scale * 100,
        "wcre_pct": float(rel[nz].max() * 100) if nz.any() else 0.0,
        "ep_pct": float(w[err != 0].sum() * 100),
        "mre_pct": float((w[nz] * rel[nz]).sum() / wnz * 100) if wnz > 0 else 0.0,
        "mse": float((w * err * err).sum()),
        "bias": float((w * err).sum()),
    }


def distribution_weights(spec, hist_a=None, hist_b=None, samples=None):
    """Per-pair weights in LUT order from two operand histograms or a sample of pairs.

    Histograms are indexed by the raw (unsigned bit pattern) operand value;
    ``samples`` is an ``(N, 2)`` array of operand values (signed values for
    signed specs).
    """
    na, nb = 1 << spec.a_width, 1 << spec.b_width
    if samples is not None:
        samples = np.asarray(samples)
        if samples.ndim != 2 or samples.shape[1] != 2 or not np.issubdtype(samples.dtype, np.integer):
            raise bad_value("Operand samples", f"array {samples.dtype}{list(samples.shape)}",
                            "an integer array of shape (N, 2)")
        ra = samples[:, 0].astype(np.int64) % na
        rb = samples[:, 1].astype(np.int64) % nb
        return np.bincount((ra << spec.b_width) | rb, minlength=na * nb).astype(np.float64)
    ha = np.ones(na) if hist_a is None else np.asarray(hist_a, np.float64)
    hb = np.ones(nb) if hist_b is None else np.asarray(hist_b, np.float64)
    for name, h, n in (("a", ha, na), ("b", hb, nb)):
        if h.shape != (n,) or (h < 0).any() or h.sum() <= 0:
            raise bad_value(f"Histogram of operand {name}", f"shape {list(h.shape)}",
                            f"{n} non-negative counts with a positive sum")
    return np.outer(ha, hb).ravel()


def load_distribution(spec, path):
    """Weights from a file: ``.npy`` of (N, 2) operand pairs, or ``.npz`` with ``a`` and ``b`` histograms."""
    from pathlib import Path
    path = Path(path)
    if not path.is_file():
        raise bad_value("Distribution file", str(path), "an existing .npy or .npz file")
    try:
        data = np.load(path)
    except Exception as exc:  # numpy raises several types for bad files
        raise AxforgeError(f"Distribution file {path} is not a numpy file ({exc})") from None
    if isinstance(data, np.ndarray):
        return distribution_weights(spec, samples=data)
    if "a" not in data or "b" not in data:
        raise bad_value(f"Keys of {path}", sorted(data.keys()), "'a' and 'b' histograms")
    return distribution_weights(spec, hist_a=data["a"], hist_b=data["b"])
