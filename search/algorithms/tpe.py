"""Optuna's TPE sampler as an ask/tell algorithm of the search core (a baseline next to SMAC).

TPE runs on an in-memory Optuna study of its own; the search core evaluates and journals. It
minimises the same cost as :class:`~.smac.SmacSearch`: the problem's ``objective`` (default its
first) as the core minimises it, infeasible points costed ``infeasible_cost`` plus their violation.
Results it did not ask for (a resumed study, other workers) are added to its study as finished
trials. Conditional parameters are asked define-by-run (:meth:`SearchSpace.suggest`), parents first.
TPE re-proposes points it knows once it has converged; after ``tries`` repeats in a row the next
point is an unseen one drawn at random from the space (seeded), so the budget is spent on distinct
points.
"""

from .base import ALGORITHMS, Algorithm
from .smac import ScalarCost

__all__ = ["TpeSearch"]


@ALGORITHMS.register("tpe")
class TpeSearch(Algorithm):
    """TPE (Optuna ``TPESampler``, seeded; ``n_startup`` random points first)."""
    name = "tpe"

    def __init__(self, problem, seed=0, objective=None, infeasible_cost=1e3, n_startup=10, tries=20):
        super().__init__(problem, seed)
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.cost = ScalarCost(problem, objective, infeasible_cost)
        self.tries = tries
        self._study = optuna.create_study(
            direction="minimize", sampler=optuna.samplers.TPESampler(seed=int(seed), n_startup_trials=n_startup))
        self._open = {}          # space key -> the Optuna trial it came from
        self._draw = self.space.sampler(seed)

    def ask(self):
        from optuna.trial import TrialState
        for _ in range(self.tries):
            trial = self._study.ask()
            params = self.space.suggest(trial)
            key = self.space.key(params)
            if key not in self.seen and key not in self._open:
                self._open[key] = trial
                return params
            self._study.tell(trial, state=TrialState.FAIL)     # a repeat: not evaluated again
        for _ in range(1000):
            params = self._draw()
            if self.space.key(params) not in self.seen and self.space.key(params) not in self._open:
                return params
        return None

    def tell(self, result):
        import optuna
        super().tell(result)
        key = self.space.key(result.params)
        trial = self._open.pop(key, None)
        if trial is not None:
            self._study.tell(trial, self.cost(result))
        else:
            self._study.add_trial(optuna.trial.create_trial(
                params=dict(result.params), distributions=self.space.distributions(result.params),
                value=self.cost(result)))
