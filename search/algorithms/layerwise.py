"""The base of the algorithms that need the layer -> array mapping problem's interface."""

import abc

from ..problem import MappingProblem
from .base import Algorithm

__all__ = ["LayerwiseAlgorithm"]


class LayerwiseAlgorithm(Algorithm):
    """An algorithm that reasons per layer: it needs a :class:`~axforge.search.problem.MappingProblem`
    (one choice per layer, closed-form energy and area through the problem's methods) and proposes
    choice tuples (:meth:`propose`), which :meth:`ask` hands out as params."""
    problem_type = MappingProblem

    def ask(self):
        choice = self.propose()
        return None if choice is None else self.problem.params_of(choice)

    @abc.abstractmethod
    def propose(self):
        """The next choice tuple (one candidate index per layer), or None."""
