"""Hardware-aware NAS for neural approximate computing with the NPU in the loop (Chen et al.,
"Towards best-effort approximation"): the problem, the offline search and its Pareto set.

A point of the space (:func:`axforge.search.nas.topology_space`) is an MLP's hidden layers and
their activations; optional dimensions add the NPU's MAC multiplier (``mults``, a categorical
``mult``) and AXNet's prediction subnet (``pred_max``: ``pred_neurons`` in ``0..pred_max``, one
hidden layer, 0 = none). Evaluating a point (:meth:`NasProblem.evaluate`):

1. **fit** -- the untrained network is compiled for the NPU (:func:`~axforge.models.axnet.integer.compile_net`);
   one that does not fit its memories is infeasible (constraint ``fits`` = 1) and is not trained;
2. **train** -- ``epochs`` epochs on the kernel's training split (seeded; the approximator alone,
   method ``approximator``, or AXNet with a predictor), saved under ``nets/<key>/`` (an
   ``axforge axnet train`` folder: ``axforge npu compile`` takes it as it is);
3. **accuracy** -- the compiled network on the validation split, bit-exact with the NPU's RTL:
   ``P_acc`` = the share of inputs whose final result is within the group's error bound (an input
   AXNet rejects runs the exact code, within the bound; for jmeint, the classification rate);
4. **hardware** -- cycles from the NPU's exact cycle model, dynamic energy from the NPU energy model
   calibrated at gate level (:mod:`.npu_energy`; ``energy="gate"`` runs the gate-level flow on
   every network instead), leakage power x time, and the CPU + NPU system model
   (:mod:`.npu_system`) against the CPU alone: ``P_speed`` = speedup, ``P_energy`` = energy
   reduction. The approximator alone runs the NPU's approximation phase on every input (its
   cycles: fetch, the layers, emission; its energy: the approximation phase plus the fetch's share
   of the prediction phase, pro rata of cycles); AXNet runs both phases and falls back to the CPU.
5. ``f_perf = alpha * P_acc + beta * P_speed + eps * P_energy``, the one objective SMAC and TPE
   minimise (negated); ``accuracy``, ``speedup`` and ``energy_reduction`` are the three of the
   Pareto front and its hypervolume (reference point: zero in each).

Everything the search chooses is measured on the validation split; the Pareto set also lists its
networks' figures on the held-out test split, which nothing chooses by.
"""

import csv
import hashlib
import io
import json
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from axforge.errors import AxforgeError, bad_value
from axforge.paths import atomic_write_text, write_json
from axforge.search.nas import ACTIVATIONS, topology, topology_space
from axforge.search.objectives import Objective, Problem

__all__ = ["DEFAULT_WEIGHTS", "NasProblem", "NasSettings", "nas_search", "pareto_rows"]

DEFAULT_WEIGHTS = (1.0, 0.001, 0.001)
OBJECTIVES = ("f_perf", "accuracy", "speedup", "energy_reduction")
FRONT = ("accuracy", "speedup", "energy_reduction")
ENERGY = ("model", "gate")


@dataclass(frozen=True)
class NasSettings:
    """Everything that determines the evaluations of a NAS study (its content hash names it)."""
    kernel: str
    group: int = 1
    npu: str = "npu-paper"
    epochs: int = 30
    seed: int = 0
    alpha: float = DEFAULT_WEIGHTS[0]
    beta: float = DEFAULT_WEIGHTS[1]
    eps: float = DEFAULT_WEIGHTS[2]
    max_layers: int = 2
    max_neurons: int = 128
    activations: tuple = ACTIVATIONS
    mults: tuple = ()
    pred_max: int = 0
    energy: str = "model"
    calib_programs: int = 6
    calib_epochs: int = 5
    ppa_samples: int = 12
    cpu: str = ""

    def __post_init__(self):
        from axforge.models.kernels import kernel
        kernel(self.kernel)
        if self.group not in (1, 2) or isinstance(self.group, bool):
            raise bad_value("NAS option 'group'", self.group, "1 or 2")
        for name, lo in (("epochs", 1), ("seed", 0), ("max_layers", 1), ("max_neurons", 1), ("pred_max", 0),
                         ("calib_programs", 3), ("calib_epochs", 1), ("ppa_samples", 2)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise bad_value(f"NAS option {name!r}", v, f"an integer >= {lo}")
        for name in ("alpha", "beta", "eps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                raise bad_value(f"NAS weight {name!r}", v, "a number >= 0")
        if self.alpha + self.beta + self.eps <= 0:
            raise bad_value("NAS weights alpha + beta + eps", self.alpha + self.beta + self.eps, "a positive sum")
        if self.energy not in ENERGY:
            raise bad_value("NAS option 'energy'", self.energy, "one of " + ", ".join(ENERGY))
        object.__setattr__(self, "activations", tuple(self.activations))
        object.__setattr__(self, "mults", tuple(str(m) for m in self.mults))
        if len(set(self.mults)) != len(self.mults):
            raise bad_value("NAS multipliers", list(self.mults), "a list without repeats")

    def to_dict(self):
        d = asdict(self)
        d["activations"], d["mults"] = list(self.activations), list(self.mults)
        return d


def _key_dir(params):
    return hashlib.sha256(json.dumps(dict(params), sort_keys=True).encode()).hexdigest()[:12]


class NasProblem(Problem):
    """The NAS problem of one kernel and error-bound group (module docstring).

    ``out_dir`` holds the trained networks (``nets/<key>/``). :meth:`prepare` loads the data and the
    NPU(s) and calibrates the energy model of each multiplier (gate-level runs, cached)."""

    def __init__(self, settings, out_dir, progress=True):
        self.settings = s = settings
        self.out_dir = Path(out_dir)
        self.progress = progress
        self.space = topology_space(s.max_layers, s.max_neurons, s.activations)
        if s.mults:
            self.space.add_categorical("mult", list(s.mults))
        if s.pred_max:
            self.space.add_integer("pred_neurons", 0, s.pred_max)
        self.objectives = tuple(Objective(n, "maximize") for n in OBJECTIVES)
        self.constraints = ("fits",)
        from axforge.models.kernels import kernel
        self.kernel = kernel(s.kernel)
        self._ready = False
        self._cache = {}
        self.eval_wall = 0.0
        self.trained = 0

    # -- set-up ----------------------------------------------------------------------
    def key(self):
        blob = json.dumps({"problem": super().key(), "settings": self.settings.to_dict()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def prepare(self):
        if self._ready:
            return
        from axforge.generators.npu import load_npu
        from axforge.models.axnet.methods import prepare_data

        from .npu_system import load_cpu
        s = self.settings
        base = load_npu(s.npu)
        self.specs = {m: base.with_multiplier(m) for m in s.mults} if s.mults else {base.multiplier: base}
        self.default_mult = next(iter(self.specs))
        self.cpu = load_cpu(s.cpu or None)
        self.cpu.kernel_cycles(self.kernel)           # a kernel the CPU cannot price fails here
        cfg = self._config((8,), ("relu",), 0)
        self.data = prepare_data(self.kernel, cfg.seed, cfg.n_train, cfg.n_test, cfg.val_fraction)
        self.models = {}
        if s.energy == "model":
            for spec in self.specs.values():
                self.models[spec.multiplier] = self._calibrate(spec)
        self._ready = True

    def _config(self, hidden, acts, pred):
        from axforge.models.axnet.nets import topology_text
        from axforge.models.axnet.run import resolve_config
        k = self.kernel
        topo = topology_text((k.n_in, *hidden, k.n_out))
        method = "axnet" if pred else "approximator"
        cfg, _ = resolve_config(k, method, topo, f"{k.n_in}-{pred}" if pred else None, self.settings.group,
                                self.settings.epochs, self.settings.seed, acts=list(acts))
        return cfg

    def _calibrate(self, spec):
        """The energy model of ``spec``: ``calib_programs`` networks drawn from the space (seeded),
        trained ``calib_epochs`` epochs, priced at gate level on ``ppa_samples`` validation inputs."""
        from axforge.models.axnet.integer import compile_net, quantise_inputs

        from .npu_energy import calibrate
        s = self.settings
        draw = self.space.sampler(seed=s.seed + 7919)
        progs, xs, tries = [], [], 0
        while len(progs) < s.calib_programs:
            tries += 1
            if tries > 50 * s.calib_programs:
                raise AxforgeError(f"NPU energy calibration: fewer than {s.calib_programs} of {tries - 1} drawn "
                                   f"networks fit the NPU {s.npu}: lower --max-neurons")
            p = draw()
            hidden, acts = topology(p)
            pred = p.get("pred_neurons", 0)
            try:
                net = self._train(hidden, acts, pred, s.calib_epochs, None)
                prog = compile_net(net.net, spec.config, self.data["train"].x)
            except AxforgeError:
                continue
            progs.append(prog)
            xs.append(quantise_inputs(prog, self.data["val"].x[:s.ppa_samples]))
        return calibrate(spec, progs, xs, self.progress)

    def _train(self, hidden, acts, pred, epochs, out_dir):
        from axforge.models.axnet.nets import topology_text
        from axforge.models.axnet.run import load, train
        k = self.kernel
        topo = topology_text((k.n_in, *hidden, k.n_out))
        if out_dir is not None and (Path(out_dir) / "meta.json").exists():
            try:
                return load(out_dir)
            except AxforgeError:
                pass                                   # a broken folder: train again
        method = "axnet" if pred else "approximator"
        return train(k, method, topo, f"{k.n_in}-{pred}" if pred else None, self.settings.group, epochs,
                     self.settings.seed, out_dir, progress=False, acts=list(acts), pinned=False)

    # -- evaluation ----------------------------------------------------------------------
    def evaluate(self, params):
        self.prepare()
        p = self.space.validate(params)
        ck = self.space.key(p)
        if ck in self._cache:
            return self._cache[ck]
        t0 = time.perf_counter()
        result = self._evaluate(p)
        self.eval_wall += time.perf_counter() - t0
        self._cache[ck] = result
        return result

    def _zero(self, p, note, attrs):
        return self.result(p, dict.fromkeys(OBJECTIVES, 0.0), {"fits": 1.0}, {**attrs, "note": note})

    def _evaluate(self, p):
        import torch

        from axforge.models.axnet.integer import compile_net
        from axforge.models.axnet.methods import build_net
        from axforge.models.axnet.nets import topology_text
        s, k = self.settings, self.kernel
        hidden, acts = topology(p)
        pred = int(p.get("pred_neurons", 0))
        mult = p.get("mult", self.default_mult)
        spec = self.specs[mult]
        attrs = {"topology": topology_text((k.n_in, *hidden, k.n_out)), "acts": list(acts), "pred_neurons": pred,
                 "multiplier": spec.multiplier, "method": "axnet" if pred else "approximator"}
        cfg = self._config(hidden, acts, pred)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            untrained = build_net(cfg)
        try:
            compile_net(untrained, spec.config, self.data["train"].x)
        except AxforgeError as exc:
            return self._zero(p, f"does not fit the NPU: {exc}", {**attrs, "train_s": 0.0, "hw_s": 0.0})
        ckpt = self.out_dir / "nets" / _key_dir(p)
        t0 = time.perf_counter()
        run = self._train(hidden, acts, pred, s.epochs, ckpt)
        self.trained += 1
        train_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        try:          # trained weights can need codes the untrained ones did not (a bias past the accumulator)
            prog = compile_net(run.net, spec.config, self.data["train"].x)
        except AxforgeError as exc:
            return self._zero(p, f"trained, does not fit the NPU: {exc}",
                              {**attrs, "checkpoint": str(ckpt), "train_s": round(float(run.train_time_s), 3),
                               "wall_train_s": round(train_s, 3), "hw_s": 0.0})
        val = self.data["val"]
        fig = self.figures(run, prog, spec, val)
        hw_s = time.perf_counter() - t1
        values = {"accuracy": fig["accuracy"], "speedup": fig["speedup"], "energy_reduction": fig["energy_reduction"]}
        values["f_perf"] = (s.alpha * values["accuracy"] + s.beta * values["speedup"]
                            + s.eps * values["energy_reduction"])
        attrs.update(checkpoint=str(ckpt), train_s=round(float(run.train_time_s), 3), wall_train_s=round(train_s, 3),
                     hw_s=round(hw_s, 4), params=int(run.meta["params"]["net"]),
                     **{k2: fig[k2] for k2 in ("npu_cycles", "npu_energy_pj", "invoked", "approximator_within")})
        return self.result(p, values, {"fits": 0.0}, attrs)

    def figures(self, run, prog, spec, split):
        """Accuracy, speedup and energy reduction of a compiled network ``prog`` on ``split``."""
        from axforge.hdl.npu.cycles import sample_cycles
        from axforge.models.axnet.integer import integer_metrics, quantise_inputs
        from axforge.sim.lut import extract_lut

        from .npu_system import system_figures
        k, s = self.kernel, self.settings
        m, out = integer_metrics(prog, spec.config, extract_lut(spec.mult_spec), k, split.x, split.t, s.group)
        safe = np.asarray(out["safe"], dtype=bool)
        within = np.asarray(out["errors"]) < k.bound(s.group)
        acc = float(np.mean(~safe | within))
        cyc = sample_cycles(prog, spec.config)
        if s.energy == "gate":
            from axforge.pdk_stub.npu_ppa import npu_ppa

            from .npu_report import ppa_inputs
            pick = ppa_inputs(safe, s.ppa_samples)
            g = npu_ppa(spec, prog, quantise_inputs(prog, split.x)[pick])
            phase = {"pred": g["pred_dynamic_pj"], "approx": g["approx_dynamic_pj"] or 0.0}
            leak, freq = g["leakage_uw"], g["freq_mhz"]
        else:
            model = self.models[spec.multiplier]
            phase, leak, freq = model.program_pj(prog, spec.config), model.leakage_uw, model.freq_mhz
        pred_cycles = cyc["fetch"] + cyc["pred"] + cyc["decide"] + cyc["fallback"]
        if run.method == "approximator":       # the approximation phase alone, on every input
            npu_cycles = {"safe": cyc["fetch"] + cyc["approx"] + cyc["emit"], "unsafe": 0}
            energy = {"pred": 0.0, "approx": phase["approx"] + phase["pred"] * cyc["fetch"] / pred_cycles}
            safe = np.ones(len(safe), dtype=bool)
        else:
            npu_cycles, energy = cyc, phase
        f = system_figures(self.cpu, k, safe, npu_cycles, freq, energy, leak, prog.n_out)
        n_safe = int(safe.sum())
        e_npu = (len(safe) * energy["pred"] + n_safe * energy["approx"]) / len(safe)
        return {"accuracy": acc, "speedup": float(f["speedup"]), "energy_reduction": float(f["energy_reduction"]),
                "npu_cycles": (n_safe * npu_cycles["safe"] + (len(safe) - n_safe) * npu_cycles["unsafe"]) / len(safe),
                "npu_energy_pj": round(float(e_npu), 4), "invoked": float(safe.mean()),
                "approximator_within": float(within.mean()), "metrics": m}

    def test_figures(self, result):
        """The figures of an evaluated network on the held-out test split (reported, never chosen by)."""
        from axforge.models.axnet.integer import compile_net
        from axforge.models.axnet.run import load
        self.prepare()
        run = load(result.attrs["checkpoint"])
        spec = self.specs[result.params.get("mult", self.default_mult)]
        prog = compile_net(run.net, spec.config, self.data["train"].x)
        f = self.figures(run, prog, spec, self.data["test"])
        return {k: f[k] for k in FRONT}

    # -- the indicator ---------------------------------------------------------------------
    def hv_reference(self):
        return np.zeros(len(FRONT))

    def hv_points(self, results):
        return np.array([[-r.values[k] for k in FRONT] for r in results if r.feasible]).reshape(-1, len(FRONT))


def pareto_rows(results, method):
    """The feasible non-dominated results in (accuracy, speedup, energy reduction), as rows:
    ``id`` (``method#n``, n the evaluation order), the point, its figures and attributes."""
    from axforge.search.pareto import pareto_mask
    ok = [(i, r) for i, r in enumerate(results) if r.feasible]
    if not ok:
        return []
    mask = pareto_mask(np.array([[-r.values[k] for k in FRONT] for _, r in ok]))
    rows = []
    for (i, r), keep in zip(ok, mask):
        if keep:
            a = r.attrs
            rows.append({"id": f"{method}#{i}", "evaluation": i, "topology": a["topology"], "acts": list(a["acts"]),
                         "pred_neurons": a["pred_neurons"], "multiplier": a["multiplier"], "method": a["method"],
                         **{k: r.values[k] for k in OBJECTIVES}, "npu_cycles": a["npu_cycles"],
                         "npu_energy_pj": a["npu_energy_pj"], "checkpoint": a["checkpoint"], "params": dict(r.params)})
    rows.sort(key=lambda row: (-row["accuracy"], -row["energy_reduction"]))
    return rows


CSV_COLUMNS = ("id", "topology", "acts", "pred_neurons", "multiplier", "accuracy", "speedup", "energy_reduction",
               "f_perf", "test_accuracy", "test_speedup", "test_energy_reduction", "npu_cycles", "npu_energy_pj",
               "checkpoint")


def _csv(rows):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "acts": ",".join(r["acts"])})
    return buf.getvalue()


def nas_search(settings, methods=("smac", "fixed"), budget=30, out="out/nas", storage=None, resume=False,
               progress=True, worker=0, shared=False, pinned=True):
    """Search ``settings.kernel`` with each of ``methods`` for ``budget`` evaluations (one study each,
    sharing the trained networks); write the Pareto sets, the evaluations, Fig. 3 and Fig. 4b and
    ``summary.json`` to ``out``; return the summary.

    ``pinned``: the whole search runs in one spawned process with pinned float kernels
    (:func:`axforge.models.train.run_pinned`), so the same seed trains the same networks on any x86
    CPU with AVX2 (in place when already inside such a process; ``False``: in this process)."""
    kwargs = dict(settings=settings, methods=tuple(methods), budget=budget, out=str(out), storage=storage,
                  resume=resume, progress=progress, worker=worker, shared=shared)
    if pinned:
        from axforge.models.train import run_pinned, train_threads
        return run_pinned(_search, kwargs, train_threads())
    return _search(**kwargs)


def _search(settings, methods, budget, out, storage, resume, progress, worker, shared):
    from axforge.search.algorithms import ALGORITHMS
    from axforge.search.pareto import hypervolume
    from axforge.search.study import run_search
    methods = list(methods)
    for m in methods:
        ALGORITHMS.lookup(m, "NAS method")
    if not methods or len(set(methods)) != len(methods):
        raise bad_value("NAS methods", methods, "a non-empty list without repeats")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise bad_value("Budget", budget, "an integer >= 1")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    problem = NasProblem(settings, out, progress)
    t0 = time.perf_counter()
    problem.prepare()
    calib_s = time.perf_counter() - t0
    if storage is None:
        storage = f"sqlite:///{(out / 'study.db').resolve()}"
    summary = {"kernel": settings.kernel, "group": settings.group, "npu": settings.npu, "budget": budget,
               "settings": settings.to_dict(), "split": {"search": "val", "report": "test"},
               "energy_models": {m: md.to_dict() for m, md in problem.models.items()},
               "calibration_s": round(calib_s, 1), "method_order": methods, "methods": {}}
    results = {}
    for m in methods:
        name = f"nas-{m}-s{settings.seed}-{problem.key()[:12]}"
        wall0, eval0, trained0 = time.perf_counter(), problem.eval_wall, problem.trained
        res = run_search(problem, m, budget, settings.seed, storage, name, resume, progress, worker, shared)
        wall = time.perf_counter() - wall0
        results[m] = res
        new = res.evaluations[res.resumed:]
        train_s = sum(r.attrs.get("wall_train_s", 0.0) for r in new)
        hw_s = sum(r.attrs.get("hw_s", 0.0) for r in new)
        evals_s = problem.eval_wall - eval0
        rows = pareto_rows(res.evaluations, m)
        for r in rows:
            for k, v in problem.test_figures(res.evaluations[r["evaluation"]]).items():
                r[f"test_{k}"] = v
        feas = [r for r in res.evaluations if r.feasible]
        hv = hypervolume(problem.hv_points(res.evaluations), problem.hv_reference()) if feas else 0.0
        best = max((r.values["f_perf"] for r in feas), default=None)
        summary["methods"][m] = {
            "study": name, "evaluations": len(res.evaluations), "resumed": res.resumed, "feasible": len(feas),
            "trained_now": problem.trained - trained0, "best_f_perf": best, "hypervolume": hv,
            "best_f_perf_trace": [t.get("best_feasible_f_perf") for t in res.trace],
            "pareto": len(rows), "wall_s": round(wall, 2), "train_s": round(train_s, 2), "hw_s": round(hw_s, 3),
            "overhead_s": round(max(0.0, wall - evals_s), 3),
            "study_train_s": round(sum(r.attrs.get("wall_train_s", 0.0) for r in res.evaluations), 2),
            "study_hw_s": round(sum(r.attrs.get("hw_s", 0.0) for r in res.evaluations), 3)}
        body = {"method": m, "kernel": settings.kernel, "group": settings.group, "npu": settings.npu,
                "front": list(FRONT), "split": "val (test_* on the held-out test split)", "networks": rows}
        write_json(out / f"pareto_{m}.json", body)
        atomic_write_text(out / f"pareto_{m}.csv", _csv(rows))
        write_json(out / f"evaluations_{m}.json", [r.to_dict() for r in res.evaluations])
    _fig3(results, out / "fig3.png", settings)
    _fig4b(results, out / "fig4b.png", settings)
    _convergence(results, out / "convergence.png", settings)
    write_json(out / "summary.json", summary)
    return summary


@contextmanager
def saved_figure(path, **subplots):
    """``(fig, axes)`` of ``plt.subplots(**subplots)``, laid out, saved to ``path`` and closed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(**subplots)
    try:
        yield fig, axes
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


def _fig3(results, path, settings):
    """The explored networks of each method, accuracy against energy reduction, coloured by
    evaluation order (the paper's Fig. 3)."""
    size = (4.6 * len(results), 4)
    with saved_figure(path, ncols=len(results), figsize=size, squeeze=False, sharey=True) as (fig, axes):
        for ax, (m, res) in zip(axes[0], results.items()):
            pts = [(i, r.values["accuracy"], r.values["energy_reduction"]) for i, r in enumerate(res.evaluations)
                   if r.feasible]
            if pts:
                i, a, e = map(np.array, zip(*pts))
                sc = ax.scatter(a, e, c=i, cmap="viridis", s=18)
                fig.colorbar(sc, ax=ax, label="evaluation")
            ax.set_title(f"{m} ({len(res.evaluations)} evaluations)", fontsize=10)
            ax.set_xlabel("accuracy (validation)")
            ax.set_yscale("log")
        axes[0][0].set_ylabel("energy reduction vs CPU (x)")
        fig.suptitle(f"{settings.kernel}, group {settings.group}, {settings.npu}: explored networks")


def _convergence(results, path, settings):
    """The best feasible f_perf after each evaluation, one line per method."""
    with saved_figure(path, figsize=(5.5, 3.6)) as (_, ax):
        for m, res in results.items():
            best = [np.nan if t.get("best_feasible_f_perf") is None else t["best_feasible_f_perf"] for t in res.trace]
            ax.plot(np.arange(1, len(best) + 1), best, label=m)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("best f_perf (validation)")
        ax.legend()
        ax.set_title(f"{settings.kernel}, group {settings.group}: best f_perf", fontsize=10)


def _fig4b(results, path, settings):
    """The methods' Pareto fronts in accuracy and energy reduction (the paper's Fig. 4b)."""
    from axforge.search.pareto import pareto_mask
    with saved_figure(path, figsize=(5.5, 4)) as (_, ax):
        for m, res in results.items():
            pts = np.array([[r.values["accuracy"], r.values["energy_reduction"]] for r in res.evaluations
                            if r.feasible])
            if not len(pts):
                continue
            front = pts[pareto_mask(-pts)]
            front = front[np.argsort(front[:, 0])]
            ax.step(front[:, 0], front[:, 1], where="pre", marker="o", ms=4, label=m)
        ax.set_xlabel("accuracy (validation)")
        ax.set_ylabel("energy reduction vs CPU (x)")
        ax.set_yscale("log")
        ax.legend()
        ax.set_title(f"{settings.kernel}, group {settings.group}: accuracy / energy fronts", fontsize=10)


def load_front(out_dir, method=None):
    """``(method, rows, meta)``: the Pareto set of ``method`` (default the search's first) in a
    :func:`nas_search` folder, as candidates for :class:`~axforge.search.select.Selector`."""
    d = Path(out_dir)
    summary = d / "summary.json"
    if not summary.is_file():
        raise bad_value("NAS folder", str(out_dir), "a folder written by axforge nas search (with summary.json)")
    try:
        s = json.loads(summary.read_text())
        methods = list(s["method_order"])
    except (ValueError, KeyError) as exc:
        raise AxforgeError(f"NAS folder {d} must hold a readable summary.json, not a broken one ({exc!r})")
    method = method or methods[0]
    if method not in methods:
        raise bad_value("NAS method", method, "one the search ran: " + ", ".join(methods))
    body = json.loads((d / f"pareto_{method}.json").read_text())
    rows = body["networks"]
    if not rows:
        raise AxforgeError(f"The {method} search in {d} found no network that fits the NPU: nothing to select")
    meta = {"kernel": s["kernel"], "group": s["group"], "npu": s["npu"], "mults": s["settings"].get("mults")}
    return method, rows, meta
