"""The NPU's hardware parameters (what the YAML spec of :mod:`axforge.generators.npu` resolves to).

An NPU has ``tiles`` tiles of ``pes`` PEs each; every PE computes one neuron's dot product at a
time (neuron-level parallelism), so a layer of ``n`` neurons takes ``ceil(n / (tiles * pes))``
passes. Integer widths:

- ``width`` (4-16): the multiplier's operand width; activations, weights and control values are
  ``width``-bit codes, two's complement when ``signed`` and plain binary otherwise;
- ``acc_width``: the accumulator (sums wrap modulo ``2**acc_width``, two's complement);
- ``out_width``: the width of a layer's *wide* outputs (``H(x)`` and ``P(x)``, never fed to a
  multiplier), two's complement in both modes;
- ``mult_bits`` (16 by default): the requantisation multiplier ``M`` (unsigned, ``1 <= M <
  2**mult_bits``); ``shift_bits`` the width of the layer's shift ``S``.

Memories (depths in words): ``weight_depth`` weights per PE, ``neuron_depth`` neuron slots per PE
(bias, ``M``, weight zero point, output kind), ``data_depth`` words of the shared data memory
(inputs, hidden layers, control vectors, the P(x) slot, outputs; each word :func:`data_width`
bits), ``max_layers`` layer descriptors.

``gating`` (true by default): the AXNet additions to a plain NPU -- in every PE the control-value
register, the Hadamard multiplier ``y * c`` with its rounding shift and the switch unit that routes
the output through it; in the controller the GATE state and its control-value loads (the delayed
load strobe and PE select, the tiles' per-PE load registers) and the ``gate`` field of the layer
descriptors (its memory and its configuration writes). ``gating: false`` builds the plain NPU
without any of them, otherwise identical (same stages, same cycles), so the difference between
the two is what the additions cost; it runs ungated programs (one-pass / iterative) only.
"""

from dataclasses import asdict, dataclass

from axforge.errors import bad_value

__all__ = ["NpuConfig", "LIMITS", "data_width"]

LIMITS = {"tiles": (1, 16), "pes": (1, 64), "width": (4, 16), "out_width": (4, 24), "mult_bits": (2, 24),
          "weight_depth": (1, 1 << 16), "neuron_depth": (1, 1 << 12), "data_depth": (4, 1 << 14),
          "max_layers": (1, 64)}


def data_width(width, out_width, signed=True):
    """Bits of a data word: a wide output, or an activation code held as a two's complement number
    (one more bit than the code on an unsigned NPU)."""
    return max(width + (0 if signed else 1), out_width)


@dataclass(frozen=True)
class NpuConfig:
    """Hardware parameters of one NPU (validated; see the module docstring)."""
    tiles: int = 1
    pes: int = 4
    width: int = 8
    signed: bool = True
    gating: bool = True       # False: no Hadamard multiplier, switch, control register, GATE state
    acc_width: int = 0        # 0: 2 * width + 8
    out_width: int = 16
    mult_bits: int = 16
    weight_depth: int = 256
    neuron_depth: int = 32
    data_depth: int = 256
    max_layers: int = 8

    def __post_init__(self):
        for key, (lo, hi) in LIMITS.items():
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise bad_value(f"NPU key '{key}'", v, f"an integer between {lo} and {hi}")
        if not isinstance(self.signed, bool):
            raise bad_value("NPU key 'signed'", self.signed, "true or false")
        if not isinstance(self.gating, bool):
            raise bad_value("NPU key 'gating'", self.gating, "true or false")
        acc = self.acc_width or 2 * self.width + 8
        lo = 2 * self.width + 1
        if isinstance(acc, bool) or not isinstance(acc, int) or not lo <= acc <= 48:
            raise bad_value("NPU key 'acc_width'", acc, f"an integer between {lo} and 48")
        object.__setattr__(self, "acc_width", acc)

    @property
    def n_pes(self):
        return self.tiles * self.pes

    @property
    def data_width(self):
        return data_width(self.width, self.out_width, self.signed)

    @property
    def shift_bits(self):
        """Width of a layer's requantisation shift: enough for ``acc_width + mult_bits``."""
        return (self.acc_width + self.mult_bits).bit_length()

    @property
    def act_range(self):
        """``(lo, hi)`` of an activation code (a multiplier operand)."""
        return (-(1 << (self.width - 1)), (1 << (self.width - 1)) - 1) if self.signed else (0, (1 << self.width) - 1)

    @property
    def wide_range(self):
        return -(1 << (self.out_width - 1)), (1 << (self.out_width - 1)) - 1

    @property
    def gate_frac(self):
        """Fraction bits of a control value (and of a sigmoid output): ``c = code / 2**gate_frac``."""
        return self.width - 1 if self.signed else self.width

    @property
    def sigmoid_in_frac(self):
        """Fraction bits of a sigmoid / tanh input code: inputs span [-8, 8) (at least 1 bit)."""
        return max(self.width - 4, 1)

    def to_dict(self):
        return asdict(self)
