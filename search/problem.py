"""The layer -> array mapping problem (AutoApprox): choices, energy, area, accuracy, constraints.

Decision: for each of N layers one of K candidate arrays (multipliers): the
categorical parameters ``l0 .. l{N-1}`` of its search space, or a choice
tuple of candidate indices. The chip holds the distinct arrays used (plus the
exact one when requested). Energy per inference = sum over layers of MACs x
the array's energy per MAC (from the PPA flow on the array, not the bare
multiplier); area = sum of the arrays on the chip; accuracy = the task's
quality metric (:mod:`axforge.models.quality`; top-1 accuracy for the
classifiers) of the quantised network with approximate layers.

Objectives: ``energy_pj`` (minimised, closed form) and the quality metric
(``accuracy``, maximised, for top-1); constraints ``acc_violation`` (the
quality target) and ``area_violation`` (the area budget, closed form).
"""

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from axforge.errors import AxforgeError, bad_value
from axforge.models.quality import QUALITY

from .objectives import Objective, Problem, Result
from .space import SearchSpace

__all__ = ["Candidate", "Evaluation", "MappingProblem", "parse_target"]


@dataclass(frozen=True)
class Candidate:
    """One array of the bank: its multiplier and its measured PPA."""
    spec: object                   # MultSpec
    energy_pj_per_mac: float       # array level, from a gate-level workload simulation
    area_um2: float                # one array (with its share of the bank's routing)
    mult_energy_pj: float = float("nan")   # the multiplier alone, for reference

    @property
    def name(self):
        return str(self.spec)

    @property
    def exact(self):
        return self.spec.family == "exact"

    def to_dict(self):
        return {"spec": self.name, "energy_pj_per_mac": self.energy_pj_per_mac, "area_um2": self.area_um2,
                "mult_energy_pj": self.mult_energy_pj}


@dataclass(frozen=True)
class Evaluation(Result):
    """One evaluated mapping: a :class:`~axforge.search.objectives.Result` with the mapping's names.

    ``values`` = {energy_pj, <quality objective>}, ``constraints`` = {acc_violation,
    area_violation}, ``attrs`` = {accuracy (the quality value, under its journal name), area_um2}.
    """

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "choice", tuple(self.params.values()))

    @property
    def accuracy(self):
        """The task's quality metric (top-1 accuracy for the classifiers)."""
        return self.attrs["accuracy"]

    @property
    def energy_pj(self):              # per inference
        return self.values["energy_pj"]

    @property
    def area_um2(self):
        return self.attrs["area_um2"]

    @property
    def acc_violation(self):          # max(0, target - accuracy) (the other way round for a minimised metric)
        return self.constraints["acc_violation"]

    @property
    def area_violation(self):         # max(0, area / budget - 1)
        return self.constraints["area_violation"]

    def to_dict(self):
        return {"choice": list(self.choice), "accuracy": self.accuracy, "energy_pj": self.energy_pj,
                "area_um2": self.area_um2, "acc_violation": self.acc_violation,
                "area_violation": self.area_violation, "feasible": self.feasible}


def parse_target(text):
    """``no-loss`` (the exact network's accuracy), ``loss=P`` (P points below it) or an accuracy in [0, 1]."""
    text = str(text).strip()
    if text == "no-loss":
        return ("loss", 0.0)
    try:
        if text.startswith("loss="):
            v = float(text[5:])
            if not 0 <= v <= 100:
                raise ValueError
            return ("loss", v / 100)
        v = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise bad_value("Target", text, "'no-loss', 'loss=POINTS' (0-100) or an accuracy in [0, 1]") from None
    if not 0 <= v <= 1:
        raise bad_value("Target", text, "'no-loss', 'loss=POINTS' (0-100) or an accuracy in [0, 1]")
    return ("abs", v)


class MappingProblem(Problem):
    """Choices ``tuple(int)`` (one candidate index per layer), or their params, -> :class:`Evaluation`.

    Parameters
    ----------
    layers : list of str -- layer names, in network order.
    macs : list of int -- MACs per inference of each layer.
    candidates : list of Candidate
    accuracy_fn : callable({layer: MultSpec or None}) -> float -- the quality metric of the network.
    target : (kind, value) from :func:`parse_target`
    area_budget_um2 : float or None
    include_exact : bool -- the chip always holds the exact array (so any layer can fall back).
    metric : str or Metric -- the quality metric ``accuracy_fn`` measures (a name in
        :data:`axforge.models.quality.QUALITY`; its direction orients the target).
    """

    constraints = ("acc_violation", "area_violation")
    closed_form = ("energy_pj", "area_violation")

    def __init__(self, layers, macs, candidates, accuracy_fn, target=("loss", 0.0), area_budget_um2=None,
                 include_exact=True, digest="", metric="top1"):
        if not candidates:
            raise bad_value("Bank 'multipliers'", [], "a list of at least one multiplier")
        if len(layers) != len(macs) or not layers:
            raise AxforgeError("The problem needs one MAC count per layer and at least one layer")
        self.layers, self.macs = list(layers), np.asarray(macs, dtype=np.float64)
        self.candidates = list(candidates)
        self.accuracy_fn = accuracy_fn
        self.include_exact = include_exact
        self.exact_index = next((i for i, c in enumerate(candidates) if c.exact), None)
        if include_exact and self.exact_index is None:
            raise bad_value("Bank 'multipliers'", [c.name for c in candidates],
                            "a list holding an exact multiplier when include_exact is true")
        self.area_budget = area_budget_um2
        min_area = min(c.area_um2 for c in candidates)
        if include_exact:
            min_area = candidates[self.exact_index].area_um2
        if area_budget_um2 is not None and area_budget_um2 < min_area:
            raise bad_value("Area budget (um2)", area_budget_um2,
                            f"at least {min_area:.1f}, the smallest chip this bank can make")
        self.digest = digest
        self._acc = {}
        self.exact_accuracy = None
        self.target_kind, self.target_value = target
        self.target = None
        self.metric = QUALITY.lookup(metric, "Quality metric") if isinstance(metric, str) else metric
        self.quality = Objective(self.metric.objective, self.metric.direction)
        self.objectives = (Objective("energy_pj", "minimize"), self.quality)
        self.space = SearchSpace("mapping space")
        for i in range(len(self.layers)):
            self.space.add_categorical(self.param_name(i), list(range(len(self.candidates))))

    # -- sizes ----------------------------------------------------------------

    @property
    def n_layers(self):
        return len(self.layers)

    @property
    def n_choices(self):
        return len(self.candidates)

    @property
    def size(self):
        return self.n_choices ** self.n_layers

    def all_exact(self):
        return tuple([self.exact_index] * self.n_layers) if self.exact_index is not None else None

    # -- choices <-> params -------------------------------------------------------

    @staticmethod
    def param_name(layer_index):
        return f"l{layer_index}"

    def params_of(self, choice):
        """The params dict of a choice tuple."""
        return {self.param_name(i): int(c) for i, c in enumerate(choice)}

    def choice_of(self, point):
        """The choice tuple of a params mapping (checked against the space) or of a sequence (checked)."""
        if hasattr(point, "items"):
            params = self.space.validate(point)
            try:
                return tuple(params[self.param_name(i)] for i in range(self.n_layers))
            except KeyError:
                raise bad_value("Mapping", dict(point), f"one value for each of l0 .. l{self.n_layers - 1}") from None
        choice = tuple(int(c) for c in point)
        if len(choice) != self.n_layers or not all(0 <= c < self.n_choices for c in choice):
            raise bad_value("Mapping choice", choice, f"{self.n_layers} indices in [0, {self.n_choices - 1}]")
        return choice

    # -- the quality target ---------------------------------------------------------

    def shortfall(self, quality, target=None):
        """How far ``quality`` (scalar or array) falls short of ``target`` (default: the problem's);
        <= 0 meets it."""
        target = self.target if target is None else target
        return target - quality if self.quality.maximize else quality - target

    def loosen(self, target, by):
        """``target`` relaxed by ``by`` (lower for a maximised metric, higher for a minimised one)."""
        return target - by if self.quality.maximize else target + by

    # -- objectives -------------------------------------------------------------

    def mapping(self, choice):
        """``{layer: MultSpec or None}``; exact candidates become None (exact products, no LUT)."""
        return {l: (None if self.candidates[c].exact else self.candidates[c].spec)
                for l, c in zip(self.layers, choice)}

    def energy_per_mac(self):
        """Energy per MAC (pJ) of each choice (candidate array), closed form."""
        return np.array([c.energy_pj_per_mac for c in self.candidates])

    def energy(self, choice):
        e = np.array([self.candidates[c].energy_pj_per_mac for c in choice])
        return float((self.macs * e).sum())

    def energy_many(self, choices):
        """Energies of many choices (n, N) at once."""
        return (self.energy_per_mac()[np.asarray(choices)] * self.macs).sum(axis=1)

    def area_many(self, choices):
        """Chip areas of many choices (n, N) at once."""
        choices = np.asarray(choices)
        used = np.zeros((len(choices), self.n_choices), dtype=bool)
        used[np.arange(len(choices))[:, None], choices] = True
        if self.include_exact:
            used[:, self.exact_index] = True
        return used @ np.array([c.area_um2 for c in self.candidates])

    def arrays(self, choice):
        """Candidate indices of the arrays on the chip (exact first when included)."""
        used = sorted(set(choice))
        if self.include_exact and self.exact_index not in used:
            used = [self.exact_index] + used
        elif self.include_exact:
            used = [self.exact_index] + [u for u in used if u != self.exact_index]
        return used

    def area(self, choice):
        return float(sum(self.candidates[i].area_um2 for i in self.arrays(choice)))

    def area_violation_many(self, choices):
        """``max(0, area / budget - 1)`` of many choices (n, N) at once (zeros without a budget)."""
        if not self.area_budget:
            return np.zeros(len(choices))
        return np.maximum(0.0, self.area_many(choices) / self.area_budget - 1)

    def closed_form_values(self, points):
        """Energy and area violation of many points (params dicts, choice tuples, or an (n, N) integer
        array of choices), no network run."""
        if isinstance(points, np.ndarray) and points.ndim == 2 and points.dtype.kind in "iu":
            choices = points
        else:
            choices = np.array([self.choice_of(p) for p in points], dtype=int).reshape(-1, self.n_layers)
        return {"energy_pj": self.energy_many(choices), "area_violation": self.area_violation_many(choices)}

    def accuracy(self, choice):
        choice = tuple(int(c) for c in choice)
        if choice not in self._acc:
            self._acc[choice] = float(self.accuracy_fn(self.mapping(choice)))
        return self._acc[choice]

    def prepare(self):
        """Evaluate the exact network and fix the quality target (cheap; done before any search)."""
        if self.target is not None:
            return self.target
        if self.exact_index is not None:
            self.exact_accuracy = self.accuracy(self.all_exact())
        if self.target_kind == "loss":
            if self.exact_accuracy is None:
                raise bad_value("Target", "no-loss", "an absolute accuracy when the bank has no exact multiplier")
            self.target = self.loosen(self.exact_accuracy, self.target_value)
        else:
            self.target = self.target_value
            if self.exact_accuracy is not None and self.shortfall(self.exact_accuracy) > 0:
                bound = "at most" if self.quality.maximize else "at least"
                raise bad_value(f"Target {self.quality.name}", self.target,
                                f"{bound} the exact network's {self.exact_accuracy:.4f} (nothing is expected "
                                f"{'above' if self.quality.maximize else 'below'} it)")
        return self.target

    def evaluate(self, choice, accuracy=None):
        """The :class:`Evaluation` of ``choice`` (a choice tuple or a params mapping); ``accuracy``
        given: a journaled result being replayed (no network run)."""
        target = self.prepare()
        choice = self.choice_of(choice)
        if accuracy is not None:
            self._acc[choice] = float(accuracy)
        acc = self.accuracy(choice)
        area = self.area(choice)
        av = max(0.0, area / self.area_budget - 1) if self.area_budget else 0.0
        return Evaluation(self.params_of(choice), {"energy_pj": self.energy(choice), self.quality.name: acc},
                          {"acc_violation": max(0.0, self.shortfall(acc, target)), "area_violation": av},
                          {"accuracy": acc, "area_um2": area})

    def restore(self, params, values, constraints, attrs):
        """A journaled mapping back as an :class:`Evaluation`: its accuracy from the journal, the rest
        recomputed (closed form)."""
        return self.evaluate(params, accuracy=values[self.quality.name])

    # -- hypervolume --------------------------------------------------------------

    def hv_reference(self):
        """Objectives (energy / all-exact energy, 1 - accuracy); reference (1.05, 1 - (target - 0.05)).
        A minimised metric q: (energy / all-exact energy, q); reference (1.05, target + 0.05)."""
        if self.quality.maximize:
            return (1.05, 1.0 - (self.target - 0.05))
        return (1.05, self.target + 0.05)

    def hv_points(self, evals):
        """The hypervolume points of the evaluations within the area budget."""
        e0 = self.energy(self.all_exact()) if self.all_exact() else max(e.energy_pj for e in evals)
        q = (lambda a: 1.0 - a) if self.quality.maximize else (lambda a: a)
        return np.array([[e.energy_pj / e0, q(e.accuracy)] for e in evals if e.area_violation <= 0]).reshape(-1, 2)

    def key(self):
        """Content hash of the problem definition (model, candidates, target, budget, metric unless top-1)."""
        d = {"digest": self.digest, "layers": self.layers, "macs": self.macs.tolist(),
             "cands": [c.to_dict() for c in self.candidates], "target": [self.target_kind, self.target_value],
             "area": self.area_budget, "exact": self.include_exact}
        if self.metric.name != "top1":      # top-1 studies keep the names they always had
            d["metric"] = self.metric.name
        blob = json.dumps(d, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()
