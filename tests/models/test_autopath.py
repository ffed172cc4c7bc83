"""autopath: ``auto`` times its candidate paths once per shape class, remembers the choice in memory and
in a verified file per machine kind, and whichever path wins, the outputs are the same, bit for bit."""

import json
import time

import pytest
import torch

import reference as ref
from axforge.errors import AxforgeError
from axforge.hdl.arith import MultSpec
from axforge.models import autopath
from axforge.models.layers import ApproxConv2d, ApproxLinear, QuantConfig, calibrate
from axforge.models.lutmm import table_for

TRUNC = "trunc:8x8u:k=6,comp=const"


@pytest.fixture(autouse=True)
def fresh(tmp_path, monkeypatch):
    """A private cache directory and no remembered choices, before and after each test."""
    monkeypatch.setenv("AXFORGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("AXFORGE_AUTO", raising=False)
    monkeypatch.delenv("AXFORGE_AUTO_CACHE", raising=False)
    autopath.forget()
    yield
    autopath.forget()


def runner(costs):
    """``run(candidate)`` that takes ``costs[candidate]`` seconds, and the list of calls made."""
    calls = []

    def run(c):
        calls.append(c)
        time.sleep(costs[c])
    return run, calls


def test_the_fastest_is_timed_once_and_remembered_on_disk(tmp_path):
    run, calls = runner({"lowrank": 0.02, "lut": 0.002})
    key = ("matmul", "x", 1024, 64, 8)
    assert autopath.choose(key, ["lowrank", "lut"], run, "lowrank", "float") == "lut"
    assert calls == ["lowrank", "lut"] * (1 + autopath._ROUNDS)     # a warm-up, then the timed rounds
    calls.clear()
    assert autopath.choose(key, ["lowrank", "lut"], run, "lowrank", "float") == "lut" and calls == []
    autopath.forget()                    # a new process: the choice comes from the file
    assert autopath.choose(key, ["lowrank", "lut"], run, "lowrank", "float") == "lut" and calls == []
    files = list((tmp_path / "cache" / "autopath").glob("*.json"))
    assert len(files) == 1
    stored = json.loads(files[0].read_text())["value"]
    assert stored["machine"] == autopath.machine("float") and list(stored["choices"].values()) == ["lut"]
    # another route is another machine kind (another file); a tampered file is not trusted
    assert autopath.choose(key, ["lowrank", "lut"], run, "lowrank", "u8x7") == "lut" and calls
    files = sorted((tmp_path / "cache" / "autopath").glob("*.json"))
    assert len(files) == 2
    for f in files:
        data = json.loads(f.read_text())
        data["value"]["choices"] = {k: "lowrank" for k in data["value"]["choices"]}
        f.write_text(json.dumps(data))
    autopath.forget()
    calls.clear()
    assert autopath.choose(key, ["lowrank", "lut"], run, "lowrank", "float") == "lut" and calls


def test_a_file_for_another_machine_is_ignored(tmp_path, monkeypatch):
    run, calls = runner({"lowrank": 0.02, "lut": 0.002})
    key = ("matmul", "y", 1, 2, 3)
    autopath.choose(key, ["lowrank", "lut"], run, "lowrank", "float")
    monkeypatch.setattr(autopath, "machine", lambda route: {"cpu": "another", "route": route})
    autopath.forget()
    calls.clear()
    # the other machine's file has no choice for this key: timed again, written to that machine's file
    assert autopath.choose(key, ["lowrank", "lut"], run, "lowrank", "float") == "lut" and calls
    assert len(list((tmp_path / "cache" / "autopath").glob("*.json"))) == 2


def test_no_disk_cache_and_static_mode(tmp_path, monkeypatch):
    run, calls = runner({"lowrank": 0.01, "lut": 0.0})
    monkeypatch.setenv("AXFORGE_AUTO_CACHE", "0")
    assert autopath.choose(("a",), ["lowrank", "lut"], run, "lowrank", "float") == "lut"
    assert not (tmp_path / "cache" / "autopath").exists()
    monkeypatch.setenv("AXFORGE_AUTO", "static")
    calls.clear()
    assert autopath.choose(("b",), ["lowrank", "lut"], run, "lowrank", "float") == "lowrank" and calls == []
    assert autopath.choose(("c",), ["lut"], run, "lowrank", "float") == "lut" and calls == []   # one candidate
    monkeypatch.setenv("AXFORGE_AUTO", "fastest")
    with pytest.raises(AxforgeError, match=r"^AXFORGE_AUTO must be 'time' or 'static', not 'fastest'$"):
        autopath.choose(("d",), ["lowrank", "lut"], run, "lowrank", "float")


def test_the_fixed_rule_stays_unless_another_is_clearly_faster(monkeypatch):
    """A candidate must beat the fixed rule's by 5 % (median ratio over the rounds)."""
    for lut_time, want in ((0.97, "lowrank"), (0.90, "lut")):
        # per round: lowrank starts at 0 and takes 1.0, lut takes lut_time
        stamps = []
        for r in range(autopath._ROUNDS):
            base = 10.0 * r
            stamps += [base, base + 1.0, base + 2.0, base + 2.0 + lut_time]
        monkeypatch.setattr(autopath, "_clock", iter(stamps).__next__)
        got = autopath._time(["lowrank", "lut"], lambda c: None, "lowrank")
        assert got == want, lut_time


def one_layer(kind, path):
    torch.manual_seed(3)
    spec = MultSpec.parse(TRUNC)
    if kind == "linear":
        layer = ApproxLinear(40, 9, spec=spec, config=QuantConfig(path=path))
        x = torch.randn(70, 40)
    else:
        layer = ApproxConv2d(8, 6, 3, padding=1, spec=spec, config=QuantConfig(path=path))
        x = torch.randn(5, 8, 7, 7)
    calibrate(layer, [x])
    return layer, x


@pytest.mark.parametrize("gemm", ["float", "u8x7"])
@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_auto_gives_the_same_outputs_whichever_candidate_wins(kind, gemm, monkeypatch):
    """Each candidate of ``auto`` (lowrank, lut; on u8x7 the convolution's tap, unfolded and float
    convolutions apart) forced to win in turn: the outputs are identical, bit for bit, to each other, to the
    explicit paths' and (within float32 rounding) to the reference; the layer reports the winner."""
    ref.set_route(monkeypatch, gemm)
    monkeypatch.setenv("AXFORGE_AUTO_CACHE", "0")       # each winner is chosen afresh
    outs = {}
    for path in ("lowrank", "lut"):
        layer, x = one_layer(kind, path)
        with torch.no_grad():
            outs[path] = layer(x)
    seen = set()
    for winner in ("lowrank", "lowrank/tap", "lowrank/unfold", "lowrank/float", "lut"):
        monkeypatch.setattr(autopath, "_time", lambda cands, run, ref_, w=winner: w if w in cands else ref_)
        autopath.forget()
        layer, x = one_layer(kind, "auto")
        with torch.no_grad():
            y = layer(x)
        chosen = layer._wcache["auto_path"]
        seen.add(chosen)
        assert layer.resolved_path == chosen.partition("/")[0]
        assert torch.equal(y, outs["lut"]) and torch.equal(y, outs["lowrank"]), (winner, chosen)
    want = {"linear": {"lowrank", "lut"}, "conv": {"lowrank", "lut"} if gemm == "float" else
            {"lowrank/tap", "lowrank/unfold", "lowrank/float", "lut"}}[kind]
    assert seen == want
    layer, x = one_layer(kind, "auto")
    if kind == "linear":
        _, y_ref, step, _ = ref.linear_ref(layer, x)
    else:
        _, y_ref, step = ref.conv_ref(layer, x)
    ref.assert_outputs(outs["lut"], y_ref, step, 0, f"{kind} auto")


def test_auto_matmul_keeps_only_the_winners_tables(monkeypatch):
    ref.set_route(monkeypatch, "float")
    t = table_for(MultSpec.parse(TRUNC))
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (300, 50), generator=g)
    w = torch.randint(0, 256, (50, 4), generator=g)
    cache = {}
    y = t.matmul(x, w, "auto", wcache=cache)
    chosen = cache["auto_path"]
    assert chosen in ("lowrank", "lut") and torch.equal(y, t.matmul(x, w, "lut"))
    assert [k for k in cache if isinstance(k, tuple) and k[0] == "auto"] == [("auto", chosen)]
    assert t.auto_candidates() == ["lowrank", "lut"] and t.auto_candidates(rank=2) == ["lowrank"]
    assert table_for(None).auto_candidates() == ["exact"]
