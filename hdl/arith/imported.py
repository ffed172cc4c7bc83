"""Imported combinational multipliers (e.g. EvoApproxLib netlists) as first-class variants.

``verilog:PATH.v@TOP`` (``:s`` appended for signed) names a module in a Verilog
file; ``lib:NAME`` names a design copied into the user's library by
``axforge mult import``. The module must have exactly two inputs (``a`` then
``b``, in declaration order, 2-16 bits) and one output of their summed width.
There is no Python model of such a netlist: its bit-accurate model *is* its
RTL, the LUT that :func:`axforge.sim.lut.extract_lut` reads from it.
"""

import json
import re
import shutil
from pathlib import Path


from axforge.errors import AxforgeError, bad_value
from axforge.paths import atomic_write_bytes, cache_dir, library_dir, sha256_bytes, write_json
from axforge.yosys import read_ports

from .base import MAX_WIDTH, MIN_WIDTH, SCHEMES, Family, MultSpec

__all__ = ["IMPORTED", "parse", "from_dict", "spec_string", "load", "import_to_library",
           "list_library", "wrapper_verilog"]


class Imported(Family):
    name = "verilog"
    title = "Imported Verilog netlist"
    params = ()

    def build(self, be, a, b, spec):  # pragma: no cover - emission uses wrapper_verilog
        raise AxforgeError("imported designs are emitted from their own Verilog")

    def model(self, a, b, spec):
        raise AxforgeError(f"Imported netlist {spec} has no Python model: its model is the LUT of its RTL "
                           "(axforge.sim.lut.extract_lut)")

    # the ``verilog:`` and ``lib:`` spec schemes (see :data:`.base.SCHEMES`)
    def parse_spec(self, text):
        return parse(text)

    def spec_from_dict(self, data, where):
        return from_dict(data, where)

    def spec_string(self, spec):
        return spec_string(spec)


IMPORTED = Imported()
SCHEMES.register("verilog", IMPORTED)
SCHEMES.register("lib", IMPORTED)


def load(path, top, signed):
    """Validate a Verilog multiplier and return its :class:`MultSpec`."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise bad_value("Verilog file", str(path), "an existing file")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", top or ""):
        raise bad_value("Top", top, "a Verilog module name")
    data = path.read_bytes()
    sha = sha256_bytes(data + top.encode())
    meta_path = cache_dir() / "ports" / f"{sha}.json"
    if meta_path.exists():
        ports = [tuple(p) for p in json.loads(meta_path.read_text())]
    else:
        work = cache_dir() / "ports" / f"{sha}.work"
        try:
            ports = read_ports(path, top, work)
        except AxforgeError as exc:
            if "hierarchy" in str(exc).lower() or "module" in str(exc).lower():
                raise AxforgeError(f"Top must be a module defined in {path}, not {top!r}") from None
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        write_json(meta_path, ports)
    ins = [p for p in ports if p[1] == "input"]
    outs = [p for p in ports if p[1] == "output"]
    if len(ins) != 2 or len(outs) != 1 or len(ports) != 3:
        shape = ", ".join(f"{d} {n}[{w}]" for n, d, w in ports)
        raise AxforgeError(f"Ports of {top} must be two inputs and one output, not ({shape})")
    (an, _, aw), (bn, _, bw), (pn, _, pw) = ins[0], ins[1], outs[0]
    for name, w in ((an, aw), (bn, bw)):
        if not MIN_WIDTH <= w <= MAX_WIDTH:
            raise bad_value(f"Width of input port '{name}' of {top}", w,
                            f"between {MIN_WIDTH} and {MAX_WIDTH}")
    if pw != aw + bw:
        raise bad_value(f"Width of output port '{pn}' of {top}", pw,
                        f"{aw + bw} (the sum of the input widths {aw} + {bw})")
    return MultSpec("verilog", aw, bw, bool(signed), (("top", top),), False,
                    (str(path.resolve()), top, sha, an, bn, pn))


def parse(text):
    if text.startswith("lib:"):
        return from_library(text[4:])
    body = text[len("verilog:"):]
    signed = False
    if body.endswith(":s") or body.endswith(":u"):
        signed, body = body.endswith(":s"), body[:-2]
    if "@" not in body:
        raise bad_value("Spec", text, "verilog:PATH.v@TOP (append :s for signed)")
    path, top = body.rsplit("@", 1)
    return load(path, top, signed)


def from_dict(data, where):
    for key in ("path", "top"):
        if key not in data:
            raise AxforgeError(f"{where} is missing the required key '{key}'")
    return load(data["path"], data["top"], data.get("signed", False))


def spec_string(spec):
    path, top = spec.source[0], spec.source[1]
    return f"verilog:{path}@{top}" + (":s" if spec.signed else "")


def wrapper_verilog(spec, module_name):
    """A wrapper with the standard ports ``a``, ``b``, ``p`` around the imported top."""
    _, top, _, an, bn, pn = spec.source
    sgn = "signed " if spec.signed else ""
    return (f"module {module_name} (\n  input wire {sgn}[{spec.a_width - 1}:0] a,\n"
            f"  input wire {sgn}[{spec.b_width - 1}:0] b,\n"
            f"  output wire {sgn}[{spec.out_width - 1}:0] p\n);\n"
            f"  {top} u_mult (.{an}(a), .{bn}(b), .{pn}(p));\nendmodule\n")


# -- the user's library ----------------------------------------------------------

def import_to_library(path, top, signed, name=None):
    """Copy a validated design into the library; return ``(name, spec)``."""
    spec = load(path, top, signed)
    name = name or top
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise bad_value("Library name", name, "letters, digits, '_', '.', '-'")
    lib = library_dir()
    lib.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(lib / f"{name}.v", Path(path).read_bytes())
    write_json(lib / f"{name}.json", {"top": top, "signed": bool(signed), "sha256": spec.source[2],
                                       "a_width": spec.a_width, "b_width": spec.b_width})
    return name, from_library(name)


def from_library(name):
    meta = library_dir() / f"{name}.json"
    if not meta.is_file():
        have = ", ".join(n for n, _ in list_library()) or "none imported yet"
        raise bad_value("Library design", name, f"one of: {have}")
    info = json.loads(meta.read_text())
    return load(library_dir() / f"{name}.v", info["top"], info["signed"])


def list_library():
    lib = library_dir()
    if not lib.is_dir():
        return []
    out = []
    for meta in sorted(lib.glob("*.json")):
        out.append((meta.stem, json.loads(meta.read_text())))
    return out
