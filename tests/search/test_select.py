"""Online selection on hand-made fronts whose answers are worked out by hand."""

import pytest

from axforge.errors import AxforgeError
from axforge.search.select import Infeasible, Selector

# id, accuracy, speedup, energy reduction
FRONT = [("a", 0.99, 1.5, 1.2), ("b", 0.95, 2.0, 2.0), ("c", 0.90, 3.0, 2.6), ("d", 0.80, 4.0, 4.0),
         ("e", 0.95, 2.5, 2.0)]


@pytest.fixture
def sel():
    return Selector([{"id": i, "accuracy": a, "speedup": s, "energy_reduction": e} for i, a, s, e in FRONT])


def test_quality_is_the_most_accurate_then_the_least_energy(sel):
    assert sel.select("quality").candidate["id"] == "a"
    # b and e tie on accuracy and energy reduction: the faster one wins
    assert sel.select("quality", min_speedup=1.8).candidate["id"] == "e"


def test_energy_is_the_largest_reduction_that_meets_the_accuracy(sel):
    assert sel.select("energy", min_accuracy=0.9).candidate["id"] == "c"
    assert sel.select("energy", min_accuracy=0.5).candidate["id"] == "d"
    choice = sel.select("energy", min_accuracy=0.95)
    assert choice.candidate["id"] in ("b", "e") and choice.feasible == 3      # a, b, e; b and e tie
    assert "min_accuracy >= 0.95" in choice.reason and "3 of 5 networks" in choice.reason
    with pytest.raises(AxforgeError, match="needs min_accuracy"):
        sel.select("energy")


def test_integrated_score_by_hand(sel):
    # theta 0.5, C_acc 0.9, C_e 2: feasible a? no (er 1.2 < 2): b, c, d? no (acc 0.8 < 0.9): b, c, e
    # E_norm = max(er / C_e) = 2.6 / 2 = 1.3
    # b: 0.5 * 0.95 / 0.9 + 0.5 * 2.0 / 2.6 = 0.52778 + 0.38462 = 0.91239
    # c: 0.5 * 0.90 / 0.9 + 0.5 * 2.6 / 2.6 = 0.5 + 0.5 = 1.0
    choice = sel.select("integrated", min_accuracy=0.9, min_energy_reduction=2.0, theta=0.5)
    assert choice.candidate["id"] == "c" and "1 = 0.5" in choice.reason
    # all weight on accuracy: the most accurate feasible one (b or e, equal accuracy)
    assert sel.select("integrated", min_accuracy=0.9, min_energy_reduction=2.0, theta=1.0).candidate["id"] in "be"
    # all weight on energy, no bounds: d
    assert sel.select("integrated", theta=0.0).candidate["id"] == "d"


def test_no_feasible_network_names_the_closest(sel):
    with pytest.raises(Infeasible) as exc:
        sel.select("energy", min_accuracy=0.9, min_energy_reduction=3.0)
    # relative shortfalls: a 1.8/3 = 0.6, b 1/3, c 0.4/3 = 0.133, d 0.1/0.9 = 0.111, e 1/3 -> d
    assert exc.value.closest == 3
    assert str(exc.value) == "No network meets the constraints; the closest is d (accuracy 0.8 < 0.9)"


@pytest.mark.parametrize("kwargs, msg", [
    (dict(mode="fast"), "Selection mode must be one of quality, energy, integrated, not 'fast'"),
    (dict(mode="quality", min_accuracy=1.5), "Constraint min_accuracy must be a share in [0, 1], not 1.5"),
    (dict(mode="quality", min_speedup=-1), "Constraint min_speedup must be a number >= 0, not -1"),
    (dict(mode="integrated", theta=2), "Selection theta must be a number in [0, 1], not 2"),
])
def test_bad_queries_name_the_field(sel, kwargs, msg):
    with pytest.raises(AxforgeError) as exc:
        sel.select(**kwargs)
    assert msg in str(exc.value)


def test_bad_candidates():
    with pytest.raises(AxforgeError, match="at least one"):
        Selector([])
    with pytest.raises(AxforgeError, match="'speedup'"):
        Selector([{"accuracy": 1.0, "energy_reduction": 1.0}])
