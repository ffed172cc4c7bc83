"""Search benchmarks (printed, not asserted).

1. A small instance where exhaustive search is possible: a 6-layer MLP on the
   digits x 4 candidate arrays (4,096 mappings), no-loss target. Each algorithm
   gets 60 evaluations; printed: best feasible energy / the exhaustive optimum.
2. ResNet-8 on the digits x the built-in 6-array bank, budget 200, same seed:
   hypervolume and best no-loss energy (vs the all-exact chip) per algorithm.

Array PPA comes from the flow (4x4 arrays; cached after the first run).
"""

import os
import sys
import tempfile
import time
from pathlib import Path

from axforge import toolenv

WORK = Path(os.environ.get("AXF_BENCH_DIR", Path(tempfile.gettempdir()) / "axf-bench-search"))


def bench(name, value, unit):
    print(f"BENCH {name} {value:.4g} {unit}", flush=True)


def candidates(specs):
    from axforge.search.bank import BankSpec, bank_candidates
    return bank_candidates(BankSpec.from_dict({"rows": 4, "cols": 4, "multipliers": specs}), progress=False)


def _mlp6(in_shape, classes):
    from axforge.models import zoo
    return zoo.MLP(in_shape, classes, hidden=(48, 48, 48, 48, 48))


def _register():
    """The 6-layer MLP of the small instance, registered when this file is imported: the trainer's
    process (a fresh interpreter) imports it too and finds the architecture."""
    from axforge.models import zoo
    if "mlp6" not in zoo.ARCHS:
        zoo.ARCHS.register("mlp6", _mlp6)


_register()


def trained(arch, epochs):
    from axforge.models.train import load_trained, train_model
    d = WORK / arch
    if not (d / "model.pt").exists():
        train_model(arch, "digits", d, epochs=epochs, progress=False)
    return load_trained(d)


def small_instance():
    from axforge.models.layers import QuantConfig
    from axforge.search.bank import NetworkEvaluator
    from axforge.search.problem import MappingProblem
    from axforge.search.study import run_search
    tm = trained("mlp6", 30)
    ev = NetworkEvaluator(tm, QuantConfig())
    cands = candidates(["exact:8x8u:arch=dadda", "trunc:8x8u:k=6,comp=const", "drum:8x8u:k=4", "mitchell:8x8u:ec=1"])

    def problem():
        return MappingProblem(ev.layers, ev.macs, cands, ev, ("loss", 0.0))
    t0 = time.perf_counter()
    ex = run_search(problem(), "exhaustive", budget=4 ** 6, progress=False)
    bench("small_exhaustive_s", time.perf_counter() - t0, "s")
    opt = min(e.energy_pj for e in ex.evaluations if e.feasible)
    bench("small_optimum_energy_vs_exact", opt / problem().energy(problem().all_exact()), "ratio")
    for algo in ("autoapprox", "random", "greedy", "nsga2"):
        ratios = []
        for seed in (0, 1, 2):
            r = run_search(problem(), algo, budget=60, seed=seed, progress=False)
            best = min((e.energy_pj for e in r.evaluations if e.feasible), default=float("inf"))
            ratios.append(best / opt)
            bench(f"small_{algo}_seed{seed}_energy_vs_optimum_at_{len(r.evaluations)}_evals", best / opt, "ratio")
        bench(f"small_{algo}_worst_energy_vs_optimum", max(ratios), "ratio")


def resnet_instance(budget=200, seed=0):
    from axforge.models.layers import QuantConfig
    from axforge.search.bank import DEMO_BANK, NetworkEvaluator
    from axforge.search.problem import MappingProblem
    from axforge.search.study import run_search
    tm = trained("resnet8", 10)
    ev = NetworkEvaluator(tm, QuantConfig())
    cands = candidates(DEMO_BANK["multipliers"])
    bench("resnet8_candidates", len(cands), "arrays")
    for algo in ("autoapprox", "random", "greedy", "nsga2"):
        p = MappingProblem(ev.layers, ev.macs, cands, ev, ("loss", 0.0))
        t0 = time.perf_counter()
        r = run_search(p, algo, budget=budget, seed=seed, progress=False)
        e0 = p.energy(p.all_exact())
        best = min((e.energy_pj for e in r.evaluations if e.feasible), default=float("nan"))
        bench(f"resnet8_{algo}_hypervolume_at_{len(r.evaluations)}", r.trace[-1]["hv"], "hv")
        bench(f"resnet8_{algo}_best_noloss_energy_vs_exact", best / e0, "ratio")
        bench(f"resnet8_{algo}_seconds", time.perf_counter() - t0, "s")


def main():
    toolenv.setup()
    WORK.mkdir(parents=True, exist_ok=True)
    which = sys.argv[1:] or ["small", "resnet"]
    if "small" in which:
        small_instance()
    if "resnet" in which:
        resnet_instance()


if __name__ == "__main__":
    main()
