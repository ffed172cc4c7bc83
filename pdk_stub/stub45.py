"""The stub 45 nm cell library: one calibration table, written out as Liberty and Verilog.

``stub45.lib`` and ``stub45_cells.v`` next to this file are generated from
``CELLS`` by ``python -m axforge.pdk_stub.stub45`` (a test checks they are in
sync). Where each number comes from is in ``pdk_stub/README.md``.

Delay model: every timing arc is a 3x3 NLDM table that is linear in input slew
and output load, ``d = d0 + SLEW_K * slew + R * load`` (and the same shape for
the output transition with ``T0`` and ``R``). Internal energy is a scalar per
output transition (and per clock-pin transition for sequential cells), in fJ.
"""

import sys
from pathlib import Path

__all__ = ["CELLS", "LIB_PATH", "CELLS_V_PATH", "liberty_text", "cells_verilog_text"]

HERE = Path(__file__).resolve().parent
LIB_PATH = HERE / "stub45.lib"
CELLS_V_PATH = HERE / "stub45_cells.v"

VDD = 1.1
SLEW_K = 0.2            # ns of delay per ns of input transition
T0 = 0.004              # ns: output transition at zero load
SLEWS = (0.005, 0.05, 0.2)        # ns
LOADS = (0.5, 8.0, 60.0)          # fF
# NanGate 45nm OCL "5K_hvratio_1_1" wire-load model (capacitance per unit length, lengths by fanout)
WIRE_CAP = 0.1774
WIRE_SLOPE = 5.0
WIRE_LENGTHS = ((1, 1.7460), (2, 3.9394), (3, 6.4626), (4, 9.2201), (5, 11.9123),
                (6, 14.8358), (7, 18.6155), (8, 22.6727), (9, 25.4842), (11, 27.0320))


def _out(function, d0r, d0f, rr, rf, energy):
    return {"function": function, "d0": (d0r, d0f), "r": (rr, rf), "energy_fj": energy}


# name: area um2, leakage nW, input pins {pin: cap fF}, outputs {pin: _out(...)}, extras
CELLS = {
    "INV_X1": dict(area=0.532, leak=14.4, inputs={"A": 1.70},
                   outputs={"ZN": _out("!A", .0085, .0050, .0033, .0018, 0.55)}),
    "BUF_X1": dict(area=0.798, leak=21.4, inputs={"A": 0.97},
                   outputs={"Z": _out("A", .0250, .0280, .0024, .0013, 1.50)}),
    "NAND2_X1": dict(area=0.798, leak=17.4, inputs={"A1": 1.60, "A2": 1.66},
                     outputs={"ZN": _out("!(A1 & A2)", .0100, .0100, .0033, .0026, 0.90)}),
    "NAND3_X1": dict(area=1.064, leak=18.1, inputs={"A1": 1.59, "A2": 1.62, "A3": 1.65},
                     outputs={"ZN": _out("!((A1 & A2) & A3)", .0120, .0160, .0033, .0036, 1.20)}),
    "NOR2_X1": dict(area=0.798, leak=24.6, inputs={"A1": 1.71, "A2": 1.65},
                    outputs={"ZN": _out("!(A1 | A2)", .0160, .0070, .0060, .0018, 1.10)}),
    "NOR3_X1": dict(area=1.064, leak=26.5, inputs={"A1": 1.62, "A2": 1.65, "A3": 1.67},
                    outputs={"ZN": _out("!((A1 | A2) | A3)", .0240, .0080, .0090, .0018, 1.40)}),
    "AND2_X1": dict(area=1.064, leak=25.1, inputs={"A1": 0.92, "A2": 0.97},
                    outputs={"ZN": _out("(A1 & A2)", .0260, .0270, .0024, .0013, 2.10)}),
    "OR2_X1": dict(area=1.064, leak=22.8, inputs={"A1": 0.95, "A2": 0.95},
                   outputs={"ZN": _out("(A1 | A2)", .0250, .0450, .0025, .0013, 2.30)}),
    "XOR2_X1": dict(area=1.596, leak=36.2, inputs={"A": 2.23, "B": 2.41},
                    outputs={"Z": _out("(A ^ B)", .0350, .0350, .0034, .0022, 3.60)}),
    "XNOR2_X1": dict(area=1.596, leak=36.8, inputs={"A": 2.22, "B": 2.57},
                     outputs={"ZN": _out("!(A ^ B)", .0330, .0330, .0034, .0022, 3.70)}),
    "AOI21_X1": dict(area=1.064, leak=27.1, inputs={"A": 1.63, "B1": 1.67, "B2": 1.57},
                     outputs={"ZN": _out("!(A | (B1 & B2))", .0200, .0120, .0060, .0026, 1.60)}),
    "AOI22_X1": dict(area=1.330, leak=32.3, inputs={"A1": 1.61, "A2": 1.65, "B1": 1.59, "B2": 1.66},
                     outputs={"ZN": _out("!((A1 & A2) | (B1 & B2))", .0240, .0160, .0060, .0026, 2.00)}),
    "OAI21_X1": dict(area=1.064, leak=22.2, inputs={"A": 1.67, "B1": 1.66, "B2": 1.56},
                     outputs={"ZN": _out("!(A & (B1 | B2))", .0160, .0170, .0033, .0036, 1.60)}),
    "OAI22_X1": dict(area=1.330, leak=33.5, inputs={"A1": 1.59, "A2": 1.66, "B1": 1.56, "B2": 1.62},
                     outputs={"ZN": _out("!((A1 | A2) & (B1 | B2))", .0220, .0200, .0060, .0036, 2.10)}),
    "MUX2_X1": dict(area=1.862, leak=61.9, inputs={"A": 0.95, "B": 1.00, "S": 1.93},
                    outputs={"Z": _out("((S & B) | (A & !S))", .0500, .0500, .0024, .0013, 3.90)}),
    "HA_X1": dict(area=2.660, leak=61.2, inputs={"A": 3.18, "B": 3.34},
                  outputs={"CO": _out("(A & B)", .0250, .0250, .0024, .0013, 2.40),
                           "S": _out("(A ^ B)", .0400, .0400, .0034, .0022, 3.60)}),
    "FA_X1": dict(area=4.256, leak=81.7, inputs={"A": 3.75, "B": 3.50, "CI": 2.66},
                  outputs={"CO": _out("((A & B) | (CI & (A | B)))", .0600, .0600, .0024, .0013, 4.00),
                           "S": _out("(A ^ B ^ CI)", .0800, .0800, .0024, .0013, 5.50)}),
    "DFF_X1": dict(area=4.522, leak=79.5, inputs={"D": 1.14, "CK": 0.95}, clock="CK",
                   ff=dict(next_state="D", clocked_on="CK"), clock_energy_fj=2.2, setup=0.030,
                   outputs={"Q": _out("IQ", .0800, .0850, .0024, .0013, 3.80),
                            "QN": _out("IQN", .0650, .0700, .0033, .0018, 1.20)}),
    "DFFR_X1": dict(area=5.320, leak=81.2, inputs={"D": 1.10, "RN": 1.40, "CK": 0.95}, clock="CK",
                    ff=dict(next_state="D", clocked_on="CK", clear="!RN"), clock_energy_fj=2.3,
                    setup=0.032,
                    outputs={"Q": _out("IQ", .0850, .0900, .0024, .0013, 4.00),
                             "QN": _out("IQN", .0700, .0750, .0033, .0018, 1.30)}),
    "CLKGATETST_X1": dict(area=3.990, leak=72.0, inputs={"CK": 1.80, "E": 0.90, "SE": 0.80},
                          clock="CK", clock_gate=True, clock_energy_fj=1.4, setup=0.040,
                          outputs={"GCK": _out("(CK & IQ)", .0300, .0300, .0024, .0013, 2.00)}),
}


def _table(d0, r):
    rows = []
    for s in SLEWS:
        rows.append(", ".join(f"{d0 + SLEW_K * s + r * c:.5f}" for c in LOADS))
    body = " \\\n                        ".join(f'"{row}"' for row in rows)
    return (f'index_1 ("{", ".join(map(str, SLEWS))}");\n'
            f'                index_2 ("{", ".join(map(str, LOADS))}");\n'
            f"                values ({body});")


def _tables(d0r, d0f, rr, rf):
    out = []
    for kind, d0, r in (("cell_rise", d0r, rr), ("cell_fall", d0f, rf),
                        ("rise_transition", T0, rr), ("fall_transition", T0, rf)):
        out.append(f"            {kind} (delay_3x3) {{\n                {_table(d0, r)}\n            }}")
    return "\n".join(out)


def _cell_text(name, c):
    lines = [f"  cell ({name}) {{", f"    area : {c['area']:.3f};",
             f"    cell_leakage_power : {c['leak']:.2f};"]
    if c.get("clock_gate"):
        lines.append('    clock_gating_integrated_cell : "latch_posedge_precontrol";')
        lines.append('    statetable ("CK E SE", "IQ") {')
        lines.append('      table : "L L L : - : L, L L H : - : H, L H L : - : H, L H H : - : H, H - - : - : N";')
        lines.append("    }")
    if "ff" in c:
        ff = c["ff"]
        lines.append("    ff (IQ, IQN) {")
        lines += [f'      {k} : "{v}";' for k, v in ff.items()]
        lines.append("    }")
    for pin, cap in c["inputs"].items():
        lines.append(f"    pin ({pin}) {{")
        lines.append("      direction : input;")
        lines.append(f"      capacitance : {cap:.3f};")
        if pin == c.get("clock"):
            lines.append("      clock : true;")
            if c.get("clock_gate"):
                lines.append("      clock_gate_clock_pin : true;")
            e = c["clock_energy_fj"]
            lines.append("      internal_power () {")
            lines.append(f'        rise_power (scalar) {{ values ("{e:.3f}"); }}')
            lines.append(f'        fall_power (scalar) {{ values ("{e:.3f}"); }}')
            lines.append("      }")
        elif c.get("clock_gate") and pin == "E":
            lines.append("      clock_gate_enable_pin : true;")
        elif c.get("clock_gate") and pin == "SE":
            lines.append("      clock_gate_test_pin : true;")
        if "ff" in c and pin == "D" or c.get("clock_gate") and pin == "E":
            s = c["setup"]
            lines.append("      timing () {")
            lines.append(f'        related_pin : "{c["clock"]}";')
            lines.append("        timing_type : setup_rising;")
            lines.append(f'        rise_constraint (scalar) {{ values ("{s:.3f}"); }}')
            lines.append(f'        fall_constraint (scalar) {{ values ("{s:.3f}"); }}')
            lines.append("      }")
        lines.append("    }")
    for pin, o in c["outputs"].items():
        lines.append(f"    pin ({pin}) {{")
        lines.append("      direction : output;")
        lines.append(f"      max_capacitance : {LOADS[-1]:.1f};")
        if c.get("clock_gate"):
            lines.append("      clock_gate_out_pin : true;")
            lines.append(f'      state_function : "{o["function"]}";')
        else:
            lines.append(f'      function : "{o["function"]}";')
        related = [c["clock"]] if ("ff" in c or c.get("clock_gate")) else list(c["inputs"])
        for rel in related:
            lines.append("      timing () {")
            lines.append(f'        related_pin : "{rel}";')
            if "ff" in c:
                lines.append("        timing_type : rising_edge;")
            elif o["function"].startswith("!"):
                lines.append("        timing_sense : negative_unate;")
            elif "^" in o["function"] or "S" in c["inputs"]:
                lines.append("        timing_sense : non_unate;")
            else:
                lines.append("        timing_sense : positive_unate;")
            lines.append(_tables(*o["d0"], *o["r"]).replace("            ", "        "))
            lines.append("      }")
        lines.append("      internal_power () {")
        lines.append(f'        rise_power (scalar) {{ values ("{o["energy_fj"]:.3f}"); }}')
        lines.append(f'        fall_power (scalar) {{ values ("{o["energy_fj"]:.3f}"); }}')
        lines.append("      }")
        lines.append("    }")
    lines.append("  }")
    return "\n".join(lines)


def liberty_text():
    head = f"""/* axforge stub45: a stub 45 nm standard-cell library (typical, {VDD} V, 25 C).
 * Generated by axforge/pdk_stub/stub45.py; sources of the numbers: pdk_stub/README.md.
 * Areas are the NanGate 45nm Open Cell Library X1 areas; delays are linear NLDM
 * tables; internal energy is in fJ per transition. Relative figures are the point. */
library (axforge_stub45) {{
  technology (cmos);
  delay_model : table_lookup;
  time_unit : "1ns";
  voltage_unit : "1V";
  current_unit : "1mA";
  leakage_power_unit : "1nW";
  pulling_resistance_unit : "1kohm";
  capacitive_load_unit (1, ff);
  nom_process : 1.0;
  nom_temperature : 25.0;
  nom_voltage : {VDD};
  input_threshold_pct_rise : 50;
  input_threshold_pct_fall : 50;
  output_threshold_pct_rise : 50;
  output_threshold_pct_fall : 50;
  slew_lower_threshold_pct_rise : 30;
  slew_lower_threshold_pct_fall : 30;
  slew_upper_threshold_pct_rise : 70;
  slew_upper_threshold_pct_fall : 70;
  default_max_transition : {SLEWS[-1]};
  wire_load ("stub_5k") {{
    capacitance : {WIRE_CAP};
    resistance : 0.003571;
    slope : {WIRE_SLOPE};
"""
    head += "".join(f"    fanout_length ({n}, {ln});\n" for n, ln in WIRE_LENGTHS)
    head += """  }
  default_wire_load : "stub_5k";
  lu_table_template (delay_3x3) {
    variable_1 : input_net_transition;
    variable_2 : total_output_net_capacitance;
"""
    head += f'    index_1 ("{", ".join(map(str, SLEWS))}");\n'
    head += f'    index_2 ("{", ".join(map(str, LOADS))}");\n  }}\n'
    return head + "\n".join(_cell_text(n, c) for n, c in CELLS.items()) + "\n}\n"


def _verilog_expr(function, rename=None):
    expr = function.replace("!", "~")
    for old, new in (rename or {}).items():
        expr = expr.replace(old, new)
    return expr


def cells_verilog_text():
    """Simulation models: one module per cell, continuous assignments and always blocks."""
    out = ["// axforge stub45 cell simulation models (generated by axforge/pdk_stub/stub45.py)",
           "/* verilator lint_off DECLFILENAME */",
           "// activity is counted on the nets between cells, not inside the models:",
           "/* verilator tracing_off */", ""]
    for name, c in CELLS.items():
        ins, outs = list(c["inputs"]), list(c["outputs"])
        out.append(f"module {name} ({', '.join(ins + outs)});")
        out += [f"  input {p};" for p in ins]
        if "ff" in c:
            out += [f"  output reg {p};" if p == "Q" else f"  output {p};" for p in outs]
            if "clear" in c["ff"]:
                out.append("  always @(posedge CK or negedge RN) Q <= !RN ? 1'b0 : D;")
            else:
                out.append("  always @(posedge CK) Q <= D;")
            out.append("  assign QN = ~Q;")
        elif c.get("clock_gate"):
            out.append("  output GCK;")
            out.append("  reg IQ;")
            out.append("  always @(CK or E or SE) if (!CK) IQ = E | SE;")
            out.append("  assign GCK = CK & IQ;")
        else:
            out += [f"  output {p};" for p in outs]
            out += [f"  assign {p} = {_verilog_expr(o['function'])};" for p, o in c["outputs"].items()]
        out += ["endmodule", ""]
    return "\n".join(out)


def main():
    LIB_PATH.write_text(liberty_text())
    CELLS_V_PATH.write_text(cells_verilog_text())
    print(f"wrote {LIB_PATH} and {CELLS_V_PATH}", file=sys.stderr)


if __name__ == "__main__":
    main()
