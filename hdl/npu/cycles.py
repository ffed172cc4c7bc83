"""The NPU's exact cycle model: what :class:`~.core.Npu` takes per sample, in pure arithmetic.

A sample's cycles are counted from the cycle its first input beat is accepted to the cycle its last
result beat is accepted, both included, with the inputs always valid and the results always ready
(stalls only add cycles). Stage by stage (``n_pes = tiles * pes``):

1. **fetch** -- ``n_in`` cycles: one input beat per cycle is written to ``data[k]``.
2. **layers** -- every layer runs ``passes(n_out, n_pes)`` passes; the pass that holds ``n_act``
   neurons (``n_pes``, or fewer in a layer's last pass) takes::

       n_in + gated * n_act + DRAIN + n_act

   ``n_in`` cycles issue the input reads (the broadcast of ``x[k]`` with weight word ``k``),
   ``n_act`` more load the control values ``c[j]`` of a gated layer into their PEs, ``DRAIN`` cycles
   let the last read reach the PEs (``BROADCAST``: the data memory's read register, then the tile's
   broadcast register) and pass the PE's ``PE_STAGES`` (requantisation product, output unit,
   switch and output register), and ``n_act`` cycles write the results back, one PE per cycle. So a
   layer takes ``passes * (n_in + DRAIN) + n_out * (1 + gated)``; ``pred`` and ``approx`` are the
   sums over the prediction and the approximation layers. An NPU with ``gating: false`` runs
   ungated layers only (``gated = 0``), in the same cycles as the gating NPU (its PE keeps the
   output register of stage 3, without the switch).
3. **store** -- no cycles of its own: the last prediction layer's writebacks store the control
   vectors and the P(x) slot.
4. **decide** -- ``1 + p_outputs`` cycles: read ``P[0]`` (and ``P[1]``) and compare. An unsafe
   sample then spends **1** cycle on its fallback beat.
5. **emit** (safe samples, after the approximation layers) -- ``1 + n_out`` cycles: one read
   ahead, then one result beat per cycle.

So ``unsafe = n_in + pred + decide + 1`` and ``safe = n_in + pred + decide + approx + 1 + n_out``.
The next sample's first beat is accepted in the cycle after the previous sample's last result
beat, so a back-to-back stream takes the sum of its samples' cycles.
"""

from .program import passes

__all__ = ["BROADCAST", "DRAIN", "PE_STAGES", "layer_cycles", "sample_cycles", "stream_cycles"]

#: cycles from issuing a data-memory read to its value sitting in the PEs' input registers
BROADCAST = 2
#: registered stages of a PE after its accumulator: requantisation product, output unit, switch
PE_STAGES = 3
#: cycles between a pass's last read and its first writeback
DRAIN = BROADCAST + PE_STAGES


def layer_cycles(layer, config):
    """Cycles of one layer (all its passes)."""
    gated = 1 if layer.gate >= 0 else 0
    return passes(layer.n_out, config.n_pes) * (layer.n_in + DRAIN) + layer.n_out * (1 + gated)


def sample_cycles(program, config):
    """Cycles of one sample, by stage: ``fetch``, ``pred``, ``decide``, ``approx``, ``emit``,
    ``fallback`` and the totals ``safe`` and ``unsafe`` (see the module docstring)."""
    c = {"fetch": program.n_in,
         "pred": sum(layer_cycles(layer, config) for layer in program.pred),
         "decide": 1 + program.p_outputs,
         "approx": sum(layer_cycles(layer, config) for layer in program.approx),
         "emit": 1 + program.n_out,
         "fallback": 1}
    c["unsafe"] = c["fetch"] + c["pred"] + c["decide"] + c["fallback"]
    c["safe"] = c["fetch"] + c["pred"] + c["decide"] + c["approx"] + c["emit"]
    return c


def stream_cycles(program, config, safe_flags):
    """Cycles of a back-to-back stream of samples (``safe_flags``: one bool per sample), from the
    first input beat of the first sample to the last result beat of the last one."""
    c = sample_cycles(program, config)
    n_safe = sum(1 for s in safe_flags if s)
    return n_safe * c["safe"] + (len(safe_flags) - n_safe) * c["unsafe"]
