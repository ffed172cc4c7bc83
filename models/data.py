"""Datasets without internet: scikit-learn's handwritten digits (built in) and CIFAR-10 pickles on disk.

Every dataset has three splits: train, validation and test. The validation
split is carved out of the training data, stratified by class and seeded
(:func:`validation_split`); searches, calibrations and the trainer look at it,
and the test split is read once, to report what was chosen.
"""

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from axforge.errors import AxforgeError, bad_value
from axforge.registry import Registry

__all__ = ["Dataset", "DATASETS", "load_dataset", "load_cifar10", "validation_split", "VAL_FRACTION"]

VAL_FRACTION = {"digits": 0.2, "cifar10": 0.1}   # share of the training data held out for validation

# name -> loader(root, seed) -> Dataset; a loader registers itself with ``@DATASETS.register("name")``
DATASETS = Registry("Dataset")


@dataclass
class Dataset:
    """Normalised train / validation / test tensors (N, C, H, W) float32 and int64 labels."""
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: int

    def split(self, name):
        """``(x, y)`` of the split ``name``: ``train``, ``val`` or ``test``."""
        if name not in ("train", "val", "test"):
            raise bad_value("Split", name, "train, val or test")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    @property
    def in_shape(self):
        return tuple(self.x_train.shape[1:])


def validation_split(y, fraction, seed):
    """Indices ``(train, val)`` of a stratified, seeded split of labels ``y``: each class keeps its
    share in both parts (scikit-learn's ``train_test_split`` with ``stratify``). A set too small to
    stratify (a class with one image, or fewer validation images than classes) is split unstratified."""
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(y))
    counts = np.unique(y, return_counts=True)[1]
    n_val = int(np.ceil(fraction * len(y)))
    strat = y if counts.min() >= 2 and n_val >= len(counts) and len(y) - n_val >= len(counts) else None
    tr, va = train_test_split(idx, test_size=fraction, random_state=seed, stratify=strat)
    return np.sort(tr), np.sort(va)


def _three_splits(name, xtr, ytr, xte, yte, seed, classes):
    """Validation carved out of the training data, then per-channel standardisation with statistics
    of the (remaining) training split only."""
    tr, va = validation_split(ytr, VAL_FRACTION[name], seed)
    xva, yva, xtr, ytr = xtr[va], ytr[va], xtr[tr], ytr[tr]
    mean = xtr.mean(axis=(0, 2, 3), keepdims=True)
    std = xtr.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    t = [torch.from_numpy(np.ascontiguousarray((a - mean) / std)) for a in (xtr, xva, xte)]
    y = [torch.from_numpy(np.asarray(b)).long() for b in (ytr, yva, yte)]
    return Dataset(name, t[0], y[0], t[1], y[1], t[2], y[2], classes)


@DATASETS.register("digits")
def _digits_loader(root, seed):
    return _digits(seed)


def _digits(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()   # 1,797 real 8x8 handwritten digits, shipped inside scikit-learn
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=0.2, random_state=seed, stratify=d.target)
    return _three_splits("digits", xtr, ytr, xte, yte, seed, 10)


def _read_batch(path):
    with open(path, "rb") as f:
        try:
            d = pickle.load(f, encoding="bytes")
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
            raise AxforgeError(f"CIFAR-10 batch {path} must be a python-pickle batch, not unreadable ({exc})")
    try:
        data = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
    except (KeyError, ValueError, TypeError) as exc:
        raise AxforgeError(f"CIFAR-10 batch {path} must hold b'data' (N x 3072 uint8) and b'labels', not ({exc})")
    if len(labels) != len(data):
        raise AxforgeError(f"CIFAR-10 batch {path} must have one label per image, not {len(labels)} for {len(data)}")
    return data, labels


def load_cifar10(root, seed=0):
    """CIFAR-10 from the standard python-pickle batches (``data_batch_1..5``, ``test_batch``) under ``root``."""
    root = Path(root)
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    train_files = sorted(root.glob("data_batch_*"))
    if not train_files or not (root / "test_batch").exists():
        raise bad_value("CIFAR-10 directory", str(root), "a folder holding data_batch_1..5 and test_batch")
    parts = [_read_batch(p) for p in train_files]
    xtr = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    ytr = np.concatenate([p[1] for p in parts])
    xte, yte = _read_batch(root / "test_batch")
    return _three_splits("cifar10", xtr, ytr, xte.astype(np.float32) / 255.0, yte, seed, 10)


@DATASETS.register("cifar10")
def _cifar10_loader(root, seed):
    if root is None:
        raise bad_value("CIFAR-10 data root (--data)", None, "the folder with the python-pickle batches")
    return load_cifar10(root, seed)


def load_dataset(name, root=None, seed=0):
    """A registered dataset: ``digits`` (built in) or ``cifar10`` (needs ``root``)."""
    return DATASETS.lookup(name)(root, seed)
