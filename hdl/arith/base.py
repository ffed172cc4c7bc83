"""Multiplier specs, the family base class and the family registry.

A spec string names one variant::

    FAMILY[:AxB(u|s)][:key=value,key=value...]

e.g. ``trunc:8x8u:k=6,comp=const``, ``exact:8x4s:arch=booth``, ``drum:k=4``
(widths default to ``8x8u``). Imported Verilog is ``verilog:PATH.v@TOP`` (add
``:s`` for signed) and designs in the user's library are ``lib:NAME``.
The canonical string lists every parameter in declared order, so equal
designs have equal strings and equal content hashes.
"""

import re
from dataclasses import dataclass, field

import numpy as np

from axforge.errors import AxforgeError, bad_value
from axforge.paths import sha256_text
from axforge.registry import Registry

__all__ = [
    "Param", "Family", "MultSpec", "FAMILIES", "SCHEMES", "register", "get_family",
    "MIN_WIDTH", "MAX_WIDTH", "exact_product", "to_signed",
]

MIN_WIDTH = 2
MAX_WIDTH = 16

# Every module of this package is imported on the first lookup, so a family file registers itself
# with ``@register`` and nothing else needs editing.
FAMILIES = Registry("Family", package="axforge.hdl.arith")
# Spec prefixes that are not a built-in family (``verilog:``, ``lib:``): name -> handler with
# ``parse_spec``, ``spec_from_dict``, ``spec_string`` (see :mod:`.imported`).
SCHEMES = Registry("Spec scheme", package="axforge.hdl.arith")


def register(family_cls):
    """Class decorator: add a built-in family to :data:`FAMILIES` (one instance per class)."""
    FAMILIES.register(family_cls.name, family_cls())
    return family_cls


def get_family(name):
    if name in SCHEMES:
        return SCHEMES[name]
    try:
        return FAMILIES[name]
    except KeyError:
        allowed = ", ".join(sorted(FAMILIES))
        raise AxforgeError(f"Family must be one of {allowed}, not {name!r}") from None


@dataclass(frozen=True)
class Param:
    """One family parameter: its type, default, and a description of the allowed values.

    ``choices`` restricts string parameters. Integer ranges that depend on the
    operand widths are checked by the family's ``check`` method.
    """

    name: str
    kind: type
    default: object
    doc: str
    choices: tuple = ()

    def coerce(self, family, value):
        if self.kind is int:
            if isinstance(value, bool):
                raise bad_value(f"{family} parameter '{self.name}'", value, "an integer")
            if isinstance(value, str):
                if not re.fullmatch(r"-?\d+", value.strip()):
                    raise bad_value(f"{family} parameter '{self.name}'", value, "an integer")
                value = int(value)
            if not isinstance(value, int):
                raise bad_value(f"{family} parameter '{self.name}'", value, "an integer")
            return value
        value = str(value)
        if self.choices and value not in self.choices:
            raise bad_value(f"{family} parameter '{self.name}'", value,
                            "one of " + ", ".join(self.choices))
        return value


def to_signed(values, width):
    """Reinterpret ``width``-bit unsigned integers as two's complement."""
    values = np.asarray(values, dtype=np.int64)
    return np.where(values >= (1 << (width - 1)), values - (1 << width), values)


def exact_product(a, b):
    return np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64)


class Family:
    """A multiplier family: parameters, structural circuit, bit-accurate model.

    Subclasses set ``name``, ``title``, ``params`` and ``signed_ok`` and
    implement :meth:`build` (the circuit, written against a backend from
    ``_bits``) and :meth:`model` (vectorised numpy). :meth:`check` validates
    parameters that depend on the widths; :meth:`library` lists the
    parameter points of the built-in library.
    """

    name = ""
    title = ""
    params = ()
    signed_ok = True
    unsigned_ok = True

    def check(self, spec):
        """Raise :class:`AxforgeError` for parameters outside their range."""

    def build(self, be, a, b, spec):  # pragma: no cover - abstract
        """Return the ``a_width + b_width`` product bits (little-endian)."""
        raise NotImplementedError

    def model(self, a, b, spec):  # pragma: no cover - abstract
        """Products for integer arrays ``a``, ``b`` (signed values if ``spec.signed``)."""
        raise NotImplementedError

    def library(self, a_width, b_width, signed):
        """Parameter dicts of this family's built-in library at these widths."""
        return [{}]

    @staticmethod
    def range_error(spec, key, value, lo, hi):
        return bad_value(f"{spec.family} parameter '{key}'", value,
                         f"an integer between {lo} and {hi} for {spec.width_tag}")


@dataclass(frozen=True)
class MultSpec:
    """A validated multiplier variant. Build with :meth:`parse` or :meth:`make`."""

    family: str
    a_width: int = 8
    b_width: int = 8
    signed: bool = False
    params: tuple = ()
    registered: bool = False
    source: tuple = field(default=(), compare=True)  # imported designs: (path, top, sha256)

    def __post_init__(self):
        for key, w in (("a_width", self.a_width), ("b_width", self.b_width)):
            if isinstance(w, bool) or not isinstance(w, int) or not MIN_WIDTH <= w <= MAX_WIDTH:
                raise bad_value(key.replace("_", " ").capitalize(), w,
                                f"an integer between {MIN_WIDTH} and {MAX_WIDTH}")
        if self.family in ("verilog",):
            return
        fam = get_family(self.family)
        if self.signed and not fam.signed_ok:
            raise AxforgeError(f"Family '{self.family}' is unsigned only, not signed")
        if not self.signed and not fam.unsigned_ok:
            raise AxforgeError(f"Family '{self.family}' is signed only, not unsigned")
        fam.check(self)

    # -- construction -------------------------------------------------------------
    @classmethod
    def make(cls, family, a_width=8, b_width=8, signed=False, registered=False, **params):
        fam = get_family(family)
        known = {p.name: p for p in fam.params}
        for key in params:
            if key not in known:
                allowed = ", ".join(known) or "none"
                raise AxforgeError(
                    f"Parameter of family '{family}' must be one of {allowed}, not {key!r}")
        values = tuple((p.name, p.coerce(family, params.get(p.name, p.default)))
                       for p in fam.params)
        return cls(family, a_width, b_width, bool(signed), values, bool(registered))

    @classmethod
    def parse(cls, text):
        """Parse a spec string (see the module docstring)."""
        if not isinstance(text, str) or not text.strip():
            raise bad_value("Spec", text, "a string like 'trunc:8x8u:k=4'")
        text = text.strip()
        scheme = text.split(":", 1)[0]
        if scheme in SCHEMES:
            return SCHEMES[scheme].parse_spec(text)
        parts = text.split(":")
        family = parts[0]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", family):
            raise bad_value("Spec family", family, "a lower-case family name such as 'trunc'")
        get_family(family)
        a_w, b_w, signed, params, registered = 8, 8, False, {}, False
        rest = parts[1:]
        if rest and "=" not in rest[0]:
            mw = re.fullmatch(r"(\d+)x(\d+)([us]?)", rest[0])
            if not mw:
                raise bad_value("Spec widths", rest[0], "of the form AxB, AxBu or AxBs (e.g. 8x8u)")
            a_w, b_w, signed = int(mw[1]), int(mw[2]), mw[3] == "s"
            rest = rest[1:]
        if len(rest) > 1:
            raise bad_value("Spec", text, "FAMILY[:AxB(u|s)][:key=value,...]")
        if rest and rest[0]:
            for item in rest[0].split(","):
                if not re.fullmatch(r"[a-z_]+=[A-Za-z0-9_.-]+", item):
                    raise bad_value("Spec parameter", item, "of the form key=value")
                key, value = item.split("=")
                if key in params:
                    raise AxforgeError(f"Spec parameter '{key}' given twice in {text!r}")
                if key == "reg":
                    if value not in ("0", "1"):
                        raise bad_value("Spec parameter 'reg'", value, "0 or 1")
                    registered = value == "1"
                    continue
                params[key] = value
        return cls.make(family, a_w, b_w, signed, registered, **params)

    @classmethod
    def from_dict(cls, data, where="spec"):
        """Build from a YAML/JSON mapping (keys: family, a_width, b_width, signed, params, registered)."""
        if isinstance(data, str):
            return cls.parse(data)
        if not isinstance(data, dict):
            raise bad_value(f"{where}", type(data).__name__, "a mapping or a spec string")
        allowed = ("family", "a_width", "b_width", "signed", "params", "registered",
                   "path", "top")
        for key in data:
            if key not in allowed:
                raise AxforgeError(f"Key of {where} must be one of {', '.join(allowed)}, not {key!r}")
        if "family" not in data:
            raise AxforgeError(f"{where} is missing the required key 'family'")
        for key in ("signed", "registered"):
            if key in data and not isinstance(data[key], bool):
                raise bad_value(f"Key '{key}' of {where}", data[key], "true or false")
        if data["family"] in SCHEMES:
            return SCHEMES[data["family"]].spec_from_dict(data, where)
        params = data.get("params") or {}
        if not isinstance(params, dict):
            raise bad_value(f"Key 'params' of {where}", params, "a mapping")
        return cls.make(data["family"], data.get("a_width", 8), data.get("b_width", 8),
                        data.get("signed", False), data.get("registered", False), **params)

    # -- identity -----------------------------------------------------------------
    @property
    def width_tag(self):
        return f"{self.a_width}x{self.b_width}{'s' if self.signed else 'u'}"

    @property
    def out_width(self):
        return self.a_width + self.b_width

    @property
    def param_dict(self):
        return dict(self.params)

    def __str__(self):
        if self.family in SCHEMES:
            return SCHEMES[self.family].spec_string(self)
        text = f"{self.family}:{self.width_tag}"
        items = [f"{k}={v}" for k, v in self.params]
        if self.registered:
            items.append("reg=1")
        return text + (":" + ",".join(items) if items else "")

    def to_dict(self):
        if self.family == "verilog":
            return {"family": "verilog", "path": self.source[0], "top": self.source[1],
                    "signed": self.signed, "a_width": self.a_width, "b_width": self.b_width}
        return {"family": self.family, "a_width": self.a_width, "b_width": self.b_width,
                "signed": self.signed, "params": self.param_dict, "registered": self.registered}

    def combinational(self):
        """The same variant without the output register (same LUT)."""
        if not self.registered:
            return self
        return MultSpec(self.family, self.a_width, self.b_width, self.signed, self.params,
                        False, self.source)

    @property
    def module_name(self):
        """A Verilog-safe, unique module name."""
        base = re.sub(r"[^a-z0-9]+", "_", self.family).strip("_")
        return f"axf_{base}_{self.width_tag}_{sha256_text(str(self))[:8]}"

    # -- behaviour ------------------------------------------------------------
    @property
    def family_obj(self):
        return get_family(self.family)

    def model(self, a, b):
        """Bit-accurate products (int64; signed values for signed specs)."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        raw = self.family_obj.model(a, b, self)
        # a design with no partial product left (trunc k = n+m-1, say) has a constant model
        raw = np.broadcast_to(np.asarray(raw, dtype=np.int64), np.broadcast_shapes(a.shape, b.shape))
        raw = raw % (1 << self.out_width)
        return to_signed(raw, self.out_width) if self.signed else raw

    def operands(self):
        """All operand values in LUT order: a varies slowest (index = a_raw << b_width | b_raw)."""
        ra = np.arange(1 << self.a_width, dtype=np.int64)
        rb = np.arange(1 << self.b_width, dtype=np.int64)
        if self.signed:
            ra, rb = to_signed(ra, self.a_width), to_signed(rb, self.b_width)
        aa, bb = np.meshgrid(ra, rb, indexing="ij")
        return aa.ravel(), bb.ravel()
