"""NPU benchmarks (printed, not asserted): emission, the cocotb bench's build and rate, the cycle
model against the RTL and its speed, synthesis, PPA per preset and multiplier, and what AXNet's
additions cost.

1. ``npu-paper`` emitted from an empty cache (Verilog of every module).
2. The cocotb + Verilator bench of ``npu-paper`` running a 6-8-8-1 AXNet (prediction subnet 6-8),
   built from an empty cache (Verilator compile + build), then 2,000 samples through the burst
   transactor with 20 % idle cycles and 20 % back-pressure: simulated cycles/s and samples/s
   (best of 3; the median alongside).
3. The cycle model against the RTL's measured cycles on several networks, static and
   layer-by-layer, safe and unsafe samples; and its speed (calls per second).
4. Gate-level PPA (:func:`axforge.pdk_stub.npu_ppa.npu_ppa`) of ``npu-tiny`` and ``npu-tiny-u``
   with two multipliers each, on a 6-4-4-1 network and 24 of its inputs: synthesis time, area,
   critical path, leakage, energy per phase. ``npu-paper`` too with ``--paper`` (about 50 s of
   synthesis with its memories as SRAM macros, then minutes of Verilator build per netlist).
5. AXNet's additions: ``npu-tiny`` against the same NPU with ``gating: false`` (no Hadamard
   multiplier, switch or control loads) on the same one-pass program: area and energy per phase
   (with ``--paper`` also ``npu-paper`` against ``npu-paper-plain``).

The networks are untrained (seeded random weights, scaled so that P(x) decides both ways): the
figures measure the hardware, not a kernel's accuracy. Prints the CPU first.
"""

import os
import statistics
import tempfile
import time

os.environ.setdefault("AXFORGE_CACHE", tempfile.mkdtemp(prefix="axf-bench-npu-"))

import numpy as np  # noqa: E402

from axforge import toolenv  # noqa: E402


def bench(name, value, unit):
    print(f"BENCH {name} {value:.4g} {unit}", flush=True)


def network(kind, topology, pred, seed=0):
    import torch

    from axforge.models.axnet import AXNet, PairNet
    torch.manual_seed(seed)
    net = AXNet(topology, pred) if kind == "axnet" else PairNet(topology, pred)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
    return net.eval()


def program(spec, net, n_in, n=2000, seed=1):
    import torch

    from axforge.models.axnet.integer import compile_net, quantise_inputs
    x = torch.from_numpy(np.random.default_rng(seed).uniform(0, 1, (n, n_in)).astype(np.float32))
    with torch.no_grad():          # centre P(x) on these inputs, so that it decides both ways
        z = net.pred(x)
        score = z[:, -1] if z.shape[1] == 1 or net.p_outputs == 1 else z[:, -1] - z[:, -2]
        net.pred.layers[-1].bias[-1] -= score.median()
    prog = compile_net(net, spec.config, x)
    return prog, quantise_inputs(prog, x)


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paper", action="store_true", help="also the gate-level PPA of npu-paper (long)")
    ap.add_argument("--ppa-only", action="store_true", help="only parts 4 and 5 (the gate-level runs)")
    args = ap.parse_args(argv)
    toolenv.setup()
    from axforge.generators.npu import preset
    from axforge.models import autopath

    name, flags = autopath.cpu()
    print(f"CPU {name}; flags {' '.join(flags) or '-'}; cache {os.environ['AXFORGE_CACHE']}", flush=True)
    paper = preset("npu-paper")
    net = network("axnet", "6-8-8-1", (8,))
    if not args.ppa_only:
        simulation(paper, net)
    ppa(args)


def simulation(paper, net):
    from axforge.generators.design import design_files
    from axforge.generators.npu import preset
    from axforge.hdl.npu.cycles import sample_cycles
    from axforge.sim.lut import extract_lut
    from axforge.sim.npu_sim import simulate
    t0 = time.perf_counter()
    design_files(paper.design)
    bench("npu_paper_emit_s", time.perf_counter() - t0, "s")

    prog, x = program(paper, net, 6)
    lut = extract_lut(paper.mult_spec)
    t0 = time.perf_counter()
    simulate(paper, prog, x[:8], lut, cycle_samples=8)          # Verilator compile + build, cold
    bench("npu_paper_cocotb_build_cold_s", time.perf_counter() - t0, "s")
    rates, sps = [], []
    for _ in range(3):
        r = simulate(paper, prog, x, lut, cycle_samples=8)
        assert r["bit_exact"], r["error"]
        rates.append(r["sim_cycles_per_s"])
        sps.append(r["samples_per_s"])
    bench("npu_paper_6881_burst_cycles_per_s", max(rates), "cycles/s")
    bench("npu_paper_6881_burst_cycles_per_s_median", statistics.median(rates), "cycles/s")
    bench("npu_paper_6881_burst_samples_per_s", max(sps), "samples/s")

    # the cycle model against the RTL: static and layer-by-layer schedules, safe and unsafe samples
    tiny = preset("npu-tiny")
    cases = [(tiny, "axnet", "6-4-4-1", (4,), 6), (tiny, "pair", "3-5-2", (4,), 3),
             (paper, "axnet", "6-8-8-1", (8,), 6), (paper, "axnet", "9-24-20-1", (12,), 9),
             (paper, "pair", "2-16-16-1", (16,), 2)]
    equal = total = 0
    for spec, kind, topo, pred, n_in in cases:
        p, xs = program(spec, network(kind, topo, pred), n_in, n=40)
        r = simulate(spec, p, xs, extract_lut(spec.mult_spec), cycle_samples=40)
        assert r["bit_exact"], r["error"]
        equal += sum(a == b for a, b in zip(r["cycles_rtl"], r["cycles_model"]))
        total += len(r["cycles_rtl"])
    bench("npu_cycle_model_equal_to_rtl", 100.0 * equal / total, f"% of {total} samples")
    n = 100_000
    t0 = time.perf_counter()
    for _ in range(n):
        sample_cycles(prog, paper.config)
    bench("npu_cycle_model_predictions_per_s", n / (time.perf_counter() - t0), "predictions/s")



def ppa(args):
    from axforge.generators.npu import NpuSpec, preset
    from axforge.pdk_stub.npu_ppa import npu_ppa
    # gate-level PPA of the presets with two multipliers each
    presets = [("npu-tiny", ("exact:8x8s", "trunc:8x8s:k=6,comp=const")),
               ("npu-tiny-u", ("exact:8x8u", "trunc:8x8u:k=6,comp=const"))]
    if args.paper:
        presets.append(("npu-paper", ("exact:8x8s", "trunc:8x8s:k=6,comp=const")))
    for pname, mults in presets:
        for mult in mults:
            spec = preset(pname).with_multiplier(mult)
            small = network("axnet" if spec.config.signed else "pair", "6-4-4-1", (4,))
            p, xs = program(spec, small, 6, n=24)
            r = npu_ppa(spec, p, xs)
            tag = f"{pname.replace('-', '_')}_{mult.split(':')[0]}"
            bench(f"{tag}_synth_s", r["timing"].get("synth_s", float("nan")), "s")
            bench(f"{tag}_area_um2", r["area_um2"], "um2")
            bench(f"{tag}_delay_ns", r["delay_ns"], "ns")
            bench(f"{tag}_leakage_uw", r["leakage_uw"], "uW")
            bench(f"{tag}_pred_pj", r["pred_pj"], "pJ")
            bench(f"{tag}_approx_pj", r["approx_pj"] if r["approx_pj"] is not None else float("nan"), "pJ")

    # AXNet's additions: the same one-pass program with and without gating
    import dataclasses
    pair = network("pair", "6-4-4-1", (4,))
    tiny = preset("npu-tiny")
    pairs = [("npu_tiny", tiny, NpuSpec(dataclasses.replace(tiny.config, gating=False), tiny.multiplier,
                                        "npu-tiny-plain"))]
    if args.paper:
        pairs.append(("npu_paper", preset("npu-paper"), preset("npu-paper-plain")))
    for tag, with_g, plain in pairs:
        runs = [(spec, *program(spec, pair, 6, n=24)) for spec in (with_g, plain)]
        first = [npu_ppa(spec, p, xs) for spec, p, xs in runs]
        f = min(r["fmax_mhz"] for r in first)            # one clock for both (leakage energy)
        a, b = (npu_ppa(spec, p, xs, freq_mhz=f) for spec, p, xs in runs)
        bench(f"{tag}_axnet_additions_clock_mhz", f, "MHz")
        bench(f"{tag}_axnet_additions_area_um2", a["area_um2"] - b["area_um2"], "um2")
        bench(f"{tag}_axnet_additions_area_pct", 100.0 * (a["area_um2"] / b["area_um2"] - 1), "%")
        bench(f"{tag}_axnet_additions_leakage_pct", 100.0 * (a["leakage_uw"] / b["leakage_uw"] - 1), "%")
        for key in ("pred_pj", "approx_pj"):
            bench(f"{tag}_axnet_additions_{key}_pct", 100.0 * (a[key] / b[key] - 1), "%")


if __name__ == "__main__":
    main()
