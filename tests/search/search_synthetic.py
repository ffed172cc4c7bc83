"""A synthetic mapping problem with a known landscape (unit tests of the search layer)."""

import numpy as np

from axforge.hdl.arith import MultSpec
from axforge.search.problem import Candidate, MappingProblem

SPECS = ["exact:8x8u:arch=dadda", "trunc:8x8u:k=6,comp=const", "drum:8x8u:k=4", "mitchell:8x8u:ec=1"]


class SyntheticAccuracy:
    """accuracy = 0.95 - sum of per-(layer, multiplier) losses: a known landscape, counted calls."""

    def __init__(self, n_layers, seed=0):
        rng = np.random.default_rng(seed)
        self.loss = rng.uniform(0, 0.004, (n_layers, len(SPECS)))
        self.loss[:, 0] = 0.0
        self.loss[rng.integers(0, n_layers), 2] = 0.02     # one layer hates DRUM
        self.calls = 0
        self.layers = [f"l{i}" for i in range(n_layers)]

    def __call__(self, mapping):
        self.calls += 1
        idx = {None: 0, **{str(MultSpec.parse(s)): i for i, s in enumerate(SPECS)}}
        return 0.95 - sum(self.loss[i, idx[None if m is None else str(m)]] for i, m in enumerate(mapping.values()))


def make_problem(n_layers=6, target=("abs", 0.94), area_budget=None, seed=0):
    acc = SyntheticAccuracy(n_layers, seed)
    cands = [Candidate(MultSpec.parse(s), e, a) for s, e, a in zip(SPECS, (1.0, 0.8, 0.55, 0.62),
                                                                   (100.0, 80.0, 60.0, 70.0))]
    macs = list(np.random.default_rng(seed + 1).integers(1000, 5000, n_layers))
    return MappingProblem(acc.layers, macs, cands, acc, target, area_budget), acc

