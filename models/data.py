"""Datasets without internet: scikit-learn's handwritten digits (built in) and CIFAR-10 pickles on disk."""

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from axforge.errors import AxforgeError, bad_value
from axforge.registry import Registry

__all__ = ["Dataset", "DATASETS", "load_dataset", "load_cifar10"]

# name -> loader(root, seed) -> Dataset; a loader registers itself with ``@DATASETS.register("name")``
DATASETS = Registry("Dataset")


@dataclass
class Dataset:
    """Normalised train / test tensors (N, C, H, W) float32 and int64 labels."""
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: int

    @property
    def in_shape(self):
        return tuple(self.x_train.shape[1:])


def _normalise(train, test):
    """Per-channel standardisation with statistics of the training split."""
    mean = train.mean(axis=(0, 2, 3), keepdims=True)
    std = train.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    return (train - mean) / std, (test - mean) / std


@DATASETS.register("digits")
def _digits_loader(root, seed):
    return _digits(seed)


def _digits(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()   # 1,797 real 8x8 handwritten digits, shipped inside scikit-learn
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=0.2, random_state=seed, stratify=d.target)
    xtr, xte = _normalise(xtr, xte)
    return Dataset("digits", torch.from_numpy(xtr), torch.from_numpy(ytr).long(),
                   torch.from_numpy(xte), torch.from_numpy(yte).long(), 10)


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


def load_cifar10(root):
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
    xtr, xte = _normalise(xtr, xte.astype(np.float32) / 255.0)
    return Dataset("cifar10", torch.from_numpy(xtr), torch.from_numpy(ytr),
                   torch.from_numpy(xte), torch.from_numpy(yte), 10)


@DATASETS.register("cifar10")
def _cifar10_loader(root, seed):
    if root is None:
        raise bad_value("CIFAR-10 data root (--data)", None, "the folder with the python-pickle batches")
    return load_cifar10(root)


def load_dataset(name, root=None, seed=0):
    """A registered dataset: ``digits`` (built in) or ``cifar10`` (needs ``root``)."""
    return DATASETS.lookup(name)(root, seed)
