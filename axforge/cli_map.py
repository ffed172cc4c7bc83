"""``axforge map``: search the layer -> array mapping and emit the chosen chip."""

from pathlib import Path

__all__ = ["add_map_parser", "print_summary"]


def print_summary(summary, out):
    out = Path(out)
    sp = summary["split"]
    exact_test = summary["exact_test_accuracy"]
    print(f"search on {sp['images']} validation images: target accuracy {100 * summary['target_accuracy']:.2f} % "
          f"(exact 8-bit network {100 * summary['exact_accuracy']:.2f} %); evaluations: "
          + ", ".join(f"{a} {n}" for a, n in summary["evaluations"].items())
          + f" ({summary['network_evaluations']} network runs, {summary['cache_hits']} from the cache)")
    print(f"picks (validation -> held-out test, {sp['test_images']} images; exact network "
          + (f"{100 * exact_test:.2f} %):" if exact_test is not None else "-):"))
    for name, p in summary["picks"].items():
        test = f"{100 * p['test_accuracy']:.2f} %" if p.get("test_accuracy") is not None else "-"
        print(f"  {name:2s}: accuracy {100 * p['accuracy']:.2f} % -> {test}, energy {p['energy_pj'] / 1e3:.3f} "
              f"nJ/inference, area {p['area_um2']:.0f} um2")
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


def _check_workers(args):
    """The storage flags that go together: --shared needs --storage, --worker needs --shared, --jobs
    starts its own workers (one machine), --shared --worker K is one worker of several machines."""
    from axforge.errors import AxforgeError, bad_value
    if args.worker < 0:
        raise bad_value("Worker index (--worker)", args.worker, "an integer >= 0")
    if args.shared and args.storage is None:
        raise AxforgeError("Option --shared needs --storage URL (the database the workers share, "
                           "e.g. postgresql://user@host/axforge)")
    if args.worker and not args.shared:
        raise AxforgeError(f"Option --worker {args.worker} needs --shared --storage URL (a study shared by "
                           "several workers)")
    if args.jobs > 1 and args.shared:
        raise AxforgeError(f"Option --jobs {args.jobs} starts its own local workers 0..{args.jobs - 1}: "
                           "it does not go with --shared/--worker (run one process per --worker K instead)")


def cmd_map(args):
    from axforge.search.flow import map_flow
    _check_workers(args)
    algos = [a.strip() for a in args.algo.split(",") if a.strip()]
    summary = map_flow(args.model, args.bank, args.budget, algos, args.target, args.area_budget, args.output,
                       args.seed, args.storage, args.resume, args.limit, args.pick, not args.no_check,
                       not args.quiet, args.worker, args.shared, jobs=args.jobs)
    print_summary(summary, args.output)
    return 0


def add_map_parser(sub):
    mp = sub.add_parser("map", help="search the layer -> array mapping (AutoApprox) and emit the chosen chip")
    mp.add_argument("--model", required=True, help="trained model directory (axforge model train)")
    mp.add_argument("--bank", help="bank YAML: rows, cols, multipliers (default: a built-in 6-array bank)")
    mp.add_argument("--budget", type=int, default=200, help="network evaluations per algorithm (default 200)")
    mp.add_argument("--algo", default="autoapprox",
                    help="comma-separated: autoapprox, greedy, random, nsga2, exhaustive, smac, tpe (first = primary)")
    mp.add_argument("--target", default="no-loss", help="no-loss | loss=POINTS | accuracy in [0,1]")
    mp.add_argument("--area-budget", type=float, help="chip area budget in um2")
    mp.add_argument("--pick", default="S", help="which pick becomes the chip: S, L or XL (default S)")
    mp.add_argument("--seed", type=int, default=0)
    mp.add_argument("--limit", type=int, help="search on the first N validation images")
    mp.add_argument("--storage", help="study storage URL (default sqlite:///OUT/study.db); e.g. postgresql://...")
    mp.add_argument("--shared", action="store_true",
                    help="with --storage: workers on several machines share the study (docs/distributed.md)")
    mp.add_argument("--worker", type=int, default=0,
                    help="with --shared: this worker's index K, unique among the running workers (default 0)")
    mp.add_argument("--resume", action="store_true",
                    help="continue the study in OUT (or --storage); a shared worker first releases the "
                         "evaluations its interrupted run left open")
    mp.add_argument("--jobs", type=int, default=1,
                    help="local worker processes sharing the study (default 1); not with --shared/--worker")
    mp.add_argument("--no-check", action="store_true", help="skip the cocotb check of the chosen chip")
    mp.add_argument("-o", "--output", required=True)
    mp.add_argument("-q", "--quiet", action="store_true")
    mp.set_defaults(func=cmd_map)
    return mp
