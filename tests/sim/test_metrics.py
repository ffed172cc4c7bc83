"""sim/metrics.py against hand-computed values and EvoApproxLib's definitions."""

import numpy as np
import pytest

from axforge.errors import AxforgeError
from axforge.hdl.arith import MultSpec
from axforge.sim.metrics import METRIC_KEYS, distribution_weights, error_metrics


def test_hand_computed():
    exact = np.array([0, 4, 10, 20])
    approx = np.array([1, 4, 8, 20])   # errors +1, 0, -2, 0
    m = error_metrics(approx, exact, out_width=4)
    assert tuple(m) == METRIC_KEYS
    assert m["mae"] == pytest.approx(0.75)
    assert m["mae_pct"] == pytest.approx(0.75 / 16 * 100)
    assert m["wce"] == 2 and m["wce_pct"] == pytest.approx(12.5)
    assert m["ep_pct"] == pytest.approx(50)
    assert m["mse"] == pytest.approx(1.25)
    assert m["bias"] == pytest.approx(-0.25)
    assert m["mre_pct"] == pytest.approx(100 * (0 + 0.2 + 0) / 3)   # exact == 0 excluded
    assert m["wcre_pct"] == pytest.approx(20)


def test_weights_change_metrics():
    spec = MultSpec.parse("trunc:4x4u:k=3")
    a, b = spec.operands()
    approx = spec.model(a, b)
    uniform = error_metrics(approx, a * b, 8)
    hist = np.zeros(16)
    hist[0] = 1  # a is always 0 -> no error at all
    w = distribution_weights(spec, hist_a=hist)
    assert error_metrics(approx, a * b, 8, w)["mae"] == 0
    assert uniform["mae"] > 0
    samples = np.array([[15, 15], [15, 15], [0, 3]])
    w = distribution_weights(spec, samples=samples)
    m = error_metrics(approx, a * b, 8, w)
    e = abs(int(approx[15 * 16 + 15]) - 225)
    assert m["mae"] == pytest.approx(e * 2 / 3)


def test_bad_distribution():
    spec = MultSpec.parse("trunc:4x4u:k=3")
    with pytest.raises(AxforgeError, match=r"Histogram of operand a must be 16 non-negative counts"):
        distribution_weights(spec, hist_a=np.ones(8))
    with pytest.raises(AxforgeError, match=r"Operand samples must be an integer array of shape \(N, 2\)"):
        distribution_weights(spec, samples=np.ones((4, 3)))
