"""The stub PDK's SRAM compiler: 1R1W memory macros of any size, as synthesis sees them and as
the PPA flow prices them.

A design's memories with a synchronous read port and one write port (the NPU's weight memories,
neuron slots and data memory) are mapped by Yosys ``memory_libmap`` onto ``AXF_SRAM`` macros
instead of flip-flops, where a macro is cheaper than the flip-flops and read multiplexers it
replaces (the memory library's cost of a macro is its area in units of one flip-flop-and-mux bit).
This module writes the three files the synthesis script reads -- the memory library
(:meth:`SramCompiler.memlib_text`), the technology map onto ``AXF_SRAM``
(:meth:`~SramCompiler.techmap_text`) and its black box (:meth:`~SramCompiler.blackbox_text`) --
the macro's simulation model (:meth:`~SramCompiler.sim_model_text`, appended to the PDK's cell
models), and, per size, a :class:`MacroCell` for timing, area, leakage and energy.

The macro (``ABITS`` address bits, ``WIDTH`` data bits; ``2**ABITS`` words):

- ``RCK``, ``RE``, ``RA``, ``RD``: a rising ``RCK`` with ``RE`` reads word ``RA`` into ``RD`` (the
  old word when the same word is written in that cycle); without ``RE``, ``RD`` holds and the
  macro spends no read;
- ``WCK``, ``WE``, ``WA``, ``WD``: a rising ``WCK`` with ``WE`` writes ``WD`` at ``WA``;
- contents start at zero (the NPU is configured before it runs).

The model's numbers (:data:`STUB45_SRAM`; sources and formulas in ``pdk_stub/README.md``) are an
assumed 45 nm, 1.1 V register-file compiler: area, leakage and energy per access linear in rows,
columns and bits; access time linear in rows and width. Like the cells, a stub: relative figures
are the point.
"""

import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache

from axforge.errors import AxforgeError
from axforge.paths import sha256_text

from .liberty import Arc, Cell, Pin, Table

__all__ = ["MACRO", "MacroCell", "SramCompiler", "STUB45_SRAM", "macro_name", "parse_macro"]

#: the black-box module every mapped memory becomes (parameters ``ABITS``, ``WIDTH``)
MACRO = "AXF_SRAM"
_NAME = re.compile(rf"^{MACRO}_(\d+)x(\d+)$")


def macro_name(abits, width):
    """The cell type of one macro size in the priced netlist: ``AXF_SRAM_<words>x<width>``."""
    return f"{MACRO}_{1 << abits}x{width}"


def parse_macro(name):
    """``(abits, width)`` of a macro cell type, or None for any other name."""
    m = _NAME.match(name)
    if m is None:
        return None
    words, width = int(m.group(1)), int(m.group(2))
    if words < 1 or words & (words - 1):
        return None
    return words.bit_length() - 1, width


@dataclass(frozen=True)
class MacroCell(Cell):
    """A Liberty-like cell of one macro size, plus its energy per read and per write (fJ)."""

    read_fj: float = 0.0
    write_fj: float = 0.0
    abits: int = 0
    width: int = 0


@dataclass(frozen=True)
class SramCompiler:
    """Area (um^2), leakage (nW), energy (fJ) and timing (ns) of ``2**abits`` x ``width`` macros.

    ``area = bit_um2 * bits + row_um2 * rows + col_um2 * width + fixed_um2`` and the same shape
    for leakage; a read costs ``read_fixed_fj + read_row_fj * rows + width * (read_col_fj +
    read_bit_fj * rows)`` (decoder and wordline, then per column the sense amplifier and the
    bitline's share of every cell on it), a write the same with the ``write_*`` terms (full-swing
    bitlines). Clock to ``RD``: ``access_ns + access_row_ns * rows + access_col_ns * width +
    drive_ns_per_ff * load``.
    """

    bit_um2: float
    row_um2: float
    col_um2: float
    fixed_um2: float
    bit_leak_nw: float
    row_leak_nw: float
    col_leak_nw: float
    fixed_leak_nw: float
    read_fixed_fj: float
    read_row_fj: float
    read_col_fj: float
    read_bit_fj: float
    write_fixed_fj: float
    write_row_fj: float
    write_col_fj: float
    write_bit_fj: float
    access_ns: float
    access_row_ns: float
    access_col_ns: float
    drive_ns_per_ff: float
    setup_ns: float
    pin_ff: float
    clock_ff: float
    min_abits: int = 4
    max_abits: int = 12
    max_width: int = 64

    @property
    def digest(self):
        return sha256_text(json.dumps(asdict(self), sort_keys=True))

    def check(self, abits, width):
        if not (self.min_abits <= abits <= self.max_abits and 1 <= width <= self.max_width):
            raise AxforgeError(f"SRAM macro must have {self.min_abits}-{self.max_abits} address bits and "
                               f"1-{self.max_width} data bits, not {abits} x {width}")

    def area(self, abits, width):
        rows = 1 << abits
        return self.bit_um2 * rows * width + self.row_um2 * rows + self.col_um2 * width + self.fixed_um2

    def leakage_nw(self, abits, width):
        rows = 1 << abits
        return (self.bit_leak_nw * rows * width + self.row_leak_nw * rows + self.col_leak_nw * width
                + self.fixed_leak_nw)

    def read_fj(self, abits, width):
        rows = 1 << abits
        return self.read_fixed_fj + self.read_row_fj * rows + width * (self.read_col_fj + self.read_bit_fj * rows)

    def write_fj(self, abits, width):
        rows = 1 << abits
        return (self.write_fixed_fj + self.write_row_fj * rows
                + width * (self.write_col_fj + self.write_bit_fj * rows))

    def access_time_ns(self, abits, width):
        return self.access_ns + self.access_row_ns * (1 << abits) + self.access_col_ns * width

    def cell(self, abits, width):
        """The :class:`MacroCell` of one size (its pins are buses: one capacitance per bit)."""
        self.check(abits, width)
        return _cell(self, abits, width)

    # -- the files of the synthesis script ------------------------------------------------
    def memlib_text(self, logic_bit_um2):
        """The ``memory_libmap`` library: one option per size, its cost the macro's area over
        ``logic_bit_um2`` (the area of one bit as flip-flops: the pass's logic cost per bit is 1)."""
        opts = []
        for ab in range(self.min_abits, self.max_abits + 1):
            widths = "\n".join(f'\t\toption "WIDTH" {w} {{ width {w}; cost {self.area(ab, w) / logic_bit_um2:.3f}; }}'
                               for w in range(1, self.max_width + 1))
            opts.append(f'\toption "ABITS" {ab} {{\n\t\tabits {ab};\n{widths}\n\t}}')
        return ("# axforge stub SRAM compiler: 1R1W macros (generated by axforge/pdk_stub/sram.py)\n"
                "ram block $__AXF_SRAM_ {\n\tinit zero;\n"
                '\tport sw "W" {\n\t\tclock posedge;\n\t\twrtrans all old;\n\t}\n'
                '\tport sr "R" {\n\t\tclock posedge;\n\t\trden;\n\t}\n'
                + "\n".join(opts) + "\n}\n")

    def techmap_text(self):
        """``$__AXF_SRAM_`` (what ``memory_libmap`` writes) -> the ``AXF_SRAM`` black box."""
        return f"""// axforge stub SRAM compiler: memory_libmap's cells onto the {MACRO} macro
module \\$__AXF_SRAM_ (PORT_R_CLK, PORT_R_RD_EN, PORT_R_ADDR, PORT_R_RD_DATA, PORT_W_CLK, PORT_W_WR_EN,
                      PORT_W_ADDR, PORT_W_WR_DATA);
  parameter OPTION_ABITS = 4;
  parameter OPTION_WIDTH = 8;
  parameter INIT = 0;
  parameter PORT_R_WIDTH = OPTION_WIDTH;
  parameter PORT_W_WIDTH = OPTION_WIDTH;
  parameter PORT_R_CLK_POL = 1;
  parameter PORT_W_CLK_POL = 1;
  input PORT_R_CLK;
  input PORT_R_RD_EN;
  input [OPTION_ABITS-1:0] PORT_R_ADDR;
  output [PORT_R_WIDTH-1:0] PORT_R_RD_DATA;
  input PORT_W_CLK;
  input PORT_W_WR_EN;
  input [OPTION_ABITS-1:0] PORT_W_ADDR;
  input [PORT_W_WIDTH-1:0] PORT_W_WR_DATA;
  {MACRO} #(.ABITS(OPTION_ABITS), .WIDTH(OPTION_WIDTH)) _TECHMAP_REPLACE_ (
    .RCK(PORT_R_CLK), .RE(PORT_R_RD_EN), .RA(PORT_R_ADDR), .RD(PORT_R_RD_DATA),
    .WCK(PORT_W_CLK), .WE(PORT_W_WR_EN), .WA(PORT_W_ADDR), .WD(PORT_W_WR_DATA));
endmodule
"""

    def blackbox_text(self):
        return f"""// axforge stub SRAM compiler: the {MACRO} macro as synthesis sees it
(* blackbox *)
module {MACRO} #(parameter ABITS = 4, parameter WIDTH = 8) (
  input RCK, input RE, input [ABITS-1:0] RA, output [WIDTH-1:0] RD,
  input WCK, input WE, input [ABITS-1:0] WA, input [WIDTH-1:0] WD);
endmodule
"""

    def sim_model_text(self):
        """The macro's simulation model. ``rd_tick`` / ``wr_tick`` toggle once per read / write,
        so their SAIF toggle counts are the macro's accesses (nothing else inside is traced)."""
        return f"""
// axforge stub SRAM compiler: the {MACRO} macro's simulation model (see axforge/pdk_stub/sram.py)
/* verilator tracing_off */
module {MACRO} #(parameter ABITS = 4, parameter WIDTH = 8) (
  input RCK, input RE, input [ABITS-1:0] RA, output reg [WIDTH-1:0] RD,
  input WCK, input WE, input [ABITS-1:0] WA, input [WIDTH-1:0] WD);
  reg [WIDTH-1:0] mem [0:(1<<ABITS)-1];
/* verilator tracing_on */
  reg rd_tick, wr_tick;
/* verilator tracing_off */
  integer i;
  initial begin
    for (i = 0; i < (1 << ABITS); i = i + 1) mem[i] = {{WIDTH{{1'b0}}}};
    RD = {{WIDTH{{1'b0}}}};
    rd_tick = 1'b0;
    wr_tick = 1'b0;
  end
  always @(posedge RCK) if (RE) begin
    RD <= mem[RA];
    rd_tick <= ~rd_tick;
  end
  always @(posedge WCK) if (WE) begin
    mem[WA] <= WD;
    wr_tick <= ~wr_tick;
  end
endmodule
"""


@lru_cache(maxsize=256)
def _cell(model, abits, width):
    m = model
    t_acc = m.access_time_ns(abits, width)
    rd_table = Table((), (0.0, 100.0), ((t_acc, t_acc + 100.0 * m.drive_ns_per_ff),))
    tr_table = Table((), (0.0, 100.0), ((0.01, 0.01 + 100.0 * m.drive_ns_per_ff),))
    pins = {
        "RCK": Pin("RCK", "input", m.clock_ff, "", 0.0, (), 0.0, True),
        "WCK": Pin("WCK", "input", m.clock_ff, "", 0.0, (), 0.0, True),
        "RE": Pin("RE", "input", m.pin_ff, "", 0.0, (), m.setup_ns),
        "RA": Pin("RA", "input", m.pin_ff, "", 0.0, (), m.setup_ns),
        "WE": Pin("WE", "input", m.pin_ff, "", 0.0, (), m.setup_ns),
        "WA": Pin("WA", "input", m.pin_ff, "", 0.0, (), m.setup_ns),
        "WD": Pin("WD", "input", m.pin_ff, "", 0.0, (), m.setup_ns),
        "RD": Pin("RD", "output", 0.0, "", 0.0,
                  (Arc("RCK", "rising_edge", rd_table, rd_table, tr_table, tr_table),)),
    }
    return MacroCell(macro_name(abits, width), m.area(abits, width), m.leakage_nw(abits, width), pins, True,
                     m.read_fj(abits, width), m.write_fj(abits, width), abits, width)


#: the stub 45 nm compiler (``pdk_stub/README.md``: where each number comes from)
STUB45_SRAM = SramCompiler(
    bit_um2=0.50, row_um2=2.5, col_um2=25.0, fixed_um2=300.0,
    bit_leak_nw=2.0, row_leak_nw=30.0, col_leak_nw=150.0, fixed_leak_nw=500.0,
    read_fixed_fj=120.0, read_row_fj=0.5, read_col_fj=15.0, read_bit_fj=0.12,
    write_fixed_fj=150.0, write_row_fj=0.5, write_col_fj=20.0, write_bit_fj=0.25,
    access_ns=0.30, access_row_ns=0.0006, access_col_ns=0.004, drive_ns_per_ff=0.003,
    setup_ns=0.10, pin_ff=1.5, clock_ff=3.0,
)
