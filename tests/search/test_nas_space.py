"""The NAS topology space and the fixed-enumeration baseline, counted by hand."""

import pytest

from axforge.errors import AxforgeError
from axforge.search.algorithms import make_algorithm
from axforge.search.nas import fixed_grid, topology, topology_space
from axforge.search.objectives import Objective, Problem
from axforge.search.study import run_search


def test_the_space_sizes_and_conditions():
    space = topology_space(max_layers=2, max_neurons=4, activations=("relu", "tanh"))
    # one layer: 4 x 2; two layers: (4 x 2) ** 2
    assert space.size == 8 + 64
    one = space.validate({"layer_len": 1, "layer0_neurons": 3, "layer0_act": "relu"})
    assert topology(one) == ((3,), ("relu",))
    two = space.validate({"layer_len": 2, "layer0_neurons": 3, "layer0_act": "relu", "layer1_neurons": 1,
                          "layer1_act": "tanh"})
    assert topology(two) == ((3, 1), ("relu", "tanh"))
    with pytest.raises(AxforgeError, match="layer1_neurons"):
        space.validate({"layer_len": 1, "layer0_neurons": 3, "layer0_act": "relu", "layer1_neurons": 2})
    assert topology_space(max_layers=1).size == 128 * 3
    with pytest.raises(AxforgeError, match="NAS activations must be a non-empty list of relu, sigmoid, tanh"):
        topology_space(activations=("gelu",))
    with pytest.raises(AxforgeError, match="NAS option 'max_layers' must be an integer >= 1, not 0"):
        topology_space(max_layers=0)


def test_fixed_grid_is_powers_of_two_smallest_first():
    grid = fixed_grid(8, "relu")
    pairs = [(p["layer0_neurons"], p["layer1_neurons"]) for p in grid]
    assert len(pairs) == 16 and len(set(pairs)) == 16
    assert pairs[:4] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert pairs[-1] == (8, 8) and {p["layer0_act"] for p in grid} == {"relu"}
    assert len(fixed_grid(128)) == 64


class Sizes(Problem):
    """Score = -(total neurons): the enumeration's order is the score's."""

    def __init__(self, **kw):
        self.space = topology_space(**kw)
        self.objectives = (Objective("score", "maximize"),)
        self.constraints = ()

    def evaluate(self, params):
        widths, _ = topology(params)
        return self.result(params, {"score": -sum(widths)})


def test_fixed_runs_the_grid_in_order_and_stops_when_done():
    p = Sizes(max_neurons=8)
    r = run_search(p, "fixed", budget=10, progress=False)
    got = [(e.params["layer0_neurons"], e.params["layer1_neurons"]) for e in r.evaluations]
    assert got == [(g["layer0_neurons"], g["layer1_neurons"]) for g in fixed_grid(8, "sigmoid")][:10]
    r = run_search(Sizes(max_neurons=8), "fixed", budget=100, progress=False)
    assert len(r.evaluations) == 16                          # the grid, then nothing left to propose
    with pytest.raises(AxforgeError, match="needs a topology space with at least two hidden layers"):
        make_algorithm("fixed", Sizes(max_layers=1))
    with pytest.raises(AxforgeError, match="Fixed enumeration activation must be one of the space's relu"):
        make_algorithm("fixed", Sizes(activations=("relu",)))


def test_smac_and_tpe_search_the_topology_space():
    for algo in ("smac", "tpe", "random"):
        p = Sizes(max_neurons=16)
        r = run_search(p, algo, budget=15, seed=0, progress=False)
        keys = [p.space.key(e.params) for e in r.evaluations]
        assert len(keys) == len(set(keys)) == 15
