"""``axforge axnet ...``: train AXNet or a baseline on a kernel, evaluate it (float or through a
multiplier), and the paper's comparison of all methods on all kernels."""

from pathlib import Path

from .errors import AxforgeError

__all__ = ["add_axnet_parser"]


def _not_for(args, names, method):
    """Options that only some methods take: given for another method, they are an error."""
    for name, methods in names.items():
        if getattr(args, name, None) is not None and method not in methods:
            raise AxforgeError(f"Option --{name.replace('_', '-')} applies to method "
                               f"{' or '.join(methods)}, not {method}")


def _pct(v):
    return f"{100 * v:.2f} %"


def _metrics_line(m):
    return (f"true invocation {_pct(m['true_invocation'])}, predicted invocation {_pct(m['predicted_invocation'])}, "
            f"prediction accuracy {_pct(m['accuracy'])}, overall error {m['overall_error']:.4g} "
            f"(truly safe {_pct(m['true_label_rate'])} of {m['n']})")


def cmd_axnet_train(args):
    from axforge.models.axnet import train
    _not_for(args, {"iterations": ("iterative",), "control": ("axnet",), "pred": ("axnet", "onepass", "iterative"),
                    "acts": ("axnet", "onepass", "iterative")},
             args.method)
    run = train(args.kernel, args.method, topology=args.topology, pred=args.pred, group=args.group,
                epochs=args.epochs, seed=args.seed, out_dir=args.output, progress=not args.quiet,
                p_outputs=args.p_outputs, control=args.control if args.control is not None else "all",
                iterations=args.iterations if args.iterations is not None else 2, threads=args.threads,
                n_train=args.n_train, acts=[a.strip() for a in args.acts.split(",")] if args.acts else None)
    c, p = run.meta["config"], run.meta["params"]
    acts = f", acts {','.join(c['acts'])}" if c.get("acts") else ""
    print(f"{c['method']} on {c['kernel']} (topology {c['topology']}{acts}, predictor {c['pred']}, group {c['group']}, "
          f"bound {run.meta['bound']:g}, seed {c['seed']}): {p['net']} parameters (AXNet's: {p['axnet']}); "
          f"trained in {run.train_time_s:.1f} s")
    print(f"test: {_metrics_line(run.metrics)}")
    print(f"saved {Path(args.output)}")
    return 0


def cmd_axnet_eval(args):
    from axforge.generators.spec import split_specs
    from axforge.models.axnet import evaluate, load
    run = load(args.run_dir)
    mults = [None] + (split_specs(args.mult) if args.mult else [])
    results = []
    c = run.meta["config"]
    split = {"test": "test", "val": "validation"}[args.split]
    print(f"{c['method']} on {c['kernel']}, group {c['group']}, {split} split:")
    print(f"{'multiplier':34s} {'true inv.':>10s} {'pred. inv.':>10s} {'accuracy':>10s} {'overall error':>14s}")
    rows = [(mult, None) for mult in mults]
    if args.npu:
        rows += [(mult, args.npu) for mult in (split_specs(args.mult) if args.mult else [None])]
    for mult, npu in rows:
        m = evaluate(run, split=args.split, mult=mult) if npu is None else _npu_metrics(run, npu, mult, args.split)
        results.append(m)
        print(f"{m['mult'][:34]:34s} {_pct(m['true_invocation']):>10s} {_pct(m['predicted_invocation']):>10s} "
              f"{_pct(m['accuracy']):>10s} {m['overall_error']:14.4g}")
    if args.json:
        from axforge.paths import write_json
        write_json(args.json, {"run": str(args.run_dir), "results": results})
    return 0


def _npu_metrics(run, npu, mult, split):
    """The integer-only metrics of ``run`` on the NPU ``npu`` (its golden model, the RTL's numbers)."""
    from axforge.generators.npu import load_npu
    from axforge.models.axnet.integer import compile_net, integer_metrics
    from axforge.models.axnet.methods import prepare_data
    from axforge.models.kernels import kernel
    from axforge.sim.lut import extract_lut
    spec = load_npu(npu, mult)
    c = run.config
    k = kernel(c.kernel)
    data = prepare_data(k, c.seed, c.n_train, c.n_test, c.val_fraction)
    prog = compile_net(run.net, spec.config, data["train"].x)
    s = data[split]
    m, _ = integer_metrics(prog, spec.config, extract_lut(spec.mult_spec), k, s.x, s.t, c.group)
    return {**m, "split": split, "mult": f"{spec.name} ({spec.multiplier})", "npu": spec.to_dict(), "group": c.group}


def cmd_axnet_compare(args):
    from axforge.generators.spec import split_specs
    from axforge.models.axnet.compare import compare
    kernels = [k.strip() for k in args.kernels.split(",") if k.strip()] if args.kernels else None
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    overrides = {"n_train": args.n_train} if args.n_train else None
    _, _, _, files = compare(kernels, methods, seeds, args.group, args.output, args.epochs,
                             split_specs(args.mults) if args.mults else (), args.jobs, not args.quiet, overrides)
    print((Path(args.output) / "results.md").read_text(), end="")
    print("wrote " + ", ".join(str(f) for f in files))
    return 0


def _seeds(text):
    try:
        [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        import argparse
        raise argparse.ArgumentTypeError(f"Seeds must be comma-separated integers, not {text!r}") from None
    return text


def add_axnet_parser(sub):
    # building the parser imports no torch (axforge --help stays fast); names are checked on run
    ax = sub.add_parser("axnet", help="neural approximate computing: AXNet, its baselines, the comparison")
    asub = ax.add_subparsers(dest="axcmd", required=True)

    tr = asub.add_parser("train", help="train one method on one kernel (seeded, checkpointed per epoch, resumable)")
    tr.add_argument("kernel", help="a kernel of `axforge kernel list`")
    tr.add_argument("--method", default="axnet", help="axnet (default), onepass, iterative, sharing or approximator "
                                                      "(the approximator alone, every input approximated)")
    tr.add_argument("--topology", help="the approximator, input-hidden...-output (default: the kernel's)")
    tr.add_argument("--pred", help="the prediction subnet, input-hidden... (axnet; the baselines' predictor "
                                   "gets as many hidden layers, sized to AXNet's parameter count)")
    tr.add_argument("--group", type=int, default=1, choices=(1, 2), help="the error bound's group (default 1)")
    tr.add_argument("--epochs", type=int, help="epochs of every stage (default: the kernel's)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--p-outputs", type=int, default=1, choices=(1, 2), help="P(x): 1 sigmoid or 2 softmax")
    tr.add_argument("--control", help="axnet: 'all' hidden layers gated (default) or one layer's index")
    tr.add_argument("--iterations", type=int, help="iterative: retrain/relabel rounds (default 2)")
    tr.add_argument("--n-train", type=int, help="training inputs drawn (default: the kernel's)")
    tr.add_argument("--acts", help="the approximator's hidden activations, comma-separated relu / sigmoid / tanh, "
                                   "one per hidden layer (default relu)")
    tr.add_argument("--threads", type=int, help="torch threads (default $AXFORGE_TRAIN_THREADS or 1)")
    tr.add_argument("-o", "--output", required=True, help="the run's folder (checkpoints, net.pt, meta.json)")
    tr.add_argument("-q", "--quiet", action="store_true")
    tr.set_defaults(func=cmd_axnet_train)

    ev = asub.add_parser("eval", help="a run's metrics, in float and through multipliers")
    ev.add_argument("run_dir")
    ev.add_argument("--mult", help="comma-separated multiplier specs (e.g. exact:8x8s,drum:8x8s:k=4)")
    ev.add_argument("--split", default="test", choices=("test", "val"))
    ev.add_argument("--npu", help="also the integer-only network on this NPU (YAML or preset; with --mult, "
                    "one row per multiplier): the numbers its RTL produces (axforge npu sim)")
    ev.add_argument("--json", help="also write the results as JSON here")
    ev.set_defaults(func=cmd_axnet_eval)

    co = asub.add_parser("compare", help="every method on every kernel: table (CSV + Markdown) and figures")
    co.add_argument("--kernels", help="comma-separated kernels (default: all)")
    co.add_argument("--methods", default="axnet,onepass,iterative", help="comma-separated methods")
    co.add_argument("--seeds", default="0", type=_seeds, help="comma-separated seeds (default 0)")
    co.add_argument("--group", type=int, default=1, choices=(1, 2))
    co.add_argument("--epochs", type=int, help="epochs of every stage (default: each kernel's)")
    co.add_argument("--n-train", type=int, help="training inputs drawn per kernel (default: the kernel's)")
    co.add_argument("--mults", help="comma-separated multiplier specs: every run is also evaluated through each")
    co.add_argument("--jobs", type=int, default=1, help="runs trained in parallel processes (default 1)")
    co.add_argument("-o", "--output", required=True)
    co.add_argument("-q", "--quiet", action="store_true")
    co.set_defaults(func=cmd_axnet_compare)
    return ax
