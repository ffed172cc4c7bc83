"""Search: a general core and the layer -> array mapping problem (AutoApprox) built on it.

The core: :mod:`.space` (search spaces on ConfigSpace), :mod:`.objectives`
(named objectives and constraints, the immutable result record, the Problem
contract), :mod:`.algorithms` (ask/tell optimizers, a registry),
:mod:`.study` (the study store on Optuna storage and the search loop),
:mod:`.pareto` (pymoo's non-dominated sorting and hypervolume). The mapping
problem: :mod:`.problem`, :mod:`.bank`, :mod:`.flow`, :mod:`.report`.
"""
