"""Every emulation path (lut, lowrank with exact factors, lowrank's SVD with a truncated rank and on a
high-rank table, exact, auto) of ApproxLinear and ApproxConv2d against an independent reference
(:mod:`reference`: own quantisation, products gathered from the RTL LUT, eq. 7 dequantisation), on
integer and float32 codes and on both GEMM routes; and ``axforge model eval`` on every path."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from torch import nn

import reference as ref
from axforge.cli import main
from axforge.hdl.arith import MultSpec
from axforge.models import convolution, layers
from axforge.models.layers import ApproxConv2d, ApproxLinear, QuantConfig, approximate, calibrate

TRUNC = "trunc:8x8u:k=6,comp=const"     # E of exact rank 7: integer (lattice) factors
CMP = "cmp42:8x8u:c=8,design=or"        # E of rank 180: lowrank is the SVD branch, auto is lut
DRUMS = "drum:8x8s:k=5"                 # signed: symmetric codes, zero points 0

CASES = [(spec, path, None) for spec in (TRUNC, CMP) for path in ("lut", "lowrank", "exact", "auto")]
CASES += [(DRUMS, "lut", None), (DRUMS, "lowrank", None), (None, "auto", None)]   # signed; an exact table
CASES += [(TRUNC, "lowrank", 2), (CMP, "lowrank", 8)]     # truncated ranks: SVD factors and an error bound
NAMES = {TRUNC: "trunc", CMP: "cmp42", DRUMS: "drums", None: "exactlut"}
IDS = [f"{NAMES[s]}-{p}" + (f"-r{r}" if r else "") for s, p, r in CASES]


def route(monkeypatch, name):
    """Force the GEMM route ``name`` (float, int8, u8x7), whatever this CPU autodetects."""
    ref.set_route(monkeypatch, name)


def make(cls, spec, path, rank, *args, **kw):
    signed = spec is not None and MultSpec.parse(spec).signed
    torch.manual_seed(7)
    return cls(*args, spec=MultSpec.parse(spec) if spec else None,
               config=QuantConfig(signed=signed, path=path, rank=rank), **kw)


def slack_of(layer, k_dim):
    """Accumulator steps the layer may deviate by: 0 unless lowrank uses SVD factors with a bound of
    0.5 or more (below 0.5 the rounding makes it bit exact)."""
    path = layer.resolved_path
    if path != "lowrank":
        return 0, path
    info = layer.table.lowrank_info(k_dim, layer.config.rank)
    if info.method == "svd":
        assert info.exact == (info.bound < 0.5)
        return (0 if info.bound < 0.5 else int(np.floor(info.bound + 0.5))), "svd"
    assert info.exact and info.bound == 0
    return 0, path


def expected_route(spec, path, rank):
    if spec is None:
        return "exact" if path in ("exact", "auto") else path
    if path == "auto":
        return "lut" if spec == CMP else "lowrank"
    if path == "lowrank" and (spec == CMP or rank):
        return "svd"
    return path


def check_acc(got, want, slack, what):
    got = got.numpy() if torch.is_tensor(got) else got
    assert got.shape == want.shape, what
    if slack:
        assert np.abs(got - want).max() <= slack, what
    else:
        assert np.array_equal(got, want), (what, int((got != want).sum()))


@pytest.mark.parametrize("gemm", ref.ROUTES, ids=[f"{r}-gemm" for r in ref.ROUTES])
@pytest.mark.parametrize("spec,path,rank", CASES, ids=IDS)
def test_linear_every_path_matches_the_reference(spec, path, rank, gemm, monkeypatch):
    route(monkeypatch, gemm)
    layer = make(ApproxLinear, spec, path, rank, 48, 7)
    x = torch.randn(11, 48)
    calibrate(layer, [x])
    xt = torch.cat([1.4 * torch.randn(6, 48), x[:3]])     # beyond the calibrated range too: clamped
    slack, used = slack_of(layer, 48)
    assert used == expected_route(spec, path, rank)
    acc, y_ref, step, (xq, wq) = ref.linear_ref(layer, xt, exact=layer.resolved_path == "exact")
    with torch.no_grad():
        y = layer(xt)                   # the layer's own quantisation, float32 codes
    ref.assert_outputs(y, y_ref, step, slack, f"{used} output")
    got, _, _ = layer.accumulators(xt)  # integer codes
    check_acc(got, acc, slack, "accumulators")
    # the product itself on the reference's codes, as integer and as float32 tensors
    w = torch.from_numpy(np.ascontiguousarray(wq.T))
    for xin in (torch.from_numpy(xq), torch.from_numpy(xq).float()):
        got = layer.table.matmul(xin, w, path, rank=rank, wcache={})
        check_acc(got, acc, slack, f"matmul on {xin.dtype} codes")
    if rank == 2:   # the truncated SVD really deviates (and stays within its bound, checked above)
        assert slack > 0 and not np.array_equal(layer.table.matmul(torch.from_numpy(xq), w, path, rank=rank).numpy(),
                                                acc)


@pytest.mark.parametrize("gemm", ref.ROUTES, ids=[f"{r}-gemm" for r in ref.ROUTES])
@pytest.mark.parametrize("geom", [dict(padding=1), dict(stride=2, padding=2, dilation=2, groups=2)],
                         ids=["pad1", "s2d2g2"])
@pytest.mark.parametrize("spec,path,rank", CASES, ids=IDS)
def test_conv_every_path_matches_the_reference(spec, path, rank, geom, gemm, monkeypatch):
    """The layer's own route (quantise-convolve-dequantise on float32 codes, or the unfolded matmul
    on integer codes) and the unfolded route, one image per batch chunk."""
    route(monkeypatch, gemm)
    monkeypatch.setattr(convolution, "_CONV_CHUNK_BYTES", 1)
    monkeypatch.setattr(layers, "CONV_CHUNK_BYTES", 1)
    layer = make(ApproxConv2d, spec, path, rank, 4, 6, 3, **geom)
    x = torch.randn(2, 4, 7, 7)
    calibrate(layer, [x])
    xt = torch.cat([1.4 * torch.randn(1, 4, 7, 7), x[:1]])
    slack, used = slack_of(layer, layer.weight[0].numel())
    assert used == expected_route(spec, path, rank)
    acc, y_ref, step = ref.conv_ref(layer, xt, exact=layer.resolved_path == "exact")
    with torch.no_grad():
        y = layer(xt)
        ref.assert_outputs(y, y_ref, step, slack, f"{used} output")
        ref.assert_outputs(layer._approx_unfolded(xt), y_ref, step, slack, f"{used} unfolded output")
    if rank == 2:   # a truncated rank means its SVD, as in ApproxLinear and the layer report, not exact factors
        assert slack > 0 and np.abs(y.double().numpy() - y_ref).max() > 0.5 * step.min()


def test_svd_branch_on_float_codes_does_not_crash():
    """The crash: ApproxLinear passes float32 codes, which the SVD branch used as tensor indices."""
    layer = make(ApproxLinear, CMP, "lowrank", None, 16, 3)
    x = torch.randn(4, 16)
    calibrate(layer, [x])
    with torch.no_grad():
        y = layer(x)
    _, y_ref, step, _ = ref.linear_ref(layer, x)
    ref.assert_outputs(y, y_ref, step, 0, "svd")


# -- axforge model eval on every path ----------------------------------------------------------

@pytest.fixture(scope="module")
def resnet_dir(tmp_path_factory):
    """A briefly trained ResNet-8 (it has the layer ``fc``): 1 epoch on 320 training images."""
    from axforge.models import train
    out = tmp_path_factory.mktemp("resnet8")
    real = train.load_dataset

    def few(name, root=None, seed=0):
        d = real(name, root, seed)
        return dataclasses.replace(d, x_train=d.x_train[:320], y_train=d.y_train[:320],
                                   x_test=d.x_test[:40], y_test=d.y_test[:40])
    mp = pytest.MonkeyPatch()
    mp.setattr(train, "load_dataset", few)
    try:
        assert main(["model", "train", "resnet8", "--epochs", "1", "--batch-size", "32", "-o", str(out), "-q"]) == 0
    finally:
        mp.undo()
    return out


def reference_network(directory, mapping, config, calib, limit):
    """(accuracy, logits) of the network with every Conv2d / Linear output replaced by the reference's
    (the layers' calibrated parameters, read from an approximated copy; exact products as a float64
    convolution of the codes; the mapped layers' products gathered from their RTL LUTs), and the
    approximated copy's own logits."""
    from axforge.models.train import load_trained
    trained = load_trained(directory)
    q, _ = approximate(trained.model, mapping, trained.calib_batches(calib), config)
    approx = dict(layers.approx_layers(q))
    hooks = []
    for name, mod in trained.model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            lay = approx[name]
            exact = config.path == "exact" or lay.spec is None

            def hook(_m, inputs, _out, lay=lay, exact=exact):
                if isinstance(lay, ApproxConv2d):
                    y = ref.conv_ref(lay, inputs[0], exact=exact, gather_exact=False)[1]
                else:
                    y = ref.linear_ref(lay, inputs[0], exact=exact)[1]
                return torch.from_numpy(y).float()
            hooks.append(mod.register_forward_hook(hook))
    x, y = trained.data.x_test[:limit], trained.data.y_test[:limit]
    try:
        with torch.no_grad():
            logits = trained.model.eval()(x)
    finally:
        for h in hooks:
            h.remove()
    with torch.no_grad():
        own = q.eval()(x)
    return int((logits.argmax(1) == y).sum()) / len(y), logits, own


def test_model_eval_on_every_path(resnet_dir, tmp_path):
    """``axforge model eval DIR --mapping "fc: cmp42..." --path P`` (the IndexError of the SVD branch)
    for every P: lut, lowrank (SVD, exact) and auto (lut) give the reference network's accuracy, exact
    the exact network's; the reference network's logits are those of the approximated model."""
    mapping = tmp_path / "map.yaml"
    mapping.write_text(f"fc: {CMP}\n")
    limit, calib = 64, 1
    res = {}
    for path in ("lut", "lowrank", "exact", "auto"):
        out = tmp_path / f"{path}.json"
        assert main(["model", "eval", str(resnet_dir), "--mapping", str(mapping), "--path", path, "--json", str(out),
                     "--limit", str(limit), "--calib-batches", str(calib)]) == 0, path
        res[path] = json.loads(out.read_text())
        assert res[path]["images"] == limit
    fc = {p: next(r for r in res[p]["layers"] if r["name"] == "fc") for p in res}
    assert {p: r["path"] for p, r in fc.items()} == {"lut": "lut", "lowrank": "lowrank", "exact": "exact",
                                                     "auto": "lut"}
    assert fc["lowrank"]["lowrank"]["method"] == "svd" and fc["lowrank"]["lowrank"]["exact"]
    acc = {p: r["accuracy"] for p, r in res.items()}
    assert acc["lut"] == acc["lowrank"] == acc["auto"], acc
    assert acc["exact"] == res["exact"]["exact_accuracy"], acc
    want, logits, own = reference_network(resnet_dir, {"fc": CMP}, QuantConfig(path="lowrank"), calib, limit)
    want_exact, logits_exact, own_exact = reference_network(resnet_dir, {"fc": CMP}, QuantConfig(path="exact"),
                                                            calib, limit)
    assert acc["lut"] == want and acc["exact"] == want_exact, (acc, want, want_exact)
    tol = 1e-5 * float(logits.abs().max())
    assert torch.allclose(own, logits, rtol=0, atol=tol) and torch.allclose(own_exact, logits_exact, rtol=0, atol=tol)
    assert (logits - logits_exact).abs().max() > 100 * tol     # the approximate fc really is approximate
