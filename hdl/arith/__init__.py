"""Exact and approximate multipliers: one family per file, addressed by spec strings.

Each family file registers itself (``@register``); the registry imports every
module of this package on its first lookup, so a new file needs no import
line anywhere. See :mod:`.base` for the spec syntax, :class:`.component.Multiplier`
for the Amaranth component.
"""

from .base import FAMILIES, SCHEMES, Family, MultSpec, Param, get_family, to_signed
from .component import Multiplier

__all__ = ["FAMILIES", "SCHEMES", "Family", "MultSpec", "Multiplier", "Param", "get_family", "to_signed"]
