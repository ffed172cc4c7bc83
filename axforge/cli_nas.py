"""``axforge nas``: hardware-aware NAS for neural approximate computing (search, select, compare)."""

import json
import sys
from pathlib import Path

from .errors import AxforgeError, bad_value

def _ints(text, what):
    try:
        return [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise bad_value(what, text, "comma-separated integers") from None


def _names(text):
    return [t.strip() for t in str(text).split(",") if t.strip()]


def settings_of(args, kernel, group):
    """The :class:`~axforge.flows.nas.NasSettings` of the search flags."""
    from axforge.flows.nas import DEFAULT_WEIGHTS, NasSettings
    from axforge.generators.spec import split_specs
    from axforge.search.nas import ACTIVATIONS
    if args.energy == "gate" and (args.calib_programs is not None or args.calib_epochs is not None):
        raise AxforgeError("--calib-programs and --calib-epochs apply to --energy model only (gate prices every "
                           "network at gate level)")
    kw = {"kernel": kernel, "group": group, "npu": args.npu, "epochs": args.epochs, "seed": args.seed,
          "alpha": DEFAULT_WEIGHTS[0] if args.alpha is None else args.alpha,
          "beta": DEFAULT_WEIGHTS[1] if args.beta is None else args.beta,
          "eps": DEFAULT_WEIGHTS[2] if args.eps is None else args.eps,
          "max_layers": args.max_layers, "max_neurons": args.max_neurons,
          "activations": tuple(_names(args.acts)) if args.acts else ACTIVATIONS,
          "mults": tuple(split_specs(args.mults)) if args.mults else (), "pred_max": args.pred_max,
          "energy": args.energy, "ppa_samples": args.ppa_samples, "cpu": args.cpu or ""}
    if args.calib_programs is not None:
        kw["calib_programs"] = args.calib_programs
    if args.calib_epochs is not None:
        kw["calib_epochs"] = args.calib_epochs
    return NasSettings(**kw)


def _check_workers(args):
    if args.worker and not args.shared:
        raise AxforgeError("--worker applies to a --shared study only")
    if args.shared and not args.storage:
        raise AxforgeError("--shared needs --storage (a study the workers share, e.g. postgresql://...)")


def _fmt_row(r, test=True):
    acts = ",".join(r["acts"])
    pred = f" + pred {r['pred_neurons']}" if r.get("pred_neurons") else ""
    line = (f"{r['id']:<10} {r['topology'] + pred:<16} {acts:<16} acc {100 * r['accuracy']:5.1f} %  "
            f"speedup {r['speedup']:7.3g}x  energy {r['energy_reduction']:7.3g}x")
    if test and "test_accuracy" in r:
        line += (f"  | test: acc {100 * r['test_accuracy']:5.1f} %, {r['test_speedup']:.3g}x, "
                 f"{r['test_energy_reduction']:.3g}x")
    return line


def cmd_nas_search(args):
    from axforge.flows.nas import nas_search
    _check_workers(args)
    methods = _names(args.method)
    s = settings_of(args, args.kernel, args.group)
    summary = nas_search(s, methods, args.budget, args.output, args.storage, args.resume, not args.quiet,
                         args.worker, args.shared)
    out = Path(args.output)
    for m, model in summary["energy_models"].items():
        print(f"energy model {model['npu']} / {m}: {model['programs']} networks at gate level, leave-one-out "
              f"error {100 * model['loo_mean_error']:.1f} % mean, {100 * model['loo_max_error']:.1f} % max "
              f"({summary['calibration_s']} s)")
    for m in summary["method_order"]:
        ms = summary["methods"][m]
        print(f"\n{m}: {ms['evaluations']} evaluations ({ms['feasible']} fit the NPU, {ms['resumed']} resumed), "
              f"best f_perf {ms['best_f_perf']:.4g}, hypervolume {ms['hypervolume']:.4g}; "
              f"wall {ms['wall_s']:.1f} s = training {ms['train_s']:.1f} s + hardware {ms['hw_s']:.2f} s "
              f"+ method {ms['overhead_s']:.2f} s")
        rows = json.loads((out / f"pareto_{m}.json").read_text())["networks"]
        print(f"Pareto set ({len(rows)} networks; accuracy on validation):")
        for r in rows[:args.show]:
            print("  " + _fmt_row(r))
        if len(rows) > args.show:
            print(f"  ... {len(rows) - args.show} more in pareto_{m}.csv")
    print(f"\nwrote {out}/summary.json, pareto_<method>.json/.csv, evaluations_<method>.json, fig3.png, fig4b.png, "
          "convergence.png, study.db, nets/")
    return 0


def cmd_nas_select(args):
    from axforge.flows.nas import load_front
    from axforge.search.select import Selector
    if args.theta is not None and args.mode != "integrated":
        raise AxforgeError("--theta applies to --mode integrated only")
    method, rows, meta = load_front(args.dir, args.method)
    sel = Selector(rows)
    choice = sel.select(args.mode, args.min_accuracy, args.min_speedup, args.min_energy_reduction,
                        0.5 if args.theta is None else args.theta)
    r = choice.candidate
    if args.json:
        print(json.dumps({"method": method, "choice": r, "reason": choice.reason}, indent=2))
        return 0
    print(f"{meta['kernel']}, group {meta['group']}, {meta['npu']}: {method}'s Pareto set")
    print("chosen: " + _fmt_row(r))
    print(f"why:    {choice.reason} (validation split)")
    print(f"network: {r['checkpoint']}")
    print(f"compile: axforge npu compile {r['checkpoint']} --npu {meta['npu']}"
          + (f" --mult {r['multiplier']}" if meta.get("mults") else "") + " -o OUT")
    return 0


def cmd_nas_compare(args):
    from axforge.flows.nas_compare import nas_compare
    kernels = _names(args.kernels)
    groups = _ints(args.group, "Groups")
    summary = nas_compare(kernels, groups, _names(args.method), args.budget, args.output,
                          lambda k, g: settings_of(args, k, g), args.min_accuracy, args.storage, not args.quiet)
    sys.stdout.write(summary["markdown"])
    print(f"wrote {Path(args.output)}/compare.md, compare.csv, compare.json, fig5.png")
    return 0


def _search_flags(sp, compare=False):
    sp.add_argument("--method", default="smac,fixed" if not compare else "fixed,smac",
                    help="comma-separated search methods: smac, fixed, random, tpe (default "
                         + ("fixed,smac" if compare else "smac,fixed") + ")")
    sp.add_argument("--budget", type=int, default=30, help="evaluations per method (default 30)")
    sp.add_argument("--alpha", type=float, help="weight of P_acc in f_perf (default 1)")
    sp.add_argument("--beta", type=float, help="weight of P_speed (speedup) in f_perf (default 0.001)")
    sp.add_argument("--eps", type=float, help="weight of P_energy (energy reduction) in f_perf (default 0.001)")
    sp.add_argument("--npu", default="npu-paper", help="an NPU YAML or a preset name (default npu-paper)")
    sp.add_argument("--epochs", type=int, default=30, help="training epochs per network (default 30)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--max-layers", type=int, default=2, help="hidden layers 1..N (default 2, as in the paper)")
    sp.add_argument("--max-neurons", type=int, default=128, help="neurons per hidden layer 1..N (default 128)")
    sp.add_argument("--acts", help="comma-separated hidden activations to search (default relu,sigmoid,tanh)")
    sp.add_argument("--mults", help="comma-separated MAC multiplier specs: the NPU's multiplier becomes a "
                                    "search dimension (default: the NPU's own, fixed)")
    sp.add_argument("--pred-max", type=int, default=0,
                    help="AXNet's prediction subnet as a dimension: 0..N hidden neurons, 0 = none (default 0: off)")
    sp.add_argument("--energy", default="model", help="model (gate-level-calibrated, default) or gate (every "
                                                      "network at gate level)")
    sp.add_argument("--calib-programs", type=int, help="networks the energy model is calibrated on (default 6)")
    sp.add_argument("--calib-epochs", type=int, help="training epochs of each calibration network (default 5)")
    sp.add_argument("--ppa-samples", type=int, default=12, help="inputs simulated per gate-level run (default 12)")
    sp.add_argument("--cpu", help="the CPU model YAML (default: the built-in Penryn-class core)")
    sp.add_argument("--storage", help="study storage URL (default sqlite:///OUT/study.db); e.g. postgresql://...")
    if not compare:
        sp.add_argument("--shared", action="store_true", help="several workers share the --storage study")
        sp.add_argument("--worker", type=int, default=0, help="this worker's index in a --shared study")
        sp.add_argument("--resume", action="store_true", help="continue the study in OUT (no evaluation repeats)")
    sp.add_argument("-o", "--output", required=True)
    sp.add_argument("-q", "--quiet", action="store_true")


def add_nas_parser(sub):
    nas = sub.add_parser("nas", help="neural architecture search: NPU-in-the-loop MLP search for approximate "
                                     "computing, online selection, the comparison with fixed enumeration")
    nsub = nas.add_subparsers(dest="nascmd", required=True)

    se = nsub.add_parser("search", help="search a kernel's MLP topologies with the NPU in the loop; write the "
                                        "Pareto sets (accuracy, speedup, energy reduction) and Fig. 3 / 4b")
    se.add_argument("kernel", help="an approximable kernel (axforge kernel list)")
    se.add_argument("--group", type=int, default=1, help="error-bound group 1 or 2 (default 1)")
    _search_flags(se)
    se.add_argument("--show", type=int, default=8, help="Pareto networks printed per method (default 8)")
    se.set_defaults(func=cmd_nas_search)

    sl = nsub.add_parser("select", help="online selection from a search's Pareto set: quality, energy or "
                                        "integrated mode under accuracy / speedup / energy constraints")
    sl.add_argument("dir", help="a folder from nas search")
    sl.add_argument("--method", help="whose Pareto set (default: the first method of the search)")
    sl.add_argument("--mode", required=True, help="quality, energy or integrated")
    sl.add_argument("--min-accuracy", type=float, help="accuracy bound, a share in [0, 1]")
    sl.add_argument("--min-speedup", type=float, help="speedup bound (x)")
    sl.add_argument("--min-energy-reduction", type=float, help="energy-reduction bound (x)")
    sl.add_argument("--theta", type=float, help="integrated mode: weight of accuracy against energy (default 0.5)")
    sl.add_argument("--json", action="store_true")
    sl.set_defaults(func=cmd_nas_select)

    cp = nsub.add_parser("compare", help="per kernel and group: fixed enumeration against NAS in energy mode "
                                         "at an accuracy threshold; the paper's table and Fig. 5")
    cp.add_argument("--kernels", required=True, help="comma-separated kernels")
    cp.add_argument("--group", default="1", help="comma-separated groups (default 1)")
    cp.add_argument("--min-accuracy", type=float, default=0.9,
                    help="the energy mode's accuracy threshold (default 0.9; a kernel where a method reaches "
                         "less uses the best accuracy every method reaches)")
    _search_flags(cp, compare=True)
    cp.set_defaults(func=cmd_nas_compare)
