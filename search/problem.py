"""The layer -> array mapping problem (AutoApprox): choices, energy, area, accuracy, constraints.

Decision: for each of N layers one of K candidate arrays (multipliers). The
chip holds the distinct arrays used (plus the exact one when requested).
Energy per inference = sum over layers of MACs x the array's energy per MAC
(from the PPA flow on the array, not the bare multiplier); area = sum of the
arrays on the chip; accuracy = the quantised network with approximate layers.
"""

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from axforge.errors import AxforgeError, bad_value

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
class Evaluation:
    """One evaluated mapping (an immutable record, as an Optuna trial)."""
    choice: tuple
    accuracy: float
    energy_pj: float               # per inference
    area_um2: float
    acc_violation: float           # max(0, target - accuracy)
    area_violation: float          # max(0, area / budget - 1)

    @property
    def feasible(self):
        return self.acc_violation <= 0 and self.area_violation <= 0

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


class MappingProblem:
    """Choices ``tuple(int)`` (one candidate index per layer) -> :class:`Evaluation`.

    Parameters
    ----------
    layers : list of str -- layer names, in network order.
    macs : list of int -- MACs per inference of each layer.
    candidates : list of Candidate
    accuracy_fn : callable({layer: MultSpec or None}) -> float
    target : (kind, value) from :func:`parse_target`
    area_budget_um2 : float or None
    include_exact : bool -- the chip always holds the exact array (so any layer can fall back).
    """

    def __init__(self, layers, macs, candidates, accuracy_fn, target=("loss", 0.0), area_budget_um2=None,
                 include_exact=True, digest=""):
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

    # -- objectives -------------------------------------------------------------

    def mapping(self, choice):
        """``{layer: MultSpec or None}``; exact candidates become None (exact products, no LUT)."""
        return {l: (None if self.candidates[c].exact else self.candidates[c].spec)
                for l, c in zip(self.layers, choice)}

    def energy(self, choice):
        e = np.array([self.candidates[c].energy_pj_per_mac for c in choice])
        return float((self.macs * e).sum())

    def energy_many(self, choices):
        """Energies of many choices (n, N) at once."""
        e = np.array([c.energy_pj_per_mac for c in self.candidates])
        return (e[np.asarray(choices)] * self.macs).sum(axis=1)

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

    def accuracy(self, choice):
        choice = tuple(int(c) for c in choice)
        if choice not in self._acc:
            self._acc[choice] = float(self.accuracy_fn(self.mapping(choice)))
        return self._acc[choice]

    def prepare(self):
        """Evaluate the exact network and fix the accuracy target (cheap; done before any search)."""
        if self.target is not None:
            return self.target
        if self.exact_index is not None:
            self.exact_accuracy = self.accuracy(self.all_exact())
        if self.target_kind == "loss":
            if self.exact_accuracy is None:
                raise bad_value("Target", "no-loss", "an absolute accuracy when the bank has no exact multiplier")
            self.target = self.exact_accuracy - self.target_value
        else:
            self.target = self.target_value
            if self.exact_accuracy is not None and self.target > self.exact_accuracy:
                raise bad_value("Target accuracy", self.target,
                                f"at most the exact network's {self.exact_accuracy:.4f} (nothing is expected above it)")
        return self.target

    def evaluate(self, choice, accuracy=None):
        """The :class:`Evaluation` of ``choice`` (``accuracy`` given: a journaled result being replayed)."""
        target = self.prepare()
        choice = tuple(int(c) for c in choice)
        if len(choice) != self.n_layers or not all(0 <= c < self.n_choices for c in choice):
            raise bad_value("Mapping choice", choice, f"{self.n_layers} indices in [0, {self.n_choices - 1}]")
        if accuracy is not None:
            self._acc[choice] = float(accuracy)
        acc = self.accuracy(choice)
        area = self.area(choice)
        av = max(0.0, area / self.area_budget - 1) if self.area_budget else 0.0
        return Evaluation(choice, acc, self.energy(choice), area, max(0.0, target - acc), av)

    def key(self):
        """Content hash of the problem definition (model, candidates, target, budget)."""
        blob = json.dumps({"digest": self.digest, "layers": self.layers, "macs": self.macs.tolist(),
                           "cands": [c.to_dict() for c in self.candidates], "target": [self.target_kind,
                           self.target_value], "area": self.area_budget, "exact": self.include_exact},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()
