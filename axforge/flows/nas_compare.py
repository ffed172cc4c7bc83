"""``axforge nas compare``: fixed topology enumeration against NAS, per kernel and error-bound group
(Chen et al., the table of Sec. 5 and Fig. 5).

For every kernel and group, :func:`~.nas.nas_search` runs each method (resumable: a rerun continues
the studies in ``OUT/KERNEL/gG``); each method's network is then picked from its Pareto set in
**energy** mode (the largest energy reduction) at accuracy >= ``min_accuracy`` on the validation
split (the paper: 90 %). Where a method's best network stays below the threshold, the kernel's
threshold becomes the best accuracy that *every* method reaches (the paper does so for jmeint), so
both pick under the same bound; the threshold used is in the table. The picked networks' speedup
and energy reduction are reported on the held-out test split, with the averages over the kernels
and the ratio of each method to the first (``fixed``), next to the paper's figures.
"""

import csv
import io
import time
from pathlib import Path

import numpy as np

from axforge.errors import bad_value
from axforge.paths import atomic_dir, write_json

from .nas import load_front, nas_search, saved_figure

__all__ = ["PAPER", "nas_compare"]

#: the paper's averages over AxBench: (speedup, energy reduction) of fixed enumeration and of NAS
PAPER = {1: {"fixed": (2.95, 3.0), "smac": (4.29, 5.0)}, 2: {"fixed": (4.13, 4.5), "smac": (5.86, 7.7)}}


def _pick(rows, threshold):
    from axforge.search.select import Selector
    return Selector(rows).select("energy", min_accuracy=threshold)


def nas_compare(kernels, groups, methods, budget, out, settings_of, min_accuracy=0.9, storage=None, progress=True):
    """Run the searches and write ``compare.md``, ``compare.csv``, ``compare.json`` and ``fig5.png``
    to ``out``; ``settings_of(kernel, group)`` gives each search's settings. Returns the summary
    (``rows``, ``averages``, ``markdown``)."""
    if not kernels:
        raise bad_value("Kernels", kernels, "at least one kernel")
    for g in groups:
        if g not in (1, 2):
            raise bad_value("Group", g, "1 or 2")
    if not 0 < min_accuracy <= 1:
        raise bad_value("Accuracy threshold", min_accuracy, "a share in (0, 1]")
    out = Path(out)
    rows, t0 = [], time.perf_counter()
    for g in groups:
        for k in kernels:
            d = out / k / f"g{g}"
            s = settings_of(k, g)
            summ = nas_search(s, methods, budget, d, storage, resume=True, progress=progress)   # a rerun continues
            fronts = {m: load_front(d, m)[1] for m in methods}
            reach = min(max(r["accuracy"] for r in f) for f in fronts.values())
            thr = min(min_accuracy, reach)
            for m in methods:
                c = _pick(fronts[m], thr).candidate
                ms = summ["methods"][m]
                rows.append({"kernel": k, "group": g, "method": m, "threshold": thr, "id": c["id"],
                             "topology": c["topology"], "acts": ",".join(c["acts"]), "accuracy": c["accuracy"],
                             "test_accuracy": c["test_accuracy"], "speedup": c["test_speedup"],
                             "energy_reduction": c["test_energy_reduction"], "evaluations": ms["evaluations"],
                             "train_s": ms["study_train_s"], "hw_s": ms["study_hw_s"]})
    averages = _averages(rows, groups, methods)
    text = _markdown(rows, averages, groups, methods, min_accuracy, budget)
    summary = {"rows": rows, "averages": averages, "markdown": text, "budget": budget, "methods": list(methods),
               "min_accuracy": min_accuracy, "seconds": round(time.perf_counter() - t0, 1)}
    with atomic_dir(out) as tmp:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        (tmp / "compare.csv").write_text(buf.getvalue())
        (tmp / "compare.md").write_text(text)
        write_json(tmp / "compare.json", {k: v for k, v in summary.items() if k != "markdown"})
        _fig5(rows, groups, methods, tmp / "fig5.png")
    return summary


def _averages(rows, groups, methods):
    """Per group and method: the mean speedup and energy reduction (arithmetic, over the kernels),
    and their ratio to the first method's."""
    av = {}
    for g in [*groups, "all"]:
        sel = [r for r in rows if g == "all" or r["group"] == g]
        av[str(g)] = {}
        for m in methods:
            rs = [r for r in sel if r["method"] == m]
            av[str(g)][m] = {"speedup": float(np.mean([r["speedup"] for r in rs])),
                             "energy_reduction": float(np.mean([r["energy_reduction"] for r in rs]))}
        base = av[str(g)][methods[0]]
        for m in methods:
            a = av[str(g)][m]
            a["speedup_ratio"] = a["speedup"] / base["speedup"] if base["speedup"] else None
            a["energy_ratio"] = a["energy_reduction"] / base["energy_reduction"] if base["energy_reduction"] else None
    return av


def _markdown(rows, averages, groups, methods, min_accuracy, budget):
    lines = [f"Energy mode at accuracy >= {min_accuracy:g} (validation; a kernel where a method stays below uses "
             f"the best accuracy every method reaches), {budget} evaluations per method; speedup and energy "
             "reduction against the CPU alone on the held-out test split.", "",
             "| group | kernel | method | threshold | network | accuracy val / test | speedup | energy reduction |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['group']} | {r['kernel']} | {r['method']} | {r['threshold']:.3g} | {r['topology']} "
                     f"({r['acts']}) | {100 * r['accuracy']:.1f} / {100 * r['test_accuracy']:.1f} % | "
                     f"{r['speedup']:.3g}x | {r['energy_reduction']:.3g}x |")
    lines += ["", "| group | method | mean speedup | mean energy reduction | ratio to "
              f"{methods[0]} (speedup / energy) | paper |", "|---|---|---|---|---|---|"]
    for g in [*groups, "all"]:
        for m in methods:
            a = averages[str(g)][m]
            paper = PAPER.get(g, {}).get(m) if g != "all" else None
            if g == "all" and m == "smac":
                paper_txt = "1.43x / 1.74x over fixed"
            else:
                paper_txt = f"{paper[0]}x / {paper[1]}x" if paper else ""
            ratio = (f"{a['speedup_ratio']:.3g}x / {a['energy_ratio']:.3g}x"
                     if a["speedup_ratio"] is not None and a["energy_ratio"] is not None else "-")
            lines.append(f"| {g} | {m} | {a['speedup']:.3g}x | {a['energy_reduction']:.3g}x | {ratio} | {paper_txt} |")
    return "\n".join(lines) + "\n"


def _fig5(rows, groups, methods, path):
    """Speedup and energy reduction per kernel, one bar per method, one column per group (Fig. 5)."""
    width = 0.8 / len(methods)
    panels = (("speedup", "speedup (x)"), ("energy_reduction", "energy reduction (x)"))
    with saved_figure(path, nrows=2, ncols=len(groups), figsize=(6 * len(groups), 6), squeeze=False) as (fig, axes):
        for col, g in enumerate(groups):
            kernels = sorted({r["kernel"] for r in rows if r["group"] == g})
            for row_i, (key, label) in enumerate(panels):
                ax = axes[row_i][col]
                for i, m in enumerate(methods):
                    vals = [next(r[key] for r in rows if r["group"] == g and r["kernel"] == k and r["method"] == m)
                            for k in kernels]
                    ax.bar(np.arange(len(kernels)) + (i - (len(methods) - 1) / 2) * width, vals, width, label=m)
                ax.set_xticks(np.arange(len(kernels)), kernels, rotation=30, ha="right", fontsize=8)
                ax.set_ylabel(label)
                ax.set_yscale("log")
                if row_i == 0:
                    ax.set_title(f"group {g}", fontsize=10)
        axes[0][0].legend(fontsize=8)
        fig.suptitle("fixed enumeration vs NAS, energy mode (Fig. 5)")
