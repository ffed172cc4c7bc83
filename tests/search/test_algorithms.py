"""Search algorithms on a synthetic problem with a known optimum."""

import itertools

import numpy as np
import pytest

from axforge.errors import AxforgeError
from axforge.search.algorithms import ALGORITHMS, make_algorithm
from axforge.search.pareto import hypervolume as hypervolume_2d
from axforge.search.problem import parse_target
from axforge.search.study import run_search

from search_synthetic import make_problem


def optimum(p):
    feas = [p.energy(c) for c in itertools.product(range(p.n_choices), repeat=p.n_layers)
            if p.evaluate(c).feasible]
    return min(feas)


def test_energy_and_area_of_a_mapping():
    p, _ = make_problem(3)
    c = (0, 2, 2)
    assert p.energy(c) == pytest.approx(p.macs[0] * 1.0 + (p.macs[1] + p.macs[2]) * 0.55)
    assert p.arrays(c) == [0, 2] and p.area(c) == 160.0
    assert p.arrays((2, 1, 2)) == [0, 1, 2]          # the exact array is always on the chip
    ev = p.evaluate(c)
    assert ev.accuracy == pytest.approx(0.95 - p.accuracy_fn.loss[1, 2] - p.accuracy_fn.loss[2, 2])


@pytest.mark.parametrize("algo", sorted(set(ALGORITHMS) - {"fixed"}))   # fixed: topology spaces only
def test_budget_distinct_and_seeded(algo):
    runs = []
    for _ in range(2):
        p, acc = make_problem(4)
        r = run_search(p, algo, budget=30, seed=3, progress=False)
        choices = [e.choice for e in r.evaluations]
        assert len(choices) == len(set(choices)) <= 30
        # every evaluation ran the network once (plus the exact network, which fixes the target)
        assert acc.calls == len(choices) + (p.all_exact() not in choices)
        hv = [t["hv"] for t in r.trace]
        assert all(b >= a - 1e-12 for a, b in zip(hv, hv[1:]))
        runs.append(choices)
    assert runs[0] == runs[1]


def test_exhaustive_finds_the_optimum():
    p, _ = make_problem(4)
    r = run_search(p, "exhaustive", budget=4 ** 4, progress=False)
    assert min(e.energy_pj for e in r.evaluations if e.feasible) == pytest.approx(optimum(p))


def test_autoapprox_reaches_the_optimum_in_60_evaluations():
    for seed in (0, 1):
        p, _ = make_problem(6, seed=seed)
        best = optimum(p)
        r = run_search(p, "autoapprox", budget=60, seed=seed, progress=False)
        found = min(e.energy_pj for e in r.evaluations if e.feasible)
        assert found <= 1.02 * best, (seed, found / best)


def test_greedy_on_a_hand_computed_landscape():
    """Three layers, losses chosen so that each greedy decision is worked out by hand.

    Layers go in decreasing MAC order (l0: 3000, l2: 2000, l1: 1000); candidates cheapest first
    (drum 0.55, mitchell 0.62, trunc 0.80 pJ/MAC); the target 0.94 leaves a loss budget of 0.010.
    l0: drum (loss 0.008) fits.  l2: drum (0.008 + 0.004) does not, mitchell (0.008 + 0.001) does.
    l1: drum (0.009 + 0.002) and mitchell (0.009 + 0.002) do not, trunc (0.009 + 0.0005) does.
    """
    p, acc = make_problem(3, target=("abs", 0.94))
    acc.loss = np.array([[0, 0.001, 0.008, 0.003],      # columns: exact, trunc, drum, mitchell
                         [0, 0.0005, 0.002, 0.002],
                         [0, 0.002, 0.004, 0.001]])
    p.macs = np.array([3000.0, 1000.0, 2000.0])
    r = run_search(p, "greedy", budget=100, progress=False)
    assert [e.choice for e in r.evaluations] == [(0, 0, 0), (2, 0, 0), (2, 0, 2), (2, 0, 3),
                                                 (2, 2, 3), (2, 3, 3), (2, 1, 3)]
    assert [e.feasible for e in r.evaluations] == [True, True, False, True, False, False, True]
    assert r.evaluations[-1].energy_pj == pytest.approx(3000 * 0.55 + 1000 * 0.8 + 2000 * 0.62)


def test_greedy_follows_its_definition_on_random_landscapes():
    """The greedy rule written out here (decreasing MACs; per layer the cheapest candidate that is
    cheaper than the current one and keeps the target) gives the algorithm's exact evaluation order."""
    for seed in range(4):
        p, acc = make_problem(5, target=("abs", 0.945), seed=seed)
        r = run_search(p, "greedy", budget=100, progress=False)
        energy = [c.energy_pj_per_mac for c in p.candidates]
        current, want = [0] * 5, [(0,) * 5]
        for layer in sorted(range(5), key=lambda i: -p.macs[i]):
            for c in sorted(range(len(energy)), key=lambda c: energy[c]):
                if energy[c] >= energy[current[layer]]:
                    break
                trial = current.copy()
                trial[layer] = c
                want.append(tuple(trial))
                if 0.95 - sum(acc.loss[i, k] for i, k in enumerate(trial)) >= 0.945:
                    current = trial
                    break
        assert [e.choice for e in r.evaluations] == want, seed
        assert r.evaluations[-1].choice == tuple(current) or not r.evaluations[-1].feasible


def test_hypervolume_2d():
    assert hypervolume_2d([[0.5, 0.5]], (1, 1)) == pytest.approx(0.25)
    assert hypervolume_2d([[0.5, 0.5], [0.25, 0.75], [2, 0]], (1, 1)) == pytest.approx(0.25 + 0.25 * 0.25)


def test_targets_and_bad_input():
    assert parse_target("no-loss") == ("loss", 0.0)
    assert parse_target("loss=0.5") == ("loss", 0.005)
    assert parse_target("97.5%") == ("abs", 0.975)
    with pytest.raises(AxforgeError, match=r"^Target must be 'no-loss', 'loss=POINTS' \(0-100\) or an accuracy in \[0, 1\], not '1.5'$"):
        parse_target("1.5")
    p, _ = make_problem(3, target=("abs", 0.99))
    with pytest.raises(AxforgeError, match=r"^Target accuracy must be at most the exact network's 0.9500"):
        p.prepare()
    with pytest.raises(AxforgeError, match=r"^Area budget \(um2\) must be at least 100.0"):
        make_problem(3, area_budget=50)
    p, _ = make_problem(3)
    with pytest.raises(AxforgeError, match=r"^Algorithm must be one of autoapprox"):
        make_algorithm("sa", p)
    with pytest.raises(AxforgeError, match=r"^Budget must be an integer >= 1, not 0$"):
        run_search(p, "random", budget=0, progress=False)


def test_area_budget_is_a_constraint():
    p, _ = make_problem(4, area_budget=170.0)          # exact + one approximate array at most
    r = run_search(p, "autoapprox", budget=40, progress=False)
    feas = [e for e in r.evaluations if e.feasible]
    assert feas and all(e.area_um2 <= 170.0 for e in feas)
    assert all(len(p.arrays(e.choice)) <= 2 for e in feas)
    assert not np.isnan(min(e.energy_pj for e in feas))


@pytest.mark.parametrize("algo", ["random", "nsga2", "exhaustive"])
def test_generic_optimizers_on_a_toy_problem(algo):
    """Generic methods need only the Problem interface: distinct, valid, seeded, and they reach the
    hand-computed best feasible score (8) of the toy problem."""
    from search_toy import Toy
    runs = []
    for _ in range(2):
        toy = Toy()
        r = run_search(toy, algo, budget=40, seed=2, progress=False)
        keys = [toy.space.key(e.params) for e in r.evaluations]
        assert len(keys) == len(set(keys)) == toy.calls and toy.calls >= 30
        assert all(toy.space.validate(e.params) == dict(e.params) for e in r.evaluations)
        hv = [t["hv"] for t in r.trace]
        assert all(b >= a for a, b in zip(hv, hv[1:])) and hv[-1] > 0
        assert r.trace[-1]["best_feasible_score"] == 8.0
        runs.append(keys)
    assert runs[0] == runs[1]


def test_mapping_algorithms_need_the_mapping_problem():
    from search_toy import Toy
    with pytest.raises(AxforgeError, match=r"^Problem of algorithm 'greedy' must be a MappingProblem, not 'Toy'$"):
        make_algorithm("greedy", Toy())
    from axforge.search.algorithms import AutoApprox, NSGA2Search
    assert ALGORITHMS["autoapprox"] is AutoApprox and ALGORITHMS["nsga2"] is NSGA2Search
    assert set(ALGORITHMS) == {"autoapprox", "exhaustive", "fixed", "greedy", "nsga2", "random", "smac", "tpe"}


def test_an_algorithm_driven_by_hand_with_ask_and_tell():
    """The loop needs nothing from run_search: ask a params dict, evaluate it, tell the result."""
    p, _ = make_problem(3)
    algo = make_algorithm("greedy", p)
    asked = []
    while (params := algo.ask()) is not None:
        asked.append(p.choice_of(params))
        algo.tell(p.evaluate(params))
    assert asked == [e.choice for e in run_search(make_problem(3)[0], "greedy", budget=100, progress=False).evaluations]
