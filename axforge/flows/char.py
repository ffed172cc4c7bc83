"""Characterisation of a multiplier or a whole library: LUT from the RTL, error metrics, gate count, PPA.

A workflow above :mod:`axforge.sim` (LUTs, metrics) and :mod:`axforge.pdk_stub` (PPA), with the
library's Pareto front from :mod:`axforge.search.pareto`.
"""

import csv
import io
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from axforge import toolenv
from axforge.errors import AxforgeError
from axforge.generators.emit import design_hash, verilog_text
from axforge.hdl.arith import FAMILIES, MultSpec
from axforge.hdl.arith.imported import from_library, list_library
from axforge.paths import atomic_dir, atomic_write_bytes, cache_dir, write_json
from axforge.pdk_stub.ppa import ppa
from axforge.search.pareto import front_plot
from axforge.sim.lut import MAX_LUT_BITS, evaluate_rtl, extract_lut
from axforge.sim.metrics import METRIC_KEYS, error_metrics
from axforge.yosys import gate_count

__all__ = ["characterize", "characterize_all", "library_specs", "heatmap_png", "CSV_COLUMNS"]

CSV_COLUMNS = ("spec", "family", "a_width", "b_width", "signed", "gates") + METRIC_KEYS
PPA_COLUMNS = ("cells", "area_um2", "delay_ns", "leakage_uw", "energy_pj_per_op", "power_mw")
PPA_FREQ_MHZ = 500.0
SAMPLES = 1 << 20


def _metrics(spec, weights=None, seed=0):
    if spec.a_width + spec.b_width <= MAX_LUT_BITS:
        lut = extract_lut(spec)
        a, b = spec.operands()
        return lut, error_metrics(lut, a * b, spec.out_width, weights)
    if weights is not None:
        raise AxforgeError("A supplied distribution needs a_width + b_width <= 20 (a full LUT)")
    rng = np.random.default_rng(seed)
    lo_a, hi_a = (-(1 << (spec.a_width - 1)), 1 << (spec.a_width - 1)) if spec.signed else (0, 1 << spec.a_width)
    lo_b, hi_b = (-(1 << (spec.b_width - 1)), 1 << (spec.b_width - 1)) if spec.signed else (0, 1 << spec.b_width)
    a, b = rng.integers(lo_a, hi_a, SAMPLES), rng.integers(lo_b, hi_b, SAMPLES)
    return None, error_metrics(evaluate_rtl(spec, a, b), a * b, spec.out_width)


def gates(spec):
    """Gate count from Yosys (cached by content hash)."""
    key = design_hash(spec.combinational() if spec.family != "verilog" else spec)
    entry = cache_dir() / "gates" / f"{key}.json"
    if entry.exists():
        try:
            return int(json.loads(entry.read_text())["gates"])
        except (ValueError, KeyError):
            pass
    comb = spec.combinational() if spec.family != "verilog" else spec
    import tempfile
    files = verilog_text(comb)
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".yosys.") as tmp:
        text = "\n".join(t for n, t in files.items() if n.endswith(".v"))
        count = gate_count(text, comb.module_name, tmp)
    write_json(entry, {"gates": count, "spec": str(spec)})
    return count


def heatmap_png(spec, lut, path):
    """A picture of where the error lives: err(a, b) over the operand grid."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    a, b = spec.operands()
    na, nb = 1 << spec.a_width, 1 << spec.b_width
    err = (lut - a * b).reshape(na, nb)
    if spec.signed:  # raw order is 0..max, min..-1: roll so the axes run min..max
        err = np.roll(np.roll(err, na // 2, axis=0), nb // 2, axis=1)
    lim = max(1, int(np.abs(err).max()))
    fig, ax = plt.subplots(figsize=(5, 4.2), dpi=100)
    extent = [b.min() - 0.5, b.max() + 0.5, a.max() + 0.5, a.min() - 0.5]
    im = ax.imshow(err, cmap="RdBu_r", vmin=-lim, vmax=lim, extent=extent, aspect="auto",
                   interpolation="nearest")
    ax.set_xlabel("b"); ax.set_ylabel("a")
    ax.set_title(str(spec), fontsize=7)
    fig.colorbar(im, ax=ax, label="approx - exact")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def characterize(spec, out_dir, weights=None, plot=False):
    """Write ``lut.npy`` and ``metrics.json`` (and ``heatmap.png``) for one design."""
    lut, metrics = _metrics(spec, weights)
    with atomic_dir(out_dir) as tmp:
        if lut is not None:
            np.save(tmp / "lut.npy", lut)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (tmp / "spec.json").write_text(json.dumps({"spec": str(spec), **spec.to_dict()}, indent=2) + "\n")
        if plot and lut is not None:
            heatmap_png(spec, lut, tmp / "heatmap.png")
    return metrics


def library_specs(a_width, b_width, signed=None, families=None):
    """Every built-in variant at these widths (both signs unless ``signed`` is given), plus imports."""
    signs = (False, True) if signed is None else (bool(signed),)
    out = []
    for s in signs:
        for name, fam in FAMILIES.items():
            if families and name not in families:
                continue
            if (s and not fam.signed_ok) or (not s and not fam.unsigned_ok):
                continue
            for params in fam.library(a_width, b_width, s):
                out.append(MultSpec.make(name, a_width, b_width, s, **params))
    if not families or "verilog" in families:
        for name, info in list_library():
            if info["a_width"] == a_width and info["b_width"] == b_width and \
                    (signed is None or info["signed"] == bool(signed)):
                out.append(from_library(name))
    return out


def _row(spec_text, plot_dir, with_ppa=False):
    toolenv.setup()
    spec = MultSpec.parse(spec_text)
    lut, metrics = _metrics(spec)
    row = {"spec": spec_text, "family": spec.family, "a_width": spec.a_width,
           "b_width": spec.b_width, "signed": spec.signed}
    if with_ppa:
        res = ppa(spec, freq_mhz=PPA_FREQ_MHZ)
        row.update(metrics)
        row.update({k: res[k] for k in PPA_COLUMNS})
    else:
        row["gates"] = gates(spec)
        row.update(metrics)
    if plot_dir is not None and lut is not None:
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in spec_text)
        heatmap_png(spec, lut, Path(plot_dir) / f"{safe}.png")
    return row


def scatter_png(rows, path, x="gates", y="mae_pct"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
    fams = sorted({r["family"] for r in rows})
    for fam in fams:
        pts = [(r[x], max(r[y], 1e-6)) for r in rows if r["family"] == fam]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=14, label=fam, alpha=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("cost: gate count (Yosys, generic gates)")
    ax.set_ylabel("MAE % (log)")
    signs = {("s" if r["signed"] else "u") for r in rows}
    ax.set_title(f"{len(rows)} multipliers ({'/'.join(sorted(signs))}): error vs cost")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def characterize_all(specs, out_dir, plots=False, jobs=None, progress=True, with_ppa=False):
    """Characterize many designs in parallel into ``library.csv`` and plots.

    Without PPA the cost is the generic gate count (``error_vs_cost.png``);
    with PPA (the stub 45 nm flow, uniform operands, 500 MHz) the CSV gains
    area, delay, leakage, energy and power, and ``pareto_energy.png`` /
    ``pareto_area.png`` show error against cost with the Pareto front.
    """
    from tqdm import tqdm
    jobs = jobs or os.cpu_count() or 1
    texts = [str(s) for s in specs]
    rows = {}
    with atomic_dir(out_dir) as tmp:
        plot_dir = None
        if plots:
            plot_dir = tmp / "heatmaps"
            plot_dir.mkdir()
        bar = tqdm(total=len(texts), desc="characterize", unit="design", disable=not progress)
        if jobs == 1:
            for t in texts:
                rows[t] = _row(t, plot_dir, with_ppa)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futs = {pool.submit(_row, t, plot_dir, with_ppa): t for t in texts}
                for fut in as_completed(futs):
                    rows[futs[fut]] = fut.result()
                    bar.update()
        bar.close()
        ordered = [rows[t] for t in texts]
        buf = io.StringIO()
        cols = (CSV_COLUMNS[:5] + METRIC_KEYS + PPA_COLUMNS) if with_ppa else CSV_COLUMNS
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        for r in ordered:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
        (tmp / "library.csv").write_text(buf.getvalue())
        if with_ppa:
            n = len(ordered)
            front_plot(ordered, "energy_pj_per_op", "mae_pct", tmp / "pareto_energy.png",
                       "energy per multiplication (pJ, stub45 flow, uniform operands)", "MAE % (log; 0 drawn at 1e-6)",
                       f"{n} multipliers: error vs energy")
            front_plot(ordered, "area_um2", "mae_pct", tmp / "pareto_area.png",
                       "area (um^2, stub45 flow)", "MAE % (log)", f"{n} multipliers: error vs area")
        else:
            scatter_png(ordered, tmp / "error_vs_cost.png")
    return ordered
