"""Chip specs (an array bank), presets, and hierarchical Verilog emission.

A chip YAML::

    name: autoapprox4          # optional; module names derive from the content hash
    rows: 8                    # array rows = the reduction (K) dimension of a tile
    cols: 8                    # array columns = outputs per vector
    dataflow: ws               # weight-stationary (the array tile's dataflow)
    a_width: 8                 # activation width
    b_width: 8                 # weight width
    signed: false
    acc_width: 19              # optional; default a_width + b_width + ceil(log2(rows))
    multipliers:               # one array per entry; each a spec string (or lib:/verilog:)
      - exact:8x8u:arch=dadda
      - trunc:8x8u:k=6

Verilog is emitted hierarchically: each distinct multiplier once, one PE
module and one array module per multiplier, and the bank on top, so a 16x16
array is 256 instances of one PE module, not 256 copies of its text.
"""

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from axforge import __version__
from axforge.errors import AxforgeError, bad_value
from axforge.paths import atomic_dir, cache_dir, read_verified, sha256_text, write_verified

__all__ = ["ChipSpec", "PRESETS", "load_chip", "chip_verilog", "emit_chip", "KEYS"]

KEYS = {"name", "rows", "cols", "dataflow", "a_width", "b_width", "signed", "acc_width", "multipliers"}
REQUIRED = {"rows", "cols", "multipliers"}


@dataclass(frozen=True)
class ChipSpec:
    rows: int
    cols: int
    multipliers: tuple
    dataflow: str = "ws"
    a_width: int = 8
    b_width: int = 8
    signed: bool = False
    acc_width: int = 0
    name: str = "chip"
    mult_specs: tuple = field(default=(), compare=False, repr=False)

    def __post_init__(self):
        from axforge.hdl.array import MAX_DIM, MIN_DIM
        from axforge.hdl.bank import MAX_ARRAYS
        from axforge.hdl.pe import DATAFLOWS, default_acc_width
        for key in ("rows", "cols"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or not MIN_DIM <= v <= MAX_DIM:
                raise bad_value(f"Chip key '{key}'", v, f"an integer between {MIN_DIM} and {MAX_DIM}")
        for key in ("a_width", "b_width"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= 16:
                raise bad_value(f"Chip key '{key}'", v, "an integer between 2 and 16")
        if self.dataflow != "ws":
            allowed = "ws (the array tile is weight-stationary; the PE also supports os)"
            if self.dataflow not in DATAFLOWS:
                allowed = "one of " + ", ".join(DATAFLOWS)
            raise bad_value("Chip key 'dataflow'", self.dataflow, allowed)
        if not isinstance(self.signed, bool):
            raise bad_value("Chip key 'signed'", self.signed, "true or false")
        if not self.multipliers or not 1 <= len(self.multipliers) <= MAX_ARRAYS:
            raise bad_value("Chip key 'multipliers'", list(self.multipliers),
                            f"a list of 1 to {MAX_ARRAYS} multiplier specs")
        from axforge.generators.spec import load_mult_spec
        specs = []
        for i, text in enumerate(self.multipliers):
            if not isinstance(text, str):
                raise bad_value(f"Chip key 'multipliers[{i}]'", text, "a multiplier spec string")
            s = load_mult_spec(text, self.signed)
            s = s.combinational() if s.family != "verilog" else s
            if (s.a_width, s.b_width, s.signed) != (self.a_width, self.b_width, self.signed):
                want = f"{self.a_width}x{self.b_width}{'s' if self.signed else 'u'}"
                raise bad_value(f"Chip key 'multipliers[{i}]' widths", s.width_tag, f"{want} (the PE's operand type)")
            specs.append(s)
        object.__setattr__(self, "mult_specs", tuple(specs))
        object.__setattr__(self, "multipliers", tuple(str(s) for s in specs))
        acc = self.acc_width or default_acc_width(self.a_width, self.b_width, self.rows)
        out_w = self.a_width + self.b_width
        if isinstance(acc, bool) or not isinstance(acc, int) or not out_w <= acc <= 64:
            raise bad_value("Chip key 'acc_width'", acc, f"an integer between {out_w} and 64")
        object.__setattr__(self, "acc_width", acc)

    @classmethod
    def from_dict(cls, d, where="chip"):
        if not isinstance(d, dict):
            raise AxforgeError(f"{where} must be a mapping of keys to values, not {type(d).__name__}")
        unknown = sorted(set(d) - KEYS)
        if unknown:
            raise AxforgeError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(sorted(KEYS))}")
        missing = sorted(REQUIRED - set(d))
        if missing:
            raise AxforgeError(f"{where}: missing key {missing[0]!r} (required: {', '.join(sorted(REQUIRED))})")
        mults = d["multipliers"]
        if isinstance(mults, str) or not isinstance(mults, (list, tuple)):
            raise bad_value("Chip key 'multipliers'", mults, "a list of multiplier specs")
        return cls(rows=d["rows"], cols=d["cols"], multipliers=tuple(mults), dataflow=d.get("dataflow", "ws"),
                   a_width=d.get("a_width", 8), b_width=d.get("b_width", 8), signed=d.get("signed", False),
                   acc_width=d.get("acc_width", 0), name=str(d.get("name", "chip")))

    def to_dict(self):
        return {"name": self.name, "rows": self.rows, "cols": self.cols, "dataflow": self.dataflow,
                "a_width": self.a_width, "b_width": self.b_width, "signed": self.signed,
                "acc_width": self.acc_width, "multipliers": list(self.multipliers)}

    def canonical(self):
        d = self.to_dict()
        d.pop("name")
        return json.dumps(d, sort_keys=True)

    @property
    def content_hash(self):
        return sha256_text(f"{self.canonical()}|{_generator_digest()}|"
                           + "|".join(_mult_hash(s) for s in self.mult_specs))

    @property
    def top(self):
        return f"axf_bank_{self.content_hash[:8]}"

    def array_module(self, idx):
        return f"axf_array{self.rows}x{self.cols}_{_mult_hash(self.mult_specs[idx])[:8]}_{self.acc_width}"

    def pe_module(self, idx):
        return f"axf_pe_{_mult_hash(self.mult_specs[idx])[:8]}_{self.acc_width}"


def _mult_hash(spec):
    from axforge.generators.emit import design_hash
    return design_hash(spec)


PRESETS = {
    "tiny2x2": dict(rows=2, cols=2, multipliers=["exact:4x4u:arch=dadda", "trunc:4x4u:k=3"],
                    a_width=4, b_width=4),
    "autoapprox4": dict(rows=8, cols=8, multipliers=["exact:8x8u:arch=dadda", "trunc:8x8u:k=6,comp=const",
                                                     "bam:8x8u:h=2,v=7", "drum:8x8u:k=4"]),
    "signed8": dict(rows=8, cols=8, signed=True,
                    multipliers=["exact:8x8s:arch=booth", "trunc:8x8s:k=6,comp=const", "drum:8x8s:k=5"]),
    "edge16": dict(rows=16, cols=16, multipliers=["exact:8x8u:arch=dadda", "kulkarni:8x8u:t=4"]),
}


def preset(name):
    if name not in PRESETS:
        raise bad_value("Preset", name, "one of " + ", ".join(PRESETS))
    return ChipSpec.from_dict({"name": name, **PRESETS[name]}, f"preset {name}")


def load_chip(path_or_preset):
    """A :class:`ChipSpec` from a YAML path or a preset name."""
    p = Path(path_or_preset)
    if not p.exists():
        if str(path_or_preset) in PRESETS:
            return preset(str(path_or_preset))
        raise AxforgeError(f"Chip spec must be a YAML file or a preset ({', '.join(PRESETS)}), "
                           f"not {str(path_or_preset)!r}")
    from axforge.generators.spec import read_yaml
    return ChipSpec.from_dict(read_yaml(p, "Chip YAML"), f"chip {p}")


@lru_cache(maxsize=1)
def _generator_digest():
    from axforge.generators.emit import _generator_digest as mult_digest
    here = Path(__file__).parent
    hdl = Path(__import__("axforge.hdl.pe", fromlist=["x"]).__file__).parent
    h = hashlib.sha256((__version__ + mult_digest()).encode())
    for p in (hdl / "pe.py", hdl / "array.py", hdl / "bank.py", here / "chip.py"):
        h.update(p.read_bytes())
    return h.hexdigest()


def chip_verilog(chip):
    """``{file name: text}``: multipliers, PEs, arrays and the bank (cached, verified)."""
    entry = cache_dir() / "chip" / f"{chip.content_hash}.json"
    files = read_verified(entry)
    if files is not None:
        return files
    from axforge.generators.emit import convert as _convert, verilog_text
    from axforge.hdl.array import SystolicArray
    from axforge.hdl.bank import ArrayBank
    from axforge.hdl.pe import MacPE, mult_factory
    files = {}
    done = set()
    for idx, spec in enumerate(chip.mult_specs):
        pe_name = chip.pe_module(idx)
        if pe_name in done:
            continue
        done.add(pe_name)
        for n, t in verilog_text(spec).items():
            files[n] = t
        pe = MacPE(spec, chip.acc_width, "ws", factory=mult_factory(spec, spec.module_name))
        files[f"{pe_name}.v"] = _convert(pe, pe_name)
        arr = SystolicArray(spec, chip.rows, chip.cols, chip.acc_width, pe_module=pe_name)
        files[f"{chip.array_module(idx)}.v"] = _convert(arr, chip.array_module(idx), purge=False)
    bank = ArrayBank(list(chip.mult_specs), chip.rows, chip.cols, chip.acc_width,
                     array_modules=[chip.array_module(i) for i in range(len(chip.mult_specs))])
    files[f"{chip.top}.v"] = _convert(bank, chip.top)
    files[f"{chip.top}.vlt"] = _waivers(chip, files)
    write_verified(entry, files)
    return files


def _waivers(chip, files):
    """Waivers for what the structure leaves unused on purpose, each with its reason."""
    lines = ["`verilator_config",
             "// Amaranth emits register reset values as initial assignments",
             'lint_off -rule PROCASSINIT -file "*axf_*"',
             "// the accumulator wraps modulo 2**acc_width on purpose: Amaranth sizes the add one",
             "// bit wider and Yosys writes the operand extension implicitly; the carry-out is dropped",
             'lint_off -rule WIDTHEXPAND -file "*axf_pe_*" -match "*Operator ADD expects*"',
             'lint_off -rule UNUSEDSIGNAL -file "*axf_pe_*" -match "*Bits of signal are not used: \'$*"',
             "// PE outputs at the array edge (a of the last column, w of the last row) feed nothing",
             'lint_off -rule UNUSEDSIGNAL -file "*axf_array*" -match "*Signal is not used: \'$*"',
             "// ROUTE decode: each select defaults to 0 before its case, so other values select nothing",
             'lint_off -rule CASEINCOMPLETE -file "*axf_bank_*"']
    for name, text in files.items():
        if name.endswith(".vlt") and name != f"{chip.top}.vlt":
            body = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("`verilator_config")]
            lines += body
    return "\n".join(dict.fromkeys(lines)) + "\n"


def yosys_script(chip, liberty="cells.lib"):
    from axforge.pdk_stub.flow import synth_script
    srcs = [n for n in chip_verilog(chip) if n.endswith(".v")]
    return synth_script(srcs, chip.top, liberty)


def emit_chip(chip, out_dir):
    """Write the chip's Verilog, ``manifest.json``, ``filelist.f``, ``synth.ys`` (+ Liberty) and ``chip.yaml``."""
    import yaml

    from axforge.pdk_stub.pdk import default_pdk
    from axforge.toolenv import tool_versions
    files = chip_verilog(chip)
    verilog = [n for n in files if n.endswith(".v")]
    man = {"chip": chip.to_dict(), "top": chip.top, "content_hash": chip.content_hash,
           "latency_cycles": chip.rows + chip.cols - 1,
           "arrays": [{"index": i, "multiplier": str(s), "module": chip.array_module(i)}
                      for i, s in enumerate(chip.mult_specs)],
           "files": {n: sha256_text(t) for n, t in files.items()}, "tools": tool_versions()}
    with atomic_dir(out_dir) as tmp:
        for n, t in files.items():
            (tmp / n).write_text(t)
        (tmp / "manifest.json").write_text(json.dumps(man, indent=2, sort_keys=True) + "\n")
        (tmp / "filelist.f").write_text("".join(f"{n}\n" for n in verilog))
        (tmp / "cells.lib").write_text(default_pdk().liberty_text())
        (tmp / "synth.ys").write_text(yosys_script(chip))
        (tmp / "chip.yaml").write_text(yaml.safe_dump(chip.to_dict(), sort_keys=False))
    return man
