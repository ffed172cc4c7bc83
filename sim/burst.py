"""A burst transactor around a design with one input and one output stream (cocotb testbench tops).

:func:`burst_top` writes a Verilog top that holds the design and a transactor
(:class:`axforge.sim.testbench.Burst` drives it): long streams run in the simulator, many cycles per
Python wake-up, while the checking stays in the testbench.
"""

import re

__all__ = ["BURST_DEPTH", "burst_top", "module_ports"]

BURST_DEPTH = 256   # beats and result slots per burst (a power of two)


def module_ports(text, top):
    """``[(direction, width, name)]`` of module ``top`` in Yosys-written Verilog."""
    body = text[text.index(f"module {top}("):]
    body = body[:body.index("endmodule")]
    return [(d, int(w) + 1 if w else 1, n)
            for d, w, n in re.findall(r"^\s*(input|output)\s*(?:\[(\d+):0\])?\s*(\w+);", body, re.M)]


def burst_top(top, text, src, dst, depth=BURST_DEPTH, len_bits=None, instance="dut"):
    """``(module name, Verilog)``: design ``top`` (its Verilog ``text``) plus a burst transactor on
    the input stream ``src`` and the output stream ``dst``.

    Every port of the design passes through unchanged while no burst runs, so a testbench drives
    it cycle by cycle as usual. A burst streams, for the ``burst_len`` cycles after the rising
    edge that starts it, up to ``depth`` beats from ``burst_beats`` (beat i at bits ``[i*B +:
    B]``) into ``src`` with the idle pattern ``burst_idle`` (bit ``t mod depth`` for cycle t),
    takes up to ``depth`` beats of ``dst`` with the back-pressure pattern ``burst_stall`` into
    ``burst_results`` (beat i at ``[i*R +: R]``), and counts ``burst_sent`` / ``burst_got``. A
    burst starts when ``burst_start`` differs from its value at the previous start (a toggle: the
    testbench never has to lower it in time) and counts itself in ``burst_seq``, so the testbench
    can tell a burst that never started (the design held in reset) from one that moved nothing.
    During a burst the outer ``src`` and ``dst`` handshakes are held off (ready and valid low).

    ``len_bits``: width of ``burst_len`` (default: enough for ``depth`` cycles); a wider one lets
    a burst run longer than ``depth`` cycles, for designs that take many cycles per beat.
    ``instance`` names the design's instance (the testbench reaches its insides through it).
    """
    assert depth & (depth - 1) == 0 and depth >= 2
    ports = {n: (d, w) for d, w, n in module_ports(text, top)}
    aw, rw = ports[f"{src}__payload"][1], ports[f"{dst}__payload"][1]
    lg = depth.bit_length() - 1     # bits of a beat index below depth
    cw = lg + 1                     # bits of a beat count 0..depth
    tw = max(cw, len_bits or cw)    # bits of a cycle count
    name = f"axf_tb_{top}"

    def rng(w):
        return f"[{w - 1}:0] " if w > 1 else ""
    decl = [f"  {d} {rng(w)}{n};" for n, (d, w) in ports.items()]
    own = {f"{s}__{f}" for s in (src, dst) for f in ("valid", "ready", "payload")}
    conn = [f"    .{n}({'c_' + n if n in own else n})" for n in ports]
    z, zt = f"{cw}'d0", f"{tw}'d0"
    text = f"""// cocotb testbench top for {top}: the design, plus a burst transactor (axforge.sim.burst)
module {name}({", ".join(list(ports) + ["burst_start", "burst_len", "burst_count", "burst_beats", "burst_idle",
                                          "burst_stall", "burst_active", "burst_seq", "burst_sent", "burst_got",
                                          "burst_results"])});
{chr(10).join(decl)}
  input burst_start;
  input [{tw - 1}:0] burst_len;
  input [{cw - 1}:0] burst_count;
  input [{depth * aw - 1}:0] burst_beats;
  input [{depth - 1}:0] burst_idle;
  input [{depth - 1}:0] burst_stall;
  output reg burst_active = 1'b0;
  output reg [7:0] burst_seq = 8'd0;
  output reg [{cw - 1}:0] burst_sent = {z};
  output reg [{cw - 1}:0] burst_got = {z};
  output reg [{depth * rw - 1}:0] burst_results = 0;
  reg [{tw - 1}:0] t = {zt};
  reg start_seen = 1'b0;
  wire [{aw - 1}:0] c_{src}__payload;
  wire c_{src}__valid, c_{src}__ready, c_{dst}__valid, c_{dst}__ready;
  wire [{rw - 1}:0] c_{dst}__payload;
  wire b_valid = burst_active && burst_sent < burst_count && !burst_idle[t[{lg - 1}:0]];
  wire b_ready = burst_active && burst_got < {cw}'d{depth} && !burst_stall[t[{lg - 1}:0]];
  assign c_{src}__valid = burst_active ? b_valid : {src}__valid;
  assign c_{src}__payload = burst_active ? burst_beats[burst_sent[{lg - 1}:0] * {aw} +: {aw}] : {src}__payload;
  assign {src}__ready = !burst_active && c_{src}__ready;
  assign c_{dst}__ready = burst_active ? b_ready : {dst}__ready;
  assign {dst}__valid = !burst_active && c_{dst}__valid;
  assign {dst}__payload = c_{dst}__payload;
  always @(posedge clk) begin
    if (rst) begin
      burst_active <= 1'b0;
      start_seen <= burst_start;
      burst_sent <= {z};
      burst_got <= {z};
    end else if (!burst_active) begin
      if (burst_start != start_seen && burst_len != {zt}) begin
        start_seen <= burst_start;
        burst_seq <= burst_seq + 8'd1;
        burst_active <= 1'b1;
        t <= {zt};
        burst_sent <= {z};
        burst_got <= {z};
      end
    end else begin
      t <= t + {tw}'d1;
      if (t + {tw}'d1 == burst_len) burst_active <= 1'b0;
      if (b_valid && c_{src}__ready) burst_sent <= burst_sent + {cw}'d1;
      if (b_ready && c_{dst}__valid) begin
        burst_results[burst_got[{lg - 1}:0] * {rw} +: {rw}] <= c_{dst}__payload;
        burst_got <= burst_got + {cw}'d1;
      end
    end
  end
  {top} {instance} (
{("," + chr(10)).join(conn)}
  );
endmodule
"""
    return name, text
