"""``axforge npu report``: AXNet, one-pass and iterative on the NPU, against the CPU alone, per kernel
and per MAC multiplier (the paper's Fig. 10b).

For every trained run of an ``axforge axnet compare`` folder (``runs/KERNEL/METHOD/seedS``) and
every multiplier:

1. the network is compiled for the NPU (:func:`axforge.models.axnet.integer.compile_net`); a
   network that does not fit is reported as such;
2. the golden model decides every test input (the NPU's own invocation, bit-exact with its RTL);
3. the gate-level PPA flow (:func:`axforge.pdk_stub.npu_ppa.npu_ppa`) prices the prediction and
   the approximation phase on ``ppa_samples`` of the test inputs: the first inputs the NPU
   decides safe and the first it rejects, half and half where there are enough of each;
4. the system model (:mod:`.npu_system`) gives the speedup and the energy reduction against the
   CPU running the exact kernel on every input.

The table (``report.csv``, ``report.md``) and ``fig10b.png`` (energy reduction and speedup per
kernel, one bar per method) are written to the output folder, and for each kernel and multiplier
the method with the largest energy reduction is named (the paper says AXNet is the most
energy-efficient on every kernel).
"""

import csv
import io
from pathlib import Path

import numpy as np

from axforge.errors import AxforgeError, bad_value
from axforge.paths import atomic_dir

from .npu_system import system_figures

__all__ = ["METHODS", "npu_report", "ppa_inputs"]

METHODS = ("axnet", "onepass", "iterative")
LABELS = {"axnet": "AXNet", "onepass": "one-pass", "iterative": "iterative"}
COLUMNS = ("kernel", "method", "multiplier", "fits", "true_invocation", "predicted_invocation", "overall_error",
           "cycles_safe", "cycles_unsafe", "pred_pj", "approx_pj", "leakage_uw", "freq_mhz", "area_um2",
           "cpu_cycles_per_input", "speedup", "energy_reduction", "note")


def ppa_inputs(safe, n):
    """Indices of up to ``n`` inputs: the first safe ones and the first unsafe ones, half and half
    where there are enough of each, in input order."""
    safe = np.asarray(safe, dtype=bool)
    s, u = np.flatnonzero(safe), np.flatnonzero(~safe)
    take_s = min(len(s), max(n // 2, n - len(u)))
    take_u = min(len(u), n - take_s)
    return np.sort(np.concatenate([s[:take_s], u[:take_u]]))


def _runs(runs_dir, seed):
    root = Path(runs_dir) / "runs"
    if not root.is_dir():
        raise bad_value("Runs folder", str(runs_dir), "a folder written by axforge axnet compare (with runs/)")
    found = []
    for kdir in sorted(p for p in root.iterdir() if p.is_dir()):
        for method in METHODS:
            d = kdir / method / f"seed{seed}"
            if (d / "meta.json").exists():
                found.append((kdir.name, method, d))
    if not found:
        raise bad_value(f"Runs of seed {seed} in {root}", 0, "at least one AXNet, one-pass or iterative run")
    return found


def npu_report(runs_dir, spec, cpu, out_dir, mults=None, seed=0, ppa_samples=24, progress=True):
    """Write the report (module docstring) and return its rows (dicts of :data:`COLUMNS`)."""
    from tqdm import tqdm

    from axforge.hdl.npu.cycles import sample_cycles
    from axforge.models.axnet.integer import compile_net, integer_metrics, quantise_inputs
    from axforge.models.axnet.methods import prepare_data
    from axforge.models.axnet.run import load
    from axforge.models.kernels import kernel
    from axforge.pdk_stub.npu_ppa import npu_ppa
    from axforge.sim.lut import extract_lut
    if isinstance(ppa_samples, bool) or not isinstance(ppa_samples, int) or ppa_samples < 2:
        raise bad_value("PPA samples", ppa_samples, "an integer >= 2")
    specs = [spec.with_multiplier(m) for m in mults] if mults else [spec]
    runs = _runs(runs_dir, seed)
    rows = []
    bar = tqdm(total=len(runs) * len(specs), desc="npu report", unit="run", disable=not progress, leave=False)
    for kname, method, d in runs:
        run = load(d)
        k = kernel(kname)
        c = run.config
        data = prepare_data(k, c.seed, c.n_train, c.n_test, c.val_fraction)
        test = data["test"]
        for s in specs:
            row = dict.fromkeys(COLUMNS, "")
            row.update(kernel=kname, method=method, multiplier=s.multiplier)
            try:
                prog = compile_net(run.net, s.config, data["train"].x)
            except AxforgeError as exc:
                row.update(fits=False, note=str(exc))
                rows.append(row)
                bar.update(1)
                continue
            m, out = integer_metrics(prog, s.config, extract_lut(s.mult_spec), k, test.x, test.t, c.group)
            pick = ppa_inputs(out["safe"], ppa_samples)
            p = npu_ppa(s, prog, quantise_inputs(prog, test.x)[pick])
            energy = {"pred": p["pred_dynamic_pj"], "approx": p["approx_dynamic_pj"] or 0.0}
            cyc = sample_cycles(prog, s.config)
            f = system_figures(cpu, k, out["safe"], cyc, p["freq_mhz"], energy, p["leakage_uw"], prog.n_out)
            row.update(fits=True, true_invocation=m["true_invocation"],
                       predicted_invocation=m["predicted_invocation"], overall_error=m["overall_error"],
                       cycles_safe=cyc["safe"], cycles_unsafe=cyc["unsafe"], pred_pj=p["pred_pj"],
                       approx_pj=p["approx_pj"] if p["approx_pj"] is not None else "",
                       leakage_uw=p["leakage_uw"], freq_mhz=p["freq_mhz"], area_um2=p["area_um2"],
                       cpu_cycles_per_input=f["cpu_cycles_per_input"], speedup=f["speedup"],
                       energy_reduction=f["energy_reduction"])
            rows.append(row)
            bar.update(1)
    bar.close()
    with atomic_dir(out_dir) as tmp:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
        (tmp / "report.csv").write_text(buf.getvalue())
        (tmp / "report.md").write_text(markdown(rows, spec, cpu))
        _figure(rows, tmp / "fig10b.png")
    return rows


def winners(rows):
    """``{(kernel, multiplier): method}``: the method with the largest energy reduction, where every
    method of that kernel and multiplier fits the NPU (a comparison needs them all)."""
    groups = {}
    for r in rows:
        groups.setdefault((r["kernel"], r["multiplier"]), []).append(r)
    return {key: max(g, key=lambda r: r["energy_reduction"])["method"]
            for key, g in groups.items() if all(r["fits"] is True for r in g)}


def markdown(rows, spec, cpu):
    lines = [f"NPU {spec.name} ({spec.config.n_pes} PEs), CPU {cpu.name}; test split; energies per input.", "",
             "| kernel | method | multiplier | true invocation | predicted invocation | cycles safe / unsafe "
             "| prediction pJ | approximation pJ | speedup | energy reduction |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["fits"] is not True:
            lines.append(f"| {r['kernel']} | {LABELS[r['method']]} | {r['multiplier']} | does not fit: {r['note']} "
                         "| | | | | | |")
            continue
        approx = f"{r['approx_pj']:.4g}" if r["approx_pj"] != "" else "-"
        lines.append(f"| {r['kernel']} | {LABELS[r['method']]} | {r['multiplier']} | "
                     f"{100 * r['true_invocation']:.1f} % | {100 * r['predicted_invocation']:.1f} % | "
                     f"{r['cycles_safe']} / {r['cycles_unsafe']} | {r['pred_pj']:.4g} | {approx} | "
                     f"{r['speedup']:.3g}x | {r['energy_reduction']:.3g}x |")
    lines.append("")
    win = winners(rows)
    ax = [k for k, m in win.items() if m == "axnet"]
    n_cases = len({(r["kernel"], r["multiplier"]) for r in rows})
    lines.append(f"Most energy-efficient method: AXNet on {len(ax)} of the {len(win)} kernel x multiplier cases "
                 f"where every method fits the NPU (cases where one does not: {n_cases - len(win)}).")
    for (kname, mult), method in win.items():
        lines.append(f"- {kname}, {mult}: {LABELS[method]}")
    return "\n".join(lines) + "\n"


def _figure(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ok = [r for r in rows if r["fits"] is True]
    mults = sorted({r["multiplier"] for r in ok})
    kernels = sorted({r["kernel"] for r in ok})
    fig, axes = plt.subplots(2, len(mults) or 1, figsize=(max(6, 1.2 * len(kernels)) * max(1, len(mults)), 6.5),
                             squeeze=False)
    width = 0.8 / len(METHODS)
    for col, mult in enumerate(mults):
        for row_i, (key, label) in enumerate((("energy_reduction", "energy reduction (x)"), ("speedup", "speedup (x)"))):
            ax = axes[row_i][col]
            for i, method in enumerate(METHODS):
                vals = [next((r[key] for r in ok if r["kernel"] == kn and r["method"] == method
                              and r["multiplier"] == mult), 0.0) for kn in kernels]
                ax.bar(np.arange(len(kernels)) + (i - 1) * width, vals, width, label=LABELS[method])
            ax.axhline(1.0, color="grey", lw=0.8)
            ax.set_xticks(np.arange(len(kernels)), kernels, rotation=30, ha="right", fontsize=8)
            ax.set_ylabel(label)
            ax.set_yscale("log")
            if row_i == 0:
                ax.set_title(mult, fontsize=9)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("CPU + NPU against the CPU alone (Fig. 10b)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
