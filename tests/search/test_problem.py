"""The mapping problem as a search-core Problem: its space, named objectives and constraints,
closed-form energy and area, and a quality metric of either direction."""

import numpy as np
import pytest

from axforge.errors import AxforgeError
from axforge.hdl.arith import MultSpec
from axforge.search.objectives import Result
from axforge.search.problem import Evaluation, MappingProblem
from axforge.search.study import run_search

from search_synthetic import SPECS, make_problem


def test_the_mapping_problem_on_the_core_interface():
    p, _ = make_problem(3, area_budget=170.0)
    assert p.space.names == ("l0", "l1", "l2") and p.space.size == 4 ** 3
    assert [(o.name, o.direction) for o in p.objectives] == [("energy_pj", "minimize"), ("accuracy", "maximize")]
    assert p.constraints == ("acc_violation", "area_violation")
    ev = p.evaluate({"l0": 0, "l1": 2, "l2": 3})
    assert isinstance(ev, Evaluation) and isinstance(ev, Result) and ev.choice == (0, 2, 3)
    assert ev == p.evaluate((0, 2, 3))
    assert dict(ev.values) == {"energy_pj": ev.energy_pj, "accuracy": ev.accuracy}
    assert ev.area_um2 == 230.0 and ev.area_violation == pytest.approx(230.0 / 170.0 - 1)
    cf = p.closed_form_values([{"l0": 0, "l1": 2, "l2": 3}, (2, 2, 2)])
    assert cf["energy_pj"].tolist() == [ev.energy_pj, p.energy((2, 2, 2))]
    assert cf["area_violation"].tolist() == [ev.area_violation, 0.0]     # exact + drum = 160 um2
    assert p.closed_form_values(np.array([[0, 2, 3]]))["energy_pj"].tolist() == [ev.energy_pj]
    with pytest.raises(AxforgeError, match=r"^Parameter 'l1' must be one of 0, 1, 2, 3, not 7$"):
        p.evaluate({"l0": 0, "l1": 7, "l2": 0})
    with pytest.raises(AxforgeError, match=r"^Mapping choice must be 3 indices in \[0, 3\], not \(0, 1\)$"):
        p.evaluate((0, 1))


def test_a_minimised_quality_metric_orients_the_target():
    """The same landscape as an error (minimised) with the target 0.01 makes the same greedy decisions
    as the accuracy 0.95 - error (maximised) with the target 0.94 (the hand-computed greedy test)."""
    loss = np.array([[0, 0.001, 0.008, 0.003], [0, 0.0005, 0.002, 0.002], [0, 0.002, 0.004, 0.001]])
    index = {None: 0, **{str(MultSpec.parse(s)): i for i, s in enumerate(SPECS)}}

    def error(mapping):
        return sum(loss[i, index[None if m is None else str(m)]] for i, m in enumerate(mapping.values()))

    runs = []
    for metric, fn, target in (("top1", lambda m: 0.95 - error(m), ("abs", 0.94)),
                               ("relative_error", error, ("abs", 0.01))):
        p, _ = make_problem(3, target=target)
        q = MappingProblem(p.layers, [3000.0, 1000.0, 2000.0], p.candidates, fn, target, metric=metric)
        r = run_search(q, "greedy", budget=100, progress=False)
        runs.append(([e.choice for e in r.evaluations], [e.feasible for e in r.evaluations]))
    assert runs[0] == runs[1]
    assert runs[0][0] == [(0, 0, 0), (2, 0, 0), (2, 0, 2), (2, 0, 3), (2, 2, 3), (2, 3, 3), (2, 1, 3)]
    assert [(o.name, o.direction) for o in q.objectives] == [("energy_pj", "minimize"), ("relative_error", "minimize")]
    assert q.prepare() == 0.01 and q.shortfall(0.015) == pytest.approx(0.005)
    assert q.evaluate((2, 2, 2)).acc_violation == pytest.approx(0.008 + 0.002 + 0.004 - 0.01)
    assert q.hv_reference() == (1.05, pytest.approx(0.06))
    q = MappingProblem(p.layers, p.macs, p.candidates, lambda m: 0.02, ("loss", 0.005), metric="rmse")
    assert q.prepare() == pytest.approx(0.025)          # a minimised metric's loss raises the bound
    with pytest.raises(AxforgeError, match=r"^Quality metric must be one of top1, "):
        MappingProblem(p.layers, p.macs, p.candidates, lambda m: 0.0, metric="psnr")
