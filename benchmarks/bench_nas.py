"""NAS benchmarks (printed, not asserted). So far: online selection from a Pareto set.

1. :class:`~axforge.search.select.Selector` on a 200-network front (seeded random points): the
   time per query of each mode, with an accuracy and an energy-reduction bound (the goal: <= 50 us
   per query), against building the selector (done once per Pareto set).

Prints the CPU first.
"""

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


def main():
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


if __name__ == "__main__":
    main()
