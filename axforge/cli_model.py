"""``axforge model ...``: train, evaluate with approximate multipliers, single-layer sensitivity."""

from pathlib import Path

from .errors import AxforgeError

__all__ = ["add_model_parser"]


def _config(args):
    from axforge.models.layers import QuantConfig
    return QuantConfig(a_width=args.a_width, b_width=args.b_width, signed=args.signed, path=args.path,
                       per_channel=not args.per_tensor)


def cmd_model_train(args):
    from axforge.models.train import train_model
    meta = train_model(args.arch, args.dataset, args.output, epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, seed=args.seed, data_root=args.data, progress=not args.quiet,
                       threads=args.threads)
    print(f"{meta['arch']} on {meta['dataset']}: validation accuracy {100 * meta['val_accuracy']:.2f} %, "
          f"test {100 * meta['test_accuracy']:.2f} % "
          f"after {meta['epochs']} epochs ({meta['params']} parameters, weights {meta['weights_sha256'][:12]}); "
          f"saved {Path(args.output) / 'model.pt'}")
    return 0


def cmd_model_eval(args):
    from axforge.generators.spec import load_mapping
    from axforge.models.layers import approximate, mapping_report
    from axforge.models.train import evaluate, load_trained
    trained = load_trained(args.model_dir)
    mapping = load_mapping(args.mapping) if args.mapping else {}
    config = _config(args)
    x, y = trained.data.split(args.split)
    x, y = x[:args.limit], y[:args.limit]
    qmodel, _ = approximate(trained.model, mapping, trained.calib_batches(args.calib_batches), config)
    exact, _ = approximate(trained.model, {}, trained.calib_batches(args.calib_batches), config)
    result = {"float_accuracy": evaluate(trained.model, x, y), "exact_accuracy": evaluate(exact, x, y),
              "accuracy": evaluate(qmodel, x, y), "images": len(y), "split": args.split,
              "mapping": {k: str(v) for k, v in mapping.items()}}
    report = mapping_report(qmodel)      # after the run: the paths `auto` chose on this machine
    result["layers"] = [r.to_dict() for r in report]
    print(f"{'layer':24s} {'multiplier':32s} {'path':8s} {'MACs/img':>10s}")
    for r in report:
        print(f"{r.name:24s} {r.spec[:32]:32s} {r.path:8s} {r.macs:10d}")
    split = "validation" if args.split == "val" else "test"
    print(f"accuracy on {len(y)} {split} images: float {100 * result['float_accuracy']:.2f} %, "
          f"exact {config.a_width}x{config.b_width} {100 * result['exact_accuracy']:.2f} %, "
          f"with the mapping {100 * result['accuracy']:.2f} %")
    if args.json:
        from axforge.paths import write_json
        write_json(args.json, result)
    return 0


def cmd_model_sensitivity(args):
    from axforge.hdl.arith import MultSpec
    from axforge.models.sensitivity import sensitivity, write_sensitivity
    from axforge.models.train import load_trained
    from axforge.generators.spec import split_specs
    specs = [MultSpec.parse(s) for s in split_specs(args.mults)]
    if not specs:
        raise AxforgeError(f"Option --mults must name at least one multiplier spec, not {args.mults!r}")
    trained = load_trained(args.model_dir)
    result = sensitivity(trained, specs, _config(args), progress=not args.quiet, limit=args.limit)
    js, png = write_sensitivity(result, args.output)
    width = max(len(s) for s in result["mults"])
    print(f"on {result['images']} validation images: exact {args.a_width}x{args.b_width} "
          f"{100 * result['exact_accuracy']:.2f} %; accuracy with one approximate layer:")
    print(f"{'layer':22s} " + " ".join(f"{m[:width]:>{min(width, 14)}.14s}" for m in result["mults"]))
    for layer in result["layers"]:
        print(f"{layer:22s} " + " ".join(f"{100 * result['accuracy'][layer][m]:14.2f}" for m in result["mults"]))
    print(f"wrote {js} and {png}")
    return 0


def add_model_parser(sub):
    # names are checked when the command runs (by the registries), so that building this parser
    # imports no torch: `axforge --help` stays fast
    model = sub.add_parser("model", help="networks: train, evaluate with approximate multipliers, sensitivity")
    msub = model.add_subparsers(dest="modelcmd", required=True)

    tr = msub.add_parser("train", help="train a zoo model (seeded, checkpointed, resumable)")
    tr.add_argument("arch", help="a zoo architecture (mlp, lenet, resnet8, ...; a wrong name lists them all)")
    tr.add_argument("--dataset", default="digits", help="digits (built in) or cifar10 (default digits)")
    tr.add_argument("--data", help="cifar10: folder with the python-pickle batches")
    tr.add_argument("--epochs", type=int, default=30)
    tr.add_argument("--batch-size", type=int, default=64)
    tr.add_argument("--lr", type=float, default=0.05)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--threads", type=int, help="training threads (default $AXFORGE_TRAIN_THREADS or 1); "
                                                "the same seed and threads give the same weights on any AVX2 CPU")
    tr.add_argument("-o", "--output", required=True)
    tr.add_argument("-q", "--quiet", action="store_true")
    tr.set_defaults(func=cmd_model_train)

    def quant(sp):
        sp.add_argument("--path", default="auto", help="emulation path: auto, lut, lowrank or exact (default auto)")
        sp.add_argument("--a-width", type=int, default=8, help="activation width (default 8)")
        sp.add_argument("--b-width", type=int, default=8, help="weight width (default 8)")
        sp.add_argument("--signed", action="store_true", help="signed symmetric quantisation")
        sp.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor")
        sp.add_argument("--calib-batches", type=int, default=4)
        sp.add_argument("--limit", type=int, help="only the first N images of the split "
                                                  "(eval: --split; sensitivity: validation)")

    ev = msub.add_parser("eval", help="accuracy of the quantised network with a layer -> multiplier mapping")
    ev.add_argument("model_dir")
    ev.add_argument("--mapping", help="YAML {layer name: multiplier spec}; unmapped layers stay exact")
    ev.add_argument("--json", help="also write the result as JSON here")
    ev.add_argument("--split", default="test", choices=("val", "test"),
                    help="the split measured: test (held out, default) or val (the one searches see)")
    quant(ev)
    ev.set_defaults(func=cmd_model_eval)

    se = msub.add_parser("sensitivity", help="accuracy with one approximate layer at a time (JSON + heatmap)")
    se.add_argument("model_dir")
    se.add_argument("--mults", required=True, help="comma-separated multiplier specs")
    se.add_argument("-o", "--output", required=True)
    se.add_argument("-q", "--quiet", action="store_true")
    quant(se)
    se.set_defaults(func=cmd_model_sensitivity)
    return model
