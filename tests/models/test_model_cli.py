"""`axforge model train / eval / sensitivity` end to end on the digits set (small MLP, few epochs)."""

import json

import pytest
import torch

from axforge.cli import main
from axforge.models import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp")
    assert main(["model", "train", "mlp", "--epochs", "3", "-o", str(out), "-q"]) == 0
    return out


def test_train_writes_checkpoint_and_resumes(trained, capsys):
    meta = json.loads((trained / "meta.json").read_text())
    assert meta["arch"] == "mlp" and meta["epochs"] == 3 and meta["test_accuracy"] > 0.8
    assert meta["resumed_from_epoch"] == 0
    assert main(["model", "train", "mlp", "--epochs", "3", "-o", str(trained), "-q"]) == 0   # resumes: 0 epochs left
    again = json.loads((trained / "meta.json").read_text())
    assert again["resumed_from_epoch"] == 3 and again["test_accuracy"] == meta["test_accuracy"]


def test_an_interrupted_run_resumes_to_the_uninterrupted_weights(tmp_path, monkeypatch):
    """Stopped after its first epoch, a run picks up at epoch 1 and ends bit for bit where an
    uninterrupted run ends; a checkpoint of other settings is not resumed. (The runs train in this
    process, as the pinned training process does, so that the interruption can be injected.)"""
    monkeypatch.setenv("AXFORGE_TRAIN_CHILD", "1")
    full = train.train_model("mlp", epochs=3, out_dir=tmp_path / "full", progress=False)
    real, calls = train.evaluate, []

    def stop_in_epoch_two(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(train, "evaluate", stop_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train.train_model("mlp", epochs=3, out_dir=tmp_path / "cut", progress=False)
    monkeypatch.setattr(train, "evaluate", real)
    assert torch.load(tmp_path / "cut" / train.CKPT, weights_only=False)["epoch"] == 1
    resumed = train.train_model("mlp", epochs=3, out_dir=tmp_path / "cut", progress=False)
    assert (full["resumed_from_epoch"], resumed["resumed_from_epoch"]) == (0, 1)
    a = torch.load(tmp_path / "full" / train.MODEL)
    b = torch.load(tmp_path / "cut" / train.MODEL)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["test_accuracy"] == full["test_accuracy"]
    other = train.train_model("mlp", epochs=3, lr=0.02, out_dir=tmp_path / "cut", progress=False)
    assert other["resumed_from_epoch"] == 0


def test_eval_with_mapping(trained, tmp_path, capsys):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("net.1: mitchell:8x8u:ec=1\nnet.5: trunc:8x8u:k=6,comp=const\n")
    out = tmp_path / "eval.json"
    assert main(["model", "eval", str(trained), "--mapping", str(mapping), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    specs = {r["name"]: r["spec"] for r in res["layers"]}
    assert specs["net.1"].startswith("mitchell") and specs["net.3"] == "exact"
    assert {r["name"]: r["macs"] for r in res["layers"]}["net.1"] == 64 * 64
    assert abs(res["exact_accuracy"] - res["float_accuracy"]) < 0.05
    assert main(["model", "eval", str(trained), "--json", str(tmp_path / "none.json")]) == 0   # no mapping
    none = json.loads((tmp_path / "none.json").read_text())
    assert none["accuracy"] == none["exact_accuracy"] == res["exact_accuracy"]
    assert "with the mapping" in capsys.readouterr().out


def test_sensitivity_json_and_heatmap(trained, tmp_path):
    out = tmp_path / "sens"
    assert main(["model", "sensitivity", str(trained), "--mults", "trunc:8x8u:k=6,comp=const,mitchell:8x8u:ec=1",
                 "-o", str(out), "-q", "--limit", "120"]) == 0
    res = json.loads((out / "sensitivity.json").read_text())
    assert res["layers"] == ["net.1", "net.3", "net.5"] and len(res["mults"]) == 2 and res["images"] == 120
    # each cell is the accuracy of `model eval` with that one layer mapped (the rest exact)
    for layer in ("net.1", "net.5"):
        for mult, acc in res["accuracy"][layer].items():
            mapping = tmp_path / "one.yaml"
            mapping.write_text(f"{layer}: {mult}\n")
            assert main(["model", "eval", str(trained), "--mapping", str(mapping), "--limit", "120",
                         "--split", "val", "--json", str(tmp_path / "one.json")]) == 0
            assert json.loads((tmp_path / "one.json").read_text())["accuracy"] == acc, (layer, mult)
    assert len({v for row in res["accuracy"].values() for v in row.values()}) > 1
    assert (out / "sensitivity.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, message", [
    (["model", "eval", "NOPE"], "Model directory must be a folder with model.pt"),
    (["model", "train", "mlp", "--epochs", "0", "-o", "{tmp}/X"], "Training option 'epochs' must be an integer >= 1, not 0"),
    (["model", "eval", "{trained}", "--path", "lut", "--a-width", "3"],
     "Quantisation key 'a_width' must be an integer between 4 and 16, not 3"),
])
def test_bad_input_exits_2(argv, message, trained, capsys, tmp_path):
    argv = [a.replace("{trained}", str(trained)).replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "X").exists()
