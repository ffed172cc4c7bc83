"""Quality-control metrics of an approximator + predictor pair: invocation, accuracy, error.

On ``N`` inputs with per-sample raw-unit errors ``e`` (:meth:`Kernel.errors` of the
approximator's outputs against the exact ones), the true labels ``t = e < bound`` (safe) and the
predictions ``p`` (``P(x) > 0.5``, see :func:`predicted_safe`):

* ``true_invocation`` = ``#(p & t) / N`` -- inputs the approximator runs on and gets right;
* ``predicted_invocation`` = ``#p / N`` -- inputs the approximator runs on;
* ``accuracy`` = ``#(p == t) / N`` -- the predictor's accuracy against the true labels;
* ``overall_error`` = ``mean(e[p])`` -- the kernel's mean error over the inputs predicted safe
  (the others run the exact kernel, error 0); ``0.0`` when none is predicted safe (nothing
  approximate then runs);
* ``true_label_rate`` = ``#t / N`` -- the inputs on which the approximator is within the bound
  (the upper limit of ``true_invocation``);
* ``approximator_error`` = ``mean(e)`` -- the approximator's mean error over all inputs.
"""

import numpy as np
import torch

from axforge.errors import bad_value

from .nets import safe_logit

__all__ = ["METRIC_KEYS", "net_metrics", "predicted_safe", "quality_metrics", "true_labels"]

METRIC_KEYS = ("true_invocation", "predicted_invocation", "accuracy", "overall_error", "true_label_rate",
               "approximator_error", "n")


def predicted_safe(p_logits):
    """Predicted safe, (N,) bool: ``sigmoid(z) > 0.5`` for one logit, ``argmax`` = class 1 for two.

    Decided on the logits (``z > 0``; ``z_1 - z_0 > 0``, a tie is unsafe), which is the same
    decision without the sigmoid's rounding near 0.5."""
    if torch.is_tensor(p_logits):
        p_logits = p_logits.detach().cpu().double().numpy()
    p_logits = np.asarray(p_logits, dtype=np.float64)
    if p_logits.ndim != 2 or p_logits.shape[1] not in (1, 2):
        raise bad_value("Predictor outputs' shape", p_logits.shape, "(N, 1) or (N, 2)")
    return safe_logit(p_logits) > 0


def true_labels(kernel, y_net, t_raw, group):
    """p_label (N,) bool: ``kernel.safe(kernel.from_net_out(y_net), t_raw, group)`` -- the error of
    the network outputs ``y_net`` (network units) in raw units, strictly below the group's bound."""
    if torch.is_tensor(y_net):
        y_net = y_net.detach().cpu().numpy()
    return np.asarray(kernel.safe(kernel.from_net_out(np.asarray(y_net, dtype=np.float32)), t_raw, group),
                      dtype=bool)


def quality_metrics(errors, truly_safe, pred_safe):
    """The metrics of the module docstring from per-sample ``errors``, true and predicted labels."""
    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    t = np.asarray(truly_safe, dtype=bool).reshape(-1)
    p = np.asarray(pred_safe, dtype=bool).reshape(-1)
    if not (len(e) == len(t) == len(p)):
        raise bad_value("Metric inputs' lengths", (len(e), len(t), len(p)), "equal")
    n = len(e)
    if n == 0:
        raise bad_value("Metric inputs' length", 0, "at least 1")
    return {"true_invocation": float((p & t).mean()), "predicted_invocation": float(p.mean()),
            "accuracy": float((p == t).mean()), "overall_error": float(e[p].mean()) if p.any() else 0.0,
            "true_label_rate": float(t.mean()), "approximator_error": float(e.mean()), "n": n}


@torch.no_grad()
def net_metrics(net, kernel, x_net, t_raw, group, batch_size=4096):
    """:func:`quality_metrics` of ``net`` (forward ``x -> (H(x), P logits)``) on network-unit inputs
    ``x_net`` against raw exact outputs ``t_raw``, in batches of ``batch_size``."""
    was = net.training
    net.eval()
    hs, ps = [], []
    for i in range(0, len(x_net), batch_size):
        h, p = net(x_net[i:i + batch_size])
        hs.append(h)
        ps.append(p)
    net.train(was)
    h, p = torch.cat(hs), torch.cat(ps)
    errors = kernel.errors(kernel.from_net_out(h.numpy()), t_raw)
    return quality_metrics(errors, errors < kernel.bound(group), predicted_safe(p))
