"""The multiplier as a :class:`~axforge.generators.design.Design`, and its emission entry points.

``emit_verilog(spec, out_dir)`` -> Verilog + manifest + filelist + Yosys
script, through the one design flow (:mod:`.design`): same spec ->
byte-identical files in any process (no source locations or timestamps),
cached under the content hash and verified on every read.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

from axforge.errors import AxforgeError
from axforge.hdl.arith import Multiplier
from axforge.hdl.arith.imported import wrapper_verilog
from axforge.paths import sha256_bytes

from .design import DESIGNS, Design, Module, convert, design_files, emit_design
from .lintcfg import waiver_text

__all__ = ["EmitResult", "MultDesign", "design_hash", "verilog_text", "emit_verilog", "convert"]


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


@DESIGNS.register("mult")
class MultDesign(Design):
    """One multiplier (:class:`~axforge.hdl.arith.MultSpec`): a built-in family or an imported netlist.

    Ports ``a``, ``b`` -> ``p`` (plus ``clk``, ``rst`` when registered); driven by
    operand pairs. The code that builds it includes the family's own file.
    """

    kind = "mult"
    workload = "pairs"

    def __init__(self, spec):
        self._spec = spec

    @property
    def spec(self):
        return self._spec

    def to_dict(self):
        d = self._spec.to_dict()
        if self._spec.family == "verilog":   # an imported netlist is what its file holds
            d["sha256"] = self._spec.source[2]
        return d

    @property
    def top(self):
        return self._spec.module_name

    def sources(self):
        return [type(self).__module__, type(self._spec.family_obj).__module__]

    def modules(self):
        if self._spec.family == "verilog":
            return []
        return [Module(self.top, Multiplier(self._spec))]

    def extra_files(self):
        spec = self._spec
        if spec.family != "verilog":
            return {}
        src = Path(spec.source[0])
        text = src.read_text()
        if sha256_bytes(text.encode() + spec.source[1].encode()) != spec.source[2]:
            raise AxforgeError(f"Imported file {src} changed since it was read: re-run the command")
        return {f"{self.top}.v": wrapper_verilog(spec, self.top),
                src.name if src.suffix == ".v" else f"{src.stem}.v": text}

    def waivers(self, files):
        if self._spec.family == "verilog":
            return ""
        return waiver_text(self._spec, f"{self.top}.v")

    def ports(self):
        return _ports(self._spec)

    def manifest_extra(self):
        return {"spec": str(self._spec), "spec_dict": self._spec.to_dict(), "module": self.top}


def design_hash(spec):
    """Content hash of a multiplier: its canonical spec plus the code that builds it (or the
    imported file)."""
    return MultDesign(spec).content_hash


def verilog_text(spec):
    """The Verilog files of a multiplier as ``{file name: text}`` (cached, verified)."""
    return design_files(MultDesign(spec))


def _ports(spec):
    ports = [("a", "input", spec.a_width), ("b", "input", spec.b_width),
             ("p", "output", spec.out_width)]
    if spec.registered:
        ports = [("clk", "input", 1), ("rst", "input", 1)] + ports
    return [{"name": n, "direction": d, "width": w,
             "signed": spec.signed and n in ("a", "b", "p")} for n, d, w in ports]


def emit_verilog(spec, out_dir):
    """Write the multiplier's Verilog, ``manifest.json``, ``filelist.f`` and ``synth.ys`` into ``out_dir``."""
    design = MultDesign(spec)
    man = emit_design(design, out_dir)
    out_dir = Path(out_dir)
    return EmitResult(str(spec), design.top, man["content_hash"], str(out_dir / f"{design.top}.v"),
                      str(out_dir / "manifest.json"), str(out_dir / "filelist.f"),
                      tuple(str(out_dir / n) for n in man["files"]))


def _convert(spec):
    """The Verilog text of a built-in multiplier's own module."""
    return convert(Multiplier(spec), spec.module_name)
