"""Named objectives (any number, either direction), constraints by name, the immutable result record."""

import pickle

import numpy as np
import pytest

from axforge.errors import AxforgeError
from axforge.search.objectives import Objective, Result
from axforge.search.pareto import pareto_mask
from axforge.search.study import run_search

from search_toy import Toy


def test_objective_directions():
    up, down = Objective("score", "maximize"), Objective("size")
    assert down.direction == "minimize" and not down.maximize and up.maximize
    assert up.minimised(3.0) == -3.0 and down.minimised(3.0) == 3.0
    assert up.better(2, 1) and down.better(1, 2) and not up.better(1, 1)
    assert up.best([1, 5, 3]) == 5 and down.best([4, 2, 9]) == 2 and up.best([]) is None
    with pytest.raises(AxforgeError, match=r"^Direction of objective 'x' must be 'minimize' or 'maximize', not 'max'$"):
        Objective("x", "max")


def test_a_result_is_immutable_and_orders_its_values_as_the_problem():
    toy = Toy()
    r = toy.evaluate({"x": 3, "y": 1, "op": "mul", "scale": 2})
    assert dict(r.values) == {"score": 6.0, "size": 4.0, "risk": 2.0} and list(r.values) == ["score", "size", "risk"]
    assert dict(r.constraints) == {"limit": -2.0} and r.feasible and r.violation == 0.0
    assert r.vector(toy.objectives).tolist() == [-6.0, 4.0, 2.0]           # the maximised one negated
    assert dict(r.attrs) == {"z": 6}
    with pytest.raises(TypeError):
        r.values["score"] = 0.0
    with pytest.raises(AttributeError):
        r.values = {}
    assert pickle.loads(pickle.dumps(r)) == r and hash(r) == hash(pickle.loads(pickle.dumps(r)))
    bad = toy.evaluate({"x": 4, "y": 3, "op": "mul", "scale": 1})
    assert not bad.feasible and bad.violation == 4.0                        # z = 12 > 8
    with pytest.raises(AxforgeError, match=r"^Objective values must be one value for each of score, size, risk, "
                                           r"not \['score', 'size'\]$"):
        toy.result({"x": 0, "y": 0, "op": "add"}, {"score": 0, "size": 0})
    with pytest.raises(AxforgeError, match=r"^Constraint values must be one value for each of limit, not \[\]$"):
        toy.result({"x": 0, "y": 0, "op": "add"}, {"score": 0, "size": 0, "risk": 0})


def test_three_objectives_one_maximised_through_the_core():
    toy = Toy()
    r = run_search(toy, "exhaustive", budget=200, progress=False)
    assert len(r.evaluations) == toy.calls == 75 and sum(e.feasible for e in r.evaluations) == 63
    assert r.trace[-1]["best_feasible_score"] == 8.0                        # maximised: the largest feasible z
    # enumeration starts with op = add, x = 0, y = 0..4, x = 1, ...: z = 0, 1, 2, 3, 4, 1, 2
    assert [t["best_feasible_score"] for t in r.trace[:7]] == [0.0, 1.0, 2.0, 3.0, 4.0, 4.0, 4.0]
    feasible = [e for e in r.evaluations if e.feasible]
    front = pareto_mask(np.array([e.vector(toy.objectives) for e in feasible]))
    on_front = {tuple(e.params.values()) for e, m in zip(feasible, front) if m}
    assert (2, 2, "mul", 2) in on_front                 # score 8 at size 4, risk 0: nothing beats it
    assert (4, 4, "add") not in on_front                # score 8 at size 8: dominated by the one above
    assert {(0, 0, "add"), (0, 0, "mul", 1), (0, 0, "mul", 2)} <= on_front   # equal vectors are all kept
    nsga = run_search(Toy(), "nsga2", budget=30, seed=0, progress=False)
    assert [o.direction for o in Toy().objectives] == ["maximize", "minimize", "minimize"]
    assert len({tuple(e.params.items()) for e in nsga.evaluations}) == len(nsga.evaluations) == 30


def test_result_record_can_be_built_directly():
    r = Result({"a": 1}, {"loss": 0.5}, {}, {"epochs": 3})
    assert r.feasible and r.to_dict() == {"params": {"a": 1}, "values": {"loss": 0.5}, "constraints": {},
                                          "attrs": {"epochs": 3}, "feasible": True}
