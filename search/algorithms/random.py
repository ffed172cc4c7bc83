"""Random search: points drawn by ConfigSpace (seeded), any space."""

from .base import ALGORITHMS, Algorithm

__all__ = ["RandomSearch"]


@ALGORITHMS.register("random")
class RandomSearch(Algorithm):
    """Uniform random points of the problem's space, not yet evaluated (ConfigSpace's sampler, seeded).

    Example::

        algo = make_algorithm("random", problem, seed=0)
        params = algo.ask()
        algo.tell(problem.evaluate(params))
    """
    name = "random"

    def __init__(self, problem, seed=0, tries=1000):
        super().__init__(problem, seed)
        self.tries = tries
        self._draw = self.space.sampler(seed)

    def ask(self):
        for _ in range(self.tries):
            params = self._draw()
            if self.space.key(params) not in self.seen:
                return params
        return None
