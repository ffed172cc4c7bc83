"""SMAC3 (random-forest surrogate + expected improvement) as an ask/tell algorithm of the search core.

SMAC's ``HyperparameterOptimizationFacade`` runs on the problem's own ConfigSpace (conditions
included) through SMAC's ask-and-tell interface; the search core evaluates and journals. SMAC
minimises one cost: the problem's ``objective`` (default its first), as the core minimises it
(negated when maximised), with infeasible points costed ``infeasible_cost`` plus their violation.

Results SMAC did not ask for (a resumed study, other workers) are told to it before its next ask,
one at a time, as SMAC's warm start does. The initial design (Sobol) is SMAC's default for the
budget: ``min(10 per parameter, budget / 4)`` points; the core tells the algorithm the budget
through :meth:`plan` before the first ask. SMAC's own files go to a temporary folder that is
removed when the algorithm is closed or collected; everything that matters is in the study.
"""

import logging
import shutil
import tempfile

from axforge.errors import AxforgeError, bad_value

from .base import ALGORITHMS, Algorithm

__all__ = ["ScalarCost", "SmacSearch"]


class ScalarCost:
    """One cost to minimise from a result: the problem's ``objective`` (default its first) as the
    core minimises it, or ``infeasible_cost`` plus the violation for an infeasible point (the
    single-objective methods SMAC and TPE share it)."""

    def __init__(self, problem, objective=None, infeasible_cost=1e3):
        names = [o.name for o in problem.objectives]
        self.objective = objective or names[0]
        if self.objective not in names:
            raise bad_value("SMAC objective", self.objective, "one of " + ", ".join(names))
        self._obj = problem.objectives[names.index(self.objective)]
        self.infeasible_cost = float(infeasible_cost)

    def __call__(self, result):
        value = float(self._obj.minimised(result.values[self.objective]))
        return value if result.feasible else self.infeasible_cost + result.violation


@ALGORITHMS.register("smac")
class SmacSearch(Algorithm):
    """SMAC3 on the problem's space (see the module docstring).

    Example::

        algo = make_algorithm("smac", problem, seed=0)
        algo.plan(50)
        params = algo.ask()
        algo.tell(problem.evaluate(params))
    """
    name = "smac"

    def __init__(self, problem, seed=0, objective=None, infeasible_cost=1e3):
        super().__init__(problem, seed)
        self.cost = ScalarCost(problem, objective, infeasible_cost)
        self.budget = 100
        self._smac = None
        self._asked = {}         # space key -> TrialInfo SMAC handed out
        self._queue = []         # results to tell SMAC before its next ask
        self._dir = None

    def plan(self, budget):
        if self._smac is None:
            self.budget = int(budget)

    def _build(self):
        from smac import HyperparameterOptimizationFacade as HPO
        from smac import Scenario
        for name in ("smac", "pynisher"):
            logging.getLogger(name).setLevel(logging.ERROR)
        self._dir = tempfile.mkdtemp(prefix="axforge-smac-")
        cs = self.space.configspace
        scenario = Scenario(cs, deterministic=True, n_trials=max(self.budget, 1), seed=int(self.seed) % (2 ** 31),
                            output_directory=self._dir)
        initial = HPO.get_initial_design(scenario)          # Sobol: min(10 per parameter, n_trials / 4)
        self._smac = HPO(scenario, target_function=lambda config, seed=0: 0.0, initial_design=initial,
                         overwrite=True, logging_level=40)

    def _config(self, params):
        from ConfigSpace import Configuration
        active = {k: v for k, v in self.space.validate(params).items()}
        return Configuration(self.space.configspace, values=active)

    def _flush(self):
        from smac.runhistory.dataclasses import TrialInfo, TrialValue
        while self._queue:
            result = self._queue.pop(0)
            key = self.space.key(result.params)
            info = self._asked.pop(key, None) or TrialInfo(self._config(result.params), seed=0)
            self._smac.tell(info, TrialValue(cost=self.cost(result)), save=False)

    def ask(self):
        from smac.runhistory.dataclasses import TrialValue
        if self._smac is None:
            self._build()
        self._flush()
        for _ in range(100):
            info = self._smac.ask()
            params = self.space._from_config(info.config)
            key = self.space.key(params)
            if key not in self.seen:
                self._asked[key] = info
                return params
            # SMAC proposed a point the core already knows: tell it the known cost and ask again
            known = next(r for r in reversed(self.history) if self.space.key(r.params) == key)
            self._smac.tell(info, TrialValue(cost=self.cost(known)), save=False)
        raise AxforgeError("SMAC proposed only points already evaluated, 100 times in a row")

    def tell(self, result):
        super().tell(result)
        self._queue.append(result)

    def close(self):
        if getattr(self, "_dir", None):
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __del__(self):
        self.close()
