"""AXNet benchmarks (printed, not asserted): the paper's comparison on every kernel.

1. ``axnet compare`` on every kernel at default sizes, seed 0, ``--jobs 2`` (a fresh folder):
   wall time of the whole comparison and, per kernel, the training time of its three methods.
2. Seeds 1 and 2 added to the same folder (seed 0's runs are read back): AXNet's true
   invocation over one-pass and over iterative per kernel (mean over the 3 seeds, with the
   spread of the per-seed gains) and averaged over the kernels (the paper: +50.7 %, +30.8 %);
   AXNet's training time against iterative's (the paper: 74 % less).
3. The AXNet runs through 8-bit integer emulation with the exact multiplier: true invocation
   lost against float, in points, per kernel and the worst.

Prints the CPU and torch's thread count first. ``--kernels`` and ``--seeds`` shrink the run.
"""

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from axforge import toolenv

WORK = Path(os.environ.get("AXF_BENCH_DIR", Path(tempfile.gettempdir()) / "axf-bench-axnet"))
EXACT = "exact:8x8s"


def bench(name, value, unit):
    print(f"BENCH {name} {value:.4g} {unit}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kernels", help="comma-separated kernels (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--reuse", action="store_true", help="keep the runs already in $AXF_BENCH_DIR (no fresh "
                                                        "timing of step 1: its runs are read back)")
    args = p.parse_args(argv)
    toolenv.setup()
    import numpy as np
    import torch

    from axforge.models import autopath
    from axforge.models.axnet import evaluate, load
    from axforge.models.axnet.compare import compare, run_dir
    from axforge.models.kernels import KERNELS

    name, flags = autopath.cpu()
    print(f"CPU {name}; flags {' '.join(flags) or '-'}; torch {torch.__version__}, training at 1 thread per run, "
          f"{args.jobs} runs in parallel", flush=True)
    kernels = args.kernels.split(",") if args.kernels else sorted(KERNELS)
    if not args.reuse:
        shutil.rmtree(WORK, ignore_errors=True)
    methods = ("axnet", "onepass", "iterative")

    t0 = time.perf_counter()
    rows, summary, _, _ = compare(kernels, methods, [0], 1, WORK, jobs=args.jobs, progress=False)
    if not args.reuse:
        bench("axnet_compare_all_kernels_seed0_s", time.perf_counter() - t0, "s")
    for k in kernels:
        bench(f"axnet_{k}_three_methods_train_s", sum(summary[(k, m)]["train_time_s"][0] for m in methods), "s")

    seeds = list(range(args.seeds))
    rows, summary, gains, _ = compare(kernels, methods, seeds, 1, WORK, jobs=args.jobs, progress=False)
    per_seed = {}
    for r in rows:
        if r["mult"] == "float":
            per_seed[(r["kernel"], r["method"], r["seed"])] = r
    for b in ("onepass", "iterative"):
        for k in kernels:
            if k not in gains[b]["invocation"]:
                print(f"# {k}: {b} invokes nothing truly safe on average, no ratio", flush=True)
                continue
            # per seed, where the baseline invokes anything: the spread of the gain
            g = [per_seed[(k, "axnet", s)]["true_invocation"] / per_seed[(k, b, s)]["true_invocation"] - 1
                 for s in seeds if per_seed[(k, b, s)]["true_invocation"] > 0]
            bench(f"axnet_{k}_true_invocation_gain_over_{b}", 100 * gains[b]["invocation"][k], "%")
            bench(f"axnet_{k}_true_invocation_gain_over_{b}_seed_min", 100 * min(g), "%")
            bench(f"axnet_{k}_true_invocation_gain_over_{b}_seed_max", 100 * max(g), "%")
        bench(f"axnet_mean_true_invocation_gain_over_{b}", 100 * gains[b]["mean_invocation"], "%")
        better = sum(1 for v in gains[b]["invocation"].values() if v > 0)
        bench(f"axnet_kernels_with_more_true_invocation_than_{b}", better, f"of {len(kernels)}")
    bench("axnet_train_time_vs_iterative", 100 * gains["iterative"]["mean_time"], "%")

    losses = []
    for k in kernels:
        lost = []
        for s in seeds:
            run = load(run_dir(WORK, k, "axnet", s))
            q = evaluate(run, mult=EXACT)
            lost.append(100 * (per_seed[(k, "axnet", s)]["true_invocation"] - q["true_invocation"]))
        bench(f"axnet_{k}_int8_exact_true_invocation_loss", float(np.mean(lost)), "points")
        losses.append(float(np.mean(lost)))
    bench("axnet_int8_exact_true_invocation_loss_worst", max(losses), "points")
    print((WORK / "results.md").read_text(), flush=True)


if __name__ == "__main__":
    main()
