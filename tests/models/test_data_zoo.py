"""Datasets (digits built in, CIFAR-10 pickles) and the model zoo."""

import pickle

import numpy as np
import pytest
import torch

from axforge.errors import AxforgeError
from axforge.models.data import load_cifar10, load_dataset
from axforge.models.layers import layer_names
from axforge.models.zoo import ARCHS, build_model


def test_digits_is_the_real_scikit_learn_set():
    d = load_dataset("digits", seed=0)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (1149, 288, 360)
    assert d.in_shape == (1, 8, 8) and d.classes == 10
    assert sorted(set(d.y_test.tolist())) == list(range(10))
    assert abs(float(d.x_train.mean())) < 1e-4
    again = load_dataset("digits", seed=0)
    assert torch.equal(d.y_test, again.y_test) and torch.equal(d.x_val, again.x_val)


def test_validation_is_stratified_seeded_and_disjoint():
    """The validation split comes out of the training data (the test split stays the one a plain
    80/20 split gives), each class keeps its share within one image, another seed draws another."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from axforge.models.data import validation_split
    raw = load_digits()
    idx_tr, idx_te = train_test_split(np.arange(1797), test_size=0.2, random_state=0, stratify=raw.target)
    tr, va = validation_split(raw.target[idx_tr], 0.2, 0)
    assert not set(tr) & set(va) and len(tr) + len(va) == len(idx_tr)
    d = load_dataset("digits", seed=0)
    assert d.y_val.tolist() == raw.target[idx_tr][va].tolist()
    assert d.y_test.tolist() == raw.target[idx_te].tolist()
    overall = np.bincount(raw.target[idx_tr], minlength=10)
    share = overall * len(va) / overall.sum()
    assert np.all(np.abs(np.bincount(d.y_val.numpy(), minlength=10) - share) <= 1)
    other = load_dataset("digits", seed=1)
    assert not torch.equal(other.y_val, d.y_val)


def write_batch(path, n, seed):
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        pickle.dump({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                     b"labels": rng.integers(0, 10, n).tolist(), b"batch_label": b"x"}, f)


def test_cifar10_pickle_loader(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    write_batch(root / "data_batch_1", 12, 0)
    write_batch(root / "data_batch_2", 8, 1)
    write_batch(root / "test_batch", 5, 2)
    d = load_cifar10(tmp_path)
    assert d.x_train.shape == (18, 3, 32, 32) and d.x_val.shape == (2, 3, 32, 32)
    assert d.x_test.shape == (5, 3, 32, 32)
    labels = []
    for name in ("data_batch_1", "data_batch_2"):
        with open(root / name, "rb") as f:
            labels += pickle.load(f, encoding="bytes")[b"labels"]
    assert sorted(d.y_train.tolist() + d.y_val.tolist()) == sorted(labels)
    with pytest.raises(AxforgeError, match=r"^CIFAR-10 directory must be a folder holding data_batch_1..5"):
        load_cifar10(tmp_path / "nothing")
    (root / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(AxforgeError, match=r"must be a python-pickle batch"):
        load_cifar10(root)


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])
def test_zoo_models_run_on_both_input_sizes(arch, shape):
    model = build_model(arch, shape, 10)
    assert model(torch.randn(2, *shape)).shape == (2, 10)


def test_resnet_depths():
    # 6n + 2 weighted layers on the main path, plus two 1x1 projection shortcuts
    for arch, n in (("resnet8", 1), ("resnet14", 2), ("resnet20", 3)):
        names = layer_names(build_model(arch, (3, 32, 32), 10))
        assert len([x for x in names if "shortcut" not in x]) == 6 * n + 2
    with pytest.raises(AxforgeError, match=r"^Model architecture must be one of resnet8"):
        build_model("vgg", (1, 8, 8), 10)
