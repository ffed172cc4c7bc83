"""SMAC3 and TPE as algorithms of the search core, on the toy problem: distinct, valid, seeded points, the
hand-computed optimum, and a resumed study that evaluates nothing twice."""

import pytest

from axforge.errors import AxforgeError
from axforge.search.algorithms import make_algorithm
from axforge.search.study import run_search


def _toy():
    from search_toy import Toy
    return Toy()


@pytest.mark.parametrize("algo", ["smac", "tpe"])
def test_reaches_the_toy_optimum_seeded_and_distinct(algo):
    runs = []
    for _ in range(2):
        toy = _toy()
        r = run_search(toy, algo, budget=30, seed=2, progress=False)
        keys = [toy.space.key(e.params) for e in r.evaluations]
        assert len(keys) == len(set(keys)) == toy.calls == 30
        assert all(toy.space.validate(e.params) == dict(e.params) for e in r.evaluations)
        assert r.trace[-1]["best_feasible_score"] == 8.0        # z <= 8 is the constraint
        runs.append(keys)
    assert runs[0] == runs[1]


@pytest.mark.parametrize("algo, first, total", [("smac", 12, 20), ("tpe", 10, 16)])
def test_resume_replays_the_study(algo, first, total, tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    run_search(_toy(), algo, budget=first, seed=0, storage=url, study_name="s", progress=False)
    again = _toy()
    r = run_search(again, algo, budget=total, seed=0, storage=url, study_name="s", resume=True, progress=False)
    keys = [again.space.key(e.params) for e in r.evaluations]
    assert again.calls == total - first and len(keys) == len(set(keys)) == total and r.resumed == first


def test_cost_is_the_minimised_objective_and_infeasible_points_cost_more():
    toy = _toy()
    algo = make_algorithm("smac", toy, seed=0)
    ok = toy.evaluate({"x": 2, "y": 3, "op": "add"})                    # z = 5, feasible
    bad = toy.evaluate({"x": 4, "y": 4, "op": "mul", "scale": 2})      # z = 32, limit 24
    assert algo.cost(ok) == -5.0 and algo.cost(bad) == 1e3 + 24
    assert make_algorithm("smac", toy, objective="size").cost(ok) == 5.0
    assert make_algorithm("tpe", toy).cost(bad) == 1e3 + 24
    with pytest.raises(AxforgeError, match="SMAC objective must be one of score, size, risk, not 'nope'"):
        make_algorithm("smac", toy, objective="nope")
