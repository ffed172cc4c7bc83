"""Pareto tools on pymoo: non-dominated masks and hypervolume (all objectives minimised), a front plot."""

import numpy as np

__all__ = ["pareto_mask", "hypervolume", "front_plot"]


def pareto_mask(points):
    """Boolean mask of the non-dominated rows of ``points`` (N, M), every objective minimised.

    A row is dominated when another row is <= in every objective and < in one
    (pymoo's non-dominated sorting, first front). Duplicated rows are all kept.
    """
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
    pts = np.asarray(points, dtype=float)
    mask = np.zeros(len(pts), dtype=bool)
    if len(pts):
        pts = pts.reshape(len(pts), -1)
        mask[NonDominatedSorting().do(pts, only_non_dominated_front=True)] = True
    return mask


def hypervolume(points, ref):
    """Volume dominated by ``points`` (N, M), every objective minimised, inside the box up to ``ref``
    (pymoo's ``HV`` indicator, exact in any dimension); points not strictly better than ``ref`` in
    every objective add nothing. No points: 0."""
    from pymoo.indicators.hv import HV
    ref = np.asarray(ref, dtype=float).ravel()
    pts = np.asarray(points, dtype=float).reshape(-1, len(ref))
    pts = pts[np.all(pts < ref, axis=1)]
    if not len(pts):
        return 0.0
    return float(HV(ref_point=ref)(pts))


def front_plot(rows, x, y, path, xlabel, ylabel, title, group="family", logy=True):
    """Scatter ``rows`` (dicts) by ``group``, with the (x, y) Pareto front drawn and ringed; PNG to ``path``."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from axforge.paths import atomic_write_bytes
    floor = 1e-6
    xs = np.array([float(r[x]) for r in rows])
    ys = np.array([max(float(r[y]), floor) for r in rows])
    front = pareto_mask(np.stack([xs, ys], axis=1))
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=110)
    for g in sorted({r[group] for r in rows}):
        sel = np.array([r[group] == g for r in rows])
        ax.scatter(xs[sel], ys[sel], s=14, alpha=0.75, label=g)
    order = np.argsort(xs[front])
    fx, fy = xs[front][order], ys[front][order]
    ax.step(fx, fy, where="post", color="black", lw=1.2, label=f"Pareto front ({int(front.sum())})")
    ax.scatter(fx, fy, s=60, facecolors="none", edgecolors="black", lw=1.2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return front
