"""Online selection from an offline Pareto set (Chen et al., "Towards best-effort approximation",
Table 1 and Eq. 6): pick one network per query under the user's constraints, in microseconds.

Each candidate has an accuracy (the share of inputs within the error bound, 0..1), a speedup and an
energy reduction (both against the CPU alone, higher is better). A query gives a mode and optional
lower bounds ``min_accuracy``, ``min_speedup``, ``min_energy_reduction``; the candidates meeting
every bound are *feasible*, and the mode picks among them:

- ``quality``: the highest accuracy (ties: the larger energy reduction, then the larger speedup);
- ``energy``: the lowest energy, i.e. the largest energy reduction, among the feasible ones; it
  needs ``min_accuracy`` (the paper's "lowest energy that meets an accuracy threshold"); ties: the
  higher accuracy;
- ``integrated``: the largest ``theta * acc / C_acc + (1 - theta) * er / (C_e * E_norm)`` (Eq. 6),
  with ``C_acc`` = ``min_accuracy`` and ``C_e`` = ``min_energy_reduction`` (1 where not given) and
  ``E_norm`` the largest ``er / C_e`` among the feasible candidates, so that both terms are ratios
  to the user's requirement, the energy term scaled into (0, 1]. ``theta`` in [0, 1] weighs accuracy
  against energy (the paper leaves ``E_norm`` to the implementation; this is axforge's choice).

When no candidate is feasible, :class:`Infeasible` (an :class:`~axforge.errors.AxforgeError`) says
so and names the closest candidate -- the smallest sum of relative shortfalls over the bounds --
and what it misses by; there is never a silent fallback.

:class:`Selector` is built once from the candidates (arrays); :meth:`Selector.select` then costs a
few vectorised comparisons.
"""

import math
from dataclasses import dataclass

import numpy as np

from axforge.errors import AxforgeError, bad_value

__all__ = ["MODES", "Choice", "Infeasible", "Selector"]

MODES = ("quality", "energy", "integrated")
_BOUNDS = (("min_accuracy", "accuracy"), ("min_speedup", "speedup"), ("min_energy_reduction", "energy_reduction"))


class Infeasible(AxforgeError):
    """No candidate meets the constraints; ``closest`` is the index of the nearest one."""

    def __init__(self, message, closest):
        super().__init__(message)
        self.closest = closest


@dataclass(frozen=True)
class Choice:
    """The selected candidate: its index, the candidate itself, how many were feasible, and why it
    was chosen (:attr:`reason`, formatted when read: a query does not pay for the text)."""

    index: int
    candidate: dict
    feasible: int
    total: int
    why: tuple = ()
    bounds: tuple = ()

    @property
    def reason(self):
        kind, *v = self.why
        if kind == "quality":
            text = f"the highest accuracy ({v[0]:.4g})"
        elif kind == "energy":
            text = f"the largest energy reduction ({v[0]:.4g}x)"
        else:
            score, theta, c_acc, c_e, e_norm = v
            text = (f"the largest integrated score {score:.4g} = {theta:g} * acc / {c_acc:g} + {1 - theta:g} * "
                    f"energy reduction / ({c_e:g} * {e_norm:.4g})")
        given = [f"{k} >= {b:g}" for k, b in self.bounds]
        return f"{text} among {self.feasible} of {self.total} networks" + (f" with {', '.join(given)}" if given else "")


def _bound(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise bad_value(f"Constraint {name}", value, "a number >= 0")
    if name == "min_accuracy" and value > 1:
        raise bad_value("Constraint min_accuracy", value, "a share in [0, 1]")
    return float(value)


class Selector:
    """The candidates of a Pareto set (dicts with ``accuracy``, ``speedup``, ``energy_reduction``;
    other keys are carried along), ready for :meth:`select`."""

    def __init__(self, candidates):
        self.candidates = [dict(c) for c in candidates]
        if not self.candidates:
            raise AxforgeError("Selector needs at least one candidate network")
        cols = {}
        for _, key in _BOUNDS:
            try:
                cols[key] = np.array([float(c[key]) for c in self.candidates])
            except (KeyError, TypeError, ValueError):
                raise AxforgeError(f"Every candidate must have a number {key!r}") from None
        self._acc, self._spd, self._er = cols["accuracy"], cols["speedup"], cols["energy_reduction"]
        self._values = {"accuracy": self._acc, "speedup": self._spd, "energy_reduction": self._er}
        self._all = np.arange(len(self._acc))

    def select(self, mode, min_accuracy=None, min_speedup=None, min_energy_reduction=None, theta=0.5):
        """The :class:`Choice` of ``mode`` under the bounds; raises :class:`Infeasible`."""
        if mode not in MODES:
            raise bad_value("Selection mode", mode, "one of " + ", ".join(MODES))
        bounds = {"min_accuracy": _bound("min_accuracy", min_accuracy),
                  "min_speedup": _bound("min_speedup", min_speedup),
                  "min_energy_reduction": _bound("min_energy_reduction", min_energy_reduction)}
        if mode == "energy" and bounds["min_accuracy"] is None:
            raise AxforgeError("Selection mode energy needs min_accuracy (the lowest energy that meets an "
                               "accuracy threshold)")
        if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not 0.0 <= theta <= 1.0:
            raise bad_value("Selection theta", theta, "a number in [0, 1]")
        ok = None
        for name, key in _BOUNDS:
            b = bounds[name]
            if b is not None:
                m = self._values[key] >= b
                ok = m if ok is None else ok & m
        if ok is None:
            idx = self._all
        else:
            idx = np.flatnonzero(ok)
            if not len(idx):
                raise self._infeasible(bounds)
        acc, er = self._acc[idx], self._er[idx]
        if mode == "quality":
            best = int(idx[np.lexsort((-self._spd[idx], -er, -acc))[0]])
            why = ("quality", float(self._acc[best]))
        elif mode == "energy":
            best = int(idx[np.lexsort((-acc, -er))[0]])
            why = ("energy", float(self._er[best]))
        else:
            c_acc = bounds["min_accuracy"] or 1.0
            c_e = bounds["min_energy_reduction"] or 1.0
            e_norm = float(er.max()) / c_e
            score = theta * acc / c_acc + ((1.0 - theta) * er / (c_e * e_norm) if e_norm > 0 else 0.0)
            j = int(np.lexsort((-acc, -score))[0])
            best = int(idx[j])
            why = ("integrated", float(score[j]), theta, c_acc, c_e, e_norm)
        given = tuple((k, v) for k, v in bounds.items() if v is not None)
        return Choice(best, self.candidates[best], len(idx), len(self._acc), why, given)

    def _infeasible(self, bounds):
        short = np.zeros(len(self._acc))
        for name, key in _BOUNDS:
            v = bounds[name]
            if v:
                short += np.maximum(0.0, (v - self._values[key]) / v)
        i = int(np.argmin(short))
        misses = [f"{key} {self._values[key][i]:.4g} < {bounds[name]:g}" for name, key in _BOUNDS
                  if bounds[name] is not None and self._values[key][i] < bounds[name]]
        label = self.candidates[i].get("id", i)
        return Infeasible(f"No network meets the constraints; the closest is {label} ({', '.join(misses)})", i)
