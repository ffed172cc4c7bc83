"""AXNet (Peng et al. 2018): an approximator gated by a predictor, trained end to end; and its baselines.

An approximate-computing kernel (:mod:`axforge.models.kernels`) is replaced by a small network
``H`` where a predictor ``P`` says that ``H``'s error is below the bound (*safe*), and computed
exactly elsewhere. AXNet fuses the two: the prediction subnet emits control vectors that gate
the approximation subnet's hidden activations (a Hadamard product) besides ``P(x)``, and both
train together on ``J = L_a + L_p``. The baselines train an approximator and a predictor apart:
one-pass (Mahajan et al.), iterative (Xu et al.), and the weight-sharing false start.

* :mod:`.nets` -- :class:`Approximator`, :class:`Predictor`, :class:`AXNet`, :class:`SharingNet`,
  :class:`PairNet`, parameter counts and the equal-parameter predictor width;
* :mod:`.methods` -- the training methods (seeded, checkpointed every epoch, resumable);
* :mod:`.metrics` -- true / predicted invocation, prediction accuracy, overall error;
* :mod:`.quantised` -- the networks through an approximate multiplier's integer emulation;
* :mod:`.run` -- the API: :func:`train`, :func:`evaluate`, :func:`load`, :data:`DEFAULTS`.

Example::

    from axforge.models.axnet import train, evaluate
    run = train("inversek2j", "axnet", out_dir="out/ik2j-axnet", progress=False)
    evaluate(run)                             # float, test split
    evaluate(run, mult="trunc:8x8u:k=6,comp=const")

See docs/axnet.md for the equations and conventions.
"""

from .methods import METHODS, RunConfig, fit, prepare_data
from .metrics import METRIC_KEYS, net_metrics, predicted_safe, quality_metrics, true_labels
from .nets import Approximator, AXNet, PairNet, Predictor, SharingNet, match_predictor, n_params, parse_topology
from .quantised import quantise, quantised_metrics
from .run import DEFAULTS, GENERIC, METHOD_LR, TrainedRun, evaluate, load, resolve_config, train

__all__ = ["DEFAULTS", "GENERIC", "METHOD_LR", "METHODS", "METRIC_KEYS", "AXNet", "Approximator", "PairNet", "Predictor",
           "RunConfig", "SharingNet", "TrainedRun", "evaluate", "fit", "load", "match_predictor", "n_params",
           "net_metrics", "parse_topology", "predicted_safe", "prepare_data", "quality_metrics", "quantise",
           "quantised_metrics", "resolve_config", "train", "true_labels"]
