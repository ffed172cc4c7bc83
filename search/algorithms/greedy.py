"""Layer-wise greedy search on the mapping problem."""

import numpy as np

from .base import ALGORITHMS
from .layerwise import LayerwiseAlgorithm

__all__ = ["GreedySearch"]


@ALGORITHMS.register("greedy")
class GreedySearch(LayerwiseAlgorithm):
    """Layer-wise greedy: from the all-exact mapping, layers in decreasing MAC order; each layer takes
    the lowest-energy multiplier that keeps the constraints (candidates tried from the cheapest up).

    Example::

        r = run_search(problem, "greedy", budget=100)      # stops by itself when every layer is done
    """
    name = "greedy"

    def __init__(self, problem, seed=0):
        super().__init__(problem, seed)
        p = problem
        energy = p.energy_per_mac()
        start = p.all_exact() or tuple([int(np.argmax(energy))] * p.n_layers)
        self.current = list(start)
        self.energy = energy
        self.layer_order = [int(i) for i in np.argsort(-p.macs, kind="stable")]
        self.cand_order = [int(i) for i in np.argsort(energy, kind="stable")]
        self.li, self.ci = 0, 0
        self._pending = None
        self._base = tuple(start)

    def propose(self):
        if self._base is not None:
            return self._base
        while self.li < len(self.layer_order):
            l = self.layer_order[self.li]
            if self.ci < len(self.cand_order):
                c = self.cand_order[self.ci]
                if self.energy[c] < self.energy[self.current[l]]:
                    trial = list(self.current)
                    trial[l] = c
                    self._pending = (tuple(trial), l, c)
                    return self._pending[0]
            self.li, self.ci = self.li + 1, 0
        return None

    def tell(self, ev):
        super().tell(ev)
        if self._base is not None and ev.choice == self._base:
            self._base = None
            return
        if self._pending is not None and ev.choice == self._pending[0]:
            _, l, c = self._pending
            self._pending = None
            if ev.feasible:
                self.current[l] = c
                self.li, self.ci = self.li + 1, 0
            else:
                self.ci += 1
