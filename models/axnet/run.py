"""The API: ``train(kernel, method, ...) -> TrainedRun``, ``evaluate(run, ...)``, ``load(dir)``, ``DEFAULTS``."""

import json
import os
import tempfile
from pathlib import Path

import torch

from axforge.errors import AxforgeError, bad_value
from axforge.paths import write_json

from ..kernels import KERNELS, Kernel
from ..kernels import kernel as kernel_named
from ..train import run_pinned, train_threads, weights_digest
from .methods import METHODS, RunConfig, build_net, fit, prepare_data, save_torch
from .metrics import net_metrics
from .nets import AXNet, match_predictor, n_params, parse_topology, topology_text
from .quantised import quantise

__all__ = ["DEFAULTS", "GENERIC", "META", "METHOD_LR", "NET", "TrainedRun", "evaluate", "load", "resolve_config", "train"]

META = "meta.json"
NET = "net.pt"

# Paper-like sizes per kernel: the approximator ("input-hidden...-output"), AXNet's prediction
# subnet ("input-hidden..."), and the training settings of every stage.
DEFAULTS = {
    "blackscholes": {"topology": "6-8-8-1", "pred": "6-8"},
    "fft": {"topology": "1-4-4-2", "pred": "1-4"},
    "inversek2j": {"topology": "2-8-2", "pred": "2-8"},
    "jmeint": {"topology": "18-32-8-2", "pred": "18-16"},
    "jpeg": {"topology": "64-16-64", "pred": "64-16"},
    "kmeans": {"topology": "6-8-4-1", "pred": "6-8"},
    "sobel": {"topology": "9-8-1", "pred": "9-8"},
    "bessel": {"topology": "2-16-16-1", "pred": "2-16"},
}
# the training settings of a kernel without its own (and the keys a DEFAULTS entry may override).
# 80 epochs per stage, chosen on the validation split: against 40, seed 0, all kernels, the mean
# validation true invocation rose from 36.0 % to 42.1 % (AXNet) and 31.1 % to 39.7 % (one-pass),
# and fell from 41.5 % to 39.1 % (iterative, which trains six stages).
GENERIC = {"epochs": 80, "batch_size": 128}
# each method's learning rate, chosen on the validation split from {1e-2, 3e-3} (80 epochs, seeds 0
# and 1, all kernels): the mean validation true invocation of AXNet rose from 38.6 % (1e-2) to
# 42.6 % (3e-3), while one-pass fell from 39.4 % to 34.6 % and iterative from 39.3 % to 38.1 %.
# The weight-sharing net trains jointly like AXNet and takes its rate, the approximator alone trains
# the approximation stage of one-pass and takes its rate (neither tuned on its own).
METHOD_LR = {"axnet": 3e-3, "onepass": 1e-2, "iterative": 1e-2, "sharing": 3e-3, "approximator": 1e-2}


def _kernel(k):
    if isinstance(k, Kernel):
        return k
    return kernel_named(k)


def _defaults(k, method="axnet"):
    d = {"topology": f"{k.n_in}-8-8-{k.n_out}", "pred": f"{k.n_in}-8", **GENERIC, "lr": METHOD_LR[method]}
    d.update(DEFAULTS.get(k.name, {}))
    return d


def _control(value):
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def resolve_config(kernel, method="axnet", topology=None, pred=None, group=1, epochs=None, seed=0, p_outputs=1,
                   control="all", iterations=2, batch_size=None, lr=None, val_fraction=0.1, n_train=None,
                   n_test=None, match_params=True, acts=None):
    """``(RunConfig, params)``: the run's settings with the kernel's defaults filled in, and the
    parameter counts (``net``: the method's network; ``axnet``: the AXNet of the same topology,
    ``pred`` and control; for the baselines also ``baseline``, their predictor's ``hidden`` and
    ``rel_diff``). See :func:`train` for the arguments."""
    k = _kernel(kernel)
    METHODS.lookup(method, "Method")
    d = _defaults(k, method)
    widths = parse_topology(topology or d["topology"], "Topology")
    if (widths[0], widths[-1]) != (k.n_in, k.n_out):
        raise bad_value(f"Topology for kernel {k.name!r}", topology_text(widths),
                        f"'{k.n_in}-...-{k.n_out}' (its {k.n_in} input{'s' * (k.n_in != 1)} and "
                        f"{k.n_out} output{'s' * (k.n_out != 1)})")
    pw = parse_topology(pred or d["pred"], "Prediction topology", min_layers=1)
    if pw[0] != k.n_in:
        raise bad_value(f"Prediction topology for kernel {k.name!r}", topology_text(pw),
                        f"'{k.n_in}-hidden...' (input width first, the output layer implied)")
    control = _control(control)
    match = match_params and method in ("onepass", "iterative")
    matched = match_predictor(widths, pw[1:], p_outputs, control) if match else None
    if method == "axnet":
        hidden = pw[1:]
    elif method in ("sharing", "approximator"):
        hidden = ()
    else:
        hidden = matched["hidden"] if matched else pw[1:]
    cfg = RunConfig(kernel=k.name, method=method, topology=topology_text(widths), pred=topology_text(pw),
                    predictor_hidden=tuple(hidden), p_outputs=p_outputs, control=control, group=group, seed=seed,
                    epochs=d["epochs"] if epochs is None else epochs,
                    batch_size=d["batch_size"] if batch_size is None else batch_size,
                    lr=d["lr"] if lr is None else lr, iterations=iterations, val_fraction=val_fraction,
                    n_train=k.n_train if n_train is None else n_train, n_test=k.n_test if n_test is None else n_test,
                    acts=tuple(acts or ()))
    k.bound(group)
    with torch.random.fork_rng(devices=[]):   # counting builds networks: keep the caller's RNG stream
        params = {"net": n_params(build_net(cfg)), "axnet": n_params(AXNet(widths, pw[1:], p_outputs, control))}
    if matched:
        params.update(baseline=matched["baseline_params"], hidden=list(matched["hidden"]),
                      rel_diff=matched["rel_diff"])
    return cfg, params


class TrainedRun:
    """A trained method: its network (forward ``x -> (H(x), P logits)``, network units) and meta.

    Attributes
    ----------
    net : torch.nn.Module -- :class:`.nets.AXNet`, :class:`.nets.PairNet` or :class:`.nets.SharingNet`.
    meta : dict -- ``config`` (the :class:`.methods.RunConfig`), ``params``, ``train_time_s``,
        ``history`` (per epoch: stage, loss, validation losses and metrics), ``metrics`` (float,
        test split), ``weights_sha256``, ``resumed_from``, ``threads``.
    """

    def __init__(self, net, meta):
        self.net = net
        self.meta = meta

    @property
    def config(self):
        c = dict(self.meta["config"])
        c["predictor_hidden"] = tuple(c["predictor_hidden"])
        return RunConfig(**c)

    @property
    def method(self):
        return self.meta["config"]["method"]

    @property
    def kernel(self):
        return self.meta["config"]["kernel"]

    @property
    def train_time_s(self):
        return self.meta["train_time_s"]

    @property
    def metrics(self):
        return self.meta["metrics"]

    def save(self, directory):
        """Write ``net.pt`` (the state dict) and ``meta.json`` to ``directory`` (atomically)."""
        d = Path(directory)
        save_torch(d / NET, self.net.state_dict())
        write_json(d / META, self.meta)
        return d

    def __repr__(self):
        c = self.meta["config"]
        return f"TrainedRun({c['method']} on {c['kernel']}, topology {c['topology']}, seed {c['seed']})"


def load(directory):
    """The :class:`TrainedRun` saved in ``directory``."""
    d = Path(directory)
    if not (d / NET).exists() or not (d / META).exists():
        raise bad_value("AXNet run directory", str(d), f"a folder with {NET} and {META} (from axnet train)")
    try:
        meta = json.loads((d / META).read_text())
        run = TrainedRun(None, meta)
        run.net = build_net(run.config)
        run.net.load_state_dict(torch.load(d / NET, weights_only=True))
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise AxforgeError(f"AXNet run directory {d} must hold a readable run, not a broken one ({exc})")
    run.net.eval()
    return run


def train(kernel, method="axnet", topology=None, pred=None, group=1, epochs=None, seed=0, out_dir=None,
          progress=True, *, p_outputs=1, control="all", iterations=2, batch_size=None, lr=None, val_fraction=0.1,
          n_train=None, n_test=None, match_params=True, resume=True, threads=None, callback=None, pinned=True,
          acts=None):
    """Train ``method`` on ``kernel`` and return the :class:`TrainedRun` (saved to ``out_dir`` if given).

    Parameters
    ----------
    kernel : Kernel or str -- a kernel or a registered kernel's name.
    method : str -- ``axnet``, ``onepass``, ``iterative``, ``sharing`` or ``approximator`` (:data:`.methods.METHODS`).
    topology : str -- the approximator ``"input-hidden...-output"`` (default: :data:`DEFAULTS`).
    pred : str -- AXNet's prediction subnet ``"input-hidden..."``; the baselines' predictor gets as
        many hidden layers, of the width that matches AXNet's parameter count within 3 %
        (:func:`.nets.match_predictor`; ``match_params=False``: ``pred``'s own widths).
    group : 1 or 2 -- the error bound (``kernel.bound(group)``).
    epochs : int -- epochs of every stage (default: :data:`GENERIC` / :data:`DEFAULTS`).
    seed : int
    out_dir : path, optional -- checkpoints (``ckpt.pt``, every epoch) and the result
        (``net.pt``, ``meta.json``); an interrupted run resumes from it (``resume``).
    progress : bool -- a tqdm bar.
    p_outputs : 1 or 2 -- P(x) as a sigmoid of one logit or a softmax of two.
    control : "all" or int -- AXNet's control vectors (see :class:`.nets.AXNet`).
    iterations : int -- the iterative method's retrain/relabel rounds.
    batch_size, lr : training settings (default: the kernel's defaults).
    val_fraction : float -- share of the kernel's train split held out for validation.
    n_train, n_test : int, optional -- split sizes (default: the kernel's).
    acts : sequence of str, optional -- the approximator's hidden activations, one of relu,
        sigmoid, tanh per hidden layer (default ReLU; not for ``sharing``).
    threads : int, optional -- torch threads while training (default 1, or
        ``$AXFORGE_TRAIN_THREADS``); the same seed and thread count give the same weights.
    callback : callable, optional -- called after every epoch (see :func:`.methods.fit`).
    pinned : bool -- train a registered kernel in a spawned child with pinned float kernels
        (:func:`axforge.models.train.run_pinned`), so that the same seed and thread count give
        the same weights on any x86 CPU with AVX2; off, or with a ``callback`` or an unregistered
        :class:`Kernel`, it trains in this process (the same weights on this machine).
    """
    k = _kernel(kernel)
    if pinned and callback is None and os.environ.get("AXFORGE_TRAIN_CHILD") != "1" \
            and KERNELS.get(k.name) is not None and kernel_named(k.name) is k:
        kwargs = dict(kernel=k.name, method=method, topology=topology, pred=pred, group=group, epochs=epochs,
                      seed=seed, progress=progress, p_outputs=p_outputs, control=control, iterations=iterations,
                      batch_size=batch_size, lr=lr, val_fraction=val_fraction, n_train=n_train, n_test=n_test,
                      match_params=match_params, resume=resume, threads=threads, acts=list(acts or ()))
        resolve_config(k, method, topology, pred, group, epochs, seed, p_outputs, control, iterations,
                       batch_size, lr, val_fraction, n_train, n_test, match_params, acts)   # bad input: error here
        if out_dir is not None:
            run_pinned(_train_saved, {**kwargs, "out_dir": str(out_dir)}, train_threads(threads))
            return load(out_dir)
        with tempfile.TemporaryDirectory(prefix="axnet-") as tmp:
            run_pinned(_train_saved, {**kwargs, "out_dir": tmp}, train_threads(threads))
            return load(tmp)
    cfg, params = resolve_config(k, method, topology, pred, group, epochs, seed, p_outputs, control, iterations,
                                 batch_size, lr, val_fraction, n_train, n_test, match_params, acts)
    n = train_threads(threads)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        data = prepare_data(k, cfg.seed, cfg.n_train, cfg.n_test, cfg.val_fraction)
        net, info = fit(k, cfg, out_dir, progress, resume, callback, data)
        test = data["test"]
        metrics = net_metrics(net, k, test.x, test.t, cfg.group)
    finally:
        torch.set_num_threads(before)
    meta = {"config": cfg.to_dict(), "params": params, "train_time_s": info["train_time_s"],
            "resumed_from": info["resumed_from"], "history": info["history"], "metrics": metrics,
            "splits": {"train": len(data["train"]), "val": len(data["val"]), "test": len(data["test"])},
            "bound": k.bound(cfg.group), "weights_sha256": weights_digest(net.state_dict()), "threads": n,
            "torch": torch.__version__,
            "kernels": {"aten": torch.backends.cpu.get_cpu_capability(), "mkl_cbwr": os.environ.get("MKL_CBWR"),
                        "onednn": torch.backends.mkldnn.enabled, "pinned": os.environ.get("AXFORGE_TRAIN_CHILD") == "1"}}
    run = TrainedRun(net, meta)
    if out_dir is not None:
        run.save(out_dir)
    return run


def _train_saved(**kwargs):
    """:func:`train` in the pinned child; the run is saved to ``out_dir`` (nothing returned)."""
    train(**kwargs)


def evaluate(run, kernel=None, split="test", mult=None, config=None, data=None):
    """The metrics (:mod:`.metrics`) of ``run`` on ``split`` (``test``, ``val`` or ``train``), in
    float (``mult`` None) or with every Linear through multiplier ``mult`` (a spec string;
    :func:`.quantised.quantise`, calibrated on the training split, ``config`` a QuantConfig).

    ``kernel`` defaults to the registered kernel of the run's name; ``data`` to
    :func:`.methods.prepare_data` with the run's seed and sizes. The dict adds ``split``,
    ``mult`` ("float" without one), ``group`` and the run's ``train_time_s``."""
    cfg = run.config
    k = _kernel(kernel if kernel is not None else cfg.kernel)
    if k.name != cfg.kernel:
        raise bad_value("Kernel", k.name, f"the run's kernel {cfg.kernel!r}")
    if split not in ("train", "val", "test"):
        raise bad_value("Split", split, "'train', 'val' or 'test'")
    data = data or prepare_data(k, cfg.seed, cfg.n_train, cfg.n_test, cfg.val_fraction)
    net = run.net
    if mult is not None:
        net, _ = quantise(run.net, mult, data["train"].x, config)
    s = data[split]
    m = net_metrics(net, k, s.x, s.t, cfg.group)
    return {**m, "split": split, "mult": "float" if mult is None else str(mult), "group": cfg.group,
            "train_time_s": run.meta.get("train_time_s")}
