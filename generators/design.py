"""One design flow for every piece of hardware: a validated spec -> Amaranth modules -> emitted files.

A :class:`Design` (the multiplier, the PE, the array, the bank, the next NPU)
says what it is (:meth:`Design.to_dict`), which Verilog modules it elaborates
(:meth:`Design.modules`, Amaranth components), which designs it instantiates
(:meth:`Design.children`), its ports, its lint waivers, and how a workload
drives it (:attr:`Design.workload`, a name the simulators in :mod:`axforge.sim`
know). Everything downstream takes a design:

- :func:`design_files`: ``{file name: text}``, children first, cached under the
  design's content hash and verified on read;
- :func:`emit_design`: the files plus ``manifest.json``, ``filelist.f`` and the
  Yosys script ``synth.ys``, byte-identical across processes;
- :func:`axforge.sim.verilator.lint_files` on the same files, and
  :func:`axforge.pdk_stub.gate.gate_level` for synthesis, timing, the
  mapped-netlist simulation under a workload and the energy.

The content hash covers the design's canonical spec and the source of every
module of this project that its code imports (:func:`source_digest`, read from
the import statements themselves, so no list of files is kept by hand).
"""

import ast
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from axforge import __version__
from axforge.errors import AxforgeError
from axforge.paths import (
    atomic_dir,
    cache_dir,
    read_verified,
    sha256_text,
    write_verified,
)
from axforge.registry import Registry
from axforge.toolenv import tool_versions

from .synth import LIB_NAME, synth_script

__all__ = ["Design", "Module", "DESIGNS", "source_digest", "design_files", "manifest", "emit_design", "convert",
           "verilog_ports"]

DESIGNS = Registry("Design", package="axforge.generators")


@dataclass(frozen=True)
class Module:
    """One Verilog module a design elaborates: its name, its Amaranth component, and whether the
    clean-up may delete named wires that nothing reads (``purge``)."""

    name: str
    component: object
    purge: bool = True


class Design:
    """Base class of every design; subclasses register with ``@DESIGNS.register("kind")``.

    Subclasses set :attr:`kind` and :attr:`workload` and implement :meth:`to_dict`,
    :attr:`top` and :meth:`modules`; :meth:`ports` (read from the emitted
    Verilog), :meth:`children`, :meth:`extra_files`, :meth:`waivers`,
    :meth:`manifest_extra` and :meth:`sources` have defaults.
    """

    kind = ""
    #: how a workload drives the design (``"pairs"``: operands ``a``, ``b`` -> ``p``, one pair per
    #: evaluation or clock; ``"matmul"``: tiles of ``x @ w`` through the bank's streams)
    workload = ""

    def to_dict(self):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def top(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def modules(self):  # pragma: no cover - abstract
        """The :class:`Module` s this design elaborates itself, in dependency order."""
        raise NotImplementedError

    def ports(self):
        """``[{"name", "direction", "width", "signed"}]`` of the top module, as emitted."""
        return verilog_ports(design_files(self)[f"{self.top}.v"], self.top)

    def children(self):
        """Designs whose files this one includes (instantiated by its modules)."""
        return []

    def extra_files(self):
        """Files that are not elaborated from Amaranth (e.g. an imported netlist)."""
        return {}

    def waivers(self, files):
        """Verilator configuration text for what the structure leaves unused on purpose, or ''.

        The default waives what Amaranth itself writes: register reset values as initial assignments.
        """
        if "always @(posedge" not in files.get(f"{self.top}.v", ""):
            return ""
        return ("`verilator_config\n// Amaranth emits register reset values as initial assignments\n"
                f'lint_off -rule PROCASSINIT -file "*{self.top}*"\n')

    def manifest_extra(self):
        return {}

    def sources(self):
        """Names of the modules whose code builds this design (their imports are followed)."""
        return [type(self).__module__]

    # -- identity -----------------------------------------------------------------
    def canonical(self):
        return json.dumps({"kind": self.kind, **self.to_dict()}, sort_keys=True)

    @property
    def content_hash(self):
        parts = [self.canonical(), source_digest(*self.sources())]
        parts += [c.content_hash for c in self.children()]
        return sha256_text("|".join(parts))


# -- the digest of the code that builds a design -------------------------------------

def _origin(name):
    """The source file of module ``name`` (loaded or importable)."""
    mod = sys.modules.get(name)
    spec = getattr(mod, "__spec__", None) or importlib.util.find_spec(name)
    return Path(spec.origin)


def _project_imports(name):
    """Project modules that module ``name`` imports (any import statement, at any depth)."""
    path = _origin(name)
    tree = ast.parse(path.read_bytes())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "axforge")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = ".".join(base[:len(base) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            elif node.module and node.module.split(".")[0] == "axforge":
                mod = node.module
            else:
                continue
            found.add(mod)
            for a in node.names:   # ``from pkg import module``
                if importlib.util.find_spec(mod) and _is_package(mod):
                    sub = f"{mod}.{a.name}"
                    if _exists(sub):
                        found.add(sub)
    return sorted(m for m in found if _exists(m))


@lru_cache(maxsize=None)
def _exists(name):
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _is_package(name):
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.submodule_search_locations is not None


@lru_cache(maxsize=None)
def _closure(name):
    seen, todo = set(), [name]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:i]) for i in range(2, len(parts))]   # parent packages run first
        todo += _project_imports(m)
    return frozenset(seen)


@lru_cache(maxsize=None)
def source_digest(*modules):
    """SHA-256 over the source files of ``modules`` and every project module they import."""
    names = sorted(set().union(*(_closure(m) for m in modules)))
    h = [__version__]
    for m in names:
        origin = _origin(m)
        h.append(f"{m}:{sha256_text(origin.read_text())}")
    return sha256_text("\n".join(h))


# -- emission -------------------------------------------------------------------------

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


def design_files(design):
    """``{file name: text}`` of a design and of everything it instantiates (cached, verified)."""
    entry = cache_dir() / "design" / f"{design.content_hash}.json"
    files = read_verified(entry)   # a corrupt entry is rebuilt below
    if files is not None:
        return files
    files = {}
    for child in design.children():
        files.update(design_files(child))
    files.update(design.extra_files())
    for m in design.modules():
        files[f"{m.name}.v"] = convert(m.component, m.name, m.purge)
    waivers = design.waivers(files)
    if waivers:
        files[f"{design.top}.vlt"] = waivers
    write_verified(entry, files)
    return files


_PORT = re.compile(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(signed\s+)?(?:\[(\d+):0\]\s*)?(\w+)\s*;", re.M)


def verilog_ports(text, top):
    """The port declarations of module ``top`` in Yosys-written Verilog, in order."""
    start = re.search(rf"^module {re.escape(top)}\s*\(", text, re.M)
    if start is None:
        raise AxforgeError(f"Verilog has no module {top}")
    body = text[start.end():text.index("endmodule", start.end())]
    return [{"name": n, "direction": d, "width": int(w) + 1 if w else 1, "signed": bool(sg)}
            for d, sg, w, n in _PORT.findall(body)]


def verilog_sources(files):
    return [n for n in files if n.endswith((".v", ".sv"))]


def manifest(design, files):
    return {"kind": design.kind, "design": design.to_dict(), "top": design.top,
            "content_hash": design.content_hash, "ports": design.ports(),
            "files": {name: sha256_text(text) for name, text in files.items()},
            "tools": tool_versions(), **design.manifest_extra()}


def emit_design(design, out_dir, extra=None):
    """Write the design's files, ``manifest.json``, ``filelist.f`` and ``synth.ys`` into ``out_dir``.

    ``extra`` (``{name: text}``) adds files that do not come from the design,
    e.g. the PDK's Liberty file that ``synth.ys`` reads. Returns the manifest.
    """
    files = design_files(design)
    man = manifest(design, files)
    with atomic_dir(out_dir) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
        (tmp / "manifest.json").write_text(json.dumps(man, indent=2, sort_keys=True) + "\n")
        (tmp / "filelist.f").write_text("".join(f"{n}\n" for n in verilog_sources(files)))
        (tmp / "synth.ys").write_text(synth_script(verilog_sources(files), design.top, LIB_NAME))
        for name, text in (extra or {}).items():
            (tmp / name).write_text(text)
    return man
