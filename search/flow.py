"""``axforge map``: network + bank -> searched mappings -> report -> the chosen chip in Verilog, checked."""

import shlex
import time
from pathlib import Path

from axforge.errors import AxforgeError, bad_value
from axforge.paths import atomic_write_text, write_json

from .algorithms import ALGORITHMS

__all__ = ["map_flow", "PICKS"]

PICKS = ("S", "L", "XL")


def _validate(algos, budget, pick, target, area_budget, jobs=1):
    from .problem import MappingProblem, parse_target
    usable = [n for n, cls in ALGORITHMS.items() if issubclass(MappingProblem, cls.problem_type)]
    for a in algos:
        if a not in usable:
            raise bad_value("Algorithm", a, "one of " + ", ".join(usable))
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise bad_value("Budget", budget, "an integer >= 1")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise bad_value("Jobs", jobs, "an integer >= 1")
    if pick not in PICKS:
        raise bad_value("Pick", pick, "one of " + ", ".join(PICKS))
    if area_budget is not None and not area_budget > 0:
        raise bad_value("Area budget (um2)", area_budget, "a positive number")
    return parse_target(target)


def map_flow(model_dir, bank_path=None, budget=200, algos=("autoapprox",), target="no-loss", area_budget=None,
             out="out/map", seed=0, storage=None, resume=False, limit=None, pick="S", check=True,
             progress=True, worker=0, shared=False, study_prefix="", jobs=1):
    """The whole flow; returns a summary dict (also written as ``summary.json``)."""
    from .report import write_report
    from .study import run_search
    t0 = time.perf_counter()
    algos = list(algos)
    tgt = _validate(algos, budget, pick, target, area_budget, jobs)
    out = Path(out)
    problem, bank, evaluator = build_problem(model_dir, bank_path, tgt, area_budget, limit, progress)
    problem.prepare()                              # an infeasible target fails here
    if storage is None:
        out.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{(out / 'study.db').resolve()}"
    results = {}
    for algo in algos:
        name = f"{study_prefix}{algo}-s{seed}-{problem.key()[:12]}"
        if jobs > 1:
            _parallel(jobs, (model_dir, bank_path, tgt, area_budget, limit), algo, budget, seed, storage, name,
                      resume)
            resume = True    # the workers' journal is the result: read it back (no evaluation repeats)
        results[algo] = run_search(problem, algo, budget, seed, storage, name, resume or jobs > 1, progress,
                                   worker, shared)
    primary = algos[0]
    command = "axforge map " + " ".join(shlex.quote(a) for a in _argv_hint(model_dir, bank_path, budget, algos,
                                                                          target, out))
    picks, tests, exact_test = write_report(out, problem, results, primary, bank, pick, command,
                                            held_out=lambda choice: evaluator.held_out(problem.mapping(choice)))
    summary = {"split": {"search": "val", "images": len(evaluator.y), "test_images": len(evaluator.data.y_test)},
               "target_accuracy": problem.target, "exact_accuracy": problem.exact_accuracy,
               "exact_test_accuracy": exact_test,
               "evaluations": {a: len(r.evaluations) for a, r in results.items()},
               "network_evaluations": evaluator.calls, "cache_hits": evaluator.cache_hits,
               "picks": {k: {"accuracy": e.accuracy, "test_accuracy": tests.get(k), "energy_pj": e.energy_pj,
                             "area_um2": e.area_um2} for k, e in picks.items()}}
    if pick not in picks:
        summary["chip"] = None
        summary["note"] = "no evaluated mapping met the target within the area budget: no chip emitted"
    else:
        summary["chip"] = emit_and_check(problem, bank, evaluator, picks[pick], out / "chip", check, pick)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    write_json(out / "summary.json", summary)
    return summary


def build_problem(model_dir, bank_path, tgt, area_budget, limit, progress=True, check_target=True):
    """(problem, bank, evaluator): the bank and the checkpoint are read first (bad input fails there),
    an absolute target is checked against the exact network before the arrays are priced."""
    from axforge.models.layers import QuantConfig
    from axforge.models.train import load_trained

    from .bank import NetworkEvaluator, bank_candidates, load_bank
    from .problem import MappingProblem
    bank = load_bank(bank_path)                    # unknown multipliers fail here
    trained = load_trained(model_dir)              # a missing checkpoint fails here
    config = QuantConfig(a_width=bank.a_width, b_width=bank.b_width, signed=bank.signed)
    evaluator = NetworkEvaluator(trained, config, limit)
    if check_target and tgt[0] == "abs" and bank.include_exact:   # fails before the arrays are priced
        exact_acc = evaluator({layer: None for layer in evaluator.layers})
        if tgt[1] > exact_acc:
            raise bad_value("Target accuracy", tgt[1],
                            f"at most the exact network's {exact_acc:.4f} (nothing is expected above it)")
    problem = MappingProblem(evaluator.layers, evaluator.macs, bank_candidates(bank, progress), evaluator, tgt,
                             area_budget, bank.include_exact, digest=evaluator.digest, metric=evaluator.metric)
    return problem, bank, evaluator


def _worker(args, algo, budget, seed, storage, name, resume, index, ready):
    """One local worker process: rebuild the problem (PPA and accuracies come from the caches), then
    wait at ``ready`` for the others, so that a worker that starts first cannot take the whole budget
    while the rest are still importing torch (fast evaluations made that happen)."""
    import torch

    from axforge import toolenv

    from .study import run_search
    toolenv.setup()
    torch.set_num_threads(1)
    problem, _, _ = build_problem(*args, progress=False, check_target=False)
    ready.wait()
    run_search(problem, algo, budget, seed, storage, name, resume, False, worker=index, shared=True)


def _parallel(jobs, args, algo, budget, seed, storage, name, resume):
    """``jobs`` local worker processes sharing the study (Optuna storage) until it holds ``budget`` complete
    trials; they claim each mapping before evaluating it, so none is evaluated twice (search/study.py)."""
    import multiprocessing as mp

    from .study import open_study
    open_study(storage, name)        # create schema and study once, before the workers race for it
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(jobs, timeout=600)
    procs = [ctx.Process(target=_worker, args=(args, algo, budget, seed, storage, name, resume, k, ready))
             for k in range(jobs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    bad = [p.exitcode for p in procs if p.exitcode]
    if bad:
        raise AxforgeError(f"Search workers must all succeed, not exit with {bad} (the study keeps their "
                           "finished evaluations: rerun with --resume)")


def _argv_hint(model_dir, bank_path, budget, algos, target, out):
    argv = ["--model", str(model_dir)]
    if bank_path:
        argv += ["--bank", str(bank_path)]
    return argv + ["--budget", str(budget), "--algo", ",".join(algos), "--target", str(target), "-o", str(out)]


def emit_and_check(problem, bank, evaluator, ev, out, check=True, pick="S"):
    """Write the chosen chip's YAML and Verilog; run its most loaded approximate layer through cocotb."""
    import yaml

    from axforge.generators.chip import ChipSpec, emit_chip
    from axforge.pdk_stub.pdk import default_pdk
    arrays = problem.arrays(ev.choice)
    specs = [problem.candidates[i].spec for i in arrays]
    chip = ChipSpec.from_dict(bank.chip_dict(specs, f"map_{pick}"), "chosen chip")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "chip.yaml", yaml.safe_dump(chip.to_dict(), sort_keys=False))
    mapping = {l: problem.candidates[c].name for l, c in zip(problem.layers, ev.choice)}
    route_of = {problem.candidates[i].name: k for k, i in enumerate(arrays)}
    write_json(out / "mapping.json", {"mapping": mapping, "route": {l: route_of[m] for l, m in mapping.items()}})
    emit_chip(chip, out, liberty=default_pdk().liberty_text())
    result = {"yaml": str(out / "chip.yaml"), "top": chip.top, "arrays": [str(s) for s in specs]}
    if check:
        result["check"] = check_layer(problem, evaluator, ev, chip, route_of, out)
    return result


def check_layer(problem, evaluator, ev, chip, route_of, out):
    """One real layer (the one with most MACs on an approximate array, else the largest) through the
    chip's Verilog in cocotb; its accumulators must equal the emulation's bit for bit."""
    import numpy as np

    from axforge.models.layers import remap
    from axforge.sim.layer_check import layer_operands, run_layer_tb
    mapping = problem.mapping(ev.choice)
    approx = [i for i, c in enumerate(ev.choice) if not problem.candidates[c].exact]
    pool = approx or list(range(problem.n_layers))
    li = max(pool, key=lambda i: problem.macs[i])
    layer = problem.layers[li]
    remap(evaluator.qmodel, {k: v for k, v in mapping.items() if v is not None})
    acc, xq, wq = layer_operands(evaluator.qmodel, layer, evaluator.x[:1], max_rows=16)
    route = route_of[problem.candidates[ev.choice[li]].name]
    t0 = time.perf_counter()
    y = run_layer_tb(chip, xq.numpy(), wq.numpy(), route)
    equal = bool(np.array_equal(y, acc.numpy()))
    res = {"layer": layer, "multiplier": problem.candidates[ev.choice[li]].name, "route": route,
           "shape": [int(xq.shape[0]), int(xq.shape[1]), int(wq.shape[1])], "bit_exact": equal,
           "seconds": round(time.perf_counter() - t0, 1)}
    write_json(Path(out) / "check.json", res)
    if not equal:
        bad = int((y != acc.numpy()).sum())
        raise AxforgeError(f"Chip check failed: layer {layer} on array {route}: {bad} accumulators differ "
                           "between the Verilog (cocotb) and the emulation")
    return res

