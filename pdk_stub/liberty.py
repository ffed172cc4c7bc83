"""A small Liberty reader: the cells, pins, timing tables and energies the PPA flow needs.

It parses the general Liberty syntax (groups, simple and complex attributes,
comments, line continuations) into :class:`Group` trees, then builds a
:class:`Library` of :class:`Cell` objects. Only what the flow uses is
interpreted; everything else is kept in the tree and ignored.
"""

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from axforge.errors import AxforgeError

__all__ = ["Group", "parse", "Table", "Arc", "Pin", "Cell", "Library", "load_library"]

_TOKEN = re.compile(r'\s*(?:(/\*.*?\*/)|(//[^\n]*)|("(?:[^"\\]|\\.)*")|([{}();:,])|(\\\n)|([^\s{}();:,"]+))',
                    re.S)


@dataclass
class Group:
    kind: str
    args: list
    attrs: dict = field(default_factory=dict)       # name -> value (simple) or list of args (complex)
    groups: list = field(default_factory=list)

    def sub(self, kind):
        return [g for g in self.groups if g.kind == kind]


def _tokens(text, path):
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise AxforgeError(f"Liberty file {path}: cannot parse near {text[pos:pos + 30]!r}")
        pos = m.end()
        if m.group(1) or m.group(2) or m.group(5):
            continue
        tok = m.group(3) or m.group(4) or m.group(6)
        if tok is not None:
            out.append(tok)
    return out


def _unquote(tok):
    return tok[1:-1] if tok.startswith('"') else tok


def parse(text, path="<liberty>"):
    """Parse Liberty text into its top-level :class:`Group` (normally ``library``)."""
    toks = _tokens(text, path)
    pos = 0

    def expect(t):
        nonlocal pos
        if pos >= len(toks) or toks[pos] != t:
            got = toks[pos] if pos < len(toks) else "end of file"
            raise AxforgeError(f"Liberty file {path}: expected {t!r}, not {got!r}")
        pos += 1

    def statement(parent):
        nonlocal pos
        name = toks[pos]
        pos += 1
        if toks[pos] == ":":
            pos += 1
            value = []
            while toks[pos] != ";":
                value.append(_unquote(toks[pos]))
                pos += 1
                if pos >= len(toks):
                    raise AxforgeError(f"Liberty file {path}: attribute {name} is not closed by ';'")
            pos += 1
            parent.attrs[name] = " ".join(value)
            return
        expect("(")
        args = []
        while toks[pos] != ")":
            if toks[pos] != ",":
                args.append(_unquote(toks[pos]))
            pos += 1
        pos += 1
        if pos < len(toks) and toks[pos] == "{":
            pos += 1
            g = Group(name, args)
            while toks[pos] != "}":
                statement(g)
            pos += 1
            parent.groups.append(g)
        else:
            if pos < len(toks) and toks[pos] == ";":
                pos += 1
            parent.attrs.setdefault(name, args) if name not in ("fanout_length",) else \
                parent.attrs.setdefault(name, []).append(args)

    root = Group("<root>", [])
    try:
        while pos < len(toks):
            statement(root)
    except IndexError:
        raise AxforgeError(f"Liberty file {path}: unexpected end of file (unbalanced braces?)") from None
    libs = root.sub("library")
    if len(libs) != 1:
        raise AxforgeError(f"Liberty file {path} must contain one library group, not {len(libs)}")
    return libs[0]


def _floats(s):
    return [float(x) for x in re.split(r"[,\s]+", s.strip()) if x]


@dataclass(frozen=True)
class Table:
    """A lookup table over (input slew, output load); 0-, 1- or 2-D; bilinear interpolation."""
    index_1: tuple
    index_2: tuple
    values: tuple  # rows over index_1, columns over index_2

    def __call__(self, slew, load):
        def locate(idx, x):
            if len(idx) < 2:
                return 0, 0, 0.0
            i = min(max(bisect_right(idx, x) - 1, 0), len(idx) - 2)
            return i, i + 1, (x - idx[i]) / (idx[i + 1] - idx[i])
        i0, i1, ti = locate(self.index_1, slew)
        j0, j1, tj = locate(self.index_2, load)
        v = self.values
        if len(self.index_1) < 2 and len(self.index_2) < 2:
            return v[0][0]
        top = v[i0][j0] + (v[i0][j1] - v[i0][j0]) * tj
        bot = v[i1][j0] + (v[i1][j1] - v[i1][j0]) * tj
        return top + (bot - top) * ti


def _table(group, templates):
    tmpl = templates.get(group.args[0] if group.args else "scalar", {})
    var1 = tmpl.get("variable_1", "input_net_transition")
    idx1 = tuple(_floats(group.attrs["index_1"][0])) if "index_1" in group.attrs else tmpl.get("index_1", ())
    idx2 = tuple(_floats(group.attrs["index_2"][0])) if "index_2" in group.attrs else tmpl.get("index_2", ())
    rows = tuple(tuple(_floats(r)) for r in group.attrs.get("values", ["0"]))
    if "capacitance" in var1:  # 1-D or 2-D table whose first axis is the load: transpose to (slew, load)
        if len(rows) == 1:
            return Table((), idx1, rows)
        return Table(idx2, idx1, tuple(zip(*rows)))
    if len(rows) == 1 and len(idx1) > 1 and not idx2:  # 1-D over slew
        return Table(idx1, (), tuple((x,) for x in rows[0]))
    return Table(idx1, idx2, rows)


@dataclass(frozen=True)
class Arc:
    related: str
    timing_type: str
    rise: Table
    fall: Table
    rise_tr: Table
    fall_tr: Table

    def delay(self, slew, load):
        return max(self.rise(slew, load), self.fall(slew, load))

    def transition(self, slew, load):
        return max(self.rise_tr(slew, load), self.fall_tr(slew, load))


@dataclass(frozen=True)
class Pin:
    name: str
    direction: str
    capacitance: float
    function: str
    energy_fj: float          # internal energy per transition of this pin
    arcs: tuple = ()
    setup_ns: float = 0.0
    clock: bool = False


@dataclass(frozen=True)
class Cell:
    name: str
    area: float
    leakage_nw: float
    pins: dict
    sequential: bool

    @property
    def inputs(self):
        return [p for p in self.pins.values() if p.direction == "input"]

    @property
    def outputs(self):
        return [p for p in self.pins.values() if p.direction == "output"]


@dataclass(frozen=True)
class Library:
    name: str
    path: str
    voltage: float
    cells: dict
    wire_cap: float = 0.0
    wire_slope: float = 0.0
    fanout_lengths: tuple = ()

    def wire_capacitance(self, fanout):
        """Wire-load estimate of a net's capacitance (fF) from its fanout."""
        if fanout <= 0 or not self.fanout_lengths:
            return 0.0
        points = sorted(dict(self.fanout_lengths).items())
        below = [p for p in points if p[0] <= fanout]
        above = [p for p in points if p[0] >= fanout]
        if below and above:        # between two entries: linear interpolation (Liberty's rule)
            (n0, l0), (n1, l1) = below[-1], above[0]
            length = l0 if n0 == n1 else l0 + (l1 - l0) * (fanout - n0) / (n1 - n0)
        else:                      # beyond the table: the slope from the nearest entry
            n0, l0 = below[-1] if below else above[0]
            length = l0 + self.wire_slope * (fanout - n0)
        return self.wire_cap * length


def _energy(group, templates):
    vals = []
    for kind in ("rise_power", "fall_power", "power"):
        for g in group.sub(kind):
            t = _table(g, templates)
            vals.append(sum(sum(r) for r in t.values) / max(1, sum(len(r) for r in t.values)))
    return sum(vals) / len(vals) if vals else 0.0


def load_library(path, required_cells=()):
    """Read and validate a Liberty file. Raises :class:`AxforgeError` naming what is missing."""
    path = Path(path)
    if not path.exists():
        raise AxforgeError(f"Liberty file must exist, not {str(path)!r}")
    lib = parse(path.read_text(errors="replace"), path)
    templates = {}
    for kind in ("lu_table_template", "power_lut_template"):
        for g in lib.sub(kind):
            templates[g.args[0]] = {"variable_1": g.attrs.get("variable_1", ""),
                                    "index_1": tuple(_floats(g.attrs["index_1"][0])) if "index_1" in g.attrs else (),
                                    "index_2": tuple(_floats(g.attrs["index_2"][0])) if "index_2" in g.attrs else ()}
    if "nom_voltage" not in lib.attrs:
        raise AxforgeError(f"Liberty file {path}: library attribute nom_voltage is missing")
    voltage = float(lib.attrs["nom_voltage"])
    cells = {}
    for cg in lib.sub("cell"):
        name = cg.args[0]
        if "area" not in cg.attrs:
            raise AxforgeError(f"Liberty file {path}: cell {name} has no area attribute")
        sequential = bool(cg.sub("ff") or cg.sub("latch") or cg.sub("statetable"))
        pins = {}
        for pg in cg.sub("pin"):
            pname = pg.args[0]
            direction = pg.attrs.get("direction", "")
            if direction not in ("input", "output", "inout"):
                raise AxforgeError(f"Liberty file {path}: cell {name} pin {pname} has no direction")
            if direction == "input" and "capacitance" not in pg.attrs:
                raise AxforgeError(f"Liberty file {path}: cell {name} pin {pname} has no capacitance")
            arcs, setup = [], 0.0
            for tg in pg.sub("timing"):
                ttype = tg.attrs.get("timing_type", "combinational")
                if ttype.startswith("setup"):
                    cons = [_table(g, templates) for k in ("rise_constraint", "fall_constraint") for g in tg.sub(k)]
                    setup = max([max(max(r) for r in t.values) for t in cons] or [0.0])
                    continue
                if ttype.startswith(("hold", "recovery", "removal", "min_pulse", "skew", "non_seq")):
                    continue
                tabs = {}
                for k in ("cell_rise", "cell_fall", "rise_transition", "fall_transition"):
                    gs = tg.sub(k)
                    tabs[k] = _table(gs[0], templates) if gs else None
                if tabs["cell_rise"] is None and tabs["cell_fall"] is None:
                    continue
                rise = tabs["cell_rise"] or tabs["cell_fall"]
                fall = tabs["cell_fall"] or rise
                zero = Table((), (), ((0.0,),))
                arcs.append(Arc(tg.attrs.get("related_pin", "").strip(), ttype, rise, fall,
                                tabs["rise_transition"] or tabs["fall_transition"] or zero,
                                tabs["fall_transition"] or tabs["rise_transition"] or zero))
            powers = pg.sub("internal_power")  # one group per related pin: take the mean
            energy = sum(_energy(g, templates) for g in powers) / len(powers) if powers else 0.0
            func = pg.attrs.get("function", pg.attrs.get("state_function", ""))
            if direction == "output" and not func and not sequential:
                raise AxforgeError(f"Liberty file {path}: cell {name} output {pname} has no function")
            pins[pname] = Pin(pname, direction, float(pg.attrs.get("capacitance", 0.0)), func, energy,
                              tuple(arcs), setup, pg.attrs.get("clock", "false") == "true")
        if not any(p.direction == "output" for p in pins.values()):
            raise AxforgeError(f"Liberty file {path}: cell {name} has no output pin")
        cells[name] = Cell(name, float(cg.attrs["area"]), float(cg.attrs.get("cell_leakage_power", 0.0)),
                           pins, sequential)
    missing = [c for c in required_cells if c not in cells]
    if missing:
        raise AxforgeError(f"Liberty file {path} is missing required cell(s): {', '.join(missing)}")
    if not cells:
        raise AxforgeError(f"Liberty file {path} defines no cells")
    wl_name = lib.attrs.get("default_wire_load")
    wl = next((g for g in lib.sub("wire_load") if g.args and g.args[0] == wl_name), None)
    fl = tuple((int(float(a[0])), float(a[1])) for a in wl.attrs.get("fanout_length", [])) if wl else ()
    return Library(lib.args[0] if lib.args else path.stem, str(path), voltage, cells,
                   float(wl.attrs.get("capacitance", 0.0)) if wl else 0.0,
                   float(wl.attrs.get("slope", 0.0)) if wl else 0.0, fl)
