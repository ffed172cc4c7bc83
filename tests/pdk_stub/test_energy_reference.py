"""An independent check of the PPA figures every search optimises: energy, delay, leakage, area.

The real flow (``axforge ppa SPEC -o DIR --stream ops.npy --emit-script``) runs
on a few tiny designs and a short operand stream written out below. The test
then recomputes every figure itself, from the two files the flow leaves
behind, without the flow's Liberty reader, timing graph or SAIF parser:

* the Liberty the flow used (``DIR/cells.lib``) is read by the small parser
  here: areas, leakages, pin capacitances, functions, wire-load model,
  NLDM tables, setup constraints and internal-energy values;
* the mapped netlist (``DIR/mapped.v``) is parsed here, and every net is
  evaluated cycle by cycle from the cells' Liberty ``function`` (and ``ff``)
  attributes, the way the activity harness drives it: the first pair settles
  the circuit, each later pair is one operation; a registered design sees
  each pair with the clock low, then one rising edge;
* toggles are counted net by net, each 0->1 priced with ``rise_power`` and
  each 1->0 with ``fall_power``;
* energy per operation = (sum over nets of toggles * C * V^2 / 2 + internal
  energy) / operations, C being the net's fanout pin capacitances plus the
  wire-load estimate for its fanout (a primary output counts as one fanout and
  adds the 1.14 fF output load), as pdk_stub/README.md defines it;
* delay: the model pdk_stub/sta.py documents: each net's transition is its
  driver's output transition at the nominal 0.02 ns input slew and the net's
  load; an arc's delay is max(cell_rise, cell_fall) at (its input net's
  transition, its output net's load), bilinear in the 3x3 tables; flip-flops
  start paths at clock-to-Q and end them at D plus setup.
"""

import json
import re

import numpy as np
import pytest

from axforge.cli import main

V_OUT_LOAD_FF = 1.14          # the flow's documented load on a primary output (a DFF D pin)
INPUT_SLEW_NS = 0.02          # sta.py's nominal input transition

# Operand pairs written out by hand (not drawn): every value of each operand, repeats, and
# the same pair twice in a row (an operation with no toggles at all).
PAIRS_2BIT = [(1, 2), (3, 3), (0, 1), (2, 3), (3, 1), (1, 1), (2, 2), (2, 2),
              (0, 0), (3, 2), (1, 3), (2, 1), (3, 0), (0, 3), (1, 0), (3, 3)]
PAIRS_3BIT = [(5, 3), (7, 7), (0, 6), (2, 5), (7, 1), (4, 4), (4, 4), (1, 7),
              (6, 2), (3, 3), (0, 0), (7, 6), (5, 2), (2, 7), (6, 5), (1, 1), (3, 4)]

DESIGNS = {
    "exact:2x2u:arch=array": PAIRS_2BIT,          # 7 cells: AND2, NAND2, NOR2, XOR2
    "exact:3x3u:arch=dadda": PAIRS_3BIT,          # 27 cells of 10 types (AOI/OAI, NAND3, NOR3, XNOR2, INV)
    "exact:2x2u:arch=array,reg=1": PAIRS_2BIT,    # registered: DFF clock-to-Q, setup, clock-pin energy
}


# ---------------------------------------------------------------- Liberty, read independently

def _liberty_tree(text):
    """Liberty text -> nested dicts: {"attrs": {name: str}, "complex": {name: [args...]}, "groups": [...]}."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S).replace("\\\n", " ")
    toks = re.findall(r'"[^"]*"|[{}();:,]|[^\s{}();:,"]+', text)
    pos = 0

    def group(kind, args):
        nonlocal pos
        g = {"kind": kind, "args": args, "attrs": {}, "complex": {}, "groups": []}
        while toks[pos] != "}":
            name = toks[pos]
            pos += 1
            if toks[pos] == ":":
                end = toks.index(";", pos)
                g["attrs"][name] = " ".join(t.strip('"') for t in toks[pos + 1:end])
                pos = end + 1
                continue
            assert toks[pos] == "(", (name, toks[pos:pos + 5])
            end = toks.index(")", pos)
            args = [t.strip('"') for t in toks[pos + 1:end] if t != ","]
            pos = end + 1
            if toks[pos] == "{":
                pos += 1
                g["groups"].append(group(name, args))
                pos += 1
            else:
                if toks[pos] == ";":
                    pos += 1
                g["complex"].setdefault(name, []).append(args)
        return g

    toks = ["{"] + toks + ["}"]
    pos = 1
    root = group("<root>", [])
    (lib,) = [g for g in root["groups"] if g["kind"] == "library"]
    return lib


def _subs(g, kind):
    return [s for s in g["groups"] if s["kind"] == kind]


def _nums(s):
    return [float(x) for x in s.replace(",", " ").split()]


def _table(g, templates):
    tmpl = templates.get(g["args"][0] if g["args"] else "", {})
    idx1 = _nums(g["complex"]["index_1"][0][0]) if "index_1" in g["complex"] else tmpl.get("index_1", [])
    idx2 = _nums(g["complex"]["index_2"][0][0]) if "index_2" in g["complex"] else tmpl.get("index_2", [])
    rows = [_nums(r) for r in g["complex"]["values"][0]]
    # this library's template is (input_net_transition, total_output_net_capacitance)
    assert tmpl.get("variable_1", "input_net_transition") == "input_net_transition"
    return idx1, idx2, rows


def _lookup(table, slew, load):
    """Bilinear interpolation (linear extrapolation outside the grid) of a (slew, load) table."""
    idx1, idx2, rows = table
    if len(rows) == 1 and len(rows[0]) == 1:
        return rows[0][0]

    def seg(idx, x):
        i = 0
        while i < len(idx) - 2 and x >= idx[i + 1]:
            i += 1
        return i, (x - idx[i]) / (idx[i + 1] - idx[i])
    i, u = seg(idx1, slew)
    j, w = seg(idx2, load)
    lo = rows[i][j] * (1 - w) + rows[i][j + 1] * w
    hi = rows[i + 1][j] * (1 - w) + rows[i + 1][j + 1] * w
    return lo * (1 - u) + hi * u


def read_liberty(text):
    lib = _liberty_tree(text)
    templates = {}
    for t in _subs(lib, "lu_table_template"):
        templates[t["args"][0]] = {"variable_1": t["attrs"].get("variable_1"),
                                   "index_1": _nums(t["complex"]["index_1"][0][0]),
                                   "index_2": _nums(t["complex"]["index_2"][0][0])}
    (wl,) = [w for w in _subs(lib, "wire_load") if w["args"][0] == lib["attrs"]["default_wire_load"]]
    out = {"voltage": float(lib["attrs"]["nom_voltage"]),
           "wire_cap": float(wl["attrs"]["capacitance"]), "wire_slope": float(wl["attrs"]["slope"]),
           "fanout_length": {int(a[0]): float(a[1]) for a in wl["complex"]["fanout_length"]},
           "cells": {}}
    for c in _subs(lib, "cell"):
        ff = _subs(c, "ff")
        cell = {"area": float(c["attrs"]["area"]), "leakage_nw": float(c["attrs"]["cell_leakage_power"]),
                "ff": ({"state": ff[0]["args"], **ff[0]["attrs"]} if ff else None), "pins": {}}
        for p in _subs(c, "pin"):
            pin = {"direction": p["attrs"]["direction"], "cap": float(p["attrs"].get("capacitance", 0)),
                   "function": p["attrs"].get("function"), "clock": p["attrs"].get("clock") == "true",
                   "rise_fj": 0.0, "fall_fj": 0.0, "arcs": [], "setup": 0.0}
            for ip in _subs(p, "internal_power"):
                for kind in ("rise_power", "fall_power"):
                    (tab,) = _subs(ip, kind)
                    pin[kind[:4] + "_fj"] = _table(tab, templates)[2][0][0]
            for tg in _subs(p, "timing"):
                ttype = tg["attrs"].get("timing_type", "combinational")
                if ttype.startswith("setup"):
                    pin["setup"] = max(_table(g, templates)[2][0][0]
                                       for k in ("rise_constraint", "fall_constraint") for g in _subs(tg, k))
                    continue
                tabs = {k: _table(_subs(tg, k)[0], templates)
                        for k in ("cell_rise", "cell_fall", "rise_transition", "fall_transition")}
                pin["arcs"].append({"related": tg["attrs"]["related_pin"], "type": ttype, **tabs})
            cell["pins"][p["args"][0]] = pin
        out["cells"][c["args"][0]] = cell
    return out


def wire_cap(lib, fanout):
    """Liberty wire-load semantics: the table entry, linear interpolation between entries,
    ``slope`` beyond the last one."""
    fl = lib["fanout_length"]
    if fanout <= 0:
        return 0.0
    if fanout in fl:
        length = fl[fanout]
    elif fanout > max(fl):
        length = fl[max(fl)] + lib["wire_slope"] * (fanout - max(fl))
    else:
        lo, hi = max(n for n in fl if n < fanout), min(n for n in fl if n > fanout)
        length = fl[lo] + (fl[hi] - fl[lo]) * (fanout - lo) / (hi - lo)
    return lib["wire_cap"] * length


# ---------------------------------------------------------------- mapped netlist, read independently

def read_netlist(text):
    """``write_verilog -noattr -noexpr`` output -> (ports {name: (dir, width)}, cells [(type, name, {pin: bit})],
    alias {bit: bit}). A bit is "name" or "name[i]" or a constant "0"/"1"."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    widths, ports = {}, {}
    for kind, msb, lsb, name in re.findall(r"^\s*(input|output|wire)\s+(?:\[(\d+):(\d+)\]\s+)?(\S+);", text, re.M):
        w = int(msb) - int(lsb) + 1 if msb else 1
        widths[name] = w
        if kind != "wire":
            ports[name] = (kind, w)

    def bits(expr):
        expr = expr.strip()
        if expr.startswith("{"):
            return [b for part in expr.strip("{} ").split(",") for b in bits(part)]
        m = re.fullmatch(r"(\d+)'([hbd])([0-9a-fA-F_]+)", expr)
        if m:
            val = int(m.group(3).replace("_", ""), {"h": 16, "b": 2, "d": 10}[m.group(2)])
            return [str((val >> i) & 1) for i in reversed(range(int(m.group(1))))]
        m = re.fullmatch(r"\\?(\S+?)\s*\[(\d+)\]", expr)
        if m:
            return [f"{m.group(1)}[{m.group(2)}]"]
        w = widths.get(expr, 1)
        return [expr] if w == 1 else [f"{expr}[{i}]" for i in reversed(range(w))]

    cells = []
    for ctype, cname, body in re.findall(r"^\s*(\w+)\s+(\S+)\s*\((.*?)\);", text, re.M | re.S):
        if ctype in ("module", "input", "output", "wire", "assign"):
            continue
        conns = {}
        for pin, expr in re.findall(r"\.(\w+)\(([^()]*)\)", body):
            (bit,) = bits(expr)
            conns[pin] = bit
        cells.append((ctype, cname, conns))
    alias = {}
    for lhs, rhs in re.findall(r"^\s*assign\s+(.+?)\s*=\s*(.+?);", text, re.M):
        lb, rb = bits(lhs), bits(rhs)
        assert len(lb) == len(rb), (lhs, rhs)
        alias.update(zip(lb, rb))
    return ports, cells, alias


def _pyexpr(function):
    """A Liberty function of this library (fully parenthesised; ! & | ^) as a Python expression."""
    return function.replace("!", "~")


class Circuit:
    """The mapped netlist as nets with values, evaluated from the Liberty functions."""

    def __init__(self, lib, ports, cells, alias):
        self.lib = lib

        def canon(b):
            while b in alias:
                b = alias[b]
            return b
        self.canon = canon
        self.cells = [(t, n, {p: canon(b) for p, b in c.items()}) for t, n, c in cells]
        self.inputs = [f"{n}[{i}]" if w > 1 else n for n, (d, w) in ports.items() if d == "input"
                       for i in range(w)]
        self.outputs = {canon(f"{n}[{i}]" if w > 1 else n) for n, (d, w) in ports.items() if d == "output"
                        for i in range(w)}
        self.outputs -= {"0", "1"}
        self.driver, self.fanout = {}, {}
        for t, n, conns in self.cells:
            for p, b in conns.items():
                if lib["cells"][t]["pins"][p]["direction"] == "output":
                    assert b not in self.driver, f"net {b} has two drivers"
                    self.driver[b] = (t, n, p)
                elif b not in ("0", "1"):
                    self.fanout.setdefault(b, []).append((t, n, p))
        self.nets = sorted(set(self.inputs) | set(self.driver) | set(self.fanout))
        self.state = {n: 0 for t, n, _ in self.cells if lib["cells"][t]["ff"]}   # Verilator starts regs at 0

    def cap_ff(self, net):
        pins = sum(self.lib["cells"][t]["pins"][p]["cap"] for t, _, p in self.fanout.get(net, []))
        nfan = len(self.fanout.get(net, [])) + (1 if net in self.outputs else 0)
        return pins + wire_cap(self.lib, nfan) + (V_OUT_LOAD_FF if net in self.outputs else 0.0)

    def settle(self, values):
        """Evaluate every combinational net (and flip-flop outputs from their state) in place."""
        values["0"], values["1"] = 0, 1
        for _ in range(len(self.cells) + 1):
            changed = False
            for t, n, conns in self.cells:
                lc = self.lib["cells"][t]
                env = {p: values.get(b, 0) for p, b in conns.items()}
                if lc["ff"]:
                    iq, iqn = lc["ff"]["state"]
                    env[iq], env[iqn] = self.state[n], 1 - self.state[n]
                for p, b in conns.items():
                    pin = lc["pins"][p]
                    if pin["direction"] == "output":
                        v = eval(_pyexpr(pin["function"]), {}, dict(env)) & 1
                        if values.get(b) != v:
                            values[b], changed = v, True
            if not changed:
                return values
        raise AssertionError("combinational loop")

    def clock_edge(self, values):
        for t, n, conns in self.cells:
            ff = self.lib["cells"][t]["ff"]
            if ff:
                env = {p: values.get(b, 0) for p, b in conns.items()}
                self.state[n] = eval(_pyexpr(ff["next_state"]), {}, env) & 1

    def snapshots(self, pairs, a_width, b_width):
        """Net values at every trace dump of the activity harness, after the settling first pair."""
        clocked = "clk" in self.inputs
        out, values = [], {}

        def apply(a, b):
            for i in range(a_width):
                values[f"a[{i}]" if a_width > 1 else "a"] = (a >> i) & 1
            for i in range(b_width):
                values[f"b[{i}]" if b_width > 1 else "b"] = (b >> i) & 1
            dumps = []
            if clocked:
                values["rst"], values["clk"] = 0, 0
                self.settle(values)
                dumps.append(dict(values))
                values["clk"] = 1
                self.clock_edge(values)          # D sampled from the settled clock-low values
            self.settle(values)
            dumps.append(dict(values))
            return dumps

        apply(*pairs[0])
        out.append(dict(values))
        for a, b in pairs[1:]:
            out += apply(a, b)
        return out


def _run_flow(spec_text, pairs, tmp_path):
    np.save(tmp_path / "ops.npy", np.array(pairs, dtype=np.int64))
    out = tmp_path / "ppa"
    assert main(["ppa", spec_text, "-o", str(out), "--stream", str(tmp_path / "ops.npy"), "--emit-script"]) == 0
    res = json.loads((out / "ppa.json").read_text())
    lib = read_liberty((out / "cells.lib").read_text())
    circuit = Circuit(lib, *read_netlist((out / "mapped.v").read_text()))
    return res, lib, circuit


def hand_energy(lib, circ, pairs, a_width, b_width):
    """(switching fJ, internal fJ, operations, toggles per net) over the stream, by hand."""
    snaps = circ.snapshots(pairs, a_width, b_width)
    ops = len(pairs) - 1
    rises = {n: 0 for n in circ.nets}
    falls = {n: 0 for n in circ.nets}
    for prev, cur in zip(snaps, snaps[1:]):
        for n in circ.nets:
            if prev[n] != cur[n]:
                (rises if cur[n] else falls)[n] += 1
    v2 = lib["voltage"] ** 2
    switching = sum((rises[n] + falls[n]) * circ.cap_ff(n) * v2 / 2 for n in circ.nets)
    internal = 0.0
    for t, _, conns in circ.cells:
        for p, b in conns.items():
            pin = lib["cells"][t]["pins"][p]
            if b in rises and (pin["direction"] == "output" or pin["rise_fj"] or pin["fall_fj"]):
                internal += rises[b] * pin["rise_fj"] + falls[b] * pin["fall_fj"]
    return switching, internal, ops, {n: rises[n] + falls[n] for n in circ.nets}


def hand_energy_vectorised(lib, circ, pairs, a_width, b_width):
    """:func:`hand_energy` for a combinational netlist and a long stream: every net as a numpy
    column over the whole stream, cells evaluated in dependency order."""
    assert not circ.state, "combinational designs only"
    pairs = np.asarray(pairs, dtype=np.int64)
    vals = {"0": np.zeros(len(pairs), np.int64), "1": np.ones(len(pairs), np.int64)}
    for col, name, w in ((0, "a", a_width), (1, "b", b_width)):
        for i in range(w):
            vals[f"{name}[{i}]" if w > 1 else name] = (pairs[:, col] >> i) & 1
    todo = list(circ.cells)
    while todo:
        rest = []
        for t, n, conns in todo:
            pins = circ.lib["cells"][t]["pins"]
            ins = {p: b for p, b in conns.items() if pins[p]["direction"] == "input"}
            if any(b not in vals for b in ins.values()):
                rest.append((t, n, conns))
                continue
            env = {p: vals[b] for p, b in ins.items()}
            for p, b in conns.items():
                if pins[p]["direction"] == "output":
                    vals[b] = eval(_pyexpr(pins[p]["function"]), {}, dict(env)) & 1
        assert len(rest) < len(todo), "combinational loop"
        todo = rest
    v2 = lib["voltage"] ** 2
    rises = {n: int(np.count_nonzero(np.diff(vals[n]) == 1)) for n in circ.nets}
    falls = {n: int(np.count_nonzero(np.diff(vals[n]) == -1)) for n in circ.nets}
    switching = sum((rises[n] + falls[n]) * circ.cap_ff(n) * v2 / 2 for n in circ.nets)
    internal = 0.0
    for t, _, conns in circ.cells:
        for p, b in conns.items():
            pin = lib["cells"][t]["pins"][p]
            if b in rises:
                internal += rises[b] * pin["rise_fj"] + falls[b] * pin["fall_fj"]
    return switching, internal, len(pairs) - 1, {n: rises[n] + falls[n] for n in circ.nets}


def hand_delay(lib, circ):
    """(longest path ns, arrival ns per net) under sta.py's documented model, by hand."""
    slew = {n: INPUT_SLEW_NS for n in circ.inputs}
    for net, (t, _, p) in circ.driver.items():
        arcs = lib["cells"][t]["pins"][p]["arcs"]
        slew[net] = max(max(_lookup(a["rise_transition"], INPUT_SLEW_NS, circ.cap_ff(net)),
                            _lookup(a["fall_transition"], INPUT_SLEW_NS, circ.cap_ff(net))) for a in arcs)
    arrival = {}

    def arr(net):
        if net in arrival:
            return arrival[net]
        if net in circ.inputs:
            arrival[net] = 0.0
            return 0.0
        t, n, p = circ.driver[net]
        conns = next(c for tt, nn, c in circ.cells if nn == n)
        load, best = circ.cap_ff(net), 0.0
        for a in lib["cells"][t]["pins"][p]["arcs"]:
            if a["type"] in ("rising_edge", "falling_edge"):        # clock-to-Q starts a path
                start, s = 0.0, INPUT_SLEW_NS
            else:
                src = conns[a["related"]]
                if src in ("0", "1"):
                    continue
                start, s = arr(src), slew[src]
            best = max(best, start + max(_lookup(a["cell_rise"], s, load), _lookup(a["cell_fall"], s, load)))
        arrival[net] = best
        return best

    ends = [arr(n) for n in circ.outputs]
    for t, n, conns in circ.cells:
        for p, b in conns.items():
            pin = lib["cells"][t]["pins"][p]
            if pin["direction"] == "input" and pin["setup"] > 0 and b not in ("0", "1"):
                ends.append(arr(b) + pin["setup"])
    return max(ends), arrival


# ---------------------------------------------------------------- the checks

def _widths(spec_text):
    from axforge.hdl.arith import MultSpec
    s = MultSpec.parse(spec_text)
    return s.a_width, s.b_width


@pytest.mark.parametrize("spec_text", list(DESIGNS))
def test_energy_leakage_area_equal_a_hand_computation(spec_text, tmp_path):
    pairs = DESIGNS[spec_text]
    res, lib, circ = _run_flow(spec_text, pairs, tmp_path)
    aw, bw = _widths(spec_text)
    # the mapped netlist computes the products (the hand simulation is a faithful model of it)
    snaps = circ.snapshots(pairs, aw, bw)
    step = 2 if "clk" in circ.inputs else 1
    for k, (a, b) in enumerate(pairs):
        values = snaps[0] if k == 0 else snaps[step * k]
        p = sum(values[circ.canon(f"p[{i}]")] << i for i in range(aw + bw))
        assert p == a * b, (k, a, b, p)

    switching, internal, ops, toggles = hand_energy(lib, circ, pairs, aw, bw)
    if not circ.state:                                      # the column-wise version agrees, net by net
        sw2, int2, ops2, toggles2 = hand_energy_vectorised(lib, circ, pairs, aw, bw)
        assert (sw2, int2, ops2) == pytest.approx((switching, internal, ops), rel=1e-12) and toggles2 == toggles
    assert res["stream"]["vectors"] == len(pairs) and ops == len(pairs) - 1
    assert sum(toggles.values()) > 3 * ops                  # the stream exercises the design
    e_sw, e_int = switching / ops / 1000, internal / ops / 1000     # fJ -> pJ per operation
    assert res["energy_breakdown_pj_per_op"]["switching"] == pytest.approx(e_sw, abs=5.01e-7)
    assert res["energy_breakdown_pj_per_op"]["internal"] == pytest.approx(e_int, abs=5.01e-7)
    assert res["energy_pj_per_op"] == pytest.approx(e_sw + e_int, abs=5.01e-7)
    assert res["power_mw"] == pytest.approx((e_sw + e_int) * 500 / 1000 + res["leakage_uw"] / 1000, abs=2e-6)

    counts = {}
    for t, _, _ in circ.cells:
        counts[t] = counts.get(t, 0) + 1
    assert res["cell_counts"] == counts and res["cells"] == len(circ.cells)
    area = sum(lib["cells"][t]["area"] for t, _, _ in circ.cells)
    leak_uw = sum(lib["cells"][t]["leakage_nw"] for t, _, _ in circ.cells) / 1000
    seq_area = sum(lib["cells"][t]["area"] for t, _, _ in circ.cells if lib["cells"][t]["ff"])
    assert res["area_um2"] == pytest.approx(area, abs=5.01e-5)
    assert res["sequential_area_um2"] == pytest.approx(seq_area, abs=5.01e-5)
    assert res["leakage_uw"] == pytest.approx(leak_uw, abs=5.01e-7)


@pytest.mark.parametrize("spec_text", list(DESIGNS))
def test_delay_and_critical_path_equal_a_hand_computation(spec_text, tmp_path):
    res, lib, circ = _run_flow(spec_text, DESIGNS[spec_text], tmp_path)
    delay, arrival = hand_delay(lib, circ)
    assert res["delay_ns"] == pytest.approx(delay, abs=5.01e-6)
    path = res["critical_path"]
    assert path[-1]["arrival_ns"] == pytest.approx(delay, abs=5.01e-6)
    for step in path:                                        # every net on the path at its own arrival time
        if step["net"] != "(setup)":
            assert step["arrival_ns"] == pytest.approx(arrival[circ.canon(step["net"])], abs=5.01e-6), step
    # the path is connected: each step's cell reads the previous step's net
    by_name = {n: c for _, n, c in circ.cells}
    for prev, cur in zip(path, path[1:]):
        cell, pin = re.match(r"(\w+):\w+\.(\w+)", cur["through"]).groups()
        assert circ.canon(prev["net"]) == by_name[cell][pin], (prev, cur)


def test_figures_of_the_2x2_array_worked_on_paper(tmp_path):
    """The 2x2 array maps to 7 gates; its area, leakage and delay, from stub45.lib numbers typed in here."""
    res, lib, circ = _run_flow("exact:2x2u:arch=array", PAIRS_2BIT, tmp_path)
    assert res["cell_counts"] == {"AND2_X1": 1, "NAND2_X1": 3, "NOR2_X1": 2, "XOR2_X1": 1}
    assert res["area_um2"] == pytest.approx(1.064 + 3 * 0.798 + 2 * 0.798 + 1.596, abs=5.01e-5)      # 6.65
    assert res["leakage_uw"] == pytest.approx((25.1 + 3 * 17.4 + 2 * 24.6 + 36.2) / 1000, abs=5.01e-7)
    # critical path a[0] -> NAND2 (A2) -> n2 -> XOR2 (B) -> p[1]; n2 drives NOR2.A2 and XOR2.B
    assert [s["net"] for s in res["critical_path"]][1:] == ["n2", "p[1]"]
    wire1, wire2 = 0.1774 * 1.746, 0.1774 * 3.9394
    n2_load = 1.65 + 2.41 + wire2
    nand_rise = 0.0100 + 0.2 * 0.02 + 0.0033 * n2_load            # rise > fall (0.0026 fF slope)
    n2_slew = 0.004 + 0.2 * 0.02 + 0.0033 * n2_load
    xor = 0.0350 + 0.2 * n2_slew + 0.0034 * (wire1 + 1.14)        # p[1]: a primary output, one fanout
    assert res["delay_ns"] == pytest.approx(nand_rise + xor, abs=5.01e-6)
    assert res["delay_ns"] == pytest.approx(0.07437, abs=5.01e-6)
    # Liberty wire-load semantics of the independent reader: between entries and beyond the last one
    assert wire_cap(lib, 10) == pytest.approx(0.1774 * (25.4842 + 27.032) / 2)
    assert wire_cap(lib, 13) == pytest.approx(0.1774 * (27.032 + 2 * 5.0))


def test_toggles_per_op_counts_each_net_once(tmp_path):
    res, lib, circ = _run_flow("exact:2x2u:arch=array", PAIRS_2BIT, tmp_path)
    _, _, ops, toggles = hand_energy(lib, circ, PAIRS_2BIT, 2, 2)
    assert res["toggles_per_op"] == pytest.approx(sum(toggles.values()) / ops, abs=5.01e-4)
