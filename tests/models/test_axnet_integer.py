"""Integer-only AXNet: the compiler's layout and scales, against the float network it comes from."""

import numpy as np
import pytest
import torch

from axforge.errors import AxforgeError
from axforge.hdl.npu.config import NpuConfig
from axforge.hdl.npu.golden import run
from axforge.hdl.npu.program import KINDS
from axforge.models.axnet import AXNet, PairNet, SharingNet
from axforge.models.axnet.integer import compile_net, dequantise, integer_metrics, quantise_inputs
from axforge.models.axnet.metrics import quality_metrics

torch.set_num_threads(1)


def _lut(width, signed):
    codes = np.arange(1 << width)
    vals = np.where(codes >= (1 << (width - 1)), codes - (1 << width), codes) if signed else codes
    return (vals[:, None] * vals[None, :]).reshape(-1)


def _net(kind="axnet", seed=0, control="all"):
    torch.manual_seed(seed)
    if kind == "axnet":
        net = AXNet("3-8-6-2", (5,), p_outputs=1, control=control)
    else:
        net = PairNet("3-8-6-2", (7,), p_outputs=2)
    with torch.no_grad():                        # open the gates and spread P, as training does
        for p in net.parameters():
            p.mul_(2.0)
    return net.eval()


def _x(n=400, seed=1, lo=-1.0):
    return torch.from_numpy(np.random.default_rng(seed).uniform(lo, 1, (n, 3)).astype(np.float32))


def _errors(net, config, x):
    prog = compile_net(net, config, x)
    out = run(prog, quantise_inputs(prog, x), _lut(config.width, config.signed), config)
    with torch.no_grad():
        h, p = net(x)
    h_err = np.abs(dequantise(prog, out["h"]) - h.numpy()).max() / np.abs(h.numpy()).max()
    p_err = np.abs(out["p"] * prog.meta["p_scale"] - p.numpy()).max() / np.abs(p.numpy()).max()
    return prog, out, h_err, p_err


def test_layout_gates_point_at_the_control_vectors():
    net = _net(control="all")
    prog = compile_net(net, NpuConfig(tiles=1, pes=2, data_depth=64), _x())
    last = prog.pred[-1]
    sig, wide, relu = KINDS.index("sigmoid"), KINDS.index("wide"), KINDS.index("relu")
    assert list(last.kind) == [sig] * 14 + [wide] and prog.p_addr == last.dst + 14
    assert [la.gate for la in prog.approx] == [last.dst, last.dst + 8, -1]       # c(1) then c(2)
    assert list(prog.approx[0].kind) == [relu] * 8 and prog.approx[0].src == 0
    assert prog.approx[1].src == prog.approx[0].dst and prog.out_addr == prog.approx[-1].dst
    one = compile_net(_net(control=2), NpuConfig(tiles=1, pes=2, data_depth=64), _x())
    assert [la.gate for la in one.approx] == [-1, one.pred[-1].dst, -1]
    pair = compile_net(_net("pair"), NpuConfig(tiles=1, pes=2, data_depth=64), _x())
    assert all(la.gate == -1 for la in pair.layers) and pair.p_outputs == 2


@pytest.mark.parametrize("kind", ["axnet", "pair"])
@pytest.mark.parametrize("signed", [True, False])
def test_integer_outputs_track_the_float_network_and_sharpen_with_width(kind, signed):
    net, x = _net(kind), _x()
    _, _, h8, p8 = _errors(net, NpuConfig(tiles=1, pes=2, width=8, signed=signed, data_depth=64), x)
    _, _, h10, p10 = _errors(net, NpuConfig(tiles=1, pes=2, width=10, signed=signed, data_depth=64), x)
    # 8 bits: within a few per cent of the output range; 10 bits: closer (in AXNet PLAN's own
    # error in the gates does not shrink with the width)
    assert h8 < 0.08 and p8 < 0.08, (h8, p8)
    f = 0.5 if kind == "pair" else 0.9
    assert h10 < f * h8 and p10 < 0.5 * p8, (h8, h10, p8, p10)


def test_inputs_and_zero_points():
    x = _x(lo=-0.5)
    prog = compile_net(_net("pair"), NpuConfig(tiles=1, pes=2, signed=False, data_depth=64), x)
    q = prog.meta["input"]
    assert q["zero_point"] == round(0.5 / q["scale"]) and q["lo"] == 0 and q["hi"] == 255
    codes = quantise_inputs(prog, x)
    assert codes.min() >= 0 and codes.max() == 255 and abs(codes.min() - 0) <= 1
    signed = compile_net(_net("pair"), NpuConfig(tiles=1, pes=2, data_depth=64), x)
    assert signed.meta["input"]["zero_point"] == 0 and quantise_inputs(signed, x).max() == 127


def test_integer_metrics_are_the_golden_decisions():
    from axforge.models.kernels import Kernel
    k = Kernel(name="t", inputs=("a", "b", "c"), outputs=("y0", "y1"), exact=lambda v: v[:, :2],
               sample=lambda n, rng: rng.uniform(-1, 1, (n, 3)), check=lambda v: None,
               to_net_in=lambda v: v, to_net_out=lambda v: v, from_net_out=lambda v: v,
               error_kind="absolute", bounds=(0.3, 0.5), metric="output difference", n_train=10, n_test=10,
               domain="-", source="test")
    net, x = _net(), _x()
    cfg = NpuConfig(tiles=1, pes=2, data_depth=64)
    prog = compile_net(net, cfg, x)
    t = x.numpy()[:, :2]
    m, out = integer_metrics(prog, cfg, _lut(8, True), k, x, t, 1)
    err = k.errors(dequantise(prog, out["h"]), t)
    assert m == quality_metrics(err, err < 0.3, out["safe"])
    assert 0 < m["predicted_invocation"] < 1 and m["true_label_rate"] > 0


def test_what_cannot_run_on_an_npu():
    x = _x()
    with pytest.raises(AxforgeError, match="Network must be an AXNet or an approximator"):
        compile_net(SharingNet("3-8-2"), NpuConfig(), x)
    with pytest.raises(AxforgeError, match="Weights per PE must be at most the NPU's weight_depth = 16"):
        compile_net(_net(), NpuConfig(tiles=1, pes=2, data_depth=64, weight_depth=16), x)
    with pytest.raises(AxforgeError, match="Data words the network needs must be at most the NPU's data_depth = 20"):
        compile_net(_net(), NpuConfig(tiles=1, pes=2, data_depth=20), x)


@pytest.mark.parametrize("acts", [("sigmoid", "tanh"), ("tanh", "relu"), ("sigmoid", "sigmoid")])
def test_sigmoid_and_tanh_hidden_layers_compile_to_plan_units(acts):
    torch.manual_seed(3)
    net = PairNet("3-8-6-2", (7,), p_outputs=2, acts=acts)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
    net.eval()
    x = _x()
    prog, _, h8, _ = _errors(net, NpuConfig(tiles=1, pes=2, width=8, data_depth=64), x)
    assert [set(la.kind.tolist()) for la in prog.approx[:-1]] == [{KINDS.index(a)} for a in acts]
    # PLAN's own error (a few per cent of the output range) bounds how close 8 bits get
    assert h8 < 0.1, h8
    fn = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
    with torch.no_grad():                               # the float network uses the activations
        lay = net.approx.layers
        want = lay[2](fn[acts[1]](lay[1](fn[acts[0]](lay[0](x)))))
        assert torch.allclose(net.approx(x), want)


def test_activation_errors():
    with pytest.raises(AxforgeError, match=r"Approximator activations must be 2 of relu, sigmoid, tanh"):
        PairNet("3-8-6-2", (7,), acts=("relu",))
    with pytest.raises(AxforgeError, match=r"Approximator activations must be 2 of relu, sigmoid, tanh"):
        AXNet("3-8-6-2", (5,), acts=("relu", "gelu"))
    net = PairNet("3-8-6-2", (7,), acts=("tanh", "relu")).eval()
    with pytest.raises(AxforgeError, match="Approximation layer 0 activation must be relu or sigmoid on an unsigned NPU"):
        compile_net(net, NpuConfig(tiles=1, pes=2, signed=False, data_depth=64), _x(lo=0.0))
    # the default is ReLU everywhere, as before
    assert PairNet("3-8-6-2", (7,)).approx.acts == ("relu", "relu")
