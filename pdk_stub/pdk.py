"""The PDK object handed to the flow: a Liberty file plus Verilog models of its cells, and
optionally an SRAM compiler (:mod:`.sram`) whose macros the synthesis maps memories onto."""

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from axforge.errors import AxforgeError
from axforge.generators.synth import LIB_NAME
from axforge.generators.synth_hier import MEMORY_FILES
from axforge.paths import sha256_bytes, sha256_text

from .liberty import load_library
from .sram import STUB45_SRAM, parse_macro
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
    sram : an :class:`~.sram.SramCompiler`, or None: memories become flip-flops.
    """

    liberty: str
    cells_v: str
    name: str = ""
    required_cells: tuple = ()
    sram: object = None

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
        """The parsed and validated :class:`~axforge.pdk_stub.liberty.Library`; with an SRAM
        compiler its ``cells`` also answer every macro size (``AXF_SRAM_<words>x<width>``)."""
        return _load(self.liberty, self.required_cells, self.digest, self.sram)

    @property
    def digest(self):
        """Content hash of the Liberty file, the cell models and the SRAM compiler (a cache-key
        ingredient)."""
        base = _digest(self.liberty, self.cells_v, Path(self.liberty).stat().st_mtime_ns,
                       Path(self.cells_v).stat().st_mtime_ns)
        return base if self.sram is None else sha256_text(f"{base}|{self.sram.digest}")

    def cells_verilog(self):
        """The cell models, and the SRAM macro's model where there is a compiler."""
        text = Path(self.cells_v).read_text()
        return text if self.sram is None else text + self.sram.sim_model_text()

    def synthesis_files(self):
        """``{file name: text}`` that an emitted design's ``synth.ys`` reads from the PDK: the
        Liberty file and the memory files."""
        return {LIB_NAME: self.liberty_text(), **{MEMORY_FILES[k]: v for k, v in self.memory_files().items()}}

    def memory_files(self):
        """``{kind: text}`` of the synthesis script's memory mapping
        (:data:`~axforge.generators.synth_hier.MEMORY_FILES`): without an SRAM compiler, a library
        with no RAM (every memory becomes flip-flops) and empty maps."""
        if self.sram is None:
            return {"memlib": "# no SRAM compiler: memories become flip-flops\n", "techmap": "", "blackbox": ""}
        lib = self.library
        logic_bit = lib.cells["DFF_X1"].area + lib.cells["MUX2_X1"].area
        return {"memlib": self.sram.memlib_text(logic_bit), "techmap": self.sram.techmap_text(),
                "blackbox": self.sram.blackbox_text()}

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


class _Cells(dict):
    """A library's cells, plus the SRAM compiler's macro of any size, made on first lookup."""

    def __init__(self, cells, sram):
        super().__init__(cells)
        self._sram = sram

    def __missing__(self, name):
        size = parse_macro(name) if self._sram is not None else None
        if size is None:
            raise KeyError(name)
        cell = self[name] = self._sram.cell(*size)
        return cell

    def __contains__(self, name):
        return super().__contains__(name) or (self._sram is not None and parse_macro(name) is not None)

    def get(self, name, default=None):
        return self[name] if name in self else default


@lru_cache(maxsize=8)
def _load(liberty, required, _digest, sram):
    lib = load_library(liberty, required)
    return lib if sram is None else dataclasses.replace(lib, cells=_Cells(lib.cells, sram))


def default_pdk():
    """The built-in stub 45 nm library (``pdk_stub/stub45.lib``)."""
    return PDK(str(LIB_PATH), str(CELLS_V_PATH), "stub45", tuple(CELLS), STUB45_SRAM)
