"""Task quality metrics against hand-computed values, numpy and torch inputs alike."""

import numpy as np
import pytest
import torch

from axforge.errors import AxforgeError
from axforge.models.quality import QUALITY, miss_rate, relative_error, rmse, top1


def test_registry_and_directions():
    assert list(QUALITY) == ["top1", "relative_error", "rmse", "miss_rate"]
    assert {n: (m.direction, m.objective) for n, m in QUALITY.items()} == {
        "top1": ("maximize", "accuracy"), "relative_error": ("minimize", "relative_error"),
        "rmse": ("minimize", "rmse"), "miss_rate": ("minimize", "miss_rate")}
    with pytest.raises(AxforgeError, match=r"^Quality metric must be one of top1, relative_error, rmse, miss_rate, "
                                           r"not 'psnr'$"):
        QUALITY.lookup("psnr")


@pytest.mark.parametrize("wrap", [np.asarray, torch.tensor])
def test_top1(wrap):
    scores = wrap([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.0, 0.4, 0.6]])
    labels = wrap([1, 0, 1, 2])
    assert top1(scores, labels) == 0.75                       # rows 0, 1, 3 right
    assert top1(wrap([1, 0, 2, 2]), labels) == 0.75           # predicted labels instead of scores
    assert top1(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 0.0


def test_top1_equals_the_training_loops_accuracy():
    from axforge.models.train import evaluate
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 4)
    x, y = torch.randn(1234, 5), torch.randint(0, 4, (1234,))
    with torch.no_grad():
        assert top1(model(x), y) == evaluate(model, x, y)


@pytest.mark.parametrize("wrap", [np.asarray, lambda v: torch.tensor(v, dtype=torch.float64)])
def test_relative_error_rmse_and_miss_rate(wrap):
    y = wrap([[1.1, 2.0], [0.0, -3.3]])
    t = wrap([[1.0, 2.5], [0.0, -3.0]])
    # relative errors: 0.1, 0.2, 0 (0/floor), 0.1 -> mean 0.1
    assert relative_error(y, t) == pytest.approx(0.1, abs=1e-12)
    # squared errors: 0.01, 0.25, 0, 0.09 -> mean 0.0875
    assert rmse(y, t) == pytest.approx(np.sqrt(0.0875), abs=1e-12)
    assert miss_rate(y, t, bound=0.15) == 0.25               # only the 0.2 one exceeds 15 %
    assert miss_rate(y, t, bound=0.05) == 0.75
    assert miss_rate(y, t, bound=0.2) == 0.0                 # strictly above the bound
    assert miss_rate(wrap([0.5]), wrap([0.0]), bound=1.0) == 1.0      # any error on a zero target misses


def test_pixel_rmse_and_bad_input():
    img = np.full((4, 4), 128, dtype=np.uint8)
    noisy = img.copy()
    noisy[0, :] = 131                                         # 4 pixels off by 3 of 16
    assert rmse(noisy, img) == pytest.approx(np.sqrt(4 * 9 / 16))  # no uint8 wrap-around
    with pytest.raises(AxforgeError, match=r"^Outputs shape must be the targets' shape \(3,\), not \(2,\)$"):
        rmse(np.zeros(2), np.zeros(3))
    with pytest.raises(AxforgeError, match=r"^Miss-rate bound must be a relative error >= 0, not -0.1$"):
        miss_rate(np.zeros(2), np.zeros(2), bound=-0.1)
