"""Approximate layers: quantisation arithmetic, conv lowering, straight-through gradients, approximate()."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reference as ref
from axforge.errors import AxforgeError
from axforge.models import convolution, layers
from axforge.models.layers import ApproxConv2d, ApproxLinear, QuantConfig, approximate, calibrate, remap
from axforge.models.quant import act_qparams, quantize, weight_qparams

TRUNC = "trunc:8x8u:k=6,comp=const"


def fake_quant(x, qp, channel_dim=None):
    q = quantize(x, qp, channel_dim).double()
    s, z = qp.scale.double(), qp.zero_point.double()
    if qp.scale.ndim and channel_dim is not None:
        shape = [1] * x.ndim
        shape[channel_dim] = -1
        s, z = s.reshape(shape), z.reshape(shape)
    return (q - z) * s


def test_act_qparams_represent_zero_exactly():
    qp = act_qparams(-1.3, 2.9, 8, signed=False)
    assert qp.qmin == 0 and qp.qmax == 255 and 0 < int(qp.zero_point) < 255
    assert fake_quant(torch.zeros(1), qp).item() == 0.0
    qs = act_qparams(-1.3, 2.9, 8, signed=True)
    assert int(qs.zero_point) == 0 and (qs.qmin, qs.qmax) == (-127, 127)
    with pytest.raises(AxforgeError, match=r"^Quantisation width must be an integer between 2 and 16, not 17$"):
        act_qparams(0, 1, 17)


def test_per_channel_weight_scales():
    w = torch.tensor([[0.1, -0.2], [4.0, 1.0]])
    qp = weight_qparams(w, 8, signed=True, per_channel=True)
    assert qp.scale.shape == (2,) and qp.scale[1] / qp.scale[0] == pytest.approx(20.0, rel=1e-5)
    assert weight_qparams(w, 8, per_channel=False).scale.ndim == 0


@pytest.mark.parametrize("signed", [False, True])
def test_exact_linear_equals_fake_quantised_float(signed):
    torch.manual_seed(0)
    lin = ApproxLinear(20, 7, config=QuantConfig(signed=signed))
    x = torch.randn(5, 20)
    calibrate(lin, [x])
    y = lin(x)
    ref = F.linear(fake_quant(x, lin.act_qp).float(), fake_quant(lin.weight, lin._weights()[1], 0).float(), lin.bias)
    assert torch.allclose(y, ref, atol=1e-5)


def conv_layer(path, groups=1, cin=4, cout=6, spec=TRUNC, **kw):
    from axforge.hdl.arith import MultSpec
    torch.manual_seed(1)
    conv = ApproxConv2d(cin, cout, 3, groups=groups, spec=MultSpec.parse(spec), config=QuantConfig(path=path), **kw)
    return conv


@pytest.mark.parametrize("gemm", ["int8", "u8x7", "float"])
@pytest.mark.parametrize("geom", [dict(padding=1), dict(stride=2, padding=1), dict(dilation=2, padding=2),
                                  dict(groups=2), dict(groups=4, cout=4, padding=1),
                                  dict(padding=1, spec="drum:8x8u:k=4")])
def test_conv_paths_agree(geom, gemm, monkeypatch):
    """lut, lowrank and the unfolded matmul route agree, and give the independent reference's outputs
    (products gathered from the RTL LUT, tests/models/reference.py); with int8 GEMMs the lowrank layer
    runs quantise-convolve-dequantise per batch chunk, as do the float convolutions (here one image
    per chunk)."""
    ref.set_route(monkeypatch, gemm)
    monkeypatch.setattr(convolution, "_CONV_CHUNK_BYTES", 1)
    monkeypatch.setattr(layers, "CONV_CHUNK_BYTES", 1)
    x = torch.randn(3, 4, 9, 9)
    outs = {}
    for path in ("lut", "lowrank"):
        conv = conv_layer(path, **geom)
        calibrate(conv, [x])
        with torch.no_grad():
            outs[path] = conv(x)
            # the unfolded matmul route computes the same integers as the convolution route
            outs[path + "_unfolded"] = conv._approx_unfolded(x)
    first = outs["lut"]
    for key, y in outs.items():
        assert y.shape == first.shape
        assert torch.allclose(y, first, rtol=0, atol=1e-5), key
    _, want, step = ref.conv_ref(conv, x)      # the same weights and calibration in every layer here
    for key, y in outs.items():
        ref.assert_outputs(y, want, step, 0, key)
    exact = conv_layer("exact", **geom)
    calibrate(exact, [x])
    with torch.no_grad():
        y_exact = exact(x)
    ref.assert_outputs(y_exact, ref.conv_ref(exact, x, exact=True)[1], step, 0, "exact")
    assert not torch.allclose(y_exact, first, atol=1e-3)   # the approximation is really there


@pytest.mark.parametrize("gemm", ["int8", "u8x7", "float"])
@pytest.mark.parametrize("path", ["lut", "lowrank", "exact"])
def test_an_empty_batch_gives_an_empty_output(path, gemm, monkeypatch):
    ref.set_route(monkeypatch, gemm)
    conv = conv_layer(path, stride=2, padding=1)
    calibrate(conv, [torch.randn(2, 4, 9, 9)])
    with torch.no_grad():
        y = conv(torch.randn(0, 4, 9, 9))
        want = conv(torch.randn(1, 4, 9, 9)).shape[1:]
    assert y.shape == (0, *want)


def test_straight_through_gradients_are_the_float_layer_gradients():
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    conv = conv_layer("lut", padding=1)
    calibrate(conv, [x.detach()])
    conv(x).square().sum().backward()
    gx, gw = x.grad.clone(), conv.weight.grad.clone()
    x.grad = None
    conv.weight.grad = None
    y_float = F.conv2d(x, conv.weight, conv.bias, padding=1)
    y_approx = conv(x).detach()
    (2 * y_approx * y_float).sum().backward()     # d/dθ of sum(y^2) with y's value frozen at y_approx
    assert torch.allclose(gx, x.grad, atol=1e-4) and torch.allclose(gw, conv.weight.grad, atol=1e-3)


@pytest.mark.parametrize("gemm", ["float", "int8", "u8x7"])
@pytest.mark.parametrize("kind", ["conv", "linear"])
@pytest.mark.parametrize("path", ["lut", "lowrank", "exact"])
def test_weight_update_invalidates_cached_tables(path, kind, gemm, monkeypatch):
    """After an in-place weight update the layer computes exactly what a fresh layer with the new
    weights (and the same calibration) computes: no weight table, factor or affine term is stale."""
    ref.set_route(monkeypatch, gemm)

    def build():
        if kind == "conv":
            return conv_layer(path, padding=1)
        from axforge.hdl.arith import MultSpec
        torch.manual_seed(1)
        return ApproxLinear(36, 5, spec=MultSpec.parse(TRUNC), config=QuantConfig(path=path))
    layer = build()
    x = torch.randn(2, 4, 6, 6) if kind == "conv" else torch.randn(7, 36)
    calibrate(layer, [x])
    with torch.no_grad():
        before = layer(x)          # builds and caches the weight-side tables
        layer.weight.mul_(-0.5).add_(0.01)
        after = layer(x)
        fresh = build()
        fresh.weight.copy_(layer.weight)
        fresh.bias.copy_(layer.bias)
        calibrate(fresh, [x])
        want = fresh(x)
    assert float(fresh.act_qp.scale) == float(layer.act_qp.scale)
    assert int(fresh.act_qp.zero_point) == int(layer.act_qp.zero_point)
    assert torch.equal(after, want)
    assert not torch.allclose(before, after)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Sequential(nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))

    def forward(self, x):
        return self.head(self.conv(x))


def test_approximate_replaces_layers_and_counts_macs():
    torch.manual_seed(0)
    model = Tiny()
    x = torch.randn(8, 1, 8, 8)
    q, report = approximate(model, {"conv": TRUNC}, [x])
    assert isinstance(q.conv, ApproxConv2d) and isinstance(q.head[2], ApproxLinear)
    assert isinstance(model.conv, nn.Conv2d) and not isinstance(model.conv, ApproxConv2d)   # original untouched
    macs = {r.name: r.macs for r in report}
    assert macs == {"conv": 8 * 8 * 4 * 9, "head.2": 256 * 3}
    assert {r.name: r.spec for r in report}["head.2"] == "exact"
    assert report[0].extra["lowrank"]["exact"] is True
    with torch.no_grad():
        y_approx = q(x)
        remap(q, {})
        y_exact = q(x)
    assert not torch.allclose(y_approx, y_exact)


def test_approximate_rejects_bad_mappings():
    with pytest.raises(AxforgeError, match=r"^Mapping layer must be one of conv, head.2, not 'conv9'$"):
        approximate(Tiny(), {"conv9": TRUNC})
    with pytest.raises(AxforgeError, match=r"operands must be 8x8 signed=False"):
        approximate(Tiny(), {"conv": "trunc:8x8s:k=6"})
    q, _ = approximate(Tiny(), {})
    with pytest.raises(AxforgeError, match=r"^Layer 'conv' must be calibrated before use"):
        q(torch.randn(1, 1, 8, 8))
