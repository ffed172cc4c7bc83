"""Pareto tools: non-dominated masks (all objectives minimised) and a front plot."""

import numpy as np

__all__ = ["pareto_mask", "front_plot", "hypervolume_2d"]


def pareto_mask(points):
    """Boolean mask of the non-dominated rows of ``points`` (N, M), every objective minimised.

    A row is dominated when another row is <= in every objective and < in one.
    Duplicated rows are all kept.
    """
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if not mask[i]:
            continue
        le = np.all(pts <= pts[i], axis=1)
        lt = np.any(pts < pts[i], axis=1)
        if np.any(le & lt):
            mask[i] = False
    return mask


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


def hypervolume_2d(points, ref):
    """Area dominated by ``points`` (N, 2), both objectives minimised, inside the box up to ``ref``."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    pts = pts[(pts[:, 0] < ref[0]) & (pts[:, 1] < ref[1])]
    if not len(pts):
        return 0.0
    pts = pts[np.argsort(pts[:, 0], kind="stable")]
    hv, best_y = 0.0, ref[1]
    for i, (x, y) in enumerate(pts):
        if y < best_y:
            nxt = ref[0]
            hv += (nxt - x) * (best_y - y)
            best_y = y
    return float(hv)
