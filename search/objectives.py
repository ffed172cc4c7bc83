"""What a search optimises: named objectives and constraints, the immutable result record, the Problem contract.

A :class:`Problem` has a :class:`~axforge.search.space.SearchSpace`, any
number of :class:`Objective` s (each minimised or maximised) and named
constraints (a value <= 0 is feasible). ``evaluate(params)`` returns a
:class:`Result`: the point, its objective values and constraint values by
name, and extra attributes, frozen (as an Optuna trial). Some objectives or
constraints can be known in closed form, without the expensive evaluation
(the mapping problem's energy and area; not its accuracy): a problem names
them in ``closed_form`` and computes them in :meth:`Problem.closed_form_values`,
so model-based methods ask the problem instead of reading its internals.

Example, a toy problem::

    class Toy(Problem):
        def __init__(self):
            self.space = SearchSpace("toy")
            self.space.add_integer("x", 0, 9)
            self.objectives = (Objective("cost", "minimize"), Objective("gain", "maximize"))
            self.constraints = ("x_limit",)

        def evaluate(self, params):
            x = self.space.validate(params)["x"]
            return self.result(params, {"cost": x, "gain": x * x}, {"x_limit": x - 7})
"""

import abc
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from axforge.errors import AxforgeError, bad_value

__all__ = ["Objective", "Result", "Problem", "FrozenDict", "DIRECTIONS"]

DIRECTIONS = ("minimize", "maximize")


class FrozenDict(Mapping):
    """A read-only, hashable (when its values are), picklable mapping that keeps its order."""

    __slots__ = ("_d", "_h")

    def __init__(self, *args, **kwargs):
        self._d = dict(*args, **kwargs)
        self._h = None

    def __getitem__(self, key):
        return self._d[key]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def __hash__(self):
        if self._h is None:
            self._h = hash(tuple(self._d.items()))
        return self._h

    def __eq__(self, other):
        return dict(self._d) == (dict(other) if isinstance(other, Mapping) else other)

    def __reduce__(self):
        return (FrozenDict, (self._d,))

    def __repr__(self):
        return repr(self._d)


def _frozen(m):
    return m if isinstance(m, FrozenDict) else FrozenDict(m or {})


@dataclass(frozen=True)
class Objective:
    """One named objective and its direction, ``"minimize"`` or ``"maximize"``."""
    name: str
    direction: str = "minimize"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise bad_value("Objective name", self.name, "a non-empty string")
        if self.direction not in DIRECTIONS:
            raise bad_value(f"Direction of objective {self.name!r}", self.direction, "'minimize' or 'maximize'")

    @property
    def maximize(self):
        return self.direction == "maximize"

    def minimised(self, value):
        """``value`` as a quantity to minimise (negated when maximised); arrays too."""
        return -value if self.maximize else value

    def better(self, a, b):
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self.maximize else a < b

    def best(self, values):
        """The best of ``values`` (None when empty)."""
        values = list(values)
        if not values:
            return None
        return max(values) if self.maximize else min(values)


@dataclass(frozen=True)
class Result:
    """One evaluated point (immutable, as an Optuna trial).

    Attributes
    ----------
    params : mapping -- the point (parameter name -> value), in the space's order.
    values : mapping -- objective name -> value, in the problem's objective order.
    constraints : mapping -- constraint name -> value (<= 0 is feasible).
    attrs : mapping -- anything else worth keeping (JSON-able), e.g. a model's size or a loss curve.
    """
    params: Mapping
    values: Mapping
    constraints: Mapping = field(default_factory=FrozenDict)
    attrs: Mapping = field(default_factory=FrozenDict)

    def __post_init__(self):
        for name in ("params", "values", "constraints", "attrs"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def feasible(self):
        return all(v <= 0 for v in self.constraints.values())

    @property
    def violation(self):
        """The sum of the positive constraint values (0 when feasible)."""
        return float(sum(max(0.0, v) for v in self.constraints.values()))

    def vector(self, objectives):
        """The objective values as one vector to minimise (maximised ones negated)."""
        return np.array([o.minimised(self.values[o.name]) for o in objectives], dtype=float)

    def to_dict(self):
        return {"params": dict(self.params), "values": dict(self.values), "constraints": dict(self.constraints),
                "attrs": dict(self.attrs), "feasible": self.feasible}


class Problem(abc.ABC):
    """The contract between a search problem and the optimizers and the study that drive it.

    A subclass sets, usually in ``__init__``:

    * ``space`` -- a :class:`~axforge.search.space.SearchSpace`;
    * ``objectives`` -- a tuple of :class:`Objective` (any number, the journal keeps this order);
    * ``constraints`` -- a tuple of constraint names (empty: unconstrained);
    * ``closed_form`` -- names of objectives or constraints known without :meth:`evaluate`,
      computed by :meth:`closed_form_values`;

    and implements :meth:`evaluate`. The other methods have defaults.
    """

    space = None
    objectives = ()
    constraints = ()
    closed_form = ()

    @abc.abstractmethod
    def evaluate(self, params):
        """The :class:`Result` of the point ``params`` (a mapping); this is the expensive step."""

    def prepare(self):
        """Anything to do once before a search (e.g. fix a target relative to a reference); default nothing."""

    def closed_form_values(self, points):
        """``{name: array}`` of the closed-form objectives/constraints of many points (params dicts)."""
        raise AxforgeError(f"{type(self).__name__} has no closed-form objectives")

    def objective(self, name):
        """The :class:`Objective` called ``name``."""
        for o in self.objectives:
            if o.name == name:
                return o
        raise bad_value("Objective", name, "one of " + ", ".join(o.name for o in self.objectives))

    def result(self, params, values, constraints=None, attrs=None):
        """A :class:`Result` whose values and constraints are checked against the declared names
        (values put in the objectives' order)."""
        names = [o.name for o in self.objectives]
        if set(values) != set(names):
            raise bad_value("Objective values", sorted(values), "one value for each of " + ", ".join(names))
        constraints = dict(constraints or {})
        if set(constraints) != set(self.constraints):
            raise bad_value("Constraint values", sorted(constraints),
                            "one value for each of " + (", ".join(self.constraints) or "no constraint"))
        return Result(params, {n: float(values[n]) for n in names},
                      {n: float(constraints[n]) for n in self.constraints}, attrs or {})

    def restore(self, params, values, constraints, attrs):
        """A journaled trial back as a :class:`Result` (resume, other workers); no evaluation."""
        return Result(params, values, constraints, attrs)

    # -- hypervolume: the indicator a search traces --------------------------------

    def hv_reference(self):
        """The reference point of the hypervolume, in the minimised objective space (None: no
        hypervolume is traced). Default: none."""
        return None

    def hv_points(self, results):
        """The points (n, M) of ``results`` in the hypervolume's space; default: the minimised objective
        vectors of the feasible ones."""
        return np.array([r.vector(self.objectives) for r in results if r.feasible]).reshape(-1, len(self.objectives))

    def key(self):
        """Content hash of the problem definition (names a study); default: type, space, objectives."""
        blob = json.dumps({"type": type(self).__qualname__, "space": self.space.describe(),
                           "objectives": [[o.name, o.direction] for o in self.objectives],
                           "constraints": list(self.constraints)}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()
