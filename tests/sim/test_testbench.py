"""The reusable stream testbench components (axforge.sim.testbench), without a simulator."""

import numpy as np
import pytest
from cocotb.handle import Immediate

from axforge.sim.chip_sim import pack
from axforge.sim.testbench import (Mismatch, Scoreboard, StreamSink, StreamSource, pack_rows,
                                   random_operands)


class _Handle:
    """Stands in for a cocotb handle: ``value`` is what was last written (``Immediate`` unwrapped)."""

    def __init__(self, value=0):
        self.value, self.writes = value, 0

    def __setattr__(self, name, value):
        if name == "value" and isinstance(value, Immediate):
            value = value.value
            object.__setattr__(self, "writes", self.writes + 1)
        object.__setattr__(self, name, value)


class _Value(int):
    """A payload value as cocotb reads it (``LogicArray.to_unsigned``)."""

    def to_unsigned(self):
        return int(self)


class _Dut:
    def __init__(self, prefix):
        for n in ("valid", "ready"):
            setattr(self, f"{prefix}__{n}", _Handle())
        setattr(self, f"{prefix}__payload", _Handle())


def test_scoreboard_passes_equal_results_in_order():
    board = Scoreboard(decode=lambda raw: [raw & 0xF, raw >> 4])
    board.expect(np.array([[1, 2], [3, 4]]))
    board.expect([[5, 0]])
    board.check([0x21, 0x43])
    board.check([0x05])
    assert board.checked == 3 and not board.expected and board.mismatches == []


def test_scoreboard_reports_mismatches_and_keeps_failing():
    board = Scoreboard()
    board.expect(np.array([[1, 2], [3, 4], [5, 6]]))
    with pytest.raises(AssertionError, match=r"^result 1: got \[3, 5\], expected \[3, 4\]$"):
        board.check([[1, 2], [3, 5]])
    # a later, correct observation does not clear the earlier mismatch
    with pytest.raises(AssertionError, match=r"^result 1: got \[3, 5\], expected \[3, 4\]$"):
        board.check([[5, 6]])
    assert board.mismatches == [Mismatch(1, [3, 5], [3, 4], None)] and board.checked == 3


def test_scoreboard_compares_order_and_surplus_results():
    board = Scoreboard()
    board.expect([10, 20])
    with pytest.raises(AssertionError, match="result 0: got 20, expected 10; result 1: got 10, expected 20"):
        board.check([20, 10])
    with pytest.raises(AssertionError, match="result 2: got 30, expected None"):
        board.check([30])


def test_scoreboard_caps_the_report_and_keeps_contexts():
    board = Scoreboard(max_reported=2)
    board.expect(list(range(5)), contexts=[("a", i) for i in range(5)])
    assert [board.observe(v) for v in (0, 9, 9, 9, 4)] == [True, False, False, False, True]
    assert len(board.mismatches) == 3 and len(board.errors) == 2
    assert [m.context for m in board.mismatches] == [("a", 1), ("a", 2), ("a", 3)]


@pytest.mark.parametrize("width, signed", [(8, False), (8, True), (5, True), (1, False)])
def test_pack_rows_matches_chip_sim_pack(width, signed):
    rng = np.random.default_rng(width)
    x = random_operands(rng, (9, 13), width, signed)
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    assert x.dtype == np.int64 and x.min() >= lo and x.max() <= hi
    assert pack_rows(x, width) == [pack(row, width) for row in x]
    assert pack_rows(np.zeros((0, 13), np.int64), width) == []


def test_source_offers_beats_until_accepted_and_idles():
    dut = _Dut("s")
    src = StreamSource(dut, "s", np.random.default_rng(0))
    src.push([7, 8])
    src.drive()
    assert (dut.s__valid.value, dut.s__payload.value) == (1, 7)
    src.sample(1)                       # not ready: the beat stays
    dut.s__ready.value = 1
    src.drive()
    src.sample(2)
    src.drive()
    assert dut.s__payload.value == 8
    src.sample(3)
    src.drive()
    assert dut.s__valid.value == 0 and src.accepted_cycles == [2, 3] and not src.queue
    writes = dut.s__valid.writes
    src.drive()                         # idle with valid low: nothing written
    assert dut.s__valid.writes == writes


def test_generated_idle_and_back_pressure_follow_their_probability():
    dut = _Dut("s")
    src = StreamSource(dut, "s", np.random.default_rng(1), idle=0.3)
    dut.s__ready.value = 1
    src.push(range(2000))
    cycles = 0
    while src.queue:
        cycles += 1
        src.drive()
        src.sample(cycles)
    assert 0.25 < 1 - 2000 / cycles < 0.35
    out = _Dut("o")
    sink = StreamSink(out, "o", np.random.default_rng(2), stall=0.3)
    sink.drive()
    assert out.o__ready.value == 0      # not enabled: never ready
    sink.enabled, out.o__valid.value = True, 1
    for c in range(2000):
        out.o__payload.value = _Value(c)
        sink.drive()
        sink.sample(c)
    assert 0.25 < 1 - len(sink.beats) / 2000 < 0.35 and sink.beats == sink.cycles
