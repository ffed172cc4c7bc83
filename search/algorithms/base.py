"""The optimizer contract (ask / tell, seeded) and the registry of search algorithms."""

import abc

import numpy as np

from axforge.errors import bad_value
from axforge.registry import Registry

from ..objectives import Problem

__all__ = ["ALGORITHMS", "Algorithm", "make_algorithm", "EXHAUSTIVE_MAX"]

ALGORITHMS = Registry("Algorithm", package="axforge.search.algorithms")
EXHAUSTIVE_MAX = 200_000


class Algorithm(abc.ABC):
    """An optimizer that an outside loop drives: :meth:`ask` for a point, :meth:`tell` its result.

    The loop (:func:`axforge.search.study.run_search`) evaluates, journals and
    counts the budget; it also tells results the algorithm did not ask for
    (a resumed study, other workers), which an algorithm must accept. A
    subclass registers itself with ``@ALGORITHMS.register("name")``.

    Parameters
    ----------
    problem : Problem -- an instance of ``problem_type``.
    seed : int -- every random choice derives from it.

    Attributes
    ----------
    name : str -- the registry name.
    problem_type : type -- the problem interface the algorithm needs (default: any :class:`Problem`).
    history : list of Result -- everything told, in order.
    seen : set -- the space keys of everything told.
    """
    name = "base"
    problem_type = Problem

    def __init__(self, problem, seed=0):
        self.problem = problem
        self.space = problem.space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.history = []
        self.seen = set()

    @abc.abstractmethod
    def ask(self):
        """The next point to evaluate (a params dict), or None when there is nothing left to propose.
        Proposing a point already seen is allowed (the loop tells its result again, at no cost)."""

    def plan(self, budget):
        """The loop's budget, told before the first :meth:`ask` (default: ignored; SMAC sizes its
        initial design by it)."""

    def tell(self, result):
        """Report one :class:`~axforge.search.objectives.Result` (asked for or not)."""
        self.history.append(result)
        self.seen.add(self.space.key(result.params))


def make_algorithm(name, problem, seed=0, **options):
    """The algorithm registered as ``name``, built on ``problem`` with ``seed`` (one-line error otherwise)."""
    cls = ALGORITHMS.lookup(name, "Algorithm")
    if not isinstance(problem, cls.problem_type):
        raise bad_value(f"Problem of algorithm {name!r}", type(problem).__name__,
                        f"a {cls.problem_type.__name__}")
    return cls(problem, seed, **options)
