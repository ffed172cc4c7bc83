"""A small generic (non-mapping) problem for the search core: a conditional space, three objectives
(one maximised), one constraint; every number here can be worked out by hand."""

from axforge.search.objectives import Objective, Problem
from axforge.search.space import SearchSpace


class Toy(Problem):
    """x, y in 0..4; op in {add, mul}; scale in {1, 2} only when op is mul.

    z = x + y (add) or x * y * scale (mul). Objectives: score = z (maximised), size = x + y,
    risk = |x - y| (minimised). Constraint: limit = z - 8 (feasible when z <= 8).
    75 points: 25 (add) + 25 x 2 (mul); feasible: 25 + 21 (xy <= 8) + 17 (xy <= 4) = 63.
    """

    def __init__(self):
        self.space = SearchSpace("toy space")
        self.space.add_integer("x", 0, 4)
        self.space.add_integer("y", 0, 4)
        self.space.add_categorical("op", ["add", "mul"])
        self.space.add_categorical("scale", [1, 2], when={"op": "mul"})
        self.objectives = (Objective("score", "maximize"), Objective("size", "minimize"),
                           Objective("risk", "minimize"))
        self.constraints = ("limit",)
        self.calls = 0

    def evaluate(self, params):
        p = self.space.validate(params)
        self.calls += 1
        x, y = p["x"], p["y"]
        z = x + y if p["op"] == "add" else x * y * p["scale"]
        return self.result(p, {"score": z, "size": x + y, "risk": abs(x - y)}, {"limit": z - 8}, {"z": z})

    def hv_reference(self):
        return (0.5, 9.0, 5.0)         # in the minimised space (-score, size, risk)
