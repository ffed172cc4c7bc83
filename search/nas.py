"""The topology search space of neural approximate computing (Chen et al.), and its baseline.

:func:`topology_space`: an MLP's hidden layers as a variable-length genome on the general search
core (:meth:`SearchSpace.add_genome`): ``layer_len`` in ``1..max_layers`` hidden layers (default 2,
as in the paper), and per layer ``layer<i>_neurons`` in ``1..max_neurons`` (default 128) and
``layer<i>_act`` in ReLU / sigmoid / tanh, both active only when the layer exists.

:func:`fixed_grid` is the paper's baseline (the ``fixed`` algorithm,
:class:`~axforge.search.algorithms.fixed.FixedEnumeration`), "fixed topology enumeration": two
hidden layers of powers of two (1, 2, 4, ... up to ``max_neurons``) with one activation, in order
of the total number of neurons (then the first layer's), so a budget below the full grid takes the
smallest networks first.
"""

from axforge.errors import AxforgeError, bad_value

from .space import SearchSpace

__all__ = ["ACTIVATIONS", "fixed_grid", "topology", "topology_space"]

ACTIVATIONS = ("relu", "sigmoid", "tanh")


def topology_space(max_layers=2, max_neurons=128, activations=ACTIVATIONS):
    """The :class:`SearchSpace` of hidden-layer topologies (module docstring)."""
    for name, v, lo in (("max_layers", max_layers, 1), ("max_neurons", max_neurons, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise bad_value(f"NAS option {name!r}", v, f"an integer >= {lo}")
    acts = list(activations)
    bad = [a for a in acts if a not in ACTIVATIONS]
    if not acts or bad or len(set(acts)) != len(acts):
        raise bad_value("NAS activations", acts, "a non-empty list of " + ", ".join(ACTIVATIONS) + " without repeats")
    space = SearchSpace("MLP topologies")
    space.add_genome("layer", (1, max_layers), {"neurons": (1, max_neurons), "act": acts})
    return space


def topology(params):
    """``(hidden widths, activations)`` of a point of :func:`topology_space`."""
    p = dict(params)
    n = p.get("layer_len", 1)
    try:
        return (tuple(int(p[f"layer{i}_neurons"]) for i in range(n)), tuple(str(p[f"layer{i}_act"]) for i in range(n)))
    except KeyError as exc:
        raise AxforgeError(f"Topology point lacks parameter {exc.args[0]!r}") from None


def fixed_grid(max_neurons=128, activation="sigmoid"):
    """The points of the fixed enumeration, in its order."""
    sizes = [1 << k for k in range(max_neurons.bit_length()) if 1 << k <= max_neurons]
    pairs = sorted(((a, b) for a in sizes for b in sizes), key=lambda ab: (ab[0] + ab[1], ab[0]))
    return [{"layer_len": 2, "layer0_neurons": a, "layer0_act": activation, "layer1_neurons": b,
             "layer1_act": activation} for a, b in pairs]
