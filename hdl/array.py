"""Weight-stationary systolic array tile: R x C MAC PEs with skew, de-skew and streams.

Computes ``y = x @ W`` for a stream of activation vectors ``x`` (length R)
against a stored weight tile ``W`` (R x C), one vector per cycle.

Timing (documented contract, checked in simulation):

* latency: a vector accepted on ``act_in`` in cycle t appears on ``res_out``
  (valid) in cycle ``t + R + C - 1``;
* throughput: one vector per cycle while ``res_out.ready`` is high; when it is
  low with a result waiting, the whole array stalls (every register frozen);
* weight load: R beats on ``w_in``, bottom row first (beat k loads row
  R-1-k after all R beats); accepted only when no vector is in flight, and
  ``w_in`` has priority over ``act_in``; one cycle per row.
"""

from amaranth.hdl import (
    Cat,
    ClockSignal,
    Const,
    Instance,
    Module,
    ResetSignal,
    Signal,
    signed,
    unsigned,
)
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from axforge.errors import AxforgeError

from .pe import MacPE

__all__ = ["SystolicArray", "MIN_DIM", "MAX_DIM", "latency"]

MIN_DIM, MAX_DIM = 2, 64


def latency(rows, cols):
    """Cycles from accepting a vector to its result being valid."""
    return rows + cols - 1


class SystolicArray(wiring.Component):
    """R x C weight-stationary array of :class:`~axforge.hdl.pe.MacPE`.

    Parameters
    ----------
    spec : MultSpec -- the PEs' multiplier.
    rows, cols : int -- array size (2..64 each).
    acc_width : int -- partial-sum width (wraps).
    pe_module : str, optional -- name of a Verilog PE module to instantiate
        (shared by all PEs, emitted once); default: PEs elaborated inline.

    Attributes
    ----------
    act_in : In(stream of R activations) -- element i in payload bits [i*a_width +: a_width]
    w_in : In(stream of C weights) -- one row per beat, element j at [j*b_width +: b_width]
    res_out : Out(stream of C accumulators) -- element j at [j*acc_width +: acc_width]
    en : In(1) -- the array only moves when high (a bank's ROUTE drives it)
    busy : Out(1) -- a vector is in flight
    """

    def __init__(self, spec, rows, cols, acc_width, pe_module=None):
        for name, v in (("Rows", rows), ("Cols", cols)):
            if not isinstance(v, int) or not MIN_DIM <= v <= MAX_DIM:
                self._MustUse__used = True  # rejected: not an unused elaboratable
                raise AxforgeError(f"{name} must be an integer between {MIN_DIM} and {MAX_DIM}, not {v!r}")
        self._spec, self._rows, self._cols, self._acc = spec, rows, cols, acc_width
        self._pe_module = pe_module
        sh = signed if spec.signed else unsigned
        super().__init__({
            "act_in": In(stream.Signature(unsigned(rows * spec.a_width))),
            "w_in": In(stream.Signature(unsigned(cols * spec.b_width))),
            "res_out": Out(stream.Signature(unsigned(cols * acc_width))),
            "en": In(1),
            "busy": Out(1),
        })

    @property
    def latency(self):
        return latency(self._rows, self._cols)

    def _place(self, m, i, j, conn):
        """Instantiate PE (i, j) with ``conn`` = {port: signal or value} (shared module, or inline)."""
        if self._pe_module:
            m.submodules[f"pe_{i}_{j}"] = Instance(
                self._pe_module, i_clk=ClockSignal(), i_rst=ResetSignal(),
                **{("o_" if k.endswith("_out") else "i_") + k: v for k, v in conn.items()})
            return
        pe = MacPE(self._spec, self._acc, "ws")
        m.submodules[f"pe_{i}_{j}"] = pe
        for k, v in conn.items():
            m.d.comb += (v.eq(getattr(pe, k)) if k.endswith("_out") else getattr(pe, k).eq(v))

    def elaborate(self, platform):
        m = Module()
        R, C = self._rows, self._cols
        spec = self._spec
        sh = signed if spec.signed else unsigned
        aw, bw, accw = spec.a_width, spec.b_width, self._acc
        lat = self.latency
        vsr = Signal(lat)
        out_valid = vsr[lat - 1]
        advance, w_fire, act_fire, pe_en = Signal(), Signal(), Signal(), Signal()
        m.d.comb += [
            self.busy.eq(vsr.any()),
            advance.eq(self.en & (~out_valid | self.res_out.ready)),
            self.w_in.ready.eq(self.en & ~vsr.any()),
            w_fire.eq(self.w_in.valid & self.w_in.ready),
            self.act_in.ready.eq(advance & ~self.w_in.valid),
            act_fire.eq(self.act_in.valid & self.act_in.ready),
            pe_en.eq(advance | w_fire),
        ]
        with m.If(advance):
            m.d.sync += vsr.eq(Cat(act_fire, vsr[:lat - 1]))
        # Each net is one named signal: PE outputs drive their neighbours' inputs directly.
        # Outputs nothing reads (a of the last column, w of the last row) are named *_unused.
        a = [[Signal(sh(aw), name=f"pe{i}_{j}_a" + ("_unused" if j == C - 1 else "")) for j in range(C)]
             for i in range(R)]
        w = [[Signal(sh(bw), name=f"pe{i}_{j}_w" + ("_unused" if i == R - 1 else "")) for j in range(C)]
             for i in range(R)]
        ps = [[Signal(sh(accw), name=f"pe{i}_{j}_psum") for j in range(C)] for i in range(R)]
        # input skew: row i waits i cycles; bubbles enter as zeros (no toggles while idle)
        row_in = []
        for i in range(R):
            x = Signal(sh(aw), name=f"x{i}")
            with m.If(act_fire):
                m.d.comb += x.eq(self.act_in.payload[i * aw:(i + 1) * aw])
            prev = x
            for k in range(i):
                r = Signal(sh(aw), name=f"skew{i}_{k}")
                with m.If(advance):
                    m.d.sync += r.eq(prev)
                prev = r
            row_in.append(prev)
        w_top = []
        for j in range(C):
            wt = Signal(sh(bw), name=f"w_top{j}")
            with m.If(w_fire):
                m.d.comb += wt.eq(self.w_in.payload[j * bw:(j + 1) * bw])
            w_top.append(wt)
        zero = Const(0, sh(accw))
        for i in range(R):
            for j in range(C):
                self._place(m, i, j, {
                    "en": pe_en, "load": w_fire,
                    "a_in": row_in[i] if j == 0 else a[i][j - 1], "a_out": a[i][j],
                    "w_in": w_top[j] if i == 0 else w[i - 1][j], "w_out": w[i][j],
                    "psum_in": zero if i == 0 else ps[i - 1][j], "psum_out": ps[i][j]})
        # output de-skew: column j waits C-1-j cycles so a whole row leaves together
        outs = []
        for j in range(C):
            prev = ps[R - 1][j]
            for k in range(C - 1 - j):
                r = Signal(sh(accw), name=f"deskew{j}_{k}")
                with m.If(advance):
                    m.d.sync += r.eq(prev)
                prev = r
            outs.append(prev)
        m.d.comb += [self.res_out.payload.eq(Cat(*outs)), self.res_out.valid.eq(out_valid & self.en)]
        return m
