"""Reusable cocotb components for designs with valid/ready stream ports.

A design's streams are Amaranth :class:`amaranth.lib.stream.Signature` ports, flattened
in its Verilog to ``<prefix>__payload``, ``<prefix>__valid`` and ``<prefix>__ready``.
The components here, in the manner of cocotbext-axi:

- :class:`StreamSource` drives a stream from a queue of beats, with generated idle
  cycles; :class:`StreamSink` collects beats, with generated back-pressure.
- :class:`Scoreboard` compares observed transactions in order with the expected ones
  from a golden model (a plain function).
- :class:`CycleLoop` is the one coroutine that follows the clock: each cycle it lets
  every stream drive its port at the falling edge, then samples the handshakes in the
  ReadOnly phase (two triggers a cycle, however many streams there are; one would not
  do where a ``ready`` depends combinationally on other streams' ``valid``/``ready``
  driven in the same cycle). A port is written only when its value changes
  (:class:`Port`), with ``Immediate`` writes (no third, ReadWrite, trigger a cycle).
  Test code waits on the loop (:meth:`CycleLoop.until`), not on clock edges, so it
  wakes only when something it waits for happened.
- :class:`Burst` drives the burst transactor a testbench top can hold
  (:func:`axforge.sim.burst.burst_top`): long streams run in the simulator, up to
  its depth in beats per Python wake-up, while the loop lets those cycles pass under
  one timer (:meth:`CycleLoop.skip`).
- :class:`StreamTB` is the base of a design's ``TB``: it owns the clock, the loop, the
  reset and the random generator behind every idle and back-pressure pattern.

Payloads are whole packed integers (:func:`pack_rows` packs many with numpy).
Nothing here is a ``@cocotb.test``; a design's bench module (``tb_<design>.py``)
subclasses :class:`StreamTB` and holds the tests.

Examples
--------
A bench for a design with an ``in`` and an ``out`` stream of 8-bit payloads::

    class TB(StreamTB):
        def __init__(self, dut, seed):
            super().__init__(dut, seed)
            self.src = self.add_source("in", idle=0.3)
            self.sink = self.add_sink("out", stall=0.3)
            self.board = Scoreboard()

    @cocotb.test()
    async def test_passthrough(dut):
        tb = TB(dut, seed=1)
        await tb.start()
        data = list(range(20))
        tb.board.expect(data)
        await tb.send(tb.src, data)
        await tb.receive(tb.sink, len(data), timeout=1000)
        tb.board.check(tb.sink.beats)
"""

from collections import deque, namedtuple

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.handle import Immediate
from cocotb.triggers import Event, FallingEdge, ReadOnly, Timer

__all__ = ["PERIOD_NS", "to_unsigned", "pack_rows", "random_operands", "Port", "StreamSource", "StreamSink",
           "CycleLoop", "Burst", "Mismatch", "Scoreboard", "StreamTB"]

PERIOD_NS = 10
"""Default clock period of :class:`StreamTB` and :class:`CycleLoop`, in ns."""


def to_unsigned(value):
    """An unsigned int from a cocotb value (``Logic`` for 1-bit signals, ``LogicArray`` otherwise).

    Parameters
    ----------
    value : cocotb.types.Logic or cocotb.types.LogicArray
        A handle's ``value``.

    Returns
    -------
    int
    """
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


def pack_rows(rows, width):
    """Each row of ``rows`` as one payload integer, element i at bits ``[i*width +: width]``.

    The same integers as :func:`axforge.sim.chip_sim.pack` row by row, built with numpy.

    Parameters
    ----------
    rows : array_like of int
        2-D (M, N) element values; negative values are taken in two's complement.
    width : int
        Bits per element.

    Returns
    -------
    list of int
        M payload integers.
    """
    if len(rows) == 0:
        return []
    a = np.asarray(rows, dtype=np.int64).reshape(len(rows), -1) & ((1 << width) - 1)
    bits = ((a[:, :, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(len(a), -1)
    return [int.from_bytes(r.tobytes(), "little") for r in np.packbits(bits, axis=1, bitorder="little")]


def random_operands(rng, shape, width, signed):
    """Uniform random operand values of a ``width``-bit type.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : int or tuple of int
    width : int
        Bits of the operand type.
    signed : bool
        Two's complement range ``[-2**(width-1), 2**(width-1))`` instead of ``[0, 2**width)``.

    Returns
    -------
    numpy.ndarray of int64
    """
    lo, hi = (-(1 << (width - 1)), 1 << (width - 1)) if signed else (0, 1 << width)
    return rng.integers(lo, hi, size=shape, dtype=np.int64)


class Port:
    """A DUT input written only when its value changes (each write is a VPI call).

    Nothing is written before the first :meth:`write` (a test may start in a ReadOnly phase).

    Parameters
    ----------
    handle : cocotb.handle.ValueObjectBase
        The input's handle.

    Attributes
    ----------
    last : int or None
        The value last written; ``None`` before the first write.
    """

    def __init__(self, handle):
        self.handle, self.last = handle, None

    def write(self, value):
        """Write ``value`` (``Immediate``) unless it is the value last written."""
        if value != self.last:
            self.handle.value = Immediate(value)
            self.last = value


class StreamSource:
    """The driver of a stream input: ``<prefix>__payload/valid`` from a queue of beats.

    Between beats it idles a cycle with probability ``idle`` (drawn from ``rng`` each
    cycle a beat is waiting). Run by a :class:`CycleLoop`: :meth:`drive` in the drive
    phase, :meth:`sample` in the ReadOnly phase.

    Parameters
    ----------
    dut : cocotb.handle.HierarchyObject
    prefix : str
        The stream's name in the DUT's ports.
    rng : numpy.random.Generator
    idle : float
        Probability that a cycle with a beat waiting offers none.

    Attributes
    ----------
    queue : collections.deque of int
        Beats not yet accepted, the first one offered.
    accepted_cycles : list of int
        The loop cycle in which each beat was accepted (valid and ready).
    """

    def __init__(self, dut, prefix, rng, idle=0.0):
        self.payload = Port(getattr(dut, f"{prefix}__payload"))
        self.valid = Port(getattr(dut, f"{prefix}__valid"))
        self.ready = getattr(dut, f"{prefix}__ready")
        self.rng, self.idle = rng, idle
        self.queue = deque()
        self.accepted_cycles = []
        self._offered = False

    def push(self, beats):
        """Queue ``beats`` (payload integers) behind those waiting."""
        self.queue.extend(beats)

    def flush(self):
        """Drop the beats not yet accepted; ``valid`` falls in the next drive phase."""
        self.queue.clear()

    def drive(self):
        """Offer the next beat, or idle (``valid`` low)."""
        if not self.queue and not self._offered and self.valid.last is not None:
            return   # idle, valid already low
        self._offered = bool(self.queue) and not (self.idle and self.rng.random() < self.idle)
        if self._offered:
            self.payload.write(self.queue[0])
        self.valid.write(int(self._offered))

    def sample(self, cycle):
        """Dequeue the offered beat if the DUT was ready for it in ``cycle``."""
        if self._offered and self.ready.value:
            self.queue.popleft()
            self.accepted_cycles.append(cycle)


class StreamSink:
    """The monitor of a stream output: collects ``<prefix>__payload`` beats.

    Each cycle ``ready`` is low with probability ``stall`` (generated back-pressure),
    and always while the sink is not :attr:`enabled`.

    Parameters
    ----------
    dut : cocotb.handle.HierarchyObject
    prefix : str
        The stream's name in the DUT's ports.
    rng : numpy.random.Generator
    stall : float
        Probability that ``ready`` is low in a cycle.

    Attributes
    ----------
    beats : list of int
        The payloads taken, in order.
    cycles : list of int
        The loop cycle in which each beat was taken.
    enabled : bool
        ``ready`` stays low while false (:meth:`StreamTB.start` sets it after reset).
    """

    def __init__(self, dut, prefix, rng, stall=0.0):
        self.payload = getattr(dut, f"{prefix}__payload")
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = Port(getattr(dut, f"{prefix}__ready"))
        self.rng, self.stall = rng, stall
        self.beats, self.cycles = [], []
        self.enabled = False

    def drive(self):
        """Raise ``ready`` unless stalled this cycle."""
        stalled = not self.enabled or (self.stall and self.rng.random() < self.stall)
        self.ready.write(0 if stalled else 1)

    def sample(self, cycle):
        """Take the payload if a beat was handed over in ``cycle``."""
        if self.ready.last and self.valid.value:
            self.beats.append(self.payload.value.to_unsigned())
            self.cycles.append(cycle)


class CycleLoop:
    """The one coroutine that follows the clock: drive at the falling edge, sample in ReadOnly.

    After the first falling edge the drive phase is a :class:`~cocotb.triggers.Timer`
    one period later, at the same time as the next falling edge, not the edge's own
    trigger: the writes (``Immediate``) then reach the model before it evaluates that
    time step, and a big model evaluates once there instead of twice (once for the
    clock, once more for the writes). For designs with only rising-edge logic, inputs
    changing with the falling edge are sampled the same.

    ``cycle`` counts sampled cycles; a handshake sampled in cycle ``c`` takes
    effect at the rising edge that ends it, so state read in cycle ``c + 1``
    shows it. Writes requested with :meth:`poke` are applied in the next drive phase.

    Parameters
    ----------
    clk : cocotb.handle.LogicObject
        The clock (driven by a :class:`~cocotb.clock.Clock` started elsewhere).
    streams : iterable
        Objects with ``drive()`` and ``sample(cycle)`` (:class:`StreamSource`,
        :class:`StreamSink`), driven and sampled in this order every cycle.
    period_ns : int
        The clock's period.

    Attributes
    ----------
    cycle : int
        Cycles sampled so far.
    streams : list
    """

    def __init__(self, clk, streams=(), period_ns=PERIOD_NS):
        self.clk, self.streams, self.period_ns = clk, list(streams), period_ns
        self.cycle = 0
        self._pokes, self._waiters = [], []
        self._skip = 0

    def add(self, stream):
        """Drive and sample ``stream`` after those added before; returns it."""
        self.streams.append(stream)
        return stream

    def poke(self, port, value):
        """Write ``value`` to ``port`` (a :class:`Port`) in the next drive phase."""
        self._pokes.append((port, value))

    def skip(self, n):
        """After the next cycle ``c`` (its drive phase applies the pending pokes), jump to cycle
        ``c + n`` with one timer: cycles ``c + 1 .. c + n - 1`` are neither driven nor sampled
        (a burst of ``n`` cycles runs in them and in ``c + n``)."""
        self._skip = n

    async def until(self, done, timeout=None):
        """Wait (in a ReadOnly phase) until ``done()`` holds or ``timeout`` cycles passed; returns ``done()``."""
        if done():
            return True
        event = Event()
        deadline = None if timeout is None else self.cycle + timeout
        self._waiters.append((done, deadline, event))
        await event.wait()
        return done()

    async def cycles(self, n):
        """Wait ``n`` cycles (the state then shows every handshake sampled before)."""
        await self.until(lambda: False, n)

    async def run(self):
        """The loop itself; start it once with :func:`cocotb.start_soon`."""
        next_falling, read_only = Timer(self.period_ns, unit="ns"), ReadOnly()
        streams = self.streams
        await FallingEdge(self.clk)
        while True:
            for port, value in self._pokes:
                port.write(value)
            self._pokes.clear()
            skip, self._skip = self._skip, 0
            for s in streams:
                s.drive()
            await read_only
            self.cycle += 1
            for s in streams:
                s.sample(self.cycle)
            if self._waiters:
                self._wake()
            if skip:   # on to the drive phase of cycle + skip
                await Timer(skip * self.period_ns, unit="ns")
                self.cycle += skip - 1
                continue
            await next_falling

    def _wake(self):
        keep = []
        for done, deadline, event in self._waiters:
            if done() or (deadline is not None and self.cycle >= deadline):
                event.set()
            else:
                keep.append((done, deadline, event))
        self._waiters = keep


class Burst:
    """The driver of a testbench top's burst transactor (:func:`axforge.sim.burst.burst_top`).

    :meth:`run` streams rows into the top's input stream and collects its output beats,
    up to ``depth`` cycles per Python wake-up: the beats, the idle pattern (``idle``:
    probability a cycle offers no beat) and the back-pressure pattern (``stall``) are
    written once per burst, and the counts and captured results read once after it.

    The top's ports, all named ``<prefix><name>``: inputs ``start`` (a burst starts when
    it toggles), ``len`` (cycles), ``count`` (beats), ``beats`` (beat i at bits
    ``[i*B +: B]``), ``idle`` and ``stall`` (bit t for cycle t); outputs ``seq`` (bursts
    started, mod 256), ``sent``, ``got`` (beats moved each way) and ``results`` (result
    i at bits ``[i*result_width +: result_width]``).

    Parameters
    ----------
    dut : cocotb.handle.HierarchyObject
    loop : CycleLoop
    rng : numpy.random.Generator
        Source of the idle and back-pressure patterns.
    element_width : int
        Bits per element of an input row (a beat packs one row).
    result_width : int
        Bits per output beat.
    drain_cycles : int
        Cycles a burst runs past its last input beat, for the last results to leave.
    idle, stall : float
        Probabilities of an idle cycle and of a back-pressure cycle.
    prefix : str
        Common prefix of the transactor's ports.

    Attributes
    ----------
    depth : int
        Beats and result slots per burst (the width of the ``idle`` port).
    cycles : int
        Cycles spent in :meth:`run` so far.
    """

    def __init__(self, dut, loop, rng, element_width, result_width, drain_cycles, idle=0.0, stall=0.0,
                 prefix="burst_"):
        self.loop, self.rng, self.idle, self.stall = loop, rng, idle, stall
        self.depth = len(getattr(dut, f"{prefix}idle"))
        self.a_width, self.rw, self.drain = element_width, result_width, drain_cycles
        self.ports = {n: Port(getattr(dut, f"{prefix}{n}")) for n in ("start", "len", "count", "beats", "idle", "stall")}
        self.sent, self.got, self.results, self.seq = (getattr(dut, f"{prefix}{n}") for n in ("sent", "got", "results", "seq"))
        # a burst starts when start changes: continue from its value (an earlier test's last)
        self.toggle, self.cycles = to_unsigned(getattr(dut, f"{prefix}start").value), 0

    def _pattern(self, n, p):
        """n random bits, each set with probability ``p``, as an integer (bit t = cycle t)."""
        if not p:
            return 0
        return int.from_bytes(np.packbits(self.rng.random(n) < p, bitorder="little").tobytes(), "little")

    def _beats(self, big, n):
        rw = self.rw
        if rw % 8 == 0:
            raw, nb = big.to_bytes(self.depth * rw // 8, "little"), rw // 8
            return [int.from_bytes(raw[i * nb:(i + 1) * nb], "little") for i in range(n)]
        return [(big >> (i * rw)) & ((1 << rw) - 1) for i in range(n)]

    async def run(self, rows, n_results, cycles=None):
        """Stream ``rows`` and return the first ``n_results`` output beats.

        Parameters
        ----------
        rows : array_like of int
            (M, N) element values, one beat a row.
        n_results : int
        cycles : int, optional
            Cycles per burst (at most what the top's ``len`` port holds); default: the beats of
            the burst plus ``drain_cycles``, at most ``depth``.

        Returns
        -------
        list of int
            The output beats, in order.

        Raises
        ------
        AssertionError
            When three bursts in a row moved nothing (the design stalls or is held in reset).
        """
        loop, ports, out, sent, stuck = self.loop, self.ports, [], 0, 0
        rows = np.asarray(rows).reshape(len(rows), -1)
        while sent < len(rows) or len(out) < n_results:
            if stuck >= 3:
                raise AssertionError(f"timeout: three bursts moved nothing ({sent} of {len(rows)} beats sent, "
                                     f"{len(out)} of {n_results} results arrived)")
            chunk = rows[sent:sent + self.depth]
            n = min(self.depth, len(chunk) + self.drain) if cycles is None else cycles
            if len(chunk):
                loop.poke(ports["beats"], pack_rows(chunk.reshape(1, -1), self.a_width)[0])
            loop.poke(ports["count"], len(chunk))
            loop.poke(ports["len"], n)
            loop.poke(ports["idle"], self._pattern(min(n, self.depth), self.idle))    # bit t mod depth
            loop.poke(ports["stall"], self._pattern(min(n, self.depth), self.stall))
            self.toggle ^= 1
            loop.poke(ports["start"], self.toggle)
            seq = to_unsigned(self.seq.value)
            loop.skip(n)               # cycle c starts the burst, cycles c+1 .. c+n run it
            await loop.cycles(n + 2)   # read in cycle c+n+1: the counts after the burst's last edge
            started = to_unsigned(self.seq.value) == (seq + 1) % 256
            moved, got = (to_unsigned(self.sent.value), to_unsigned(self.got.value)) if started else (0, 0)
            sent += moved
            out += self._beats(to_unsigned(self.results.value), got)
            stuck = 0 if moved or got else stuck + 1
            self.cycles += n + 2
        return out


Mismatch = namedtuple("Mismatch", "index got expected context")
Mismatch.__doc__ = """One observation that differed from the expected one (:attr:`Scoreboard.mismatches`).

``index`` counts observations from 0, ``got`` is the decoded observation, ``expected``
the model's item (``None`` when nothing more was expected) and ``context`` what was
given with it to :meth:`Scoreboard.expect` (e.g. the operands), or ``None``."""


def _plain(item):
    """numpy rows as lists, so that ``==`` compares them as a whole."""
    return item.tolist() if isinstance(item, np.ndarray) else item


class Scoreboard:
    """In-order comparison of observed transactions with the expected ones from a golden model.

    The model's items are queued with :meth:`expect`; each observation
    (:meth:`observe`, or :meth:`check` for many) is decoded and compared with the
    oldest item not yet matched, which it consumes. numpy rows are compared as lists.

    Parameters
    ----------
    decode : callable, optional
        Turns an observed beat into the form of the expected items (e.g. a payload
        integer into its elements); the identity by default.
    max_reported : int
        How many mismatches :attr:`errors` and :meth:`check` report.

    Attributes
    ----------
    expected : collections.deque
        Expected items not yet observed (their contexts are kept alongside).
    checked : int
        Observations compared so far.
    mismatches : list of Mismatch
        Every observation that differed, in order.
    """

    def __init__(self, decode=None, max_reported=5):
        self.decode = decode if decode is not None else (lambda beat: beat)
        self.max_reported = max_reported
        self.expected, self._contexts = deque(), deque()
        self.checked = 0
        self.mismatches = []

    def expect(self, items, contexts=None):
        """Queue the model's ``items`` (and, optionally, one context each, for reports)."""
        items = items.tolist() if isinstance(items, np.ndarray) else [_plain(i) for i in items]
        self.expected.extend(items)
        self._contexts.extend(contexts if contexts is not None else [None] * len(items))

    def observe(self, beat):
        """Compare one observation with the oldest expected item; returns whether they agree."""
        got = self.decode(beat)
        want, context = (self.expected.popleft(), self._contexts.popleft()) if self.expected else (None, None)
        self.checked += 1
        if got != want:
            self.mismatches.append(Mismatch(self.checked - 1, got, want, context))
            return False
        return True

    @property
    def errors(self):
        """The first ``max_reported`` mismatches, one message each (list of str)."""
        return [f"result {m.index}: got {m.got}, expected {m.expected}" for m in self.mismatches[:self.max_reported]]

    def check(self, beats):
        """:meth:`observe` each of ``beats``.

        Raises
        ------
        AssertionError
            If any observation so far differed, with the first ``max_reported`` messages.
        """
        for beat in beats:
            self.observe(beat)
        errors = self.errors
        assert not errors, "; ".join(errors)


class StreamTB:
    """The base of a design's ``TB``: the clock, the :class:`CycleLoop`, reset and the random generator.

    A subclass adds its streams with :meth:`add_source` / :meth:`add_sink` (they are
    driven and sampled in that order, and draw their idle and back-pressure cycles from
    :attr:`rng` in that order, so one seed gives one run), and its scoreboard.

    Parameters
    ----------
    dut : cocotb.handle.HierarchyObject
    seed : int
        Seed of :attr:`rng`.
    clock : str
        The clock input's name.
    reset : str
        The synchronous, active-high reset input's name.
    period_ns : int
        The clock's period.

    Attributes
    ----------
    dut : cocotb.handle.HierarchyObject
    rng : numpy.random.Generator
    loop : CycleLoop
    rst : Port
    sinks : list of StreamSink
        Enabled by :meth:`start` once reset is over.
    """

    def __init__(self, dut, seed, clock="clk", reset="rst", period_ns=PERIOD_NS):
        self.dut = dut
        self.rng = np.random.default_rng(seed)
        self.clk = getattr(dut, clock)
        self.rst = Port(getattr(dut, reset))
        self.period_ns = period_ns
        self.loop = CycleLoop(self.clk, (), period_ns)
        self.sinks = []

    def add_source(self, prefix, idle=0.0):
        """A :class:`StreamSource` on stream ``prefix``, run by the loop."""
        return self.loop.add(StreamSource(self.dut, prefix, self.rng, idle))

    def add_sink(self, prefix, stall=0.0):
        """A :class:`StreamSink` on stream ``prefix``, run by the loop."""
        sink = self.loop.add(StreamSink(self.dut, prefix, self.rng, stall))
        self.sinks.append(sink)
        return sink

    async def start(self, reset_cycles=2):
        """Start the clock and the loop, reset the design, then enable the sinks."""
        cocotb.start_soon(Clock(self.clk, self.period_ns, unit="ns").start())
        cocotb.start_soon(self.loop.run())
        await self.reset(reset_cycles)
        for sink in self.sinks:
            sink.enabled = True

    async def reset(self, cycles=2):
        """Reset high for ``cycles`` rising edges; it falls in the next drive phase."""
        self.loop.poke(self.rst, 1)
        await self.loop.cycles(cycles)
        self.loop.poke(self.rst, 0)

    async def send(self, source, beats):
        """Queue ``beats`` on ``source``; returns once the design accepted the last of them."""
        source.push(beats)
        await self.loop.until(lambda: not source.queue)

    async def receive(self, sink, n, timeout=None):
        """Wait until ``sink`` holds ``n`` beats.

        Raises
        ------
        AssertionError
            If they did not arrive within ``timeout`` cycles.
        """
        if not await self.loop.until(lambda: len(sink.beats) >= n, timeout):
            raise AssertionError(f"timeout: {len(sink.beats)} of {n} results arrived")
