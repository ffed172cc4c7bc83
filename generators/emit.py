"""Verilog emission: ``emit_verilog(spec, out_dir)`` -> Verilog + manifest + filelist.

Same spec -> byte-identical files, in any process: the Verilog carries no
source locations or timestamps, and the manifest holds only the spec, the
content hash, the ports and tool versions. Emitted text is cached under the
content hash and verified (SHA-256) on every read.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from axforge import __version__
from axforge.errors import AxforgeError
from axforge.paths import atomic_dir, cache_dir, read_verified, sha256_text, write_verified
from axforge.toolenv import tool_versions

__all__ = ["EmitResult", "design_hash", "verilog_text", "emit_verilog", "convert"]


@dataclass(frozen=True)
class EmitResult:
    """What :func:`emit_verilog` wrote."""

    spec: str
    module: str
    content_hash: str
    verilog: str   # path of the top Verilog file
    manifest: str
    filelist: str
    files: tuple

    def to_json(self):
        return asdict(self)


@lru_cache(maxsize=1)
def _generator_digest():
    """Hash of the generator sources: a code change invalidates every cache entry."""
    import axforge.hdl.arith as arith
    h = hashlib.sha256(__version__.encode())
    here = Path(__file__).parent
    sources = sorted(Path(arith.__file__).parent.glob("*.py")) + [here / "emit.py", here / "lintcfg.py"]
    for path in sources:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def design_hash(spec):
    """Content hash of a design: its canonical spec plus the generator (or the imported file).

    The spec string includes ``reg=1`` for registered designs; LUT caches key
    on ``spec.combinational()`` since the register does not change the LUT.
    """
    extra = spec.source[2] if spec.family == "verilog" else _generator_digest()
    return sha256_text(f"{spec}|{extra}")


def convert(component, name, purge=True):
    """Amaranth component -> Verilog with Amaranth's own Yosys script plus ``opt_clean``.

    With ``purge`` the clean-up also deletes named wires that nothing reads
    (logic the netlist proves redundant, which Verilator would report as
    unused); ``purge=False`` keeps them (e.g. nets named ``*_unused``).
    """
    from amaranth._toolchain.yosys import find_yosys
    from amaranth.back import rtlil
    text = rtlil.convert(component, name=name, emit_src=False)
    attrs = "-remove generator -remove top -remove src -remove amaranth.hierarchy"
    script = "\n".join([f"read_rtlil <<rtlil\n{text}\nrtlil", "proc -nomux -norom",
                        "opt_clean -purge" if purge else "opt_clean",
                        f"attrmap {attrs}", f"attrmap -modattr {attrs}", "write_verilog -norename"])
    return find_yosys(lambda ver: ver >= (0, 40)).run(["-q", "-"], script, ignore_warnings=True)


def _convert(spec):
    from axforge.hdl.arith import Multiplier
    return convert(Multiplier(spec), spec.module_name)


def verilog_text(spec):
    """The Verilog files of a design as ``{file name: text}`` (cached, verified)."""
    if spec.family == "verilog":
        from axforge.hdl.arith.imported import wrapper_verilog
        src = Path(spec.source[0])
        text = src.read_text()
        if hashlib.sha256(text.encode() + spec.source[1].encode()).hexdigest() != spec.source[2]:
            raise AxforgeError(f"Imported file {src} changed since it was read: re-run the command")
        return {f"{spec.module_name}.v": wrapper_verilog(spec, spec.module_name),
                src.name if src.suffix == ".v" else f"{src.stem}.v": text}
    key = design_hash(spec)
    entry = cache_dir() / "verilog" / f"{key}.json"
    files = read_verified(entry)   # a corrupt entry is rebuilt below
    if files is not None:
        return files
    from .lintcfg import waiver_text
    name = f"{spec.module_name}.v"
    files = {name: _convert(spec)}
    waivers = waiver_text(spec, name)
    if waivers:
        files[f"{spec.module_name}.vlt"] = waivers
    write_verified(entry, files)
    return files


def _ports(spec):
    ports = [("a", "input", spec.a_width), ("b", "input", spec.b_width),
             ("p", "output", spec.out_width)]
    if spec.registered:
        ports = [("clk", "input", 1), ("rst", "input", 1)] + ports
    return [{"name": n, "direction": d, "width": w,
             "signed": spec.signed and n in ("a", "b", "p")} for n, d, w in ports]


def manifest(spec, files):
    return {
        "spec": str(spec),
        "spec_dict": spec.to_dict(),
        "content_hash": design_hash(spec),
        "module": spec.module_name,
        "ports": _ports(spec),
        "files": {name: sha256_text(text) for name, text in files.items()},
        "tools": tool_versions(),
    }


def emit_verilog(spec, out_dir):
    """Write the design's Verilog, ``manifest.json`` and ``filelist.f`` into ``out_dir``."""
    files = verilog_text(spec)
    out_dir = Path(out_dir)
    man = manifest(spec, files)
    with atomic_dir(out_dir) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
        (tmp / "manifest.json").write_text(json.dumps(man, indent=2, sort_keys=True) + "\n")
        (tmp / "filelist.f").write_text(
            "".join(f"{n}\n" for n in reversed(list(files)) if n.endswith(".v")))
    top = out_dir / f"{spec.module_name}.v"
    return EmitResult(str(spec), spec.module_name, man["content_hash"], str(top),
                      str(out_dir / "manifest.json"), str(out_dir / "filelist.f"),
                      tuple(str(out_dir / n) for n in files))
