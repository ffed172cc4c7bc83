"""Static timing on a mapped netlist, as a networkx graph of nets.

Nodes are net bits; each combinational timing arc of a cell is an edge from
the net on its input pin to the net on its output pin. Loads come from the
fanout pins' capacitances plus the Liberty wire-load estimate (plus
``output_load_ff`` on primary outputs). A net's transition is its driver's
output transition at that load for the nominal input slew; an arc's delay is
the Liberty table at (transition of its input net, load of its output net).
With slews fixed per net the edge weights are fixed, so the critical path is
the longest path of a DAG. Flip-flops cut the graph: their outputs start paths
(clock-to-Q) and their data pins end them (plus setup).
"""

from dataclasses import dataclass

import networkx as nx

from axforge.errors import AxforgeError

__all__ = ["NetInfo", "net_info", "analyze"]

SRC, SNK = ("src",), ("snk",)


@dataclass
class NetInfo:
    """Per-bit facts of a mapped netlist: names, driver, loads, capacitance."""

    names: dict          # bit -> preferred name ("p[3]", "n12")
    driver: dict         # bit -> (cell name, pin) or "input"
    loads: dict          # bit -> [(cell name, pin)]
    cap_ff: dict         # bit -> total switched capacitance (pins + wire + port load)
    outputs: set
    inputs: set


def _bit_name(name, i, width):
    """A bit's name as the SAIF reader spells it: escaped identifiers (``\\$104``) lose the
    backslash (:mod:`axforge.sim.saif` drops it), so the two meet on one name."""
    name = name.replace("\\", "")
    return name if width == 1 else f"{name}[{i}]"


def net_info(module, lib, output_load_ff=1.14):
    names, driver, loads, outputs, inputs = {}, {}, {}, set(), set()
    for pname, port in module["ports"].items():
        for i, bit in enumerate(port["bits"]):
            if isinstance(bit, str):
                continue
            names[bit] = _bit_name(pname, i, len(port["bits"]))
            if port["direction"] == "input":
                driver[bit] = "input"
                inputs.add(bit)
            else:
                outputs.add(bit)
    for nname, net in module["netnames"].items():
        for i, bit in enumerate(net["bits"]):
            if not isinstance(bit, str):
                names.setdefault(bit, _bit_name(nname, i, len(net["bits"])))
    for cname, cell in module["cells"].items():
        lc = lib.cells.get(cell["type"])
        if lc is None:
            raise AxforgeError(f"Cell type {cell['type']} (instance {cname}) is not in {lib.path}")
        for pin, bits in cell["connections"].items():
            p = lc.pins.get(pin)
            if p is None:
                raise AxforgeError(f"Cell {cell['type']} has no pin {pin} in {lib.path}")
            for bit in bits:
                if isinstance(bit, str):
                    continue
                if p.direction == "output":
                    driver[bit] = (cname, pin)
                else:
                    loads.setdefault(bit, []).append((cname, pin))
    cap = {}
    for bit in set(names) | set(loads):
        fan = loads.get(bit, [])
        c = sum(lib.cells[module["cells"][cn]["type"]].pins[pn].capacitance for cn, pn in fan)
        nfan = len(fan) + (1 if bit in outputs else 0)
        cap[bit] = c + lib.wire_capacitance(nfan) + (output_load_ff if bit in outputs else 0.0)
    return NetInfo(names, driver, loads, cap, outputs, inputs)


def analyze(module, lib, info=None, input_slew=0.02):
    """Critical path of a mapped module: ``(delay_ns, path)``; path entries name net, cell, arrival."""
    info = info or net_info(module, lib)
    cells = module["cells"]
    slew = {}
    for bit, drv in info.driver.items():
        if drv == "input":
            slew[bit] = input_slew
        else:
            cname, pin = drv
            arcs = lib.cells[cells[cname]["type"]].pins[pin].arcs
            slew[bit] = max((a.transition(input_slew, info.cap_ff.get(bit, 0.0)) for a in arcs), default=input_slew)
    g = nx.DiGraph()
    g.add_node(SRC)
    g.add_node(SNK)
    for bit in info.inputs:
        g.add_edge(SRC, bit, w=0.0, cell=None)
    for bit in info.outputs:
        if bit in info.driver:
            g.add_edge(bit, SNK, w=0.0, cell=None)
    for cname, cell in cells.items():
        lc = lib.cells[cell["type"]]
        conn = cell["connections"]
        for out in lc.outputs:
            for obit in conn.get(out.name, []):
                if isinstance(obit, str):
                    continue
                load = info.cap_ff.get(obit, 0.0)
                for arc in out.arcs:
                    if arc.timing_type in ("rising_edge", "falling_edge"):  # clock-to-Q: a path start
                        d = arc.delay(input_slew, load)
                        if g.get_edge_data(SRC, obit, {}).get("w", -1) < d:
                            g.add_edge(SRC, obit, w=d, cell=f"{cname}:{lc.name}.{arc.related}->{out.name}")
                        continue
                    for ibit in conn.get(arc.related, []):
                        if isinstance(ibit, str):
                            continue
                        d = arc.delay(slew.get(ibit, input_slew), load)
                        if g.get_edge_data(ibit, obit, {}).get("w", -1) < d:
                            g.add_edge(ibit, obit, w=d, cell=f"{cname}:{lc.name}.{arc.related}->{out.name}")
        if lc.sequential:
            for pin in lc.inputs:
                if pin.setup_ns > 0:
                    for ibit in conn.get(pin.name, []):
                        if not isinstance(ibit, str):
                            g.add_edge(ibit, SNK, w=pin.setup_ns, cell=f"{cname}:{lc.name}.{pin.name} setup")
    try:
        order = list(nx.topological_sort(g))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(g)
        raise AxforgeError(f"Combinational loop in the mapped netlist through {info.names.get(cycle[0][0])}") \
            from None
    arrival, best = {SRC: 0.0}, {}
    for node in order:
        if node not in arrival:
            continue
        for succ, data in g[node].items():
            t = arrival[node] + data["w"]
            if t > arrival.get(succ, -1.0):
                arrival[succ] = t
                best[succ] = node
    if SNK not in arrival:
        return 0.0, []
    path, node = [], SNK
    while node in best:
        prev = best[node]
        edge = g[prev][node]
        if node != SNK:
            path.append({"net": info.names.get(node, str(node)), "through": edge["cell"],
                         "arrival_ns": round(arrival[node], 5)})
        elif edge["cell"]:
            path.append({"net": "(setup)", "through": edge["cell"], "arrival_ns": round(arrival[SNK], 5)})
        node = prev
    return round(arrival[SNK], 5), path[::-1]
