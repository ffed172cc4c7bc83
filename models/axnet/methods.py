"""The training methods: AXNet (Algorithm 1), one-pass, iterative and weight sharing; seeded, resumable.

Every method uses Adam, ReLU hidden layers, the MSE of the network outputs (network units,
``kernel.to_net_out``) for the approximation loss ``L_a`` and the binary cross entropy (one
logit) or cross entropy (two logits) against p_label for the prediction loss ``L_p``. p_label is
``kernel.safe(kernel.from_net_out(H(x)), y_raw, group)`` (:func:`.metrics.true_labels`): the
kernel's own raw-unit error, strictly below the group's bound; it is a comparison of detached
outputs, so no gradient flows through it.

A method is a list of *stages*, each trained for ``epochs`` epochs with a fresh Adam over the
parameters it trains:

=========  ====================================================================================
joint      ``J = L_a(y, H(x)) + L_p(p_label, P(x))`` over all parameters, p_label recomputed from
           the current ``H(x)`` of every batch (AXNet, weight sharing).
approx     ``L_a`` over the approximator, on the whole training split.
pred       label the training split with the approximator (frozen in this stage), then ``L_p``
           over the predictor.
retrain    ``L_a`` over the approximator, on the training inputs the last labelling called safe.
=========  ====================================================================================

``axnet`` = joint (on :class:`.nets.AXNet`); ``sharing`` = joint (on :class:`.nets.SharingNet`);
``onepass`` = approx, pred; ``iterative`` = approx, pred, then ``iterations`` times retrain,
pred; ``approximator`` = approx alone, on a pair whose predictor always says safe
(:func:`.nets.always_safe`: every input is approximated, the setting of NAS for approximate
computing, Chen et al.). Later stages continue from the weights of the earlier ones (the
predictor is fine-tuned on the new labels, not re-initialised).

Gradient routing of AXNet's joint stage: ``P(x)`` is a function of the prediction subnet alone,
so ``L_p`` reaches only the prediction subnet; ``H(x)`` depends on both subnets (through the
control vectors), so ``L_a`` reaches both. Nothing needs detaching but the label. In the weight
sharing net both losses reach the shared trunk (the instability the paper describes).

Determinism: the initial weights come from ``torch.manual_seed(seed)``, the validation split
and the batch order from numpy Generators seeded with ``[seed, 101]`` and ``[seed, 102]``. A
checkpoint after every epoch holds the weights, the optimiser, the batch-order generator's
state, torch's RNG state, the stage and epoch, the current labels and the history; a resumed run
ends with the weights of an uninterrupted one (same machine and thread count).
"""

import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from axforge.errors import AxforgeError, bad_value
from axforge.paths import atomic_write_bytes
from axforge.registry import Registry

from .metrics import predicted_safe, quality_metrics, true_labels
from .nets import AXNet, PairNet, SharingNet, always_safe, check_acts, parse_topology

__all__ = ["CKPT", "METHODS", "Method", "RunConfig", "Splits", "build_net", "fit", "losses", "prediction_loss",
           "prepare_data", "save_torch", "stages_of"]

CKPT = "ckpt.pt"
METHODS = Registry("AXNet method")


@dataclass(frozen=True)
class Method:
    """A training method: its network and its stages (see the module docstring)."""
    name: str
    net: str            # "axnet", "pair", "approximator" or "sharing"
    stages: tuple       # stage kinds before the iterations
    repeat: tuple = ()  # stage kinds repeated ``iterations`` times
    description: str = ""


for _m in (Method("axnet", "axnet", ("joint",), description="AXNet, joint training (Algorithm 1)"),
           Method("onepass", "pair", ("approx", "pred"), description="one-pass training (Mahajan et al.)"),
           Method("iterative", "pair", ("approx", "pred"), ("retrain", "pred"),
                  description="iterative training (Xu et al.)"),
           Method("sharing", "sharing", ("joint",), description="weight sharing (Sec. III-A), joint training"),
           Method("approximator", "approximator", ("approx",),
                  description="the approximator alone, every input approximated (NAS, Chen et al.)")):
    METHODS.register(_m.name, _m)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's weights (checkpoints resume only an equal config).

    ``pred`` is AXNet's prediction subnet as ``"input-hidden..."`` (its output layer is implied);
    ``predictor_hidden`` the hidden widths of the network the method really trains (AXNet's
    ``pred`` hidden layers; the baselines' equal-parameter predictor; empty for sharing)."""
    kernel: str
    method: str
    topology: str
    pred: str
    predictor_hidden: tuple
    p_outputs: int = 1
    control: object = "all"
    group: int = 1
    seed: int = 0
    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-2
    iterations: int = 2
    val_fraction: float = 0.1
    n_train: int = 0
    n_test: int = 0
    acts: tuple = ()        # the approximator's hidden activations; () = ReLU everywhere

    def __post_init__(self):
        METHODS.lookup(self.method, "Method")
        object.__setattr__(self, "acts", tuple(self.acts or ()))
        if self.acts:
            if METHODS[self.method].net == "sharing":
                raise bad_value("Training option 'acts'", list(self.acts), "empty for the weight-sharing method")
            check_acts(self.acts, len(parse_topology(self.topology, "Topology")) - 2)
        for key, lo in (("epochs", 1), ("batch_size", 1), ("iterations", 0), ("n_train", 2), ("n_test", 1)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise bad_value(f"Training option '{key}'", v, f"an integer >= {lo}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise bad_value("Training option 'seed'", self.seed, "an integer >= 0")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise bad_value("Training option 'lr'", self.lr, "a positive number")
        if not (isinstance(self.val_fraction, (int, float)) and 0 < self.val_fraction < 1):
            raise bad_value("Training option 'val_fraction'", self.val_fraction, "a number between 0 and 1")
        if self.group not in (1, 2) or isinstance(self.group, bool):
            raise bad_value("Group", self.group, "1 or 2")

    @property
    def pred_hidden(self):
        return parse_topology(self.pred, "Prediction topology", min_layers=1)[1:]

    def to_dict(self):
        """The config as JSON data; ``acts`` only when it is not the default (so the configs, run
        folders and cache keys of ReLU networks are what they were before it existed)."""
        d = json.loads(json.dumps(asdict(self)))
        if not d["acts"]:
            d.pop("acts")
        return d


def stages_of(cfg):
    """The run's stage kinds, in order."""
    m = METHODS[cfg.method]
    return list(m.stages) + list(m.repeat) * cfg.iterations


def build_net(cfg):
    """The untrained network of ``cfg`` (initialised from torch's global RNG)."""
    kind = METHODS[cfg.method].net
    acts = cfg.acts or None
    if kind == "axnet":
        return AXNet(cfg.topology, cfg.pred_hidden, cfg.p_outputs, cfg.control, acts)
    if kind == "pair":
        return PairNet(cfg.topology, cfg.predictor_hidden, cfg.p_outputs, acts)
    if kind == "approximator":
        return always_safe(PairNet(cfg.topology, (), 1, acts))
    return SharingNet(cfg.topology, cfg.p_outputs)


@dataclass
class Splits:
    """Network-unit inputs ``x`` and targets ``y`` (float32 tensors) and raw targets ``t`` (numpy)
    of one split."""
    x: torch.Tensor
    y: torch.Tensor
    t: np.ndarray
    x_raw: np.ndarray = field(repr=False, default=None)

    def __len__(self):
        return len(self.x)


def prepare_data(kernel, seed, n_train, n_test, val_fraction=0.1):
    """``{"train", "val", "test"}`` :class:`Splits`: ``kernel.data(seed, n_train, n_test)``, the
    validation split the first ``round(val_fraction * n_train)`` (at least 1) of a permutation of
    the kernel's train split drawn with ``numpy.random.default_rng([seed, 101])``."""
    data = kernel.data(seed, n_train, n_test)
    x, y = data["train"]
    perm = np.random.default_rng([seed, 101]).permutation(len(x))
    n_val = min(len(x) - 1, max(1, round(val_fraction * len(x))))
    parts = {"train": np.sort(perm[n_val:]), "val": np.sort(perm[:n_val])}
    out = {k: _split(kernel, x[i], y[i]) for k, i in parts.items()}
    out["test"] = _split(kernel, *data["test"])
    return out


def _split(kernel, x_raw, t_raw):
    xn = np.asarray(kernel.to_net_in(x_raw), dtype=np.float32).reshape(len(x_raw), -1)
    yn = np.asarray(kernel.to_net_out(t_raw), dtype=np.float32).reshape(len(t_raw), -1)
    return Splits(torch.from_numpy(np.ascontiguousarray(xn)), torch.from_numpy(np.ascontiguousarray(yn)),
                  np.asarray(t_raw), np.asarray(x_raw))


def prediction_loss(p_logits, labels):
    """``L_p``: BCE with logits (one output) or cross entropy (two outputs, class 1 = safe)."""
    labels = torch.as_tensor(labels)
    if p_logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(p_logits[:, 0], labels.to(p_logits.dtype))
    return F.cross_entropy(p_logits, labels.long())


def losses(net, x, y, t_raw, kernel, group):
    """The joint stage's ``(L_a, L_p, p_label)`` on one batch: ``L_a = MSE(H(x), y)``, p_label
    from the current ``H(x)`` (no gradient), ``L_p`` against it."""
    h, p = net(x)
    labels = torch.from_numpy(true_labels(kernel, h, t_raw, group))
    return F.mse_loss(h, y), prediction_loss(p, labels), labels


def save_torch(path, obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def _trained_params(net, kind):
    if kind == "joint":
        return list(net.parameters())
    return list((net.pred if kind == "pred" else net.approx).parameters())


@torch.no_grad()
def _validate(net, kernel, split, group):
    """Validation losses and metrics of the current network."""
    was = net.training
    net.eval()
    h, p = net(split.x)
    net.train(was)
    labels = true_labels(kernel, h, split.t, group)
    err = kernel.errors(kernel.from_net_out(h.numpy()), split.t)
    m = quality_metrics(err, labels, predicted_safe(p))
    return {"val_mse": float(F.mse_loss(h, split.y)), "val_lp": float(prediction_loss(p, torch.from_numpy(labels))),
            "val_true_invocation": m["true_invocation"], "val_accuracy": m["accuracy"],
            "val_true_label_rate": m["true_label_rate"]}


def _epoch(net, kind, opt, data, kernel, cfg, labels, rng):
    """One epoch of stage ``kind``; returns the mean training loss (None without a batch)."""
    train = data["train"]
    if kind == "retrain":
        pool = np.flatnonzero(labels)
    else:
        pool = np.arange(len(train))
    order = rng.permutation(pool)
    net.train()
    total, seen = 0.0, 0
    label_t = torch.from_numpy(labels) if labels is not None else None
    for b in range(0, len(order), cfg.batch_size):
        ib = order[b:b + cfg.batch_size]
        it = torch.from_numpy(ib)
        xb = train.x[it]
        opt.zero_grad(set_to_none=True)
        if kind == "joint":
            la, lp, _ = losses(net, xb, train.y[it], train.t[ib], kernel, cfg.group)
            loss = la + lp
        elif kind == "pred":
            loss = prediction_loss(net.pred(xb), label_t[it])
        else:
            loss = F.mse_loss(net.approx(xb), train.y[it])
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(ib)
        seen += len(ib)
    return total / seen if seen else None


@torch.no_grad()
def _label(net, kernel, split, group):
    net.eval()
    return true_labels(kernel, net.approx(split.x), split.t, group)


def fit(kernel, cfg, out_dir=None, progress=True, resume=True, callback=None, data=None):
    """Train ``cfg`` on ``kernel``; returns ``(net, info)`` with ``info`` = ``history`` (per epoch),
    ``train_time_s`` (the stages' training and labelling, not validation or checkpoints, summed
    over resumed sessions) and ``resumed_from`` (stage and epoch, or None).

    With ``out_dir`` a checkpoint ``ckpt.pt`` is written atomically after every epoch and, with
    ``resume``, one of an equal config is continued. ``callback(info)`` runs after every epoch's
    checkpoint (``info``: stage index, stage kind, epoch in the stage, global epoch); an exception
    it raises stops the run there (how tests interrupt one)."""
    from tqdm import tqdm
    data = data or prepare_data(kernel, cfg.seed, cfg.n_train, cfg.n_test, cfg.val_fraction)
    kinds = stages_of(cfg)
    torch.manual_seed(cfg.seed)
    net = build_net(cfg)
    rng = np.random.default_rng([cfg.seed, 102])
    stage, epoch, labels, history, elapsed, opt_state, resumed = 0, 0, None, [], 0.0, None, None
    ckpt = Path(out_dir) / CKPT if out_dir is not None else None
    if ckpt is not None and resume and ckpt.exists():
        try:
            ck = torch.load(ckpt, weights_only=False)
        except Exception as exc:   # noqa: BLE001 - a broken checkpoint is a user-facing error
            raise AxforgeError(f"Checkpoint {ckpt} must be readable, not broken ({type(exc).__name__}: {exc}); "
                               "delete it to start again")
        if ck.get("config") == cfg.to_dict():
            net.load_state_dict(ck["model"])
            torch.set_rng_state(ck["rng_torch"])
            rng.bit_generator.state = ck["rng_numpy"]
            stage, epoch, history, elapsed = ck["stage"], ck["epoch"], ck["history"], ck["train_time_s"]
            labels = None if ck["labels"] is None else ck["labels"].numpy().astype(bool)
            opt_state = ck["opt"]
            resumed = {"stage": stage, "epoch": epoch}
    done = stage * cfg.epochs + epoch
    bar = tqdm(total=len(kinds) * cfg.epochs, initial=done, disable=not progress,
               desc=f"{cfg.method} {cfg.kernel}", leave=False)
    try:
        while stage < len(kinds):
            kind = kinds[stage]
            if epoch >= cfg.epochs:
                stage, epoch, opt_state = stage + 1, 0, None
                continue
            opt = torch.optim.Adam(_trained_params(net, kind), lr=cfg.lr)
            t0 = time.perf_counter()
            if opt_state is not None:
                opt.load_state_dict(opt_state)
                opt_state = None
            elif kind == "pred":
                labels = _label(net, kernel, data["train"], cfg.group)
            elapsed += time.perf_counter() - t0
            while epoch < cfg.epochs:
                t0 = time.perf_counter()
                loss = _epoch(net, kind, opt, data, kernel, cfg, labels, rng)
                elapsed += time.perf_counter() - t0
                epoch += 1
                row = {"stage": stage, "kind": kind, "epoch": epoch, "train_loss": loss,
                       **_validate(net, kernel, data["val"], cfg.group)}
                history.append(row)
                if ckpt is not None:
                    save_torch(ckpt, {"config": cfg.to_dict(), "stage": stage, "epoch": epoch, "model": net.state_dict(),
                                 "opt": opt.state_dict(), "rng_torch": torch.get_rng_state(),
                                 "rng_numpy": rng.bit_generator.state, "history": history,
                                 "train_time_s": elapsed,
                                 "labels": None if labels is None else torch.from_numpy(labels.copy())})
                bar.update(1)
                bar.set_postfix(stage=f"{kind}{stage}", loss="-" if loss is None else f"{loss:.4f}",
                                val_mse=f"{row['val_mse']:.4g}", val_acc=f"{row['val_accuracy']:.3f}",
                                val_tinv=f"{row['val_true_invocation']:.3f}")
                if callback is not None:
                    callback({"stage": stage, "kind": kind, "epoch": epoch, "global_epoch": len(history)})
    finally:
        bar.close()
    net.eval()
    return net, {"history": history, "train_time_s": elapsed, "resumed_from": resumed}
