"""Search outputs: the Pareto set (JSON/CSV), plots, a Markdown report with S / L / XL picks."""

import csv
import io
import json
from pathlib import Path

import numpy as np

from axforge.paths import atomic_write_bytes, atomic_write_text, write_json

from .pareto import pareto_mask

__all__ = ["pick_points", "write_report", "front_of"]


def front_of(problem, evals):
    """Evaluations on the (energy, accuracy) Pareto front among those within the area budget."""
    pool = [e for e in evals if e.area_violation <= 0]
    if not pool:
        return []
    mask = pareto_mask(np.array([[e.energy_pj, -e.accuracy] for e in pool]))
    uniq = {}
    for e, m in zip(pool, mask):
        if m:
            uniq.setdefault(e.choice, e)
    return sorted(uniq.values(), key=lambda e: e.energy_pj)


def pick_points(problem, evals):
    """S (lowest energy meeting the target), XL (most accurate), L (balanced: nearest the utopia point)."""
    front = [e for e in front_of(problem, evals) if e.feasible]
    if not front:
        return {}
    s = min(front, key=lambda e: e.energy_pj)
    xl = min(front, key=lambda e: (-e.accuracy, e.energy_pj))
    es = np.array([e.energy_pj for e in front])
    ac = np.array([e.accuracy for e in front])
    en = (es - es.min()) / max(1e-12, np.ptp(es))
    an = (ac.max() - ac) / max(1e-12, np.ptp(ac))
    l_pick = front[int(np.argmin(np.hypot(en, an)))]
    return {"S": s, "L": l_pick, "XL": xl}


def _row(problem, e, algo=""):
    e0 = problem.energy(problem.all_exact()) if problem.all_exact() else float("nan")
    return {"algo": algo, "accuracy": round(e.accuracy, 6), "energy_nj_per_inference": round(e.energy_pj / 1e3, 6),
            "energy_vs_exact": round(e.energy_pj / e0, 6), "area_um2": round(e.area_um2, 3),
            "feasible": e.feasible, "arrays": [problem.candidates[i].name for i in problem.arrays(e.choice)],
            "mapping": {l: problem.candidates[c].name for l, c in zip(problem.layers, e.choice)}}


def _png(fig, path):
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _pareto_plot(problem, results, primary, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 5))
    markers = {"autoapprox": "o", "random": "x", "greedy": "s", "nsga2": "^", "exhaustive": "."}
    allev = [e for r in results.values() for e in r.evaluations]
    areas = np.array([e.area_um2 for e in allev])
    norm = matplotlib.colors.Normalize(areas.min(), max(areas.max(), areas.min() + 1))
    sc = None
    for algo, r in results.items():
        ev = r.evaluations
        sc = ax.scatter([e.energy_pj / 1e3 for e in ev], [100 * e.accuracy for e in ev], c=[e.area_um2 for e in ev],
                        cmap="viridis", norm=norm, marker=markers.get(algo, "o"), s=22 if algo == primary else 14,
                        alpha=0.85 if algo == primary else 0.45, label=f"{algo} ({len(ev)})",
                        **({"edgecolors": "k", "linewidths": 0.3}
                           if algo == primary and markers.get(algo, "o") not in ("x", ".") else {}))
        front = front_of(problem, ev)
        ax.step([e.energy_pj / 1e3 for e in front], [100 * e.accuracy for e in front], where="post",
                lw=1.2 if algo == primary else 0.7, alpha=0.9 if algo == primary else 0.5)
    ax.axhline(100 * problem.target, color="r", ls="--", lw=0.8, label=f"target {100 * problem.target:.2f} %")
    for name, e in pick_points(problem, results[primary].evaluations).items():
        ax.annotate(name, (e.energy_pj / 1e3, 100 * e.accuracy), textcoords="offset points", xytext=(6, 6),
                    fontsize=9, weight="bold")
    fig.colorbar(sc, ax=ax, label="chip area (um2)")
    ax.set_xlabel("energy per inference (nJ, array level)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("layer -> array mappings: accuracy vs energy (colour: area)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    _png(fig, path)


def _convergence_plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for algo, r in results.items():
        n = [t["n"] for t in r.trace]
        a1.plot(n, [t["hv"] for t in r.trace], label=algo)
        a2.plot(n, [t["best_feasible_energy_pj"] / 1e3 if t["best_feasible_energy_pj"] else np.nan for t in r.trace],
                label=algo)
    a1.set_xlabel("evaluations")
    a1.set_ylabel("hypervolume (energy/exact, 1 - accuracy)")
    a2.set_xlabel("evaluations")
    a2.set_ylabel("best feasible energy (nJ)")
    a1.legend(fontsize=8)
    fig.tight_layout()
    _png(fig, path)


def held_out_scores(problem, picks, held_out):
    """``{pick name: test-split quality}`` and the all-exact network's, from ``held_out(choice)``:
    each distinct mapping measured once, after the search chose it on the validation split."""
    if held_out is None:
        return {}, None
    memo = {}
    for e in picks.values():
        if e.choice not in memo:
            memo[e.choice] = float(held_out(e.choice))
    exact = problem.all_exact()
    exact_test = float(held_out(exact)) if exact is not None else None
    return {k: memo[e.choice] for k, e in picks.items()}, exact_test


def write_report(out, problem, results, primary, bank=None, pick="S", command="", held_out=None):
    """Write evaluations.csv, pareto.{json,csv,png}, convergence.png and report.md; returns
    ``(picks, test scores of the picks, test score of the all-exact network)``.

    Every accuracy the search saw is on the validation split; ``held_out(choice)`` measures a
    chosen mapping on the test split, once per pick (reported next to its validation figure)."""
    out = Path(out)
    rows = []
    for algo, r in results.items():
        for i, e in enumerate(r.evaluations):
            row = _row(problem, e, algo)
            row["n"] = i + 1
            rows.append(row)
    buf = io.StringIO()
    fields = ["algo", "n", "accuracy", "energy_nj_per_inference", "energy_vs_exact", "area_um2", "feasible",
              "arrays", "mapping"]
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    for row in rows:
        w.writerow({**row, "arrays": " ".join(row["arrays"]), "mapping": json.dumps(row["mapping"])})
    atomic_write_text(out / "evaluations.csv", buf.getvalue())
    front = front_of(problem, results[primary].evaluations)
    picks = pick_points(problem, results[primary].evaluations)
    tests, exact_test = held_out_scores(problem, picks, held_out)
    pick_rows = {k: {**_row(problem, e, primary), **({"test_accuracy": round(tests[k], 6)} if k in tests else {})}
                 for k, e in picks.items()}
    write_json(out / "pareto.json", {
        "split": "accuracies are on the validation split; picks also carry test_accuracy (held-out test split)",
        "target_accuracy": problem.target, "exact_accuracy": problem.exact_accuracy,
        "exact_test_accuracy": exact_test,
        "area_budget_um2": problem.area_budget, "algo": primary,
        "candidates": [c.to_dict() for c in problem.candidates], "layers": problem.layers,
        "macs": problem.macs.tolist(), "pareto": [_row(problem, e, primary) for e in front],
        "picks": pick_rows,
        "comparison": {a: summary(problem, r) for a, r in results.items()}})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields[:1] + fields[2:])
    w.writeheader()
    for e in front:
        row = _row(problem, e, primary)
        w.writerow({**row, "arrays": " ".join(row["arrays"]), "mapping": json.dumps(row["mapping"])})
    atomic_write_text(out / "pareto.csv", buf.getvalue())
    _pareto_plot(problem, results, primary, out / "pareto.png")
    _convergence_plot(results, out / "convergence.png")
    atomic_write_text(out / "report.md", _markdown(problem, results, primary, picks, pick, command, tests,
                                                   exact_test))
    return picks, tests, exact_test


def summary(problem, r):
    best = [e.energy_pj for e in r.evaluations if e.feasible]
    return {"evaluations": len(r.evaluations), "hypervolume": r.trace[-1]["hv"] if r.trace else 0.0,
            "best_feasible_energy_pj": min(best) if best else None, "feasible": len(best), "seed": r.seed}


def _markdown(problem, results, primary, picks, pick, command, tests=None, exact_test=None):
    tests = tests or {}
    e0 = problem.energy(problem.all_exact()) if problem.all_exact() else float("nan")
    lines = ["# AutoApprox mapping report", ""]
    if command:
        lines += ["```", command, "```", ""]
    held = f", test {100 * exact_test:.2f} %" if exact_test is not None else ""
    lines += [f"* layers: {problem.n_layers}, candidate arrays: {problem.n_choices} "
              f"({problem.size:.3g} mappings)",
              "* the search sees the validation split only; the picks are measured once more on the held-out "
              "test split",
              f"* exact 8-bit network accuracy: validation {100 * (problem.exact_accuracy or float('nan')):.2f} %"
              f"{held}; target (validation): {100 * problem.target:.2f} %",
              f"* all-exact energy: {e0 / 1e3:.3f} nJ per inference; area budget: "
              f"{problem.area_budget or 'none'}", "",
              "## Candidate arrays (PPA flow, array level)", "",
              "| multiplier | energy pJ/MAC (array) | multiplier alone pJ/op | area um2 |", "|---|---|---|---|"]
    for c in problem.candidates:
        lines.append(f"| `{c.name}` | {c.energy_pj_per_mac:.4f} | {c.mult_energy_pj:.4f} | {c.area_um2:.1f} |")
    lines += ["", f"## Picks ({primary})", "",
              "| pick | validation accuracy % | test accuracy % | energy nJ | vs exact | area um2 | arrays on chip |",
              "|---|---|---|---|---|---|---|"]
    for name, e in picks.items():
        arrays = ", ".join(f"`{problem.candidates[i].name}`" for i in problem.arrays(e.choice))
        test = f"{100 * tests[name]:.2f}" if name in tests else "-"
        lines.append(f"| {name}{' (chosen)' if name == pick else ''} | {100 * e.accuracy:.2f} | {test} | "
                     f"{e.energy_pj / 1e3:.3f} | {e.energy_pj / e0:.3f} | {e.area_um2:.0f} | {arrays} |")
    if not picks:
        lines.append("| - | no evaluated mapping met the target within the area budget | | | | | |")
    lines += ["", "Mapping of each pick:", ""]
    for name, e in picks.items():
        lines.append(f"* **{name}**: " + ", ".join(f"{l}: `{problem.candidates[c].name}`"
                                                   for l, c in zip(problem.layers, e.choice)))
    lines += ["", "## Algorithms at equal budget", "",
              "| algorithm | seed | evaluations | feasible | best feasible energy nJ | hypervolume |",
              "|---|---|---|---|---|---|"]
    for algo, r in results.items():
        s = summary(problem, r)
        best = f"{s['best_feasible_energy_pj'] / 1e3:.4f}" if s["best_feasible_energy_pj"] else "-"
        lines.append(f"| {algo} | {s['seed']} | {s['evaluations']} | {s['feasible']} | {best} | {s['hypervolume']:.5f} |")
    lines += ["", "Files: `pareto.json`, `pareto.csv`, `evaluations.csv`, `pareto.png`, `convergence.png`, "
              "`chip/` (chosen chip: YAML, Verilog, check).", ""]
    return "\n".join(lines)
