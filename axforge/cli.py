"""The ``axforge`` command line."""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import __version__, toolenv
from .errors import AxforgeError

__all__ = ["main"]


def _widths(args):
    a = args.a_width or args.width or 8
    b = args.b_width or args.width or 8
    return a, b


def _sign_filter(args):
    """``--signed`` / ``--unsigned``: True, False, or None when neither is given. Both flags mean
    one thing everywhere: signed (two's complement) or unsigned arithmetic."""
    if getattr(args, "signed", False) and getattr(args, "unsigned", False):
        raise AxforgeError("Options --signed and --unsigned exclude each other")
    if getattr(args, "signed", False):
        return True
    if getattr(args, "unsigned", False):
        return False
    return None


def _reject(args, names, why):
    """A flag that does not apply to what was asked is an error, never ignored: ``names`` are the
    argparse destinations that must be at their defaults (None or False) here."""
    for name in names:
        if getattr(args, name, None) not in (None, False):
            raise AxforgeError(f"Option --{name.replace('_', '-')} {why}")


def _mult_spec(args):
    """The multiplier SPEC argument. Its sign is part of the spec (``8x8s``, ``verilog:X.v@TOP:s``,
    the library entry of ``lib:NAME``); ``--signed`` / ``--unsigned`` may state it for imported
    Verilog (``verilog:``), whose file cannot, and contradicting the spec is an error."""
    from axforge.generators.spec import load_mult_spec
    sign = _sign_filter(args)
    text = args.spec
    if sign is not None:
        flag = "--signed" if sign else "--unsigned"
        if not text.startswith("verilog:"):
            raise AxforgeError(f"Option {flag} applies to imported Verilog (verilog:PATH@TOP), not to {text!r}, "
                               "whose spec gives the sign (8x8s / 8x8u; a lib: entry keeps its import's)")
        if text.endswith((":s", ":u")):
            if text.endswith(":s") != sign:
                raise AxforgeError(f"Option {flag} contradicts the spec {text!r} (its suffix :{text[-1]})")
        else:
            text += ":s" if sign else ":u"
    return load_mult_spec(text)


def cmd_mult_list(args):
    from axforge.flows.char import library_specs
    a, b = _widths(args)
    fams = args.family.split(",") if args.family else None
    if fams:
        from axforge.hdl.arith import get_family
        for f in fams:
            if f != "verilog":
                get_family(f)
    specs = library_specs(a, b, _sign_filter(args), fams)
    rows = [{"spec": str(s), "family": s.family, "a_width": s.a_width, "b_width": s.b_width,
             "signed": s.signed, "params": s.param_dict} for s in specs]
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(r["spec"])
        print(f"# {len(rows)} variants", file=sys.stderr)
    return 0


def cmd_mult_gen(args):
    from axforge.generators.emit import emit_verilog
    spec = _mult_spec(args)
    if args.registered and spec.family != "verilog":
        from axforge.hdl.arith import MultSpec
        spec = MultSpec(spec.family, spec.a_width, spec.b_width, spec.signed, spec.params, True)
    t0 = time.perf_counter()
    res = emit_verilog(spec, args.output)
    print(f"{res.spec} -> {res.verilog} ({time.perf_counter() - t0:.2f} s, hash {res.content_hash[:12]})")
    return 0


def cmd_mult_char(args):
    from axforge.flows.char import characterize, characterize_all, library_specs
    if args.all:
        if args.spec:
            raise AxforgeError("Give either a SPEC or --all, not both")
        _reject(args, ("dist",), "characterizes one SPEC (operand distribution), not --all")
        a, b = _widths(args)
        fams = args.family.split(",") if args.family else None
        specs = library_specs(a, b, _sign_filter(args), fams)
        t0 = time.perf_counter()
        rows = characterize_all(specs, args.output, plots=args.plots, jobs=args.jobs,
                                progress=not args.quiet, with_ppa=not args.no_ppa)
        pngs = "error_vs_cost.png" if args.no_ppa else "pareto_energy.png, pareto_area.png"
        print(f"{len(rows)} designs in {time.perf_counter() - t0:.1f} s -> "
              f"{Path(args.output) / 'library.csv'}, {pngs}")
        return 0
    if not args.spec:
        raise AxforgeError("Give a SPEC (e.g. trunc:8x8u:k=4) or --all")
    _reject(args, ("width", "a_width", "b_width", "family", "no_ppa", "jobs"),
            "selects the library of --all; a SPEC gives its own widths and family")
    spec = _mult_spec(args)
    weights = None
    if args.dist:
        from axforge.sim.metrics import load_distribution
        weights = load_distribution(spec, args.dist)
    metrics = characterize(spec, args.output, weights=weights, plot=args.plots)
    print(json.dumps({"spec": str(spec), **metrics}, indent=2))
    return 0


def _pdk(args):
    from axforge.pdk_stub.pdk import PDK, default_pdk
    if args.liberty or args.cells:
        if not (args.liberty and args.cells):
            raise AxforgeError("Options --liberty and --cells go together (a Liberty file and its cell models)")
        pdk = PDK(args.liberty, args.cells)
        pdk.library  # parse and validate now: a bad Liberty fails before any work
        pdk.check_models()
        return pdk
    return default_pdk()


def _chip_name(text):
    """``chip:PRESET`` or ``chip:FILE.yaml`` names a chip; anything else is a multiplier spec.
    Nothing is guessed from a file's content."""
    return text[5:] if text.startswith("chip:") else None


def _chip_yaml_hint(text):
    """A one-line hint when a multiplier SPEC is a chip YAML without its ``chip:`` prefix."""
    p = Path(text)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        import yaml
        try:
            data = yaml.safe_load(p.read_text())
        except yaml.YAMLError:
            return
        if isinstance(data, dict) and "rows" in data and "family" not in data:
            raise AxforgeError(f"Spec {text!r} is a chip YAML: write chip:{text} (multiplier specs have "
                               "a 'family', chips 'rows')")


def cmd_ppa_chip(args):
    from axforge.generators.chip import load_chip
    from axforge.pdk_stub.chip_ppa import chip_ppa, load_workload
    _reject(args, ("stream", "emit_script", "no_equiv", "signed", "unsigned"),
            "is for multipliers; a chip takes --workload x_w.npz and --route K")
    chip = load_chip(_chip_name(args.spec))
    workload, label = None, "uniform"
    if args.workload:
        workload, label = load_workload(args.workload, chip), Path(args.workload).name
    t0 = time.perf_counter()
    res = chip_ppa(chip, _pdk(args), workload=workload, route=args.route or 0, freq_mhz=args.freq_mhz,
                   out_dir=args.output, label=label)
    keys = ("area_um2", "cells", "leakage_uw", "delay_ns", "energy_pj_per_mac", "mult_energy_pj_per_op",
            "array_vs_mult_energy_ratio", "power_mw", "freq_mhz")
    print(json.dumps({"chip": chip.name, "route": res["route"], "multiplier": res["multiplier"],
                      **{k: res[k] for k in keys}, "equivalence": res["equivalence"]}, indent=2))
    print(f"-> {Path(args.output) / 'ppa.json'} ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_ppa(args):
    from axforge.pdk_stub.ppa import load_stream, ppa
    if _chip_name(args.spec) is not None:
        return cmd_ppa_chip(args)
    _reject(args, ("workload", "route"), "is for chips (chip:FILE.yaml or chip:PRESET)")
    _chip_yaml_hint(args.spec)
    spec = _mult_spec(args)
    stream, label = None, "uniform"
    if args.stream:
        stream, label = load_stream(args.stream, spec), Path(args.stream).name
    t0 = time.perf_counter()
    res = ppa(spec, _pdk(args), freq_mhz=args.freq_mhz, stream=stream, stream_label=label,
              out_dir=args.output, emit_script=args.emit_script, equivalence=not args.no_equiv)
    keys = ("area_um2", "cells", "leakage_uw", "delay_ns", "energy_pj_per_op", "power_mw", "freq_mhz")
    print(json.dumps({"spec": res["spec"], **{k: res[k] for k in keys}, "equivalence": res["equivalence"]},
                     indent=2))
    print(f"-> {Path(args.output) / 'ppa.json'} ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_chip_presets(args):
    from axforge.generators.chip import PRESETS, preset
    for name in PRESETS:
        c = preset(name)
        print(f"{name:12s} {c.rows}x{c.cols} {c.dataflow} {c.a_width}x{c.b_width}{'s' if c.signed else 'u'} "
              f"acc{c.acc_width}  arrays: {', '.join(c.multipliers)}")
    return 0


def _chip_arg(args):
    from axforge.generators.chip import load_chip, preset
    if getattr(args, "preset", None):
        if args.chip:
            raise AxforgeError("Give either a chip YAML or --preset, not both")
        return preset(args.preset)
    if not args.chip:
        raise AxforgeError("Give a chip YAML (or --preset NAME; see `axforge chip presets`)")
    return load_chip(args.chip)


def cmd_chip_gen(args):
    from axforge.generators.chip import emit_chip
    from axforge.pdk_stub.pdk import default_pdk
    chip = _chip_arg(args)
    t0 = time.perf_counter()
    man = emit_chip(chip, args.output, liberty=default_pdk().liberty_text())
    print(f"{chip.name}: {len(man['arrays'])} arrays of {chip.rows}x{chip.cols} -> "
          f"{Path(args.output) / (man['top'] + '.v')} (+ manifest.json, filelist.f, synth.ys; "
          f"{time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_chip_sim(args):
    import numpy as np

    from axforge.paths import atomic_dir, write_json
    from axforge.pdk_stub.chip_ppa import default_workload, load_workload
    from axforge.sim.chip_sim import golden_matmul, pe_activity, run_workload
    chip = _chip_arg(args)
    if not 0 <= args.route < len(chip.mult_specs):
        raise AxforgeError(f"Route must be an array index between 0 and {len(chip.mult_specs) - 1}, not {args.route}")
    x, w = load_workload(args.workload, chip) if args.workload else default_workload(chip)
    out = Path(args.output)
    with atomic_dir(out) as tmp:
        saif = tmp / "activity.saif" if args.activity else None
        t0 = time.perf_counter()
        y, cycles = run_workload(chip, x, w, args.route, saif_path=saif)
        want = golden_matmul(chip, x, w, args.route)
        exact = bool(np.array_equal(y, want))
        np.save(tmp / "results.npy", y)
        summary = {"chip": chip.name, "route": args.route, "multiplier": chip.multipliers[args.route],
                   "x_shape": list(x.shape), "w_shape": list(w.shape), "cycles": cycles,
                   "bit_exact_vs_lut_model": exact, "seconds": round(time.perf_counter() - t0, 2)}
        if args.activity:
            rep = pe_activity(saif, chip)
            write_json(tmp / "activity.json", rep)
            _activity_png(rep, chip, tmp / "activity.png")
            summary["toggles_per_array"] = [a["toggles"] for a in rep["arrays"]]
            saif.unlink()
            Path(str(saif) + ".base").unlink()
        write_json(tmp / "summary.json", summary)
    print(json.dumps(summary))
    if not exact:
        raise AxforgeError("The chip's results differ from x @ w through its multiplier's LUT")
    return 0


def cmd_chip_verify(args):
    from axforge.errors import bad_value
    from axforge.sim.chip_sim import TB_TESTS, run_chip_tb
    chip = _chip_arg(args)
    if args.test and args.test not in TB_TESTS:
        raise bad_value("Test", args.test, "one of " + ", ".join(TB_TESTS))
    if args.rate_vectors < 1:
        raise bad_value("Option --rate-vectors", args.rate_vectors, "a positive integer")
    t0 = time.perf_counter()
    try:
        stats = run_chip_tb(chip, seed=args.seed, testcase=args.test, rate_vectors=args.rate_vectors)
    except AssertionError as exc:   # a failed check: the message names the test and keeps the log
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stats = {k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in stats.items()}
    summary = {"chip": chip.name, "top": chip.top, "tests": [args.test] if args.test else list(TB_TESTS),
               "passed": True, "seed": args.seed, **stats, "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(summary))
    return 0


def _activity_png(rep, chip, path):
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from axforge.paths import atomic_write_bytes
    n = len(rep["arrays"])
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.2), dpi=100, squeeze=False)
    vmax = max(1, max(max(max(r) for r in a["pe_toggles"]) for a in rep["arrays"]))
    for ax, a in zip(axes[0], rep["arrays"]):
        im = ax.imshow(a["pe_toggles"], cmap="magma", vmin=0, vmax=vmax)
        ax.set_title(f"array {a['index']}: {a['toggles']} toggles\n{a['multiplier']}", fontsize=7)
        ax.set_xlabel("column")
        ax.set_ylabel("row")
    fig.colorbar(im, ax=axes[0].tolist(), label="data toggles per PE")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def cmd_mult_import(args):
    from axforge.hdl.arith.imported import import_to_library
    name, spec = import_to_library(args.path, args.top, bool(_sign_filter(args)), args.name)
    print(f"imported lib:{name} ({spec.width_tag}) from {args.path}")
    return 0


def cmd_demo(args):
    """The whole story on built-in defaults: multipliers -> PPA -> network -> search -> chip -> check."""
    from axforge.flows.char import characterize_all
    from axforge.generators.emit import emit_verilog
    from axforge.hdl.arith import MultSpec
    t0 = time.perf_counter()
    stages = []
    out = Path(args.output)
    specs = [MultSpec.parse(s) for s in DEMO_SPECS]
    print("== 1/4 multipliers: RTL LUTs, error metrics, PPA", flush=True)
    for s in specs[:1]:
        emit_verilog(s, out / "verilog" / s.module_name)
    rows = characterize_all(specs, out / "char", plots=True, progress=not args.quiet, with_ppa=True)
    print(f"{'spec':38s} {'MAE%':>8s} {'WCE%':>8s} {'EP%':>7s} {'um2':>7s} {'ns':>6s} {'pJ/op':>7s}")
    for r in rows:
        print(f"{r['spec'][:38]:38s} {r['mae_pct']:8.4f} {r['wce_pct']:8.4f} {r['ep_pct']:7.2f} "
              f"{r['area_um2']:7.1f} {r['delay_ns']:6.3f} {r['energy_pj_per_op']:7.4f}")
    stages.append(("multipliers", time.perf_counter() - t0))
    print("== 2/4 network: ResNet-8 on the scikit-learn digits", flush=True)
    model_dir = out / "resnet8"
    from axforge.models.train import train_model, weights_digest
    meta_path = model_dir / "meta.json"
    if (model_dir / "model.pt").exists() and meta_path.exists() and "splits" in json.loads(meta_path.read_text()):
        meta = json.loads(meta_path.read_text())
        digest = meta.get("weights_sha256")
        if digest is None:      # a model directory from before the digest was recorded
            import torch
            digest = weights_digest(torch.load(model_dir / "model.pt"))
        print(f"reusing {model_dir} (validation accuracy {100 * meta['val_accuracy']:.2f} %, "
              f"test {100 * meta['test_accuracy']:.2f} %, weights {digest[:12]})")
    else:
        meta = train_model("resnet8", "digits", model_dir, epochs=10, progress=not args.quiet)
        print(f"trained resnet8: validation accuracy {100 * meta['val_accuracy']:.2f} %, "
              f"test {100 * meta['test_accuracy']:.2f} % (weights {meta['weights_sha256'][:12]})")
    stages.append(("network", time.perf_counter() - t0 - sum(t for _, t in stages)))
    print("== 3/4 search: AutoApprox vs random, no accuracy loss, 4x4 arrays of the built-in bank", flush=True)
    from axforge.search.flow import map_flow

    from .cli_map import print_summary
    summary = map_flow(model_dir, None, args.budget, ("autoapprox", "random"), "no-loss", None, out / "map",
                       seed=0, resume=True, progress=not args.quiet)
    print("== 4/4 chosen chip: Verilog emitted, one layer checked in cocotb", flush=True)
    print_summary(summary, out / "map")
    stages.append(("search + chip", time.perf_counter() - t0 - sum(t for _, t in stages)))
    print(f"demo outputs under {out}/: char/ (library.csv, pareto_*.png, heatmaps/), resnet8/, map/ "
          f"(report.md, pareto.png, chip/); {time.perf_counter() - t0:.0f} s ("
          + ", ".join(f"{name} {t:.0f} s" for name, t in stages) + ")")
    return 0


DEMO_SPECS = ["exact:8x8u:arch=dadda", "exact:8x8u:arch=booth", "trunc:8x8u:k=6,comp=const",
              "bam:8x8u:h=2,v=7", "perf:8x8u:start=0,count=2", "kulkarni:8x8u:t=4",
              "drum:8x8u:k=4", "mitchell:8x8u:ec=0,w=0", "mitchell:8x8u:ec=1",
              "cmp42:8x8u:c=8,design=maj"]


def build_parser():
    p = argparse.ArgumentParser(prog="axforge", description=__doc__)
    p.add_argument("--version", action="version", version=f"axforge {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)

    demo = sub.add_parser("demo", help="run the main job on built-in defaults")
    demo.add_argument("-o", "--output", default="out/demo")
    demo.add_argument("-q", "--quiet", action="store_true")
    demo.add_argument("--budget", type=int, default=120, help="search evaluations per algorithm (default 120)")
    demo.set_defaults(func=cmd_demo)

    pp = sub.add_parser("ppa", help="area, delay, leakage, energy and power from the synthesis flow")
    pp.add_argument("spec", help="multiplier spec (string, YAML, verilog:PATH@TOP, lib:NAME) "
                                 "or a chip: chip:FILE.yaml or chip:PRESET")
    pp.add_argument("--workload", help="chips: .npz with integer x (M,K) and w (K,N) (default: 256 "
                                       "uniform vectors through one tile)")
    pp.add_argument("--route", type=int, help="chips: which array runs the workload (default 0)")
    pp.add_argument("-o", "--output", required=True)
    pp.add_argument("--freq-mhz", type=float, default=500.0, help="clock for power_mw (default 500)")
    pp.add_argument("--stream", help=".npy of (N,2) integer operand pairs (default: 65,536 uniform)")
    pp.add_argument("--emit-script", action="store_true",
                    help="also write the RTL, the Liberty and synth.ys to run Yosys by hand")
    pp.add_argument("--liberty", help="your own Liberty file (with --cells)")
    pp.add_argument("--cells", help="Verilog models of the Liberty's cells")
    pp.add_argument("--no-equiv", action="store_true", help="skip the mapped-netlist == RTL LUT check")
    pp.add_argument("--signed", action="store_true",
                    help="imported Verilog (verilog:): signed operands (same as the suffix :s)")
    pp.add_argument("--unsigned", action="store_true",
                    help="imported Verilog (verilog:): unsigned operands (the default; suffix :u)")
    pp.set_defaults(func=cmd_ppa)

    chip = sub.add_parser("chip", help="array banks: presets, Verilog, simulation")
    csub = chip.add_subparsers(dest="ccmd", required=True)
    cp = csub.add_parser("presets", help="list the built-in chips")
    cp.set_defaults(func=cmd_chip_presets)
    cg = csub.add_parser("gen", help="emit a chip's Verilog + manifest + filelist + Yosys script")
    cg.add_argument("chip", nargs="?", help="chip YAML")
    cg.add_argument("--preset", help="a built-in chip instead of a YAML")
    cg.add_argument("-o", "--output", required=True)
    cg.set_defaults(func=cmd_chip_gen)
    cs = csub.add_parser("sim", help="run a workload through the chip's RTL; --activity for toggles per PE")
    cs.add_argument("chip", nargs="?", help="chip YAML")
    cs.add_argument("--preset", help="a built-in chip instead of a YAML")
    cs.add_argument("--workload", help=".npz with integer x (M,K) and w (K,N) (default: random, one tile)")
    cs.add_argument("--route", type=int, default=0, help="the array that runs it (default 0)")
    cs.add_argument("--activity", action="store_true", help="toggle counts per PE / per array + heatmap")
    cs.add_argument("-o", "--output", required=True)
    cs.set_defaults(func=cmd_chip_sim)
    cv = csub.add_parser("verify", help="the cocotb testbench on the chip's Verilog (Verilator): random tiles, "
                         "back-pressure, reset mid-stream, ROUTE switches, latency, bursts, stream rate")
    cv.add_argument("chip", nargs="?", help="chip YAML")
    cv.add_argument("--preset", help="a built-in chip instead of a YAML")
    cv.add_argument("--test", help="run only this test (default: all)")
    cv.add_argument("--seed", type=int, default=1, help="seed of the matrices, idle cycles and back-pressure")
    cv.add_argument("--rate-vectors", type=int, default=64, help="vectors streamed by test_stream_rate")
    cv.set_defaults(func=cmd_chip_verify)

    from .cli_axnet import add_axnet_parser
    from .cli_kernel import add_kernel_parser
    from .cli_map import add_map_parser
    from .cli_model import add_model_parser
    from .cli_nas import add_nas_parser
    from .cli_npu import add_npu_parser
    add_model_parser(sub)
    add_map_parser(sub)
    add_kernel_parser(sub)
    add_axnet_parser(sub)
    add_npu_parser(sub)
    add_nas_parser(sub)

    mult = sub.add_parser("mult", help="the multiplier library")
    msub = mult.add_subparsers(dest="mcmd", required=True)

    def widths(sp, one_spec=False):
        pre = "with --all: " if one_spec else ""
        sp.add_argument("--width", type=int, help=f"{pre}both operand widths (default 8)")
        sp.add_argument("--a-width", type=int, help=f"{pre}operand a width (overrides --width)")
        sp.add_argument("--b-width", type=int, help=f"{pre}operand b width (overrides --width)")
        also = "; with a verilog: SPEC, its operands' sign" if one_spec else ""
        sp.add_argument("--signed", action="store_true", help=f"signed variants only{also}")
        sp.add_argument("--unsigned", action="store_true", help=f"unsigned variants only{also}")
        sp.add_argument("--family", help=f"{pre}comma-separated families")

    ls = msub.add_parser("list", help="enumerate the built-in library (and imported designs)")
    widths(ls)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_mult_list)

    gen = msub.add_parser("gen", help="emit Verilog + manifest + filelist")
    gen.add_argument("spec", help="spec string, YAML file, verilog:PATH@TOP or lib:NAME")
    gen.add_argument("-o", "--output", required=True)
    gen.add_argument("--registered", action="store_true", help="add an output register")
    gen.add_argument("--signed", action="store_true",
                    help="imported Verilog (verilog:): signed operands (same as the suffix :s)")
    gen.add_argument("--unsigned", action="store_true",
                    help="imported Verilog (verilog:): unsigned operands (the default; suffix :u)")
    gen.set_defaults(func=cmd_mult_gen)

    ch = msub.add_parser("char", help="LUT from the RTL + error metrics")
    ch.add_argument("spec", nargs="?")
    ch.add_argument("-o", "--output", required=True)
    ch.add_argument("--all", action="store_true", help="the whole library at --width")
    ch.add_argument("--plots", action="store_true", help="error heatmap PNG per design")
    ch.add_argument("--no-ppa", action="store_true",
                    help="with --all: skip synthesis/energy (gate count as the cost)")
    ch.add_argument("--dist", help="with a SPEC: .npy of (N,2) operand pairs, or .npz with histograms a, b")
    ch.add_argument("--jobs", type=int, default=None, help="with --all: parallel workers (default: all cores)")
    ch.add_argument("-q", "--quiet", action="store_true")
    widths(ch, one_spec=True)
    ch.set_defaults(func=cmd_mult_char)

    im = msub.add_parser("import", help="copy a Verilog multiplier into the user's library")
    im.add_argument("path")
    im.add_argument("--top", required=True)
    im.add_argument("--signed", action="store_true", help="signed operands (default unsigned)")
    im.add_argument("--unsigned", action="store_true", help="unsigned operands (the default)")
    im.add_argument("--name")
    im.set_defaults(func=cmd_mult_import)
    return p


def _pin_blas():
    """numpy's and scipy's OpenBLAS choose their kernels per CPU, so the search's Gaussian process
    would differ in its last bits between machines; on every x86 CPU with AVX2 the same (Haswell)
    kernels run instead. Only before numpy is loaded, and never against the user's own setting."""
    if "numpy" in sys.modules or "OPENBLAS_CORETYPE" in os.environ:
        return
    try:
        with open("/proc/cpuinfo") as f:
            avx2 = " avx2" in f.read()
    except OSError:
        return
    if avx2:
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"


def main(argv=None):
    _pin_blas()
    parser = build_parser()
    args = parser.parse_args(argv)
    for key in ("width", "a_width", "b_width"):
        val = getattr(args, key, None)
        if getattr(args, "cmd", None) == "model" and key != "width":
            continue   # quantisation widths are checked by QuantConfig (4-16)
        if val is not None and not 2 <= val <= 16:
            print(f"axforge: error: Width --{key.replace('_', '-')} must be an integer between "
                  f"2 and 16, not {val}", file=sys.stderr)
            return 2
    toolenv.setup()
    try:
        return args.func(args)
    except AxforgeError as exc:
        print(f"axforge: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("axforge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader left early (`axforge mult list | head -3`): stop quietly, no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
