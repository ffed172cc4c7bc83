"""``axforge map``: search the layer -> array mapping and emit the chosen chip."""

from pathlib import Path

__all__ = ["add_map_parser", "print_summary"]


def print_summary(summary, out):
    out = Path(out)
    print(f"target accuracy {100 * summary['target_accuracy']:.2f} % (exact 8-bit network "
          f"{100 * summary['exact_accuracy']:.2f} %); evaluations: "
          + ", ".join(f"{a} {n}" for a, n in summary["evaluations"].items())
          + f" ({summary['network_evaluations']} network runs, {summary['cache_hits']} from the cache)")
    for name, p in summary["picks"].items():
        print(f"  {name:2s}: accuracy {100 * p['accuracy']:.2f} %, energy {p['energy_pj'] / 1e3:.3f} nJ/inference, "
              f"area {p['area_um2']:.0f} um2")
    chip = summary.get("chip")
    if chip:
        print(f"chip: {chip['yaml']} ({chip['top']}, arrays: {', '.join(chip['arrays'])})")
        if "check" in chip:
            c = chip["check"]
            print(f"check: layer {c['layer']} ({c['shape'][0]}x{c['shape'][1]}x{c['shape'][2]}) on array "
                  f"{c['route']} ({c['multiplier']}) in cocotb: bit-exact with the emulation = {c['bit_exact']}")
    else:
        print(summary.get("note", "no chip"))
    print(f"outputs: {out / 'report.md'}, {out / 'pareto.json'}, {out / 'pareto.csv'}, {out / 'pareto.png'}, "
          f"{out / 'convergence.png'}, {out / 'chip'}/  ({summary['seconds']} s)")


def cmd_map(args):
    from axforge.search.flow import map_flow
    algos = [a.strip() for a in args.algo.split(",") if a.strip()]
    summary = map_flow(args.model, args.bank, args.budget, algos, args.target, args.area_budget, args.output,
                       args.seed, args.storage, args.resume, args.limit, args.pick, not args.no_check,
                       not args.quiet, args.worker, args.storage is not None and args.shared, jobs=args.jobs)
    print_summary(summary, args.output)
    return 0


def add_map_parser(sub):
    mp = sub.add_parser("map", help="search the layer -> array mapping (AutoApprox) and emit the chosen chip")
    mp.add_argument("--model", required=True, help="trained model directory (axforge model train)")
    mp.add_argument("--bank", help="bank YAML: rows, cols, multipliers (default: a built-in 6-array bank)")
    mp.add_argument("--budget", type=int, default=200, help="network evaluations per algorithm (default 200)")
    mp.add_argument("--algo", default="autoapprox",
                    help="comma-separated: autoapprox, greedy, random, nsga2, exhaustive (first = primary)")
    mp.add_argument("--target", default="no-loss", help="no-loss | loss=POINTS | accuracy in [0,1]")
    mp.add_argument("--area-budget", type=float, help="chip area budget in um2")
    mp.add_argument("--pick", default="S", help="which pick becomes the chip: S, L or XL (default S)")
    mp.add_argument("--seed", type=int, default=0)
    mp.add_argument("--limit", type=int, help="evaluate accuracy on the first N test images")
    mp.add_argument("--storage", help="study storage URL (default sqlite:///OUT/study.db); e.g. postgresql://...")
    mp.add_argument("--shared", action="store_true", help="with --storage: other workers share the study")
    mp.add_argument("--worker", type=int, default=0, help="worker index (seeds differ per worker)")
    mp.add_argument("--resume", action="store_true", help="continue the study in OUT (or --storage)")
    mp.add_argument("--jobs", type=int, default=1, help="local worker processes sharing the study (default 1)")
    mp.add_argument("--no-check", action="store_true", help="skip the cocotb check of the chosen chip")
    mp.add_argument("-o", "--output", required=True)
    mp.add_argument("-q", "--quiet", action="store_true")
    mp.set_defaults(func=cmd_map)
    return mp
