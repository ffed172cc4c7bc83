"""The ``approximator`` method: the approximator alone, its predictor fixed to say safe."""

import torch

from axforge.models.axnet.nets import Approximator, PairNet, always_safe, n_params
from axforge.models.axnet.run import resolve_config, train


def test_the_predictor_always_says_safe_and_is_not_trained():
    net = always_safe(PairNet("2-4-2", (), 1, ["tanh"]))
    _, p = net(torch.randn(50, 2))
    assert (p > 0).all() and n_params(net) == n_params(Approximator("2-4-2"))
    cfg, params = resolve_config("inversek2j", "approximator", "2-4-2", acts=["tanh"], epochs=1)
    assert cfg.predictor_hidden == () and params["net"] == n_params(Approximator("2-4-2"))


def test_training_moves_the_approximator_only():
    run = train("inversek2j", "approximator", "2-4-2", epochs=2, progress=False, pinned=False, n_train=400,
                n_test=100)
    lin = run.net.pred.layers[0]
    assert torch.equal(lin.weight, torch.zeros_like(lin.weight)) and torch.equal(lin.bias, torch.ones(1))
    assert run.metrics["predicted_invocation"] == 1.0
    assert run.metrics["true_invocation"] == run.metrics["true_label_rate"]
    assert [h["kind"] for h in run.meta["history"]] == ["approx", "approx"]
