"""Search spaces on ConfigSpace: integer, float, categorical and conditional parameters, variable-length genomes.

A :class:`SearchSpace` is a thin wrapper around a
``ConfigSpace.ConfigurationSpace``: ConfigSpace holds the parameters and
conditions, samples (seeded), and decides which parameters are active and
whether a point is legal; the wrapper adds what the search core needs on top:

* parameters in the order they were declared (``names``): enumeration,
  Optuna distributions and keys follow it, whatever order ConfigSpace keeps;
* plain Python values (``int``, ``float``, ``str``) in every params dict;
* one-line :class:`~axforge.errors.AxforgeError` messages naming the
  parameter, the value and what is allowed;
* Optuna distributions of the active parameters (how a study journals a
  trial) and :meth:`suggest` (define-by-run sampling by an Optuna sampler);
* enumeration of finite spaces and a canonical hashable :meth:`key`.

Example, a variable-length genome (a length plus per-position genes that are
active only below the length, which is a ConfigSpace condition)::

    space = SearchSpace()
    space.add_genome("node", length=(1, 4), genes={"op": ["add", "mul"], "mult": [0, 1, 2]})
    params = space.sample(seed=0)   # {'node_len': 2, 'node0_op': 'mul', 'node0_mult': 1, ...}
"""

import itertools
import math

from axforge.errors import AxforgeError, bad_value

__all__ = ["SearchSpace"]


def _plain(v):
    """numpy scalars (what ConfigSpace hands back) as Python values."""
    if isinstance(v, str):
        return str(v)                  # numpy.str_ is a str subclass
    return v.item() if hasattr(v, "item") else v


def _show(values):
    return ", ".join(repr(v) for v in values)


class SearchSpace:
    """Named parameters on a ``ConfigSpace.ConfigurationSpace``, in declaration order.

    Parameters
    ----------
    name : str
        Shown in error messages and part of :meth:`describe`.

    Attributes
    ----------
    configspace : ConfigSpace.ConfigurationSpace
        The underlying space (what SMAC3 and other ConfigSpace users consume).
    names : tuple of str
        The parameters, in the order they were added.
    """

    def __init__(self, name="search space"):
        import ConfigSpace as CS
        self.name = name
        self.configspace = CS.ConfigurationSpace()
        self._names = []
        self._kinds = {}         # name -> ("categorical", choices) | ("integer", lo, hi, log) | ("float", ...)
        self._conditional = False
        self._order = None       # names sorted parents-first (cached)

    # -- building -----------------------------------------------------------------

    @property
    def names(self):
        return tuple(self._names)

    def __len__(self):
        return len(self._names)

    def __contains__(self, name):
        return name in self._kinds

    def _add(self, name, hp, kind, when):
        if not isinstance(name, str) or not name:
            raise bad_value("Search parameter name", name, "a non-empty string")
        if name in self._kinds:
            raise bad_value("Search parameter name", name, "a name not yet in the space")
        self.configspace.add(hp)
        self._names.append(name)
        self._kinds[name] = kind
        self._order = None
        if when:
            self.add_condition(self._condition(name, when))
        return name

    def add_categorical(self, name, choices, when=None):
        """A parameter taking one of ``choices`` (ints, floats or strings, no repeats).

        ``when`` makes it conditional: ``{parent: value}`` or ``{parent: [values]}``
        (several parents: all must hold), built into ConfigSpace conditions.
        """
        import ConfigSpace as CS
        choices = [_plain(c) for c in choices]
        if not choices or len(set(choices)) != len(choices):
            raise bad_value(f"Choices of parameter {name!r}", choices, "a non-empty list without repeats")
        return self._add(name, CS.Categorical(name, choices), ("categorical", tuple(choices)), when)

    def add_integer(self, name, low, high, log=False, when=None):
        """An integer in ``[low, high]`` (both included), uniform or log-uniform when sampled."""
        import ConfigSpace as CS
        if isinstance(low, bool) or isinstance(high, bool) or not (int(low) == low and int(high) == high) \
                or low > high or (log and low < 1):
            raise bad_value(f"Range of parameter {name!r}", (low, high),
                            "two integers low <= high (low >= 1 when log)")
        low, high = int(low), int(high)
        return self._add(name, CS.Integer(name, (low, high), log=log), ("integer", low, high, bool(log)), when)

    def add_float(self, name, low, high, log=False, when=None):
        """A real number in ``[low, high]`` (an infinite space: no enumeration)."""
        import ConfigSpace as CS
        if not low < high or (log and low <= 0):
            raise bad_value(f"Range of parameter {name!r}", (low, high), "two numbers low < high (low > 0 when log)")
        low, high = float(low), float(high)
        return self._add(name, CS.Float(name, (low, high), log=log), ("float", low, high, bool(log)), when)

    def _condition(self, child, when):
        import ConfigSpace as CS
        conds = []
        for parent, value in dict(when).items():
            if parent not in self._kinds:
                raise bad_value(f"Condition parent of parameter {child!r}", parent,
                                "a parameter added before it (" + _show(self._names) + ")")
            hp_c, hp_p = self.configspace[child], self.configspace[parent]
            if isinstance(value, (list, tuple, set)):
                conds.append(CS.InCondition(hp_c, hp_p, [_plain(v) for v in value]))
            else:
                conds.append(CS.EqualsCondition(hp_c, hp_p, _plain(value)))
        return conds[0] if len(conds) == 1 else CS.AndConjunction(*conds)

    def add_condition(self, condition):
        """Add a ConfigSpace condition (or conjunction) on parameters already in the space."""
        self.configspace.add(condition)
        self._conditional = True
        self._order = None

    def add_genome(self, prefix, length, genes):
        """A variable-length genome: ``{prefix}_len`` in ``length = (min, max)`` and, for each position
        ``i < max`` and gene ``g``, ``{prefix}{i}_{g}`` active only when ``i < {prefix}_len``.

        ``genes`` maps a gene name to its choices (a list) or to an integer range (a ``(low, high)``
        tuple). Returns the name of the length parameter.
        """
        import ConfigSpace as CS
        lo, hi = length
        if isinstance(lo, bool) or not (int(lo) == lo and int(hi) == hi) or not 0 <= lo <= hi or hi < 1:
            raise bad_value(f"Length of genome {prefix!r}", length,
                            "(min, max) integers with 0 <= min <= max, max >= 1")
        if not genes:
            raise bad_value(f"Genes of genome {prefix!r}", genes, "a non-empty mapping gene -> choices or (low, high)")
        n = self.add_integer(f"{prefix}_len", int(lo), int(hi)) if lo != hi else None
        for i in range(int(hi)):
            for g, dom in genes.items():
                name = f"{prefix}{i}_{g}"
                if isinstance(dom, tuple):
                    self.add_integer(name, *dom)
                else:
                    self.add_categorical(name, dom)
                if n is not None and i >= lo:      # positions below the minimum length are always active
                    self.add_condition(CS.GreaterThanCondition(self.configspace[name], self.configspace[n], i))
        return n

    # -- structure ----------------------------------------------------------------

    @property
    def conditional(self):
        return self._conditional

    def _parents_first(self):
        """Declared order, stably re-sorted so that every parameter comes after its parents."""
        if self._order is None:
            depth = {}

            def d(name):
                if name not in depth:
                    parents = self.configspace.parents_of[name]
                    depth[name] = 1 + max((d(p.name) for p in parents), default=-1)
                return depth[name]
            self._order = sorted(self._names, key=d)
        return self._order

    def _active(self, name, values):
        """Whether ``name`` is active given the (parents') ``values``: every parent active and set, and
        ConfigSpace's condition satisfied."""
        conds = self.configspace.parent_conditions_of[name]
        if not conds:
            return True
        if any(p.name not in values for p in self.configspace.parents_of[name]):
            return False
        return all(c.satisfied_by_value(values) for c in conds)

    @property
    def size(self):
        """The number of points (None when a float makes it infinite); a conditional space is
        enumerated to count them (see :attr:`size_bound` for a cheap bound)."""
        if any(k[0] == "float" for k in self._kinds.values()):
            return None
        if not self._conditional:
            return math.prod(self._count(n) for n in self._names)
        return sum(1 for _ in self.enumerate())

    @property
    def size_bound(self):
        """ConfigSpace's estimate of the size: exact without conditions, an upper bound with them
        (every parameter counted as active); ``inf`` with floats. Cheap, unlike :attr:`size`."""
        return float(self.configspace.estimate_size())

    def _count(self, name):
        k = self._kinds[name]
        return len(k[1]) if k[0] == "categorical" else k[2] - k[1] + 1

    def _domain(self, name):
        k = self._kinds[name]
        return list(k[1]) if k[0] == "categorical" else list(range(k[1], k[2] + 1))

    def allowed(self, name):
        """What ``name`` may take, as error messages say it."""
        k = self._kinds[name]
        if k[0] == "categorical":
            return "one of " + _show(k[1])
        kind = "an integer" if k[0] == "integer" else "a number"
        return f"{kind} in [{k[1]}, {k[2]}]"

    # -- points -------------------------------------------------------------------

    def _ordered(self, values):
        return {n: values[n] for n in self._names if n in values}

    def sample(self, n=None, seed=None):
        """One params dict (``n`` None) or a list of ``n``, drawn by ConfigSpace from its own seeded RNG.

        ``seed`` (int) restarts that RNG: the same seed gives the same points.
        """
        if seed is not None:
            self.configspace.seed(int(seed))
        if n is None:
            return self._from_config(self.configspace.sample_configuration())
        return [self._from_config(c) for c in self.configspace.sample_configuration(int(n))]

    def sampler(self, seed=0):
        """An independent seeded sampler: a callable returning one params dict per call."""
        import copy
        cs = copy.deepcopy(self.configspace)
        cs.seed(int(seed))
        return lambda: self._from_config(cs.sample_configuration())

    def _from_config(self, config):
        return self._ordered({k: _plain(v) for k, v in dict(config).items()})

    def validate(self, params):
        """``params`` checked (ConfigSpace decides legality and activity) and normalised: plain Python
        values in declaration order. Raises a one-line AxforgeError naming the parameter."""
        import ConfigSpace as CS
        from ConfigSpace.exceptions import (
            ActiveHyperparameterNotSetError,
            ForbiddenValueError,
            InactiveHyperparameterSetError,
        )
        if not hasattr(params, "items"):
            raise bad_value(f"Point of the {self.name}", params, "a mapping parameter name -> value")
        out = {}
        for name, v in params.items():
            if name not in self._kinds:
                raise bad_value(f"Parameter of the {self.name}", name, "one of " + _show(self._names))
            out[name] = self._value(name, v)
        try:
            CS.Configuration(self.configspace, values=out)
        except InactiveHyperparameterSetError as exc:
            name = exc.hyperparameter.name
            raise bad_value(f"Parameter {name!r}", out[name],
                            f"unset (inactive for {self._parents_text(name, out)})") from None
        except ActiveHyperparameterNotSetError as exc:   # the first missing one in declaration order
            name = next((n for n in self._names if n not in out and self._active(n, out)), exc.hyperparameter.name)
            raise bad_value(f"Parameter {name!r}", None, self.allowed(name) + " (it is active)") from None
        except ForbiddenValueError as exc:
            raise AxforgeError(f"Point of the {self.name} must satisfy every forbidden clause, not {out!r} "
                               f"({str(exc).splitlines()[0]})") from None
        return self._ordered(out)

    def _parents_text(self, name, values):
        return ", ".join(f"{p.name} = {values.get(p.name)!r}" for p in self.configspace.parents_of[name])

    def _value(self, name, v):
        k = self._kinds[name]
        v = _plain(v)
        if k[0] == "categorical":
            for c in k[1]:
                if c == v and type(c) is type(v):      # 1 is not True, 1.0 is not 1
                    return c
        elif k[0] == "integer":
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == int(v) and k[1] <= v <= k[2]:
                return int(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and k[1] <= v <= k[2]:
            return float(v)
        raise bad_value(f"Parameter {name!r}", v, self.allowed(name))

    def active(self, params):
        """Names of the parameters active for ``params``, in declaration order."""
        values, out = {}, set()
        for n in self._parents_first():
            if self._active(n, values) and n in params:
                values[n] = params[n]
                out.add(n)
        return [n for n in self._names if n in out]

    def key(self, params):
        """A canonical hashable key: the value of each parameter in declaration order, None when unset."""
        return tuple(params.get(n) for n in self._names)

    def enumerate(self):
        """Every point of a finite space, lazily. Without conditions: the product in declaration order
        (the first parameter varies slowest); with conditions: ConfigSpace's ``generate_grid``."""
        if any(k[0] == "float" for k in self._kinds.values()):
            raise bad_value(f"Enumeration of the {self.name}", "float parameters", "a space without floats")
        if not self._conditional:
            domains = [self._domain(n) for n in self._names]
            return (dict(zip(self._names, vals)) for vals in itertools.product(*domains))
        from ConfigSpace.util import generate_grid
        steps = {n: self._count(n) for n in self._names if self._kinds[n][0] == "integer"}
        return (self._from_config(c) for c in generate_grid(self.configspace, steps))

    # -- Optuna -------------------------------------------------------------------

    def distribution(self, name):
        """The Optuna distribution of one parameter."""
        import optuna
        k = self._kinds[name]
        if k[0] == "categorical":
            return optuna.distributions.CategoricalDistribution(list(k[1]))
        if k[0] == "integer":
            return optuna.distributions.IntDistribution(k[1], k[2], log=k[3])
        return optuna.distributions.FloatDistribution(k[1], k[2], log=k[3])

    def distributions(self, params=None):
        """Optuna distributions of every parameter (``params`` None) or of those active in ``params``."""
        names = self._names if params is None else self.active(params)
        return {n: self.distribution(n) for n in names}

    def suggest(self, trial):
        """Define-by-run: ask an Optuna ``trial`` for each active parameter, parents first; returns the
        params dict in declaration order."""
        values = {}
        for n in self._parents_first():
            if self._active(n, values):
                k = self._kinds[n]
                if k[0] == "categorical":
                    values[n] = trial.suggest_categorical(n, list(k[1]))
                elif k[0] == "integer":
                    values[n] = trial.suggest_int(n, k[1], k[2], log=k[3])
                else:
                    values[n] = trial.suggest_float(n, k[1], k[2], log=k[3])
        return self._ordered(values)

    def describe(self):
        """A JSON-able description (what a problem's content hash covers)."""
        return {"name": self.name, "params": [[n, *self._kinds[n]] for n in self._names],
                "conditions": sorted(str(c) for c in self.configspace.conditions)}

    def __repr__(self):
        cond = ", conditional" if self._conditional else ""
        return f"SearchSpace({self.name!r}, {len(self._names)} parameters{cond})"
