"""``axforge npu ...``: the AXNet NPU: presets, Verilog, compiling a trained network, simulation."""

import json
from pathlib import Path

from .errors import AxforgeError, bad_value

__all__ = ["add_npu_parser"]

IMAGE = "image.json"


def _npu(args):
    from axforge.generators.npu import load_npu
    return load_npu(args.npu, getattr(args, "mult", None))


def cmd_npu_presets(args):
    from axforge.generators.npu import PRESETS, preset
    for name in PRESETS:
        s = preset(name)
        c = s.config
        print(f"{name}: {c.tiles} tile(s) x {c.pes} PEs, {c.width}-bit {'signed' if c.signed else 'unsigned'}, "
              f"acc {c.acc_width}, out {c.out_width}; multiplier {s.multiplier}"
              + ("" if c.gating else "; no AXNet gating (one-pass / iterative only)"))
        print(f"  memories: {c.weight_depth} weights and {c.neuron_depth} neuron slots per PE, "
              f"{c.data_depth} data words, {c.max_layers} layers")
    return 0


def cmd_npu_gen(args):
    from axforge.generators.npu import emit_npu
    from axforge.pdk_stub.pdk import default_pdk
    from axforge.sim.verilator import lint_design
    spec = _npu(args)
    out = Path(args.output)
    man = emit_npu(spec, out, default_pdk().synthesis_files())
    print(f"{spec.name}: {man['top']} ({len(man['files'])} files, synth.ys with the stub PDK's cells.lib and "
          f"SRAM files) -> {out}")
    if args.lint:
        warnings = lint_design(spec.design)
        for line in warnings:
            print(line)
        print("verilator -Wall: " + (f"{len(warnings)} warning line(s)" if warnings else "clean"))
        return 1 if warnings else 0
    return 0


def _split_data(run):
    from axforge.models.axnet.methods import prepare_data
    from axforge.models.kernels import kernel
    c = run.config
    k = kernel(c.kernel)
    return k, prepare_data(k, c.seed, c.n_train, c.n_test, c.val_fraction)


def _pct(v):
    return f"{100 * v:.2f} %"


def cmd_npu_compile(args):
    from axforge.hdl.npu.cycles import sample_cycles
    from axforge.hdl.npu.program import check_fits, passes, to_dict
    from axforge.models.axnet.integer import compile_net, integer_metrics
    from axforge.models.axnet.run import evaluate, load
    from axforge.paths import atomic_dir
    from axforge.sim.lut import extract_lut
    run = load(args.run)
    spec = _npu(args)
    c = spec.config
    k, data = _split_data(run)
    rc = run.config
    prog = compile_net(run.net, c, data["train"].x,
                       meta={"kernel": run.kernel, "method": run.method, "group": rc.group, "run": str(Path(args.run)),
                             "data": {"seed": rc.seed, "n_train": rc.n_train, "n_test": rc.n_test,
                                      "val_fraction": rc.val_fraction}})
    used = check_fits(prog, c)
    lut = extract_lut(spec.mult_spec)
    s = data["test"]
    m, _ = integer_metrics(prog, c, lut, k, s.x, s.t, run.config.group)
    f = evaluate(run, split="test", data=data)
    cyc = sample_cycles(prog, c)
    schedule = "static" if all(passes(x.n_out, c.n_pes) == 1 for x in prog.layers) else "layer-by-layer"
    report = {"npu": spec.to_dict(), "resources": used, "schedule": schedule, "cycles": cyc,
              "golden_test": m, "float_test": {k_: f[k_] for k_ in m}}
    with atomic_dir(args.output) as tmp:
        (tmp / IMAGE).write_text(json.dumps({"npu": spec.to_dict(), "program": to_dict(prog), "report": report},
                                            indent=1) + "\n")
    print(f"{run.method} on {run.kernel} -> {spec.name} ({c.n_pes} PEs, {spec.multiplier}): {schedule} schedule")
    print(f"  uses {used['weights_per_pe']}/{c.weight_depth} weights and {used['slots_per_pe']}/{c.neuron_depth} "
          f"slots per PE, {used['data_words']}/{c.data_depth} data words, {used['layers']}/{c.max_layers} layers")
    print(f"  cycles per sample: prediction {cyc['pred']}, approximation {cyc['approx']}; "
          f"safe {cyc['safe']}, unsafe {cyc['unsafe']}")
    print(f"  test split ({m['n']} inputs)      float      NPU golden")
    for key, label in (("true_invocation", "true invocation"), ("predicted_invocation", "predicted invocation"),
                       ("accuracy", "prediction accuracy")):
        print(f"  {label:<28}{_pct(f[key]):>10} {_pct(m[key]):>12}")
    print(f"  {'overall error':<28}{f['overall_error']:>10.4g} {m['overall_error']:>12.4g}")
    print(f"wrote {Path(args.output) / IMAGE}")
    return 0


def _image_data(program):
    """``(kernel, test Splits)`` of the image's kernel, regenerated from its seed and sizes."""
    from axforge.models.axnet.methods import prepare_data
    from axforge.models.kernels import kernel
    k = kernel(program.meta["kernel"])
    d = program.meta["data"]
    return k, prepare_data(k, d["seed"], d["n_train"], d["n_test"], d["val_fraction"])["test"]


def cmd_npu_sim(args):
    import numpy as np

    from axforge.hdl.npu.cycles import stream_cycles
    from axforge.models.axnet.integer import dequantise, quantise_inputs
    from axforge.models.axnet.metrics import quality_metrics
    from axforge.paths import atomic_dir
    from axforge.sim.lut import extract_lut
    from axforge.sim.npu_sim import simulate
    spec, prog, _ = load_image(args.image)
    k, test = _image_data(prog)
    n = len(test) if args.samples is None else args.samples
    if not 1 <= n <= len(test):
        raise bad_value("Option --samples", n, f"an integer between 1 and {len(test)} (the test split)")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise bad_value("Option -o", args.output, "a folder")
    x = quantise_inputs(prog, test.x[:n])
    r = simulate(spec, prog, x, extract_lut(spec.mult_spec), seed=args.seed)
    h = dequantise(prog, r["h"])
    err = k.errors(k.from_net_out(h), test.t[:n])
    m = quality_metrics(err, err < k.bound(prog.meta["group"]), r["safe"])
    safe_model = r["golden"]["safe"]
    rep = {"bit_exact": bool(r["bit_exact"]), "kernel": k.name, "method": prog.meta["method"], "npu": spec.to_dict(),
           "samples": n, "true_invocation": m["true_invocation"], "predicted_invocation": m["predicted_invocation"],
           "accuracy": m["accuracy"], "overall_error": m["overall_error"],
           "cycles_per_sample_rtl": r["cycles_rtl"], "cycles_per_sample_model": r["cycles_model"],
           "cycles_equal": r["cycles_rtl"] == r["cycles_model"],
           "stream_cycles_model": stream_cycles(prog, spec.config, safe_model.tolist()),
           "sim_cycles_per_s": r["sim_cycles_per_s"], "sim_samples_per_s": r["samples_per_s"],
           "wall_s": r["wall_s"], "error": r["error"]}
    with atomic_dir(out) as tmp:
        (tmp / "sim.json").write_text(json.dumps(rep, indent=1, sort_keys=True) + "\n")
        np.save(tmp / "h_codes.npy", r["h"])
    print(f"{prog.meta['method']} on {k.name}, {n} test inputs through {spec.top} (Verilator):")
    print(f"  bit_exact: {str(rep['bit_exact']).lower()} (every result beat against the golden model)")
    print(f"  true invocation {_pct(m['true_invocation'])}, predicted {_pct(m['predicted_invocation'])}, "
          f"overall error {m['overall_error']:.4g}")
    k_ = len(r["cycles_rtl"])
    print(f"  cycles per sample (first {k_}): RTL {sorted(set(r['cycles_rtl']))}, model "
          f"{sorted(set(r['cycles_model']))}: {'equal' if rep['cycles_equal'] else 'DIFFERENT'}")
    if r["sim_cycles_per_s"]:
        print(f"  burst phase: {r['sim_cycles_per_s']:.0f} simulated cycles/s, {r['samples_per_s']:.0f} samples/s")
    if r["error"]:
        print(f"  bench: {r['error']}")
    print(f"wrote {out / 'sim.json'}")
    return 0 if rep["bit_exact"] and rep["cycles_equal"] else 1


def cmd_npu_verify(args):
    from axforge.hdl.npu import golden
    from axforge.models.axnet.integer import quantise_inputs
    from axforge.sim.lut import extract_lut
    from axforge.sim.npu_sim import TB_TESTS, expected_beats, run_npu_tb
    spec, prog, _ = load_image(args.image)
    _, test = _image_data(prog)
    x = quantise_inputs(prog, test.x[:args.samples])
    out = golden.run(prog, x, extract_lut(spec.mult_spec), spec.config)
    failed = 0
    for name in ([args.test] if args.test else TB_TESTS):
        if name not in TB_TESTS:
            raise bad_value("Option --test", name, "one of " + ", ".join(TB_TESTS))
        stats = run_npu_tb(spec, prog, x, expected_beats(out, prog.n_out), seed=args.seed, testcase=name)
        ok = "error" not in stats
        failed += not ok
        print(f"{name}: {'passed' if ok else 'FAILED: ' + stats['error']}")
    return 1 if failed else 0


def _workload_run(text, quiet):
    """A trained run: a folder from ``axnet train``, or a kernel name (its default AXNet, seed 0,
    trained once into the cache)."""
    from axforge.models.axnet.run import load, resolve_config, train
    from axforge.models.kernels import KERNELS
    from axforge.paths import cache_dir, sha256_text
    p = Path(text)
    if (p / "meta.json").exists():
        return load(p)
    if text not in KERNELS:
        raise bad_value("Option --workload", text, "a kernel name (" + ", ".join(sorted(KERNELS)) +
                        ") or a folder from axforge axnet train")
    cfg, _ = resolve_config(text)
    d = cache_dir() / "axnet-runs" / f"{text}-{sha256_text(json.dumps(cfg.to_dict(), sort_keys=True))[:16]}"
    if (d / "meta.json").exists():
        return load(d)
    if not quiet:
        print(f"training the default AXNet of {text} (once; cached in {d})")
    return train(text, out_dir=d, progress=not quiet)


def cmd_npu_ppa(args):
    from axforge.models.axnet.integer import compile_net, integer_metrics, quantise_inputs
    from axforge.pdk_stub.npu_ppa import npu_ppa
    from axforge.flows.npu_report import ppa_inputs
    from axforge.sim.lut import extract_lut
    spec = _npu(args)
    run = _workload_run(args.workload, args.quiet)
    k, data = _split_data(run)
    prog = compile_net(run.net, spec.config, data["train"].x)
    test = data["test"]
    _, out = integer_metrics(prog, spec.config, extract_lut(spec.mult_spec), k, test.x, test.t, run.config.group)
    pick = ppa_inputs(out["safe"], args.samples)
    p = npu_ppa(spec, prog, quantise_inputs(prog, test.x)[pick], freq_mhz=args.freq, out_dir=args.output)
    c = spec.config
    print(f"{spec.name} ({c.tiles} x {c.pes} PEs, {spec.multiplier}; {p['top']}) on {p['pdk']}:")
    print(f"  area {p['area_um2']:.1f} um2 ({p['cells']} cells, sequential {p['sequential_area_um2']:.1f} um2), "
          f"critical path {p['delay_ns']:.3f} ns (fmax {p['fmax_mhz']:.0f} MHz), leakage {p['leakage_uw']:.2f} uW")
    print(f"  workload: {run.method} on {k.name}, {p['samples']} test inputs ({p['safe_samples']} predicted safe), "
          f"clock {p['freq_mhz']:g} MHz")
    approx = "-" if p["approx_pj"] is None else f"{p['approx_pj']:.2f} pJ"
    print(f"  energy per inference: prediction {p['pred_pj']:.2f} pJ, approximation {approx} "
          f"(dynamic + leakage); mean {p['energy_pj_per_sample']:.2f} pJ per input")
    mem = p["memory"]
    if mem["macros"]:
        acc = "-" if mem["approx_pj"] is None else f"{mem['approx_pj']:.2f} pJ"
        print(f"  memories: {mem['macros']} SRAM macros, {mem['area_um2']:.1f} um2 "
              f"({100 * mem['area_um2'] / p['area_um2']:.1f} % of the area), leakage {mem['leakage_uw']:.2f} uW; "
              f"their accesses: prediction {mem['pred_pj']:.2f} pJ, approximation {acc}")
    print(f"  equivalence: {p['equivalence']}")
    if args.output:
        print(f"wrote {Path(args.output) / 'ppa.json'}")
    return 0


def cmd_npu_report(args):
    from axforge.flows.npu_report import markdown, npu_report
    from axforge.flows.npu_system import load_cpu
    from axforge.generators.spec import split_specs
    spec = _npu(args)
    cpu = load_cpu(args.cpu)
    rows = npu_report(args.runs, spec, cpu, args.output, split_specs(args.mults) if args.mults else None,
                      seed=args.seed, ppa_samples=args.samples, progress=not args.quiet)
    print(markdown(rows, spec, cpu), end="")
    print(f"wrote {Path(args.output) / 'report.md'}, report.csv, fig10b.png")
    return 0


def load_image(path):
    """``(NpuSpec, Program, report)`` of a compiled image folder (or its image.json)."""
    from axforge.generators.npu import NpuSpec
    from axforge.hdl.npu.program import from_dict
    p = Path(path)
    p = p / IMAGE if p.is_dir() else p
    if not p.is_file():
        raise bad_value("NPU image", str(path), f"a folder with {IMAGE} (from npu compile)")
    try:
        d = json.loads(p.read_text())
        npu = d["npu"]
    except (ValueError, KeyError) as exc:
        raise AxforgeError(f"NPU image {p} must be readable JSON from npu compile, not a broken file ({exc!r})")
    return NpuSpec.from_dict(npu, f"NPU of {p}"), from_dict(d["program"]), d.get("report", {})


def add_npu_parser(sub):
    npu = sub.add_parser("npu", help="the AXNet NPU: presets, Verilog, compile a trained network, simulate")
    nsub = npu.add_subparsers(dest="npucmd", required=True)

    ps = nsub.add_parser("presets", help="the built-in NPUs")
    ps.set_defaults(func=cmd_npu_presets)

    gen = nsub.add_parser("gen", help="emit the NPU's Verilog, manifest, filelist and Yosys script")
    gen.add_argument("npu", help="an NPU YAML or a preset name (npu presets)")
    gen.add_argument("--mult", help="the MACs' multiplier spec (replaces the NPU's)")
    gen.add_argument("--lint", action="store_true", help="also run verilator -Wall on the emitted files")
    gen.add_argument("-o", "--output", required=True)
    gen.set_defaults(func=cmd_npu_gen)

    cp = nsub.add_parser("compile", help="a trained AXNet (or one-pass / iterative pair) -> an NPU image")
    cp.add_argument("run", help="a folder from axforge axnet train")
    cp.add_argument("--npu", required=True, help="an NPU YAML or a preset name")
    cp.add_argument("--mult", help="the MACs' multiplier spec (replaces the NPU's)")
    cp.add_argument("-o", "--output", required=True, help="the image folder (image.json)")
    cp.set_defaults(func=cmd_npu_compile)

    sm = nsub.add_parser("sim", help="run an image on its kernel's test inputs through the RTL (cocotb + "
                         "Verilator); sim.json: bit_exact, invocation, cycles per sample (RTL and model)")
    sm.add_argument("image", help="a folder from npu compile")
    sm.add_argument("--samples", type=int, help="the first N test inputs (default: all)")
    sm.add_argument("--seed", type=int, default=1, help="seed of the idle cycles and back-pressure")
    sm.add_argument("-o", "--output", required=True, help="folder for sim.json and h_codes.npy")
    sm.set_defaults(func=cmd_npu_sim)

    vf = nsub.add_parser("verify", help="the cocotb benches on an image: a stream with idle cycles and "
                         "back-pressure, and a reset mid-stream, against the golden model")
    vf.add_argument("image", help="a folder from npu compile")
    vf.add_argument("--samples", type=int, default=64, help="test inputs streamed (default 64)")
    vf.add_argument("--test", help="run only this bench test")
    vf.add_argument("--seed", type=int, default=1)
    vf.set_defaults(func=cmd_npu_verify)

    pp = nsub.add_parser("ppa", help="area, critical path, leakage and energy per inference (prediction and "
                         "approximation phases) from the gate-level simulation of a real kernel's samples")
    pp.add_argument("npu", help="an NPU YAML or a preset name")
    pp.add_argument("--mult", help="the MACs' multiplier spec (replaces the NPU's)")
    pp.add_argument("--workload", required=True,
                    help="a kernel (its default AXNet, trained once) or a folder from axnet train: the NPU is "
                         "priced running that network on the kernel's test inputs")
    pp.add_argument("--samples", type=int, default=24, help="test inputs simulated at gate level (default 24)")
    pp.add_argument("--freq", type=float, help="clock in MHz (default: min(500, fmax))")
    pp.add_argument("-o", "--output", help="also write ppa.json here")
    pp.add_argument("-q", "--quiet", action="store_true")
    pp.set_defaults(func=cmd_npu_ppa)

    rp = nsub.add_parser("report", help="speedup and energy reduction against the CPU alone, per kernel, for "
                         "AXNet, one-pass and iterative and per MAC multiplier (Fig. 10b)")
    rp.add_argument("runs", help="a folder from axforge axnet compare")
    rp.add_argument("--npu", required=True, help="an NPU YAML or a preset name")
    rp.add_argument("--mults", help="comma-separated MAC multiplier specs (default: the NPU's)")
    rp.add_argument("--cpu", help="the CPU model YAML (default: the built-in Penryn-class core)")
    rp.add_argument("--seed", type=int, default=0, help="which seed's runs (default 0)")
    rp.add_argument("--samples", type=int, default=24, help="test inputs simulated at gate level per run")
    rp.add_argument("-o", "--output", required=True)
    rp.add_argument("-q", "--quiet", action="store_true")
    rp.set_defaults(func=cmd_npu_report)
    return npu
