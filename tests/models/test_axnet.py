"""AXNet and its baselines: the gated forward pass, labels, gradient routing, metrics, parameter
matching, the training methods (seeded, resumable), and deployment through approximate multipliers."""

import numpy as np
import pytest
import torch

import reference as ref
from axforge.errors import AxforgeError
from axforge.models.axnet import (DEFAULTS, Approximator, AXNet, PairNet, SharingNet, evaluate, load, match_predictor,
                                  n_params, predicted_safe, quality_metrics, quantise, train, true_labels)
from axforge.models.axnet.methods import losses, prepare_data, stages_of
from axforge.models.kernels import KERNELS, Kernel, kernel
from axforge.models.layers import approx_layers

torch.set_num_threads(1)

TINY = {"n_train": 500, "n_test": 300, "epochs": 2, "batch_size": 64, "progress": False}


def synth(bounds=(0.05, 0.1), net_scale=1.0):
    """y = sin(3 x0) * x1 on [-1, 1]^2, absolute error; the network sees y * net_scale."""
    return Kernel(name="synth", inputs=("x0", "x1"), outputs=("y",),
                  exact=lambda x: (np.sin(3 * x[:, 0]) * x[:, 1])[:, None].astype(np.float32),
                  sample=lambda n, rng: rng.uniform(-1, 1, (n, 2)), check=lambda x: None,
                  to_net_in=lambda x: np.asarray(x, dtype=np.float32),
                  to_net_out=lambda y: np.asarray(y, dtype=np.float32) * np.float32(net_scale),
                  from_net_out=lambda y: np.asarray(y, dtype=np.float32) / np.float32(net_scale),
                  error_kind="absolute", bounds=bounds, metric="output difference", n_train=1000, n_test=500,
                  domain="x0, x1 in [-1, 1]", source="test")


def digest(run):
    return run.meta["weights_sha256"]


# -- networks -----------------------------------------------------------------------------------

@pytest.mark.parametrize("control", ["all", 1, 2])
def test_gated_forward_equals_a_per_sample_loop(control):
    """a(i+1) = f(W(i)^T (a(i) ⊙ c(i)) + b(i)), c(i) = sigmoid of the prediction subnet's i-th slice."""
    torch.manual_seed(0)
    net = AXNet("3-5-4-2", (6,), p_outputs=1, control=control).double()
    x = torch.randn(7, 3, dtype=torch.float64)
    h, p = net(x)
    W = [(layer.weight, layer.bias) for layer in net.approx.layers]
    P = [(layer.weight, layer.bias) for layer in net.pred.layers]
    gated = (1, 2) if control == "all" else (control,)
    widths = {1: 5, 2: 4}
    for s in range(len(x)):
        z = P[1][0] @ torch.relu(P[0][0] @ x[s] + P[0][1]) + P[1][1]
        cs, at = {}, 0
        for i in gated:
            cs[i] = [1 / (1 + torch.exp(-z[at + j])) for j in range(widths[i])]
            at += widths[i]
        assert torch.allclose(p[s, 0], z[at])
        a = x[s]
        for i, (w, b) in enumerate(W):
            if i in cs:
                a = torch.stack([a[j] * cs[i][j] for j in range(len(a))])
            out = torch.stack([sum(w[o, j] * a[j] for j in range(len(a))) + b[o] for o in range(len(b))])
            a = torch.relu(out) if i < len(W) - 1 else out
        assert torch.allclose(h[s], a, atol=1e-12)


def test_control_head_layout_and_bad_controls():
    net = AXNet("3-5-4-2", (6,), p_outputs=2, control=2)
    assert net.gated == (2,) and net.pred.layers[-1].out_features == 4 + 2
    assert AXNet("3-5-4-2", (6,)).pred.layers[-1].out_features == 5 + 4 + 1
    with pytest.raises(AxforgeError, match=r"^AXNet control must be 'all' or a hidden layer index between 1 and 2, "
                                           r"not 3$"):
        AXNet("3-5-4-2", (6,), control=3)
    with pytest.raises(AxforgeError, match=r"^Predictor outputs must be 1 \(sigmoid\) or 2 \(softmax\), not 3$"):
        AXNet("3-5-2", (6,), p_outputs=3)
    with pytest.raises(AxforgeError, match=r"^Approximator topology must be at least 2 positive widths"):
        Approximator("3-x-1")


def test_sharing_net_shares_its_trunk():
    net = SharingNet("2-6-6-1", p_outputs=2)
    h, p = net(torch.randn(4, 2))
    assert h.shape == (4, 1) and p.shape == (4, 2)
    assert n_params(net) == (2 * 6 + 6) + (6 * 6 + 6) + (6 + 1) + (6 * 2 + 2)


@pytest.mark.parametrize("p_outputs", [1, 2])
@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_baseline_predictor_matches_axnet_within_3_percent(name, p_outputs):
    d = DEFAULTS[name]
    hidden = tuple(int(w) for w in d["pred"].split("-")[1:])
    m = match_predictor(d["topology"], hidden, p_outputs)
    assert abs(m["rel_diff"]) <= 0.03
    assert m["axnet_params"] == n_params(AXNet(d["topology"], hidden, p_outputs))
    assert m["baseline_params"] == n_params(PairNet(d["topology"], m["hidden"], p_outputs))
    assert m["baseline_params"] == m["approximator_params"] + m["predictor_params"]


def test_parameter_matching_fails_loudly():
    with pytest.raises(AxforgeError, match=r"within 0\.1 % of AXNet's"):
        match_predictor("1-2-1", (1,), tol=0.001)


# -- labels and gradients -----------------------------------------------------------------------

def test_p_label_is_strictly_below_the_bound():
    k = synth(bounds=(0.25, 0.5))
    t = np.zeros((5, 1), dtype=np.float32)
    y = np.array([[0.125], [0.25], [-0.25], [0.375], [0.5]], dtype=np.float32)
    assert true_labels(k, y, t, 1).tolist() == [True, False, False, False, False]
    assert true_labels(k, y, t, 2).tolist() == [True, True, True, True, False]


def test_labels_are_the_kernels_raw_unit_safe():
    """Network outputs go through from_net_out before the kernel's error (here net = 4 * raw)."""
    k = synth(bounds=(0.05, 0.1), net_scale=4.0)
    rng = np.random.default_rng(0)
    t = rng.uniform(-1, 1, (200, 1)).astype(np.float32)
    y_net = torch.from_numpy((t + rng.normal(0, 0.06, t.shape)).astype(np.float32) * 4)
    got = true_labels(k, y_net, t, 1)
    assert np.array_equal(got, k.safe(y_net.numpy() / 4, t, 1))
    assert 0 < got.sum() < len(got)
    assert not np.array_equal(got, k.safe(y_net.numpy(), t, 1))   # raw units, not network units


def test_gradient_routing():
    """L_p reaches only the prediction subnet (and not the control rows of its output layer);
    L_a reaches the approximation subnet and, through the control vectors, the prediction subnet."""
    torch.manual_seed(1)
    k = synth()
    net = AXNet("2-6-5-1", (7,))
    data = prepare_data(k, 0, 200, 10)["train"]
    la, lp, labels = losses(net, data.x, data.y, data.t, k, 1)
    assert not labels.requires_grad
    assert labels.dtype == torch.bool and 0 < int(labels.sum()) < len(labels)
    head = net.pred.layers[-1]
    n_ctrl = 6 + 5
    lp.backward(retain_graph=True)
    assert all(p.grad is None for p in net.approx.parameters())
    assert net.pred.layers[0].weight.grad.abs().sum() > 0
    assert head.weight.grad[:n_ctrl].abs().sum() == 0 and head.weight.grad[n_ctrl:].abs().sum() > 0
    net.zero_grad(set_to_none=True)
    la.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.approx.parameters())
    assert head.weight.grad[:n_ctrl].abs().sum() > 0 and head.weight.grad[n_ctrl:].abs().sum() == 0
    assert net.pred.layers[0].weight.grad.abs().sum() > 0


# -- metrics ------------------------------------------------------------------------------------

def test_metrics_on_a_hand_built_case():
    e = [0.01, 0.2, 0.03, 0.5, 0.02]
    t = [True, False, True, False, True]
    p = [True, True, False, False, True]
    m = quality_metrics(e, t, p)
    assert m["true_invocation"] == pytest.approx(2 / 5)
    assert m["predicted_invocation"] == pytest.approx(3 / 5)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["overall_error"] == pytest.approx((0.01 + 0.2 + 0.02) / 3)
    assert m["true_label_rate"] == pytest.approx(3 / 5)
    assert m["approximator_error"] == pytest.approx(sum(e) / 5)
    none = quality_metrics(e, t, [False] * 5)
    assert none["overall_error"] == 0.0 and none["true_invocation"] == 0.0 and none["accuracy"] == 2 / 5


def test_predicted_safe_is_p_above_one_half():
    assert predicted_safe(torch.tensor([[0.0], [1e-9], [-2.0], [3.0]])).tolist() == [False, True, False, True]
    assert predicted_safe(np.array([[0.0, 0.0], [0.1, 0.3], [2.0, -1.0]])).tolist() == [False, True, False]


# -- training -----------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["axnet", "onepass", "iterative", "sharing"])
def test_methods_train_and_report_metrics(method, tmp_path):
    run = train(synth(), method, "2-8-8-1", "2-6", seed=3, iterations=1, out_dir=tmp_path, **TINY)
    kinds = stages_of(run.config)
    assert kinds == {"axnet": ["joint"], "sharing": ["joint"], "onepass": ["approx", "pred"],
                     "iterative": ["approx", "pred", "retrain", "pred"]}[method]
    assert [h["kind"] for h in run.meta["history"]] == [k for k in kinds for _ in range(2)]
    m = run.metrics
    for key in ("true_invocation", "predicted_invocation", "accuracy", "true_label_rate"):
        assert 0 <= m[key] <= 1
    assert m["true_invocation"] <= min(m["predicted_invocation"], m["true_label_rate"])
    assert m["n"] == 300 and run.train_time_s > 0
    assert run.meta["splits"] == {"train": 450, "val": 50, "test": 300}
    if method in ("onepass", "iterative"):
        assert abs(run.meta["params"]["rel_diff"]) <= 0.03
        assert run.meta["params"]["net"] == run.meta["params"]["baseline"]
    back = load(tmp_path)
    assert digest(back) == digest(run)
    assert evaluate(back, synth()) == {**m, "split": "test", "mult": "float", "group": 1,
                                       "train_time_s": run.train_time_s}


@pytest.mark.parametrize("p_outputs, control", [(2, "all"), (1, 2), (2, 1)])
def test_axnet_variants_train(p_outputs, control):
    """Softmax P(x) and the single-control-vector variant (Sec. III-D) train through the same API."""
    run = train(synth(), "axnet", "2-8-6-1", "2-6", p_outputs=p_outputs, control=control, **TINY)
    assert run.net.p_outputs == p_outputs and run.net.gated == ((1, 2) if control == "all" else (control,))
    assert run.meta["params"]["net"] == n_params(run.net) == run.meta["params"]["axnet"]
    assert 0 <= run.metrics["true_invocation"] <= 1


def test_same_seed_same_weights():
    a = train(synth(), "axnet", "2-8-8-1", "2-6", seed=5, **TINY)
    b = train(synth(), "axnet", "2-8-8-1", "2-6", seed=5, **TINY)
    c = train(synth(), "axnet", "2-8-8-1", "2-6", seed=6, **TINY)
    assert digest(a) == digest(b) != digest(c)
    for (na, ta), (nb, tb) in zip(a.net.state_dict().items(), b.net.state_dict().items()):
        assert na == nb and torch.equal(ta, tb)


class Stop(Exception):
    pass


@pytest.mark.parametrize("method, stop_at", [("axnet", 1), ("iterative", 4), ("iterative", 5)])
def test_an_interrupted_run_resumes_to_the_same_weights(method, stop_at, tmp_path):
    """Stop after global epoch ``stop_at`` (iterative: 4 = the end of its first pred stage, 5 = in
    the middle of retraining on the stored labels), train again: the weights of an uninterrupted run."""
    args = dict(topology="2-8-8-1", pred="2-6", seed=2, iterations=1, **{**TINY, "epochs": 2})
    whole = train(synth(), method, **args)

    def stop(info):
        if info["global_epoch"] == stop_at:
            raise Stop
    with pytest.raises(Stop):
        train(synth(), method, out_dir=tmp_path, callback=stop, **args)
    resumed = train(synth(), method, out_dir=tmp_path, **args)
    assert resumed.meta["resumed_from"] == {"stage": (stop_at - 1) // 2, "epoch": (stop_at - 1) % 2 + 1}
    assert digest(resumed) == digest(whole)
    assert [h["val_mse"] for h in resumed.meta["history"]] == [h["val_mse"] for h in whole.meta["history"]]
    # a changed setting starts afresh instead of resuming another run's checkpoint
    other = train(synth(), method, out_dir=tmp_path, **{**args, "seed": 9})
    assert other.meta["resumed_from"] is None


def test_bad_settings_name_the_value():
    with pytest.raises(AxforgeError, match=r"^Topology for kernel 'synth' must be '2-\.\.\.-1' \(its 2 inputs and 1 "
                                           r"output\), not '3-8-1'$"):
        train(synth(), "axnet", "3-8-1", **TINY)
    with pytest.raises(AxforgeError, match=r"^Method must be one of axnet, onepass, iterative, sharing, approximator, not 'nope'$"):
        train(synth(), "nope", **TINY)
    with pytest.raises(AxforgeError, match=r"^Prediction topology for kernel 'synth' must be '2-hidden\.\.\.'"):
        train(synth(), "axnet", "2-8-1", "4-4", **TINY)


# -- quantised deployment -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def axnet_run():
    return train(synth(), "axnet", "2-8-8-1", "2-6", seed=1, **{**TINY, "epochs": 8})


def test_exact_multiplier_is_close_to_float_and_an_approximate_one_is_not(axnet_run):
    k = synth()
    data = prepare_data(k, 1, 500, 300)
    x = data["test"].x
    q_exact, report = quantise(axnet_run.net, "exact:8x8u", data["train"].x)
    q_trunc, _ = quantise(axnet_run.net, "trunc:8x8u:k=8,comp=none", data["train"].x)   # coarse
    assert [r.name for r in report] == ["approx.layers.0", "approx.layers.1", "approx.layers.2", "pred.layers.0",
                                        "pred.layers.1"]
    with torch.no_grad():
        h, _ = axnet_run.net(x)
        he, _ = q_exact(x)
        ht, _ = q_trunc(x)
    span = float(h.max() - h.min())
    quant = float((he - h).abs().max())
    assert quant < 0.05 * span
    assert float((ht - he).abs().max()) > max(0.05 * span, 5 * quant)
    fl = evaluate(axnet_run, k, data=data)
    ex = evaluate(axnet_run, k, mult="exact:8x8u", data=data)
    assert ex["mult"] == "exact:8x8u"
    for key in ("true_invocation", "predicted_invocation", "accuracy", "true_label_rate"):
        assert abs(ex[key] - fl[key]) < 0.05, key


def test_quantised_linear_layers_are_bit_exact_against_the_lut(axnet_run):
    """Every Linear of the deployed AXNet, on the inputs it really sees (the gated activations for
    the approximation subnet), gives the independent reference's outputs (products from the RTL LUT)."""
    data = prepare_data(synth(), 1, 500, 300)
    qnet, _ = quantise(axnet_run.net, "drum:8x8u:k=4", data["train"].x)
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: seen.__setitem__(n, (i[0], o)))
             for n, m in approx_layers(qnet)]
    with torch.no_grad():
        qnet(data["test"].x[:64])
    for h in hooks:
        h.remove()
    assert len(seen) == 5
    for name, (xin, out) in seen.items():
        layer = qnet.get_submodule(name)
        _, want, step, _ = ref.linear_ref(layer, xin)
        ref.assert_outputs(out, want, step, 0, name)


# -- a real kernel ------------------------------------------------------------------------------

def test_inversek2j_trains_with_its_defaults():
    if "inversek2j" not in KERNELS:
        pytest.skip("kernel 'inversek2j' is not registered yet")
    k = kernel("inversek2j")
    run = train(k, "axnet", seed=0, **{**TINY, "epochs": 1})
    assert run.config.topology == DEFAULTS["inversek2j"]["topology"]
    data = prepare_data(k, 0, 500, 300)
    ev = evaluate(run, data=data)
    # trained (and measured) in the pinned child; evaluated here: the same labels, floats to rounding
    assert ev.keys() == {**run.metrics, "split": 0, "mult": 0, "group": 0, "train_time_s": 0}.keys()
    assert (ev["split"], ev["mult"], ev["group"], ev["train_time_s"]) == ("test", "float", 1, run.train_time_s)
    assert {q: ev[q] for q in run.metrics} == pytest.approx(run.metrics, rel=1e-6)
    assert run.meta["kernels"]["pinned"] and run.meta["kernels"]["aten"] in ("AVX2", "DEFAULT")
    with torch.no_grad():
        h, _ = run.net(data["test"].x)
    t = data["test"].t
    assert np.array_equal(true_labels(k, h, t, 1), k.safe(k.from_net_out(h.numpy()), t, 1))
