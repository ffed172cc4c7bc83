"""Optimizers on one seeded ask/tell interface, found by name in :data:`ALGORITHMS`.

Each algorithm is one module of this package that registers itself
(``@ALGORITHMS.register("name")``); the registry imports the package's
modules on its first lookup, so a new file here is all a new method needs.
Generic methods work on any :class:`~axforge.search.objectives.Problem`
(``random``, ``exhaustive``, ``nsga2``); ``greedy`` and ``autoapprox`` need
the layer -> array :class:`~axforge.search.problem.MappingProblem`
(:class:`~axforge.search.algorithms.layerwise.LayerwiseAlgorithm`).
An algorithm class is also reachable here by its class name
(``from axforge.search.algorithms import AutoApprox``).
"""

from .base import ALGORITHMS, EXHAUSTIVE_MAX, Algorithm, make_algorithm

__all__ = ["ALGORITHMS", "EXHAUSTIVE_MAX", "Algorithm", "make_algorithm"]


def __getattr__(name):
    """Registered algorithm classes by class name (no import list: the registry finds them)."""
    for cls in ALGORITHMS.values():
        if cls.__name__ == name:
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
