"""The PDK object handed to the flow: a Liberty file plus Verilog models of its cells."""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from axforge.errors import AxforgeError
from axforge.paths import sha256_bytes

from .liberty import load_library
from .stub45 import CELLS, CELLS_V_PATH, LIB_PATH

__all__ = ["PDK", "default_pdk"]


@dataclass(frozen=True)
class PDK:
    """A cell library for synthesis, timing, energy and gate-level simulation.

    Parameters
    ----------
    liberty : path of the Liberty file (areas, pin capacitances, NLDM delays,
        internal energy per transition, leakage).
    cells_v : path of Verilog simulation models, one module per cell.
    name : a label for reports.
    required_cells : cells the Liberty must define (the stub's full set; a
        user's own library only needs to be readable).
    """

    liberty: str
    cells_v: str
    name: str = ""
    required_cells: tuple = ()

    def __post_init__(self):
        for key in ("liberty", "cells_v"):
            path = Path(getattr(self, key))
            if not path.is_file():
                raise AxforgeError(f"PDK {key} must be an existing file, not {str(path)!r}")
            object.__setattr__(self, key, str(path.resolve()))
        if not self.name:
            object.__setattr__(self, "name", Path(self.liberty).stem)

    @property
    def library(self):
        """The parsed and validated :class:`~axforge.pdk_stub.liberty.Library`."""
        return _load(self.liberty, self.required_cells, self.digest)

    @property
    def digest(self):
        """Content hash of the Liberty file and the cell models (a cache-key ingredient)."""
        return _digest(self.liberty, self.cells_v, Path(self.liberty).stat().st_mtime_ns,
                       Path(self.cells_v).stat().st_mtime_ns)

    def cells_verilog(self):
        return Path(self.cells_v).read_text()

    def liberty_text(self):
        return Path(self.liberty).read_text()

    def check_models(self):
        """Every Liberty cell used by mapping must have a Verilog model."""
        import re
        text = self.cells_verilog()
        modules = set(re.findall(r"^\s*module\s+([A-Za-z_][\w$]*)", text, re.M))
        missing = sorted(set(self.library.cells) - modules)
        if missing:
            raise AxforgeError(f"PDK cell models {self.cells_v} lack module(s) for: {', '.join(missing)}")


@lru_cache(maxsize=8)
def _digest(liberty, cells_v, _m1, _m2):
    return sha256_bytes(Path(liberty).read_bytes() + b"\0" + Path(cells_v).read_bytes())


@lru_cache(maxsize=8)
def _load(liberty, required, _digest):
    return load_library(liberty, required)


def default_pdk():
    """The built-in stub 45 nm library (``pdk_stub/stub45.lib``)."""
    return PDK(str(LIB_PATH), str(CELLS_V_PATH), "stub45", tuple(CELLS))
