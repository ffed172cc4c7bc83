"""Fixed topology enumeration, the baseline of NAS for approximate computing (:mod:`axforge.search.nas`)."""

from axforge.errors import AxforgeError, bad_value

from ..nas import fixed_grid
from .base import ALGORITHMS, Algorithm

__all__ = ["FixedEnumeration"]


@ALGORITHMS.register("fixed")
class FixedEnumeration(Algorithm):
    """Fixed topology enumeration (module docstring); ``activation`` is the one activation
    (default sigmoid, the NPU literature's). The space must be a :func:`topology_space` with at
    least two layers."""
    name = "fixed"

    def __init__(self, problem, seed=0, activation="sigmoid"):
        super().__init__(problem, seed)
        names = set(self.space.names)
        if not {"layer_len", "layer0_neurons", "layer1_neurons", "layer0_act"} <= names:
            raise AxforgeError("Algorithm 'fixed' needs a topology space with at least two hidden layers "
                               "(search.nas.topology_space)")
        if activation not in self.space._domain("layer0_act"):
            raise bad_value("Fixed enumeration activation", activation,
                            "one of the space's " + ", ".join(map(str, self.space._domain("layer0_act"))))
        high = max(self.space._domain("layer0_neurons"))
        self._points = [self.space.validate(p) for p in fixed_grid(high, activation)]

    def ask(self):
        for p in self._points:
            if self.space.key(p) not in self.seen:
                return p
        return None
