"""Training, checkpoints and evaluation of zoo models (seeded, resumable, with progress bars)."""

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from axforge.errors import AxforgeError, bad_value
from axforge.paths import atomic_write_bytes, write_json

from .data import load_dataset
from .zoo import build_model

__all__ = ["train_model", "load_trained", "evaluate", "batches", "TrainedModel", "run_pinned", "pinned_kernels",
           "train_threads"]

CKPT = "ckpt.pt"
MODEL = "model.pt"
META = "meta.json"


def _save(path, obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def weights_digest(state_dict):
    """sha256 of a state dict's names, dtypes, shapes and values: the same weights give the same digest.

    Two runs that trained the same weights have the same digest (see :func:`train_model`)."""
    h = hashlib.sha256()
    for name, t in state_dict.items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def seed_everything(seed):
    torch.manual_seed(seed)
    np.random.seed(seed % (1 << 32))


def batches(x, y=None, size=256):
    for i in range(0, len(x), size):
        yield (x[i:i + size],) if y is None else (x[i:i + size], y[i:i + size])


@torch.no_grad()
def evaluate(model, x, y, batch_size=500):
    """Top-1 accuracy (0..1) of ``model`` on tensors ``x``, ``y``."""
    model.eval()
    correct = 0
    for xb, yb in batches(x, y, batch_size):
        correct += int((model(xb).argmax(1) == yb).sum())
    return correct / max(1, len(y))


def _cpu_has_avx2():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx2" in f.read()
    except OSError:
        return False


def pinned_kernels(threads):
    """The environment of the training process: the same float kernels on every x86 CPU with AVX2.

    ATen's vectorised kernels at the AVX2 level (an AVX-512 machine would otherwise run its AVX-512
    ones), MKL in its conditional-numerical-reproducibility mode ``COMPATIBLE`` (the same code path
    on every CPU), oneDNN and NNPACK off (their kernels are picked per CPU), and a fixed thread count
    (reductions split by thread). Trained weights then depend on the seed and ``threads``, not on
    the machine."""
    return {"ATEN_CPU_CAPABILITY": "avx2" if _cpu_has_avx2() else "default", "MKL_CBWR": "COMPATIBLE",
            "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "AXFORGE_TRAIN_CHILD": "1"}


def train_threads(threads=None):
    """The trainer's thread count: ``threads``, else ``$AXFORGE_TRAIN_THREADS``, else 1."""
    value = threads if threads is not None else os.environ.get("AXFORGE_TRAIN_THREADS", "1")
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if isinstance(value, bool) or n < 1:
        raise bad_value("Training threads (--threads / AXFORGE_TRAIN_THREADS)", value, "an integer >= 1")
    return n


def _child(conn, target, kwargs):
    """The pinned process: run ``target(**kwargs)``, report its value or the error through ``conn``."""
    try:
        torch.backends.mkldnn.enabled = False
        torch.backends.nnpack.set_flags(False)
        conn.send(("ok", target(**kwargs)))
    except AxforgeError as exc:
        conn.send(("error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - a crash becomes the parent's error, with its type
        conn.send(("crash", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_pinned(target, kwargs, threads):
    """``target(**kwargs)`` in a spawned child with the pinned float kernels of :func:`pinned_kernels`
    (``threads`` threads; oneDNN and NNPACK off), its value returned (it must pickle). Inside such a
    child (``AXFORGE_TRAIN_CHILD=1``) it runs in place. ``target`` must be a module-level function."""
    if os.environ.get("AXFORGE_TRAIN_CHILD") == "1":
        return target(**kwargs)
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    saved = dict(os.environ)
    os.environ.update(pinned_kernels(threads))
    try:
        proc = ctx.Process(target=_child, args=(child, target, kwargs))
        proc.start()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    child.close()
    try:
        status, value = parent.recv()
    except EOFError:
        status, value = "crash", "the training process ended without a result"
    proc.join()
    if status == "ok":
        return value
    if status == "error":
        raise AxforgeError(value)
    raise RuntimeError(f"Training failed in its process (exit {proc.exitcode}): {value}")


def train_model(arch, dataset="digits", out_dir="out/model", epochs=30, batch_size=64, lr=0.05, seed=0,
                data_root=None, progress=True, resume=True, threads=None):
    """Train ``arch`` on ``dataset`` and write ``model.pt`` + ``meta.json`` to ``out_dir``.

    Training runs in a child process with pinned float kernels (:func:`pinned_kernels`), so the
    same seed and thread count (``threads``, default 1: the small networks here train fastest on
    one) give the same weights on any x86 CPU with AVX2; ``meta.json`` records the kernels.

    The progress bar shows the validation accuracy after each epoch; the
    weights kept are the last epoch's, and ``meta.json`` reports them on the
    validation and (once) the test split.

    A checkpoint is written after every epoch; with ``resume`` an interrupted
    run continues from it with the same seed stream, and ends with the weights
    an uninterrupted run would have. Only a checkpoint of the same settings
    (arch, dataset, seed, epochs, batch size, learning rate) is resumed: the
    one-cycle schedule depends on all of them. ``meta.json`` records the epoch
    the run resumed from (``resumed_from_epoch``, 0 for a fresh run).
    """
    for key, v, lo in (("epochs", epochs, 1), ("batch_size", batch_size, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise bad_value(f"Training option '{key}'", v, f"an integer >= {lo}")
    threads = train_threads(threads)
    kwargs = dict(arch=arch, dataset=dataset, out_dir=str(out_dir), epochs=epochs, batch_size=batch_size, lr=lr,
                  seed=seed, data_root=data_root, progress=progress, resume=resume, threads=threads)
    return run_pinned(_train, kwargs, threads)


def _train(arch, dataset, out_dir, epochs, batch_size, lr, seed, data_root, progress, resume, threads):
    from tqdm import tqdm
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = False
    torch.backends.nnpack.set_flags(False)
    seed_everything(seed)
    data = load_dataset(dataset, data_root, seed)
    model = build_model(arch, data.in_shape, data.classes)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps = epochs * -(-len(data.y_train) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    out = Path(out_dir)
    start = 0
    if resume and (out / CKPT).exists():
        ck = torch.load(out / CKPT, weights_only=False)
        same = dict(arch=arch, dataset=dataset, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr)
        if all(ck.get(k) == v for k, v in same.items()):
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["opt"])
            sched.load_state_dict(ck["sched"])
            torch.set_rng_state(ck["rng"])
            start = ck["epoch"]
    loss_fn = nn.CrossEntropyLoss()
    bar = tqdm(range(start, epochs), desc=f"train {arch}/{dataset}", disable=not progress, initial=start, total=epochs)
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(data.y_train))
        total = 0.0
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(data.x_train[idx]), data.y_train[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        acc = evaluate(model, data.x_val, data.y_val)
        bar.set_postfix(loss=f"{total / len(perm):.3f}", val_acc=f"{acc:.4f}")
        _save(out / CKPT, {"arch": arch, "dataset": dataset, "seed": seed, "epoch": epoch + 1,
                           "epochs": epochs, "batch_size": batch_size, "lr": lr,
                           "model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                           "rng": torch.get_rng_state()})
    # the weights are the last epoch's (no checkpoint is chosen by a score); the test split is read
    # once, here, to report them
    meta = {"arch": arch, "dataset": dataset, "data_root": str(data_root) if data_root else None,
            "in_shape": list(data.in_shape), "classes": data.classes, "epochs": epochs, "batch_size": batch_size,
            "lr": lr, "seed": seed, "resumed_from_epoch": start,
            "splits": {"train": len(data.y_train), "val": len(data.y_val), "test": len(data.y_test)},
            "val_accuracy": evaluate(model, data.x_val, data.y_val),
            "test_accuracy": evaluate(model, data.x_test, data.y_test),
            "weights_sha256": weights_digest(model.state_dict()), "threads": torch.get_num_threads(),
            "kernels": {"aten": torch.backends.cpu.get_cpu_capability(), "mkl_cbwr": os.environ.get("MKL_CBWR"),
                        "onednn": torch.backends.mkldnn.enabled, "nnpack": bool(torch._C._get_nnpack_enabled())},
            "params": sum(p.numel() for p in model.parameters())}
    _save(out / MODEL, model.state_dict())
    write_json(out / META, meta)
    return meta


class TrainedModel:
    """A trained model directory: the float model, its metadata and its dataset."""

    def __init__(self, directory):
        d = Path(directory)
        if not (d / MODEL).exists() or not (d / META).exists():
            raise bad_value("Model directory", str(d), "a folder with model.pt and meta.json "
                                                       "(train one with `axforge model train`)")
        try:
            self.meta = json.loads((d / META).read_text())
            if "splits" not in self.meta:
                raise AxforgeError(f"Model directory {d} must come from a trainer that held out a validation "
                                   "split (its meta.json lists no 'splits'): train it again with `axforge model "
                                   "train`")
            self.model = build_model(self.meta["arch"], self.meta["in_shape"], self.meta["classes"])
            self.model.load_state_dict(torch.load(d / MODEL, weights_only=True))
        except (ValueError, KeyError, RuntimeError) as exc:
            raise AxforgeError(f"Model directory {d} must hold a readable checkpoint, not a broken one ({exc})")
        self.model.eval()
        self.directory = d
        self._data = None

    @property
    def data(self):
        if self._data is None:
            self._data = load_dataset(self.meta["dataset"], self.meta.get("data_root"), self.meta["seed"])
        return self._data

    def calib_batches(self, n=4, size=128):
        """The first ``n`` training batches (calibration data for quantisation)."""
        return [self.data.x_train[i * size:(i + 1) * size] for i in range(n)]


def load_trained(directory):
    return TrainedModel(directory)
