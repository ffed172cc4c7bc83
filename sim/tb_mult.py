"""cocotb testbench: a generated multiplier's RTL against its numpy model.

Configured through environment variables (set by :func:`axforge.sim.cocotb_run.run_mult_tb`):

``AXF_SPEC``
    Spec string of the design under test (the RTL's toplevel).
``AXF_MODEL_SPEC``
    Optional spec string of the golden model; defaults to ``AXF_SPEC``. A
    different spec (same operand widths and sign) makes the bench fail on
    purpose, which proves it can.
``AXF_VECTORS``
    ``exhaustive`` (the default) or a number N of random vectors. Exhaustive
    is used only when ``a_width + b_width <= 16``; wider designs get N random
    vectors (2000 if unset) plus the cross product of corner values.
``AXF_SEED``
    Seed of the random vectors (default 1).

Structure: a :class:`Driver` applies ``a`` and ``b``, a :class:`Monitor`
samples ``p`` after a 1 ns :class:`~cocotb.triggers.Timer` (the design is
purely combinational), and an in-order :class:`MultScoreboard` (an
:class:`axforge.sim.testbench.Scoreboard`) compares each observation with the
model's expected product for the same vector.
"""

import logging
import os

import numpy as np

import cocotb
from cocotb.triggers import Timer

from axforge.hdl.arith import MultSpec
from axforge.sim.testbench import Scoreboard, random_operands

EXHAUSTIVE_MAX_BITS = 16
DEFAULT_RANDOM = 2000
MAX_REPORTED = 8

log = logging.getLogger("cocotb.axforge.tb_mult")


def _config():
    spec_text = os.environ.get("AXF_SPEC")
    if not spec_text:
        raise RuntimeError("AXF_SPEC is not set: run this bench through axforge.sim.cocotb_run")
    spec = MultSpec.parse(spec_text)
    model_spec = MultSpec.parse(os.environ.get("AXF_MODEL_SPEC") or spec_text)
    if (model_spec.a_width, model_spec.b_width, model_spec.signed) != (
            spec.a_width, spec.b_width, spec.signed):
        raise RuntimeError(f"model spec {model_spec} has other operands than the RTL {spec}")
    vectors = (os.environ.get("AXF_VECTORS") or "exhaustive").strip().lower()
    seed = int(os.environ.get("AXF_SEED") or 1)
    return spec, model_spec, vectors, seed


def corner_values(width, signed):
    """0, 1, -1 (all ones), max, min and both alternating-bit patterns, as operand values."""
    mask = (1 << width) - 1
    alt1 = int("01" * width, 2) & mask   # ...0101
    alt2 = ~alt1 & mask                    # ...1010
    raw = {0, 1, mask, alt1, alt2}
    if signed:
        raw |= {(1 << (width - 1)) - 1, 1 << (width - 1)}   # max, min
    else:
        raw |= {mask, 0}
    if signed:
        return sorted(v - (1 << width) if v >> (width - 1) else v for v in raw)
    return sorted(raw)


def stimulus(spec, vectors, seed):
    """Operand value arrays (int64) to apply, in order, and a description."""
    if spec.a_width + spec.b_width <= EXHAUSTIVE_MAX_BITS:
        a, b = spec.operands()
        return np.asarray(a, np.int64), np.asarray(b, np.int64), "exhaustive"
    n = DEFAULT_RANDOM if vectors == "exhaustive" else int(vectors)
    rng = np.random.default_rng(seed)

    def rand(width):
        return random_operands(rng, n, width, spec.signed)

    ca, cb = corner_values(spec.a_width, spec.signed), corner_values(spec.b_width, spec.signed)
    corner_a = np.repeat(np.array(ca, np.int64), len(cb))
    corner_b = np.tile(np.array(cb, np.int64), len(ca))
    a = np.concatenate([corner_a, rand(spec.a_width)])
    b = np.concatenate([corner_b, rand(spec.b_width)])
    return a, b, f"{len(corner_a)} corner + {n} random (seed {seed})"


class Driver:
    """Applies one operand pair to the combinational inputs."""

    def __init__(self, dut):
        self.a = dut.a
        self.b = dut.b

    def apply(self, a, b):
        self.a.value = a
        self.b.value = b


class Monitor:
    """Samples the product port as a signed or unsigned integer (``None`` if it holds X/Z)."""

    def __init__(self, dut, signed):
        self.p = dut.p
        self.signed = signed

    def sample(self):
        value = self.p.value
        try:
            return value.to_signed() if self.signed else value.to_unsigned()
        except ValueError:   # X or Z bits
            return None


class MultScoreboard(Scoreboard):
    """The in-order scoreboard, each expected product kept with its operands for the report."""

    def report(self, what):
        """Log the first mismatches; raise :class:`AssertionError` if any, or if vectors were left unchecked."""
        for m in self.mismatches[:MAX_REPORTED]:
            a, b = m.context
            log.error("%s: a=%d b=%d: RTL p=%s, model p=%d", what, a, b, m.got, m.expected)
        if self.expected:
            raise AssertionError(f"{what}: only {self.checked} of {self.checked + len(self.expected)} "
                                 "vectors were checked")
        if self.mismatches:
            _, got, exp, (a, b) = self.mismatches[0]
            raise AssertionError(f"{what}: {len(self.mismatches)} of {self.checked} vectors "
                                 f"mismatch the model (first: a={a} b={b} RTL p={got} "
                                 f"model p={exp})")


@cocotb.test()
async def mult_matches_model(dut):
    """Every applied vector's product equals the golden model's."""
    spec, model_spec, vectors, seed = _config()
    a, b, how = stimulus(spec, vectors, seed)
    expected = model_spec.model(a, b).astype(np.int64)
    what = f"RTL {spec} vs model {model_spec}"
    log.info("%s: %d vectors (%s)", what, len(a), how)

    driver, monitor = Driver(dut), Monitor(dut, spec.signed)
    a, b = a.tolist(), b.tolist()
    scoreboard = MultScoreboard()
    scoreboard.expect(expected.tolist(), contexts=zip(a, b))
    for x, y in zip(a, b):
        driver.apply(x, y)
        await Timer(1, unit="ns")
        scoreboard.observe(monitor.sample())
    scoreboard.report(what)
