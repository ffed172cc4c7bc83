"""The comparison of the AXNet paper: every method on every kernel, seeds, a table and the figures.

:func:`compare` trains (or reads back) one run per (kernel, method, seed) under
``out_dir/runs/KERNEL/METHOD/seedS`` -- a finished run is loaded, an interrupted one resumes
from its last epoch's checkpoint -- and writes, atomically:

* ``results.csv``: one row per run and multiplier (``float`` first): the test metrics of
  :mod:`.metrics`, the parameter counts, the training time, and ``matched_error`` /
  ``matched_true_invocation``: the baselines' overall error and true invocation when their
  predictor's threshold is set on the *validation* split so that they invoke as often as AXNet
  does there (the paper's comparison at matched invocation; AXNet's own row: its threshold 0.5);
* ``results.md``: per kernel and method the mean over the seeds with the spread (min-max), and
  the true-invocation gain of AXNet over each baseline, per kernel and on average;
* the paper's pictures: with ``sharing`` among the methods ``fig2_sharing.png`` (validation MSE
  and true invocation per epoch of AXNet and the weight-sharing net, a line per seed),
  ``fig6_invocation.png`` (true invocation), ``fig7_accuracy.png``
  (prediction accuracy), ``fig8_error.png`` (overall error over one-pass's), ``fig10a_time.png``
  (training time), and ``fig4_bessel.png`` where bessel is among the kernels (the exact surface,
  the lone approximator -- one-pass's approximator, trained alone -- AXNet's H(x), and its mean
  control value at the first gated layer).

Runs are independent, so ``jobs > 1`` trains them in that many processes, each a pinned
training process at one torch thread (:func:`axforge.models.train.pinned_kernels`), so the
weights are those of a serial run.
"""

import csv
import io
import math
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from axforge.errors import bad_value
from axforge.paths import atomic_write_bytes, atomic_write_text

from ..kernels import KERNELS, kernel as kernel_named
from ..train import pinned_kernels
from .methods import METHODS, prepare_data
from .metrics import METRIC_KEYS, quality_metrics, true_labels
from .nets import safe_logit
from .run import META, evaluate, load, train

__all__ = ["compare", "DEFAULT_METHODS", "run_dir", "summarise", "COLUMNS"]

DEFAULT_METHODS = ("axnet", "onepass", "iterative")
COLUMNS = ("kernel", "method", "seed", "mult", "group", "params", "axnet_params", "train_time_s",
           *[k for k in METRIC_KEYS if k != "n"], "n", "matched_error", "matched_true_invocation")
LABELS = {"axnet": "AXNet", "onepass": "one-pass", "iterative": "iterative", "sharing": "weight sharing"}


def run_dir(out_dir, kernel, method, seed):
    return Path(out_dir) / "runs" / kernel / method / f"seed{seed}"


def _check(kernels, methods, seeds, group):
    for k in kernels:
        KERNELS.lookup(k, "Kernel")
    for m in methods:
        METHODS.lookup(m, "Method")
    if not seeds:
        raise bad_value("Seeds", seeds, "at least one seed")
    if group not in (1, 2):
        raise bad_value("Group", group, "1 or 2")


def _train_one(job):
    """One run, trained or read back; returns its directory (runs in a worker process)."""
    kernel, method, seed, group, epochs, out, progress, overrides = job
    d = run_dir(out, kernel, method, seed)
    if os.environ.get("AXFORGE_TRAIN_CHILD") == "1":      # a pinned pool worker (see compare)
        torch.backends.mkldnn.enabled = False
        torch.backends.nnpack.set_flags(False)
    if (d / META).exists():
        run = load(d)
        c = run.config
        if (c.group, c.seed, c.method) == (group, seed, method) and (epochs is None or c.epochs == epochs):
            return str(d)
    train(kernel, method, group=group, epochs=epochs, seed=seed, out_dir=d, progress=progress, threads=1,
          **overrides)
    return str(d)


def _threshold_for(logits, invocation):
    """The logit threshold at which a fraction ``invocation`` of ``logits`` lies strictly above."""
    z = np.sort(np.asarray(logits, dtype=np.float64))
    n = len(z)
    k = int(round((1.0 - invocation) * n))      # samples at or below the threshold
    if k <= 0:
        return -math.inf
    if k >= n:
        return math.inf
    return float(z[k - 1])


@torch.no_grad()
def _outputs(net, x):
    h, p = net(torch.as_tensor(x, dtype=torch.float32))
    return h.numpy(), safe_logit(p.double().numpy())


def _matched(run, kernel, data, invocation):
    """Test metrics of ``run`` with its predictor's threshold set on the validation split so that
    it invokes a fraction ``invocation`` of the validation inputs."""
    net = run.net.eval()
    _, zv = _outputs(net, data["val"].x)
    thr = _threshold_for(zv, invocation)
    h, zt = _outputs(net, data["test"].x)
    t = data["test"].t
    errors = kernel.errors(kernel.from_net_out(h), t)
    safe = true_labels(kernel, h, t, run.config.group)
    return quality_metrics(errors, safe, zt > thr)


def _rows(dirs, kernels, methods, seeds, mults, data_cache):
    rows = []
    for k in kernels:
        kern = kernel_named(k)
        for s in seeds:
            runs = {m: load(dirs[(k, m, s)]) for m in methods}
            c = runs[methods[0]].config
            key = (k, s)
            if key not in data_cache:
                data_cache[key] = prepare_data(kern, s, c.n_train, c.n_test, c.val_fraction)
            data = data_cache[key]
            target = None
            if "axnet" in runs:
                _, zv = _outputs(runs["axnet"].net.eval(), data["val"].x)
                target = float((zv > 0).mean())
            for m in methods:
                run = runs[m]
                matched = _matched(run, kern, data, target) if target is not None else None
                for mult in (None, *mults):
                    met = evaluate(run, kern, "test", mult, data=data)
                    row = {"kernel": k, "method": m, "seed": s, "mult": met["mult"], "group": run.config.group,
                           "params": run.meta["params"]["net"], "axnet_params": run.meta["params"]["axnet"],
                           "train_time_s": run.train_time_s, **{q: met[q] for q in METRIC_KEYS}}
                    if mult is None and matched is not None:
                        row["matched_error"] = matched["overall_error"]
                        row["matched_true_invocation"] = matched["true_invocation"]
                    rows.append(row)
    return rows


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


def _csv(rows):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: _fmt(r.get(c)) for c in COLUMNS})
    return buf.getvalue()


def _stat(values):
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.min()), float(v.max())


def summarise(rows, methods):
    """Per (kernel, method) over the seeds (float rows): mean, min, max of the main metrics, and
    AXNet's true-invocation gain over each baseline (ratio of the means minus 1)."""
    table, gains = {}, {}
    for r in rows:
        if r["mult"] != "float":
            continue
        table.setdefault((r["kernel"], r["method"]), []).append(r)
    out = {}
    for key, rs in table.items():
        out[key] = {q: _stat([r[q] for r in rs]) for q in ("true_invocation", "predicted_invocation", "accuracy",
                                                            "overall_error", "train_time_s")}
        if all(r.get("matched_error") is not None for r in rs):
            out[key]["matched_error"] = _stat([r["matched_error"] for r in rs])
        out[key]["seeds"] = len(rs)
        out[key]["params"] = rs[0]["params"]
    kernels = list(dict.fromkeys(k for k, _ in out))
    if "axnet" in methods:
        for b in methods:
            if b == "axnet":
                continue
            per, undefined = {}, []
            for k in kernels:
                a, base = out.get((k, "axnet")), out.get((k, b))
                if a and base and base["true_invocation"][0] > 0:
                    per[k] = a["true_invocation"][0] / base["true_invocation"][0] - 1
                elif a and base:
                    undefined.append(k)
            t = {}
            for k in kernels:
                a, base = out.get((k, "axnet")), out.get((k, b))
                if a and base and base["train_time_s"][0] > 0:
                    t[k] = a["train_time_s"][0] / base["train_time_s"][0] - 1
            gains[b] = {"invocation": per, "mean_invocation": float(np.mean(list(per.values()))) if per else None,
                        "undefined": undefined,
                        "time": t, "mean_time": float(np.mean(list(t.values()))) if t else None}
    return out, gains


def _markdown(rows, methods, seeds, group):
    summary, gains = summarise(rows, methods)
    kernels = list(dict.fromkeys(k for k, _ in summary))
    spread = "mean (min to max) over the seeds" if len(seeds) > 1 else "one seed"
    lines = [f"Test split, group {group} bounds, seeds {', '.join(map(str, seeds))}: {spread}.",
             "", "| kernel | method | params | true invocation | predicted invocation | prediction accuracy | "
             "overall error | error at AXNet's invocation | training time |",
             "|---|---|---|---|---|---|---|---|---|"]

    def cell(st, kind="pct"):
        """The mean, and with several seeds the min-max; times in seconds (``s``)."""
        if st is None:
            return "-"
        fmt = {"pct": lambda v: f"{100 * v:.1f} %", "num": lambda v: f"{v:.4g}", "s": lambda v: f"{v:.3g} s"}[kind]
        m, lo, hi = st
        return fmt(m) if len(seeds) == 1 else f"{fmt(m)} ({fmt(lo)} to {fmt(hi)})"

    for k in kernels:
        for m in methods:
            s = summary.get((k, m))
            if s is None:
                continue
            lines.append(f"| {k} | {LABELS.get(m, m)} | {s['params']} | {cell(s['true_invocation'])} | "
                         f"{cell(s['predicted_invocation'])} | {cell(s['accuracy'])} | "
                         f"{cell(s['overall_error'], 'num')} | {cell(s.get('matched_error'), 'num')} | "
                         f"{cell(s['train_time_s'], 's')} |")
    for b, g in gains.items():
        name = LABELS.get(b, b)
        lines.append("")
        if g["invocation"]:
            per = ", ".join(f"{k} {100 * v:+.1f} %" for k, v in g["invocation"].items())
            lines.append(f"AXNet's true invocation over {name}: mean {100 * g['mean_invocation']:+.1f} % ({per}).")
        if g["undefined"]:
            lines.append(f"Not a ratio where {name} invokes nothing truly safe: {', '.join(g['undefined'])}.")
        if g["mean_time"] is not None:
            lines.append(f"AXNet's training time over {name}: mean {100 * g['mean_time']:+.1f} %.")
    quant = [r for r in rows if r["mult"] != "float"]
    if quant:
        lines += ["", "With every layer's products through a multiplier (test split, mean over the seeds):", "",
                  "| kernel | method | multiplier | true invocation | overall error |", "|---|---|---|---|---|"]
        groups = {}
        for r in quant:
            groups.setdefault((r["kernel"], r["method"], r["mult"]), []).append(r)
        for (k, m, mult), rs in groups.items():
            lines.append(f"| {k} | {LABELS.get(m, m)} | {mult} | "
                         f"{100 * np.mean([r['true_invocation'] for r in rs]):.1f} % | "
                         f"{np.mean([r['overall_error'] for r in rs]):.4g} |")
    return "\n".join(lines) + "\n"


def _png(fig):
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, dpi=120)
    plt.close(fig)
    return buf.getvalue()


def _bars(summary, methods, metric, ylabel, title, normalise=None, pct=True):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    kernels = list(dict.fromkeys(k for k, _ in summary))
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(kernels), 3.2))
    width = 0.8 / len(methods)
    for j, m in enumerate(methods):
        means, lo, hi = [], [], []
        for k in kernels:
            s = summary.get((k, m))
            if s is None:
                means.append(np.nan), lo.append(0), hi.append(0)
                continue
            mean, mn, mx = s[metric]
            scale = 100.0 if pct else 1.0
            if normalise:
                base = summary.get((k, normalise), {}).get(metric, (np.nan,))[0]
                scale = 1.0 / base if base and base > 0 else np.nan
            means.append(mean * scale), lo.append((mean - mn) * scale), hi.append((mx - mean) * scale)
        x = np.arange(len(kernels)) + (j - (len(methods) - 1) / 2) * width
        ax.bar(x, means, width, yerr=[lo, hi], capsize=2, label=LABELS.get(m, m))
    ax.set_xticks(range(len(kernels)), kernels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    if normalise:
        ax.axhline(1.0, color="grey", lw=0.6)
    return _png(fig)


def _bessel_png(axnet_run, lone_run):
    """Fig. 4: exact J_nu(x), the lone approximator, AXNet's H(x), AXNet's mean control value."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    k = kernel_named("bessel")
    nu, xs = np.meshgrid(np.linspace(0, 2, 81), np.linspace(0, 10, 161), indexing="ij")
    raw = np.stack([nu.ravel(), xs.ravel()], axis=1)
    exact = np.asarray(k.exact(raw)).reshape(nu.shape)
    xin = torch.as_tensor(k.to_net_in(raw), dtype=torch.float32)
    with torch.no_grad():
        h_ax, _ = axnet_run.net.eval()(xin)
        cs, _ = axnet_run.net.controls(xin)
        c = next(c for c in cs if c is not None).mean(dim=1).numpy().reshape(nu.shape)
        panels = [("exact J_nu(x)", exact)]
        if lone_run is not None:
            h_lone, _ = lone_run.net.eval()(xin)
            panels.append(("lone approximator", np.asarray(k.from_net_out(h_lone.numpy())).reshape(nu.shape)))
    panels += [("AXNet H(x)", np.asarray(k.from_net_out(h_ax.numpy())).reshape(nu.shape)),
               ("AXNet mean control c", c)]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.1 * len(panels), 2.8))
    extent = (0, 10, 0, 2)
    for ax, (title, z) in zip(axes, panels):
        im = ax.imshow(z, origin="lower", aspect="auto", extent=extent,
                       cmap="viridis" if "control" not in title else "magma")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("x", fontsize=8)
        ax.set_ylabel("nu", fontsize=8)
        fig.colorbar(im, ax=ax)
    return _png(fig)


def _curves_png(runs_by_kernel):
    """Fig. 2: the validation approximation loss and true invocation per epoch of the joint methods
    (AXNet and the weight-sharing net), one line per seed: the shared trunk's instability."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    kernels = list(runs_by_kernel)
    fig, axes = plt.subplots(2, len(kernels), figsize=(3.2 * len(kernels), 4.6), squeeze=False)
    colours = {"axnet": "tab:blue", "sharing": "tab:red"}
    for j, k in enumerate(kernels):
        for (method, seed), run in sorted(runs_by_kernel[k].items()):
            h = run.meta["history"]
            ep = [e["epoch"] for e in h]
            label = f"{LABELS.get(method, method)}" if seed == min(s for _, s in runs_by_kernel[k]) else None
            axes[0][j].plot(ep, [e["val_mse"] for e in h], color=colours[method], lw=0.8, label=label)
            axes[1][j].plot(ep, [100 * e["val_true_invocation"] for e in h], color=colours[method], lw=0.8)
        axes[0][j].set_yscale("log")
        axes[0][j].set_title(k, fontsize=9)
        axes[1][j].set_xlabel("epoch", fontsize=8)
    axes[0][0].set_ylabel("validation MSE (network units)", fontsize=8)
    axes[1][0].set_ylabel("validation true invocation (%)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    return _png(fig)


def compare(kernels=None, methods=DEFAULT_METHODS, seeds=(0,), group=1, out_dir="out/axnet", epochs=None,
            mults=(), jobs=1, progress=True, overrides=None):
    """Train every method on every kernel for every seed, then write the table and the figures.

    Parameters
    ----------
    kernels : list of str -- default: every registered kernel.
    methods : list of str -- of :data:`.methods.METHODS` (default axnet, onepass, iterative).
    seeds : list of int
    group : 1 or 2 -- the error bound.
    out_dir : path -- runs, ``results.csv``, ``results.md``, the figures.
    epochs : int, optional -- every stage's epochs (default: the kernels' defaults).
    mults : list of str -- multiplier specs: each run is also evaluated through each.
    jobs : int -- runs trained in parallel processes.
    overrides : dict, optional -- more keyword arguments of :func:`.run.train` (e.g. ``n_train``).

    Returns ``(rows, summary, gains, files)``.
    """
    kernels = list(kernels or KERNELS)
    methods = list(dict.fromkeys(methods))
    seeds = [int(s) for s in seeds]
    _check(kernels, methods, seeds, group)
    if jobs < 1:
        raise bad_value("Jobs", jobs, "an integer >= 1")
    out = Path(out_dir)
    jobs_list = [(k, m, s, group, epochs, str(out), progress and jobs == 1, dict(overrides or {}))
                 for k in kernels for s in seeds for m in methods]
    dirs = {}
    from tqdm import tqdm
    bar = tqdm(total=len(jobs_list), desc="axnet compare", unit="run", disable=not progress, leave=False)
    if jobs == 1:
        for j in jobs_list:
            bar.set_postfix_str(f"{j[0]} {j[1]} seed {j[2]}")
            dirs[j[:3]] = _train_one(j)
            bar.update()
    else:
        saved = dict(os.environ)
        os.environ.update(pinned_kernels(1))   # the workers are pinned training processes themselves
        try:
            with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
                for j, d in zip(jobs_list, pool.map(_train_one, jobs_list)):
                    dirs[j[:3]] = d
                    bar.update()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    bar.close()
    rows = _rows(dirs, kernels, methods, seeds, list(mults), {})
    summary, gains = summarise(rows, methods)
    files = {"results.csv": _csv(rows).encode(), "results.md": _markdown(rows, methods, seeds, group).encode(),
             "fig6_invocation.png": _bars(summary, methods, "true_invocation", "true invocation (%)",
                                          "true invocation (Fig. 6)"),
             "fig7_accuracy.png": _bars(summary, methods, "accuracy", "prediction accuracy (%)",
                                        "prediction accuracy (Fig. 7)"),
             "fig10a_time.png": _bars(summary, methods, "train_time_s", "training time (s)",
                                      "training time (Fig. 10a)", pct=False)}
    if "onepass" in methods:
        files["fig8_error.png"] = _bars(summary, methods, "overall_error", "overall error / one-pass's",
                                        "overall error, normalised to one-pass (Fig. 8)", normalise="onepass",
                                        pct=False)
    if "sharing" in methods:
        joint = [m for m in ("axnet", "sharing") if m in methods]
        files["fig2_sharing.png"] = _curves_png({k: {(m, s): load(dirs[(k, m, s)]) for m in joint for s in seeds}
                                                 for k in kernels})
    if "bessel" in kernels and "axnet" in methods:
        lone = load(dirs[("bessel", "onepass", seeds[0])]) if "onepass" in methods else None
        files["fig4_bessel.png"] = _bessel_png(load(dirs[("bessel", "axnet", seeds[0])]), lone)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if name.endswith(".png"):
            atomic_write_bytes(out / name, data)
        else:
            atomic_write_text(out / name, data.decode())
    return rows, summary, gains, [out / n for n in files]
