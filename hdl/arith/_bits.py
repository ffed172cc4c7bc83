"""Bit-level circuit construction shared by every multiplier family.

A circuit is written once against a *backend* and runs on two of them:

* :class:`HW` builds Amaranth logic: each named wire becomes a 1-bit
  ``Signal`` driven combinationally, so the emitted Verilog is a structural
  netlist of 1-bit gates (no ``*``, no wide ``+``) and lints clean.
* :class:`NP` evaluates the same construction on numpy ``bool`` arrays, one
  element per input pair. Families whose error model *is* their structure
  (approximate compressor trees) use it as their bit-accurate model; the other
  families have independent arithmetic models.

A *bit* is either a backend value (1 bit wide) or a Python int 0/1; gates fold
constants, so perforated rows and truncated columns cost no hardware.
"""

import numpy as np
from amaranth.hdl import Mux, Signal
from amaranth.hdl._ast import Slice  # a bit-select is an alias, not a gate

__all__ = [
    "HW", "NP", "and_", "or_", "xor_", "not_", "full_adder", "half_adder",
    "BitMatrix", "pp_matrix", "ripple_add", "negate", "mux_bits", "shift_left",
    "shift_right", "leading_one", "const_bits", "bits_of",
]


class HW:
    """Amaranth backend: named 1-bit wires in a module's comb domain.

    Assignments are collected and added by :meth:`finish`, which keeps only
    the wires the outputs depend on: constant folding and dropped carries
    leave dead logic that would otherwise show up as unused signals.
    """

    def __init__(self, module):
        self.module = module
        self._count = {}
        self._defs = {}
        self._hash = {}

    def wire(self, expr, name):
        # Constants and bare aliases (a signal or one bit of it) need no wire of
        # their own: an alias would survive in the Verilog as an unused name.
        if isinstance(expr, (int, Signal, Slice)):
            return expr
        key = repr(expr)  # structural hashing: identical logic shares one wire
        if key in self._hash:
            return self._hash[key]
        index = self._count.get(name, 0)
        self._count[name] = index + 1
        sig = Signal(name=f"{name}{index}")
        self._defs[id(sig)] = (sig, expr)  # Signals are not hashable: key by identity
        self._hash[key] = sig
        return sig

    def finish(self, outputs):
        """Drive every wire that ``outputs`` (a list of bits) depend on."""
        live, work = set(), [o for o in outputs if not isinstance(o, int)]
        while work:
            for sig in work.pop()._rhs_signals():
                key = id(sig)
                if key in self._defs and key not in live:
                    live.add(key)
                    work.append(self._defs[key][1])
        for key, (sig, expr) in self._defs.items():  # creation order: deterministic output
            if key in live:
                self.module.d.comb += sig.eq(expr)

    @staticmethod
    def mux(sel, if_true, if_false):
        return Mux(sel, if_true, if_false)


class NP:
    """numpy backend: bits are ``bool`` arrays over a batch of input pairs."""

    @staticmethod
    def wire(expr, name):
        return expr

    @staticmethod
    def mux(sel, if_true, if_false):
        return np.where(sel, if_true, if_false)


def and_(x, y):
    if isinstance(x, int):
        return y if x else 0
    if isinstance(y, int):
        return x if y else 0
    return x & y


def or_(x, y):
    if isinstance(x, int):
        return 1 if x else y
    if isinstance(y, int):
        return 1 if y else x
    return x | y


def not_(x):
    if isinstance(x, int):
        return 1 - x
    if getattr(x, "operator", None) == "~":  # Amaranth: fold ~~x
        return x.operands[0]
    return ~x


def xor_(x, y):
    if isinstance(x, int):
        return not_(y) if x else y
    if isinstance(y, int):
        return not_(x) if y else x
    return x ^ y


def half_adder(be, x, y, want_carry=True):
    s = be.wire(xor_(x, y), "ha_s")
    c = be.wire(and_(x, y), "ha_c") if want_carry else 0
    return s, c


def full_adder(be, x, y, z, want_carry=True):
    t = xor_(x, y)
    if not isinstance(t, int) and want_carry:
        t = be.wire(t, "fa_t")
    s = be.wire(xor_(t, z), "fa_s")
    c = be.wire(or_(and_(x, y), and_(z, t)), "fa_c") if want_carry else 0
    return s, c


def bits_of(value, width):
    """Little-endian list of bits of a backend vector (Amaranth value or numpy ints)."""
    if isinstance(value, np.ndarray):
        return [((value >> i) & 1).astype(bool) for i in range(width)]
    return [value[i] for i in range(width)]


def const_bits(value, width):
    return [(value >> i) & 1 for i in range(width)]


class BitMatrix:
    """Columns of weighted bits plus a constant, reduced to one ``width``-bit sum.

    Everything is modulo ``2**width``: carries out of the top column are never
    built.
    """

    def __init__(self, width):
        self.width = width
        self.cols = [[] for _ in range(width)]
        self.const = 0

    def add(self, col, bit):
        if col >= self.width or col < 0:
            return
        if isinstance(bit, int):
            if bit:
                self.const += 1 << col
            return
        self.cols[col].append(bit)

    def add_const(self, value):
        self.const += value

    def add_vector(self, bits, shift=0):
        for i, bit in enumerate(bits):
            self.add(shift + i, bit)

    def heights(self):
        return [len(c) for c in self.cols]

    def _with_constant(self):
        cols = [list(c) for c in self.cols]
        const = self.const % (1 << self.width)
        for i in range(self.width):
            if (const >> i) & 1:
                cols[i].append(1)
        return cols

    # -- reductions -------------------------------------------------------------
    def reduce(self, be, method="dadda", compressor=None, approx_cols=0):
        """Reduce to at most two bits per column, then add them with a ripple adder.

        ``method``: ``"dadda"`` (Dadda's minimal-counter schedule), ``"wallace"``
        (greedy 3:2 counters, half adders on pairs), ``"array"`` (one 3:2 counter
        per column per stage, the carry-save array), or ``"cmp42"`` (4:2
        compressors, approximate ``compressor`` in columns below ``approx_cols``).
        Returns the ``width`` output bits, little-endian.
        """
        cols = self._with_constant()
        if method == "cmp42":
            cols = _reduce_cmp42(be, cols, self.width, compressor, approx_cols)
        elif method == "dadda":
            cols = _reduce_dadda(be, cols, self.width)
        elif method == "wallace":
            cols = _reduce_greedy(be, cols, self.width, per_col=None, use_ha=True)
        elif method == "array":
            cols = _reduce_greedy(be, cols, self.width, per_col=1, use_ha=False)
        else:  # pragma: no cover - validated by the families
            raise ValueError(f"unknown reduction {method!r}")
        x = [c[0] if len(c) > 0 else 0 for c in cols]
        y = [c[1] if len(c) > 1 else 0 for c in cols]
        return ripple_add(be, x, y)

    def value_np(self):
        """Arithmetic value of the matrix (numpy int64), for models: sum of bits x weights."""
        total = np.int64(self.const)
        for col, bits in enumerate(self.cols):
            for bit in bits:
                total = total + (np.asarray(bit, dtype=np.int64) << col)
        return total % (1 << self.width)


def _fold_const_bits(cols):
    """Bits that are constant 1 are kept as bits: the gates fold them."""
    return cols


def _reduce_greedy(be, cols, width, per_col, use_ha):
    while max(len(c) for c in cols) > 2:
        new = [[] for _ in range(width)]
        for i, bits in enumerate(cols):
            bits = list(bits)
            want = i + 1 < width
            used = 0
            while len(bits) >= 3 and (per_col is None or used < per_col):
                x, y, z = bits.pop(0), bits.pop(0), bits.pop(0)
                s, c = full_adder(be, x, y, z, want)
                new[i].append(s)
                if want:
                    new[i + 1].append(c)
                used += 1
            if use_ha and len(bits) == 2 and used > 0:
                x, y = bits.pop(0), bits.pop(0)
                s, c = half_adder(be, x, y, want)
                new[i].append(s)
                if want:
                    new[i + 1].append(c)
            new[i].extend(bits)
        cols = new
    return cols


def _dadda_targets(height):
    targets = [2]
    while targets[-1] < height:
        targets.append(targets[-1] * 3 // 2)
    return list(reversed(targets[:-1]))


def _reduce_dadda(be, cols, width):
    for target in _dadda_targets(max(len(c) for c in cols)):
        new = [[] for _ in range(width)]
        carries_in = 0
        for i, bits in enumerate(cols):
            bits = list(bits)
            want = i + 1 < width
            carries_out = 0
            height = len(bits) + carries_in
            while height > target and len(bits) >= 2:
                if height - target >= 2 and len(bits) >= 3:
                    s, c = full_adder(be, bits.pop(0), bits.pop(0), bits.pop(0), want)
                    height -= 2
                else:
                    s, c = half_adder(be, bits.pop(0), bits.pop(0), want)
                    height -= 1
                new[i].append(s)
                if want:
                    new[i + 1].append(c)
                carries_out += 1
            new[i].extend(bits)
            carries_in = carries_out
        cols = new
    return cols


def _reduce_cmp42(be, cols, width, compressor, approx_cols):
    while max(len(c) for c in cols) > 2:
        new = [[] for _ in range(width)]
        couts = []  # exact-compressor carries from the previous column, this stage
        for i, bits in enumerate(cols):
            bits = list(bits)
            want = i + 1 < width
            next_couts = []
            while len(bits) >= 4:
                x1, x2, x3, x4 = (bits.pop(0) for _ in range(4))
                if i < approx_cols:
                    s, c = compressor(be, x1, x2, x3, x4, want)
                else:
                    cin = couts.pop(0) if couts else 0
                    t, cout = full_adder(be, x1, x2, x3, want)
                    s, c = full_adder(be, t, x4, cin, want)
                    if want:
                        next_couts.append(cout)
                new[i].append(s)
                if want:
                    new[i + 1].append(c)
            bits.extend(couts)  # carries no compressor consumed stay in this column
            if len(bits) == 3:
                s, c = full_adder(be, *bits, want)
                new[i].append(s)
                if want:
                    new[i + 1].append(c)
                bits = []
            new[i].extend(bits)
            couts = next_couts
        cols = new
    return cols


def ripple_add(be, x, y, cin=0):
    """Ripple-carry sum of two little-endian bit lists, modulo 2**len(x)."""
    out = []
    carry = cin
    n = len(x)
    for i in range(n):
        want = i + 1 < n
        s, carry = full_adder(be, x[i], y[i], carry, want)
        out.append(s)
    return out


def negate(be, bits, enable):
    """Two's-complement negation of ``bits`` when ``enable`` is 1 (XOR + increment)."""
    inv = [be.wire(xor_(b, enable), "neg_x") for b in bits]
    out = []
    carry = enable
    for i, bit in enumerate(inv):
        s, carry = half_adder(be, bit, carry, i + 1 < len(inv))
        out.append(s)
    return out


def mux_bits(be, sel, if_true, if_false, name="mux"):
    out = []
    for t, f in zip(if_true, if_false):
        if isinstance(sel, int):
            out.append(t if sel else f)
        elif isinstance(t, int) and isinstance(f, int):
            out.append(t if t == f else (sel if t else not_(sel)))
        elif isinstance(t, int):
            out.append(be.wire(or_(and_(sel, t), and_(not_(sel), f)), name))
        elif isinstance(f, int):
            out.append(be.wire(or_(and_(sel, t), and_(not_(sel), f)), name))
        else:
            out.append(be.wire(be.mux(sel, t, f), name))
    return out


def shift_left(be, bits, amount, width):
    """Logarithmic barrel shifter: ``bits << amount`` kept to ``width`` bits."""
    cur = list(bits) + [0] * (width - len(bits))
    cur = cur[:width]
    for k, sel in enumerate(amount):
        step = 1 << k
        shifted = [0] * min(step, width) + cur[: max(width - step, 0)]
        cur = mux_bits(be, sel, shifted, cur, "shl")
    return cur


def shift_right(be, bits, amount):
    """Logarithmic barrel shifter: ``bits >> amount`` (logical)."""
    cur = list(bits)
    n = len(cur)
    for k, sel in enumerate(amount):
        step = 1 << k
        shifted = cur[step:] + [0] * min(step, n)
        cur = mux_bits(be, sel, shifted, cur, "shr")
    return cur


def leading_one(be, bits):
    """Priority encoder: (position bits of the highest set bit, any-bit-set).

    The position is 0 when no bit is set.
    """
    n = len(bits)
    pw = max(1, (n - 1).bit_length())
    pos = const_bits(0, pw)
    found = 0
    for i in range(n):  # later (higher) bits take priority
        pos = mux_bits(be, bits[i], const_bits(i, pw), pos, "lod")
        found = be.wire(or_(found, bits[i]), "lod_any")
    return pos, found


def pp_matrix(be, a, b, signed, keep=None, width=None):
    """Partial products of ``a`` x ``b`` in a :class:`BitMatrix`.

    Unsigned: ``a_i b_j`` at column ``i + j``. Signed: the modified Baugh-Wooley
    form (NAND for the mixed sign terms, constants ``2^(n-1) + 2^(m-1) +
    2^(n+m-1)``). ``keep(i, j)`` may drop partial products (the caller owns the
    meaning: truncation, perforation, broken arrays).
    """
    n, m = len(a), len(b)
    width = width or n + m
    mat = BitMatrix(width)
    for j in range(m):
        for i in range(n):
            if keep is not None and not keep(i, j):
                continue
            bit = and_(a[i], b[j])
            if signed and ((i == n - 1) != (j == m - 1)):
                bit = not_(bit)
            if not isinstance(bit, int):
                bit = be.wire(bit, "pp")
            mat.add(i + j, bit)
    if signed:
        mat.add_const((1 << (n - 1)) + (1 << (m - 1)) + (1 << (n + m - 1)))
    return mat


def const_minus(be, value, bits):
    """``value - bits`` (little-endian, same width), assuming no underflow."""
    inv = [not_(x) for x in bits]
    return ripple_add(be, const_bits(value, len(bits)), inv, cin=1)


def or_reduce(be, bits):
    acc = 0
    for bit in bits:
        acc = or_(acc, bit)
    return be.wire(acc, "any") if not isinstance(acc, int) else acc


def zext(bits, width):
    return list(bits)[:width] + [0] * (width - len(bits))


def np_bit_length(x, width):
    """Number of significant bits of non-negative int arrays (0 for 0)."""
    x = np.asarray(x, dtype=np.int64)
    n = np.zeros_like(x)
    for i in range(width + 1):
        n += (x >> i) > 0
    return n
