"""NSGA-II through Optuna's NSGAIISampler, any space, any number of objectives, named constraints."""

from .base import ALGORITHMS, Algorithm

__all__ = ["NSGA2Search"]


@ALGORITHMS.register("nsga2")
class NSGA2Search(Algorithm):
    """NSGA-II (Optuna's sampler): directions from the problem's objectives, constraints (<= 0
    feasible) from its named constraints; conditional spaces are sampled define-by-run.

    The sampler works on its own in-memory Optuna study; results it did not
    ask for (resume, other workers) are added to it as complete trials.

    Example::

        algo = make_algorithm("nsga2", problem, seed=0)
        for _ in range(64):
            params = algo.ask()
            algo.tell(problem.evaluate(params))
    """
    name = "nsga2"

    def __init__(self, problem, seed=0, population=16):
        super().__init__(problem, seed)
        import warnings

        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        kw = {"constraints_func": lambda t: t.user_attrs["constraints"]} if problem.constraints else {}
        with warnings.catch_warnings():   # constraints_func is deprecated in Optuna 5 but still the sampler's API
            warnings.simplefilter("ignore", FutureWarning)
            sampler = optuna.samplers.NSGAIISampler(population_size=population, seed=seed, **kw)
        self._study = optuna.create_study(directions=[o.direction for o in problem.objectives], sampler=sampler)
        self._trial = None
        self._asked = None

    def ask(self):
        self._trial = self._study.ask()
        params = self.space.suggest(self._trial)
        self._asked = self.space.key(params)
        return params

    def tell(self, result):
        super().tell(result)
        import optuna
        values = [result.values[o.name] for o in self.problem.objectives]
        cons = [result.constraints[c] for c in self.problem.constraints]
        if self._trial is not None and self._asked == self.space.key(result.params):
            self._trial.set_user_attr("constraints", cons)
            self._study.tell(self._trial, values)
            self._trial = None
        else:   # a result from elsewhere (resume, another worker)
            self._study.add_trial(optuna.trial.create_trial(
                params=dict(result.params), distributions=self.space.distributions(result.params),
                values=values, user_attrs={"constraints": cons}))
