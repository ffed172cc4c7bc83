"""Exhaustive search: every point of a finite space, in the space's enumeration order."""

from axforge.errors import bad_value

from .base import ALGORITHMS, EXHAUSTIVE_MAX, Algorithm

__all__ = ["ExhaustiveSearch"]


@ALGORITHMS.register("exhaustive")
class ExhaustiveSearch(Algorithm):
    """Every point, in :meth:`~axforge.search.space.SearchSpace.enumerate` order (for a mapping:
    lexicographic, the first layer slowest); spaces of at most ``EXHAUSTIVE_MAX`` points.

    Example::

        algo = make_algorithm("exhaustive", problem)
        while (params := algo.ask()) is not None:
            algo.tell(problem.evaluate(params))
    """
    name = "exhaustive"

    def __init__(self, problem, seed=0):
        super().__init__(problem, seed)
        bound = self.space.size_bound
        if bound > EXHAUSTIVE_MAX:
            size = f"{bound:.0f}" if bound != float("inf") else "infinitely many"
            raise bad_value("Algorithm", self.name, f"usable only when the space has at most {EXHAUSTIVE_MAX} "
                                                    f"points (this one has {'up to ' if self.space.conditional else ''}"
                                                    f"{size})")
        self._it = self.space.enumerate()

    def ask(self):
        for params in self._it:
            if self.space.key(params) not in self.seen:
                return params
        return None
