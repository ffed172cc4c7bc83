"""NAS benchmarks (printed, not asserted).

1. :class:`~axforge.search.select.Selector` on a 200-network front (seeded random points): the
   time per query of each mode, with an accuracy and an energy-reduction bound (the goal: <= 50 us
   per query), against building the selector (done once per Pareto set).
2. With ``--search``: the search methods at equal budget per kernel (``axforge nas search`` on
   npu-paper, group 1, the default settings): ``fixed``, ``smac`` and ``tpe`` for ``--budget``
   evaluations, ``random`` for three times as many; per kernel and method the best f_perf at the
   budget (random also at 3x), the hypervolume of the (accuracy, speedup, energy reduction)
   front, and the wall time split into training, hardware estimate and the method's own
   overhead; then ``nas compare`` of fixed and smac on the same studies (energy mode at >= 90 %
   accuracy or the best every method reaches): the averages and NAS / fixed ratios. Studies live
   in ``--out`` (resumable: a rerun evaluates nothing twice).

Prints the CPU first.
"""

import argparse
import time

import numpy as np

from axforge.models import autopath
from axforge.search.select import Selector


def bench(name, value, unit):
    print(f"BENCH {name} {value:.4g} {unit}", flush=True)


def front(n=200, seed=0):
    rng = np.random.default_rng(seed)
    acc = np.sort(rng.uniform(0.6, 1.0, n))[::-1]
    er = np.sort(rng.uniform(1.0, 8.0, n))
    return [{"id": f"net{i}", "accuracy": float(a), "speedup": float(e * rng.uniform(0.5, 1.5)),
             "energy_reduction": float(e)} for i, (a, e) in enumerate(zip(acc, er))]


def search(kernels, budget, out, seed):
    from axforge.flows.nas import NasSettings, nas_search
    from axforge.flows.nas_compare import nas_compare
    smac, rand = [], []
    for k in kernels:
        s = NasSettings(k, seed=seed)
        d = f"{out}/{k}/g1"
        t0 = time.perf_counter()
        a = nas_search(s, ("fixed", "smac", "tpe"), budget, d, resume=True, progress=False)
        b = nas_search(s, ("random",), 3 * budget, d, resume=True, progress=False)
        bench(f"nas_{k}_wall_s", time.perf_counter() - t0, "s")
        bench(f"nas_{k}_calibration_s", a["calibration_s"], "s")
        for model in a["energy_models"].values():
            bench(f"nas_{k}_energy_model_loo_mean_error", 100 * model["loo_mean_error"], "%")
            bench(f"nas_{k}_energy_model_loo_max_error", 100 * model["loo_max_error"], "%")
        ms = {**a["methods"], **b["methods"]}
        for m, r in ms.items():
            trace = r["best_f_perf_trace"]
            bench(f"nas_{k}_{m}_best_f_perf_at{budget}", trace[budget - 1] or 0.0, "")
            if m == "random":
                bench(f"nas_{k}_random_best_f_perf_at{3 * budget}", trace[-1] or 0.0, "")
            bench(f"nas_{k}_{m}_hypervolume", r["hypervolume"], "")
            total = max(r["wall_s"], 1e-9)
            for part in ("train_s", "hw_s", "overhead_s"):
                bench(f"nas_{k}_{m}_{part}", r[part], "s")
            bench(f"nas_{k}_{m}_overhead_share", 100 * r["overhead_s"] / total, "%")
        smac.append(ms["smac"]["best_f_perf_trace"][budget - 1] or 0.0)
        rand.append(ms["random"]["best_f_perf_trace"][-1] or 0.0)
    bench(f"nas_mean_smac_best_f_perf_at{budget}", float(np.mean(smac)), "")
    bench(f"nas_mean_random_best_f_perf_at{3 * budget}", float(np.mean(rand)), "")
    bench(f"nas_smac{budget}_over_random{3 * budget}", float(np.mean(smac)) / max(float(np.mean(rand)), 1e-12), "x")
    c = nas_compare(kernels, [1], ("fixed", "smac"), budget, out, lambda k, g: NasSettings(k, g, seed=seed),
                    progress=False)
    print(c["markdown"], flush=True)
    for g, av in c["averages"].items():
        bench(f"nas_g{g}_fixed_speedup", av["fixed"]["speedup"], "x")
        bench(f"nas_g{g}_fixed_energy_reduction", av["fixed"]["energy_reduction"], "x")
        bench(f"nas_g{g}_smac_speedup", av["smac"]["speedup"], "x")
        bench(f"nas_g{g}_smac_energy_reduction", av["smac"]["energy_reduction"], "x")
        bench(f"nas_g{g}_smac_over_fixed_speedup", av["smac"]["speedup_ratio"], "x")
        bench(f"nas_g{g}_smac_over_fixed_energy", av["smac"]["energy_ratio"], "x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--search", action="store_true", help="also run part 2 (tens of minutes per kernel)")
    ap.add_argument("--kernels", default="inversek2j,blackscholes,sobel,kmeans")
    ap.add_argument("--budget", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="/tmp/axf-bench-nas")
    args = ap.parse_args()
    name, flags = autopath.cpu()
    print(f"CPU {name}; flags {' '.join(flags) or '-'}", flush=True)
    nets = front()
    t0 = time.perf_counter()
    for _ in range(100):
        sel = Selector(nets)
    bench("nas_select_build_us", (time.perf_counter() - t0) / 100 * 1e6, "us")
    for mode in ("quality", "energy", "integrated"):
        reps = 2000
        t0 = time.perf_counter()
        for _ in range(reps):
            sel.select(mode, min_accuracy=0.9, min_energy_reduction=2.5)
        bench(f"nas_select_{mode}_us_per_query", (time.perf_counter() - t0) / reps * 1e6, "us")
    if args.search:
        search(args.kernels.split(","), args.budget, args.out, args.seed)


if __name__ == "__main__":
    main()
