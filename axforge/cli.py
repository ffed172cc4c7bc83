"""The ``axforge`` command line."""

import argparse
import json
import sys
import time
from pathlib import Path

from . import __version__, toolenv
from .errors import AxforgeError

__all__ = ["main"]


def _widths(args):
    a = args.a_width or args.width
    b = args.b_width or args.width
    return a, b


def _sign_filter(args):
    if getattr(args, "signed", False) and getattr(args, "unsigned", False):
        raise AxforgeError("Options --signed and --unsigned exclude each other")
    if getattr(args, "signed", False):
        return True
    if getattr(args, "unsigned", False):
        return False
    return None


def cmd_mult_list(args):
    from axforge.sim.char import library_specs
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
    from axforge.generators.spec import load_mult_spec
    spec = load_mult_spec(args.spec, args.signed_import)
    if args.registered and spec.family != "verilog":
        from axforge.hdl.arith import MultSpec
        spec = MultSpec(spec.family, spec.a_width, spec.b_width, spec.signed, spec.params, True)
    t0 = time.perf_counter()
    res = emit_verilog(spec, args.output)
    print(f"{res.spec} -> {res.verilog} ({time.perf_counter() - t0:.2f} s, hash {res.content_hash[:12]})")
    return 0


def cmd_mult_char(args):
    from axforge.generators.spec import load_mult_spec
    from axforge.sim.char import characterize, characterize_all, library_specs
    if args.all:
        if args.spec:
            raise AxforgeError("Give either a SPEC or --all, not both")
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
    spec = load_mult_spec(args.spec, args.signed_import)
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


def cmd_ppa(args):
    from axforge.generators.spec import load_mult_spec
    from axforge.pdk_stub.ppa import load_stream, ppa
    spec = load_mult_spec(args.spec, args.signed_import)
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
    chip = _chip_arg(args)
    t0 = time.perf_counter()
    man = emit_chip(chip, args.output)
    print(f"{chip.name}: {len(man['arrays'])} arrays of {chip.rows}x{chip.cols} -> "
          f"{Path(args.output) / (man['top'] + '.v')} (+ manifest.json, filelist.f, synth.ys; "
          f"{time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_mult_import(args):
    from axforge.hdl.arith.imported import import_to_library
    name, spec = import_to_library(args.path, args.top, args.signed, args.name)
    print(f"imported lib:{name} ({spec.width_tag}) from {args.path}")
    return 0


def cmd_demo(args):
    """Characterize a small default set and print where the outputs are."""
    from axforge.hdl.arith import MultSpec
    from axforge.generators.emit import emit_verilog
    from axforge.sim.char import characterize_all
    out = Path(args.output)
    specs = [MultSpec.parse(s) for s in DEMO_SPECS]
    for s in specs[:1]:
        emit_verilog(s, out / "verilog" / s.module_name)
    rows = characterize_all(specs, out / "char", plots=True, progress=not args.quiet, with_ppa=True)
    print(f"{'spec':38s} {'MAE%':>8s} {'WCE%':>8s} {'EP%':>7s} {'um2':>7s} {'ns':>6s} {'pJ/op':>7s}")
    for r in rows:
        print(f"{r['spec'][:38]:38s} {r['mae_pct']:8.4f} {r['wce_pct']:8.4f} {r['ep_pct']:7.2f} "
              f"{r['area_um2']:7.1f} {r['delay_ns']:6.3f} {r['energy_pj_per_op']:7.4f}")
    print(f"outputs: {out / 'char' / 'library.csv'}, {out / 'char' / 'pareto_energy.png'}, "
          f"{out / 'char' / 'pareto_area.png'}, {out / 'char' / 'heatmaps'}/, Verilog in {out / 'verilog'}/")
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
    demo.set_defaults(func=cmd_demo)

    pp = sub.add_parser("ppa", help="area, delay, leakage, energy and power from the synthesis flow")
    pp.add_argument("spec", help="spec string, YAML file, verilog:PATH@TOP or lib:NAME")
    pp.add_argument("-o", "--output", required=True)
    pp.add_argument("--freq-mhz", type=float, default=500.0, help="clock for power_mw (default 500)")
    pp.add_argument("--stream", help=".npy of (N,2) integer operand pairs (default: 65,536 uniform)")
    pp.add_argument("--emit-script", action="store_true",
                    help="also write the RTL, the Liberty and synth.ys to run Yosys by hand")
    pp.add_argument("--liberty", help="your own Liberty file (with --cells)")
    pp.add_argument("--cells", help="Verilog models of the Liberty's cells")
    pp.add_argument("--no-equiv", action="store_true", help="skip the mapped-netlist == RTL LUT check")
    pp.add_argument("--signed", dest="signed_import", action="store_true", default=None,
                    help="interpret imported Verilog as signed")
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

    mult = sub.add_parser("mult", help="the multiplier library")
    msub = mult.add_subparsers(dest="mcmd", required=True)

    def widths(sp):
        sp.add_argument("--width", type=int, default=8, help="both operand widths (default 8)")
        sp.add_argument("--a-width", type=int, help="operand a width (overrides --width)")
        sp.add_argument("--b-width", type=int, help="operand b width (overrides --width)")
        sp.add_argument("--signed", action="store_true", help="only signed variants")
        sp.add_argument("--unsigned", action="store_true", help="only unsigned variants")
        sp.add_argument("--family", help="comma-separated families")

    ls = msub.add_parser("list", help="enumerate the built-in library (and imported designs)")
    widths(ls)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_mult_list)

    gen = msub.add_parser("gen", help="emit Verilog + manifest + filelist")
    gen.add_argument("spec", help="spec string, YAML file, verilog:PATH@TOP or lib:NAME")
    gen.add_argument("-o", "--output", required=True)
    gen.add_argument("--registered", action="store_true", help="add an output register")
    gen.add_argument("--signed", dest="signed_import", action="store_true", default=None,
                     help="interpret imported Verilog as signed")
    gen.set_defaults(func=cmd_mult_gen)

    ch = msub.add_parser("char", help="LUT from the RTL + error metrics")
    ch.add_argument("spec", nargs="?")
    ch.add_argument("-o", "--output", required=True)
    ch.add_argument("--all", action="store_true", help="the whole library at --width")
    ch.add_argument("--plots", action="store_true", help="error heatmap PNG per design")
    ch.add_argument("--no-ppa", action="store_true",
                    help="with --all: skip synthesis/energy (gate count as the cost)")
    ch.add_argument("--dist", help=".npy of (N,2) operand pairs, or .npz with histograms a, b")
    ch.add_argument("--jobs", type=int, default=None, help="parallel workers (default: all cores)")
    ch.add_argument("--signed-import", dest="signed_import", action="store_true", default=None,
                    help="interpret imported Verilog as signed")
    ch.add_argument("-q", "--quiet", action="store_true")
    widths(ch)
    ch.set_defaults(func=cmd_mult_char)

    im = msub.add_parser("import", help="copy a Verilog multiplier into the user's library")
    im.add_argument("path")
    im.add_argument("--top", required=True)
    im.add_argument("--signed", action="store_true")
    im.add_argument("--name")
    im.set_defaults(func=cmd_mult_import)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for key in ("width", "a_width", "b_width"):
        val = getattr(args, key, None)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
