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

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from axforge.errors import AxforgeError, bad_value
from axforge.hdl.array import MAX_DIM, MIN_DIM, SystolicArray
from axforge.hdl.bank import MAX_ARRAYS, ArrayBank
from axforge.hdl.pe import DATAFLOWS, MacPE, default_acc_width, mult_factory

from .design import DESIGNS, Design, Module, design_files, emit_design
from .emit import MultDesign
from .spec import load_mult_spec, read_yaml
from .synth import synth_script

__all__ = ["ChipSpec", "PRESETS", "load_chip", "chip_verilog", "emit_chip", "KEYS", "PEDesign", "ArrayDesign",
           "ChipDesign"]

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
        return ChipDesign(self).content_hash

    @property
    def top(self):
        return f"axf_bank_{self.content_hash[:8]}"

    def array_module(self, idx):
        return ArrayDesign(self.mult_specs[idx], self.rows, self.cols, self.acc_width).top

    def pe_module(self, idx):
        return PEDesign(self.mult_specs[idx], self.acc_width).top


_PE_WAIVERS = [
    "`verilator_config",
    "// Amaranth emits register reset values as initial assignments",
    'lint_off -rule PROCASSINIT -file "*axf_*"',
    "// the accumulator wraps modulo 2**acc_width on purpose: Amaranth sizes the add one",
    "// bit wider and Yosys writes the operand extension implicitly; the carry-out is dropped",
    'lint_off -rule WIDTHEXPAND -file "*axf_pe_*" -match "*Operator ADD expects*"',
    'lint_off -rule UNUSEDSIGNAL -file "*axf_pe_*" -match "*Bits of signal are not used: \'$*"']
_ARRAY_WAIVERS = [
    "// PE outputs at the array edge (a of the last column, w of the last row) feed nothing",
    'lint_off -rule UNUSEDSIGNAL -file "*axf_array*" -match "*Signal is not used: \'$*"']
_BANK_WAIVERS = [
    "// ROUTE decode: each select defaults to 0 before its case, so other values select nothing",
    'lint_off -rule CASEINCOMPLETE -file "*axf_bank_*"']


def _merged_waivers(own, files, top):
    """``own`` lines, then the bodies of the children's ``.vlt`` files, each line once."""
    lines = list(own)
    for name, text in files.items():
        if name.endswith(".vlt") and name != f"{top}.vlt":
            lines += [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("`verilator_config")]
    return "\n".join(dict.fromkeys(lines)) + "\n"


@DESIGNS.register("pe")
class PEDesign(Design):
    """A weight-stationary MAC PE around one multiplier (:class:`~axforge.hdl.pe.MacPE`)."""

    kind = "pe"
    workload = "pairs"

    def __init__(self, spec, acc_width, dataflow="ws"):
        self._spec, self._acc, self._dataflow = spec, acc_width, dataflow

    def to_dict(self):
        return {"multiplier": str(self._spec), "acc_width": self._acc, "dataflow": self._dataflow}

    @property
    def top(self):
        return f"axf_pe_{MultDesign(self._spec).content_hash[:8]}_{self._acc}"

    def children(self):
        return [MultDesign(self._spec)]

    def modules(self):
        factory = mult_factory(self._spec, self._spec.module_name)
        return [Module(self.top, MacPE(self._spec, self._acc, self._dataflow, factory=factory))]

    def waivers(self, files):
        return _merged_waivers(_PE_WAIVERS, files, self.top)


@DESIGNS.register("array")
class ArrayDesign(Design):
    """A rows x cols systolic array of one PE module (:class:`~axforge.hdl.array.SystolicArray`)."""

    kind = "array"
    workload = "matmul"

    def __init__(self, spec, rows, cols, acc_width):
        self._spec, self._rows, self._cols, self._acc = spec, rows, cols, acc_width

    def to_dict(self):
        return {"multiplier": str(self._spec), "rows": self._rows, "cols": self._cols, "acc_width": self._acc}

    @property
    def pe(self):
        return PEDesign(self._spec, self._acc)

    @property
    def top(self):
        return f"axf_array{self._rows}x{self._cols}_{MultDesign(self._spec).content_hash[:8]}_{self._acc}"

    def children(self):
        return [self.pe]

    def modules(self):
        arr = SystolicArray(self._spec, self._rows, self._cols, self._acc, pe_module=self.pe.top)
        return [Module(self.top, arr, purge=False)]

    def waivers(self, files):
        return _merged_waivers(_PE_WAIVERS + _ARRAY_WAIVERS, files, self.top)


@DESIGNS.register("chip")
class ChipDesign(Design):
    """A bank of arrays with a per-layer ROUTE (:class:`~axforge.hdl.bank.ArrayBank`) from a :class:`ChipSpec`."""

    kind = "chip"
    workload = "matmul"

    def __init__(self, chip):
        self._chip = chip

    @property
    def chip(self):
        return self._chip

    def to_dict(self):
        d = self._chip.to_dict()
        d.pop("name")           # the name is a label: it does not change the hardware
        return d

    @property
    def top(self):
        return f"axf_bank_{self.content_hash[:8]}"

    def _arrays(self):
        c = self._chip
        return [ArrayDesign(s, c.rows, c.cols, c.acc_width) for s in c.mult_specs]

    def children(self):
        return list({a.top: a for a in self._arrays()}.values())

    def modules(self):
        c = self._chip
        bank = ArrayBank(list(c.mult_specs), c.rows, c.cols, c.acc_width,
                         array_modules=[a.top for a in self._arrays()])
        return [Module(self.top, bank)]

    def waivers(self, files):
        return _merged_waivers(_PE_WAIVERS + _ARRAY_WAIVERS + _BANK_WAIVERS, files, self.top)

    def manifest_extra(self):
        c = self._chip
        return {"chip": c.to_dict(), "latency_cycles": c.rows + c.cols - 1,
                "arrays": [{"index": i, "multiplier": str(s), "module": c.array_module(i)}
                           for i, s in enumerate(c.mult_specs)]}


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
    return ChipSpec.from_dict(read_yaml(p, "Chip YAML"), f"chip {p}")


def chip_verilog(chip):
    """``{file name: text}``: multipliers, PEs, arrays and the bank (cached, verified)."""
    return design_files(ChipDesign(chip))


def yosys_script(chip, liberty="cells.lib"):
    return synth_script([n for n in chip_verilog(chip) if n.endswith(".v")], chip.top, liberty)


def emit_chip(chip, out_dir, liberty=None):
    """Write the chip's Verilog, ``manifest.json``, ``filelist.f``, ``synth.ys`` and ``chip.yaml``
    (and ``cells.lib``, the Liberty text ``synth.ys`` reads, when ``liberty`` is given)."""
    extra = {"chip.yaml": yaml.safe_dump(chip.to_dict(), sort_keys=False)}
    if liberty is not None:
        extra["cells.lib"] = liberty
    return emit_design(ChipDesign(chip), out_dir, extra)
