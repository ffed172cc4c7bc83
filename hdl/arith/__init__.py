"""Exact and approximate multipliers: one family per file, addressed by spec strings.

Importing this package registers every family. See :mod:`.base` for the spec
syntax, :class:`.component.Multiplier` for the Amaranth component.
"""

from . import bam, compressor, drum, exact, kulkarni, mitchell, perforated, truncated  # noqa: F401
from .base import FAMILIES, Family, MultSpec, Param, get_family, to_signed
from .component import Multiplier

__all__ = ["FAMILIES", "Family", "MultSpec", "Multiplier", "Param", "get_family", "to_signed"]
