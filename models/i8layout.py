"""The int8 GEMM layout of a product table's integer factors, for the int8 lowrank route.

:func:`layout` turns integer factors (:mod:`.factor`) into activation digit tables
and weight digit tables that fit int8, grouped so that one gather of packed digits
feeds every GEMM of a group; :func:`gather_groups` indexes the weight side by the
layer's weights, and :func:`_u8_group` hands narrow groups to oneDNN's u8 linear
(:mod:`.int8gemm`). The lowrank matrix product (:mod:`.lowrank`) and the int8
convolution (:mod:`.convolution`) both run on this layout.
"""

from dataclasses import dataclass

import numpy as np
import torch

from . import intfactor
from .exact import F32_EXACT
from .int8gemm import (
    _PACKED,
    _U8_MAX_N,
    _packed_width,
    _u8_linear_available,
    _u8_of,
    _u8_pack,
)

__all__ = ["layout", "gather_groups"]

# the int8 lowrank route's cost model, in units of one int8 GEMM of inner size K and N columns:
# a gather of packed digits over the M x K activations measured about 4 of them (1.2-1.4 ms
# against 0.28-0.31 ms per digit and weight block on 4096x576x64), the activation row sums of
# the centred layout about 0.8
_GATHER_COST = 4.0
_ROWSUM_COST = 0.8


@dataclass
class _I8Plan:
    """An int8 GEMM layout of ``d * target`` (``target``: the LUT, or ``a'b' + E``).

    ``groups``: ``[(Ta (2^a, p) int8, [(shift, Tb (2^b, p) int8), ...]), ...]``, up to 8 activation
    digit slots per group (p = 1, 2, 4 or 8, unused slots zero) with a weight table per shift;
    ``wconst`` (2^b,) int64 the offsets' weight-only share per weight value (None when 0)."""
    groups: list
    wconst: object
    d: int
    direct: bool
    b_mid: int

    @classmethod
    def build(cls, cols, fb, d, direct, b_mid):
        """The layout of factor columns ``cols`` (:func:`.intfactor.column_terms` of each) whose
        weight-side factors are ``fb`` (2^b, columns)."""
        slots, used = [], {}      # activation digit vectors; (slot, shift) -> b digits
        for _, terms in cols:
            for shift, da, db in terms:
                i = next((i for i, v in enumerate(slots) if np.array_equal(v, da) and (i, shift) not in used), None)
                if i is None:
                    slots.append(da)
                    i = len(slots) - 1
                used[(i, shift)] = db
        groups = []
        for g0 in range(0, len(slots), 8):
            n = min(8, len(slots) - g0)
            p = _packed_width(n)
            ta = np.zeros((len(slots[0]), p), dtype=np.int8)
            ta[:, :n] = np.stack(slots[g0:g0 + n], 1)
            levels = {}
            for (i, shift), db in used.items():
                if g0 <= i < g0 + n:
                    levels.setdefault(shift, np.zeros((len(db), p), dtype=np.int8))[:, i - g0] = db
            groups.append((torch.from_numpy(ta), [(sh, torch.from_numpy(tb)) for sh, tb in sorted(levels.items())]))
        offsets = np.array([c for c, _ in cols], dtype=np.int64)
        wconst = torch.from_numpy(np.asarray(fb, dtype=np.int64) @ offsets) if offsets.any() else None
        return cls(groups, wconst, int(d), direct, b_mid)

    def cost(self):
        """Estimated time in int8 GEMMs of inner size K (see :data:`_GATHER_COST`); ties keep the
        centred layout, which comes first."""
        gemm = sum(_GATHER_COST + ta.shape[1] * len(levels) for ta, levels in self.groups)
        return gemm + (_ROWSUM_COST if self.b_mid and not self.direct else 0.0)


def layout(table):
    """The int8 GEMM layout (:class:`_I8Plan`) of ``table`` (a :class:`~.lutmm.ProductTable`),
    computed once per table, or None without integer factors.

    Two factorizations are laid out and the cheaper kept (:meth:`_I8Plan.cost`):

    * ``centred``: the centred exact product plus E's factors (``table.skeleton()``),
      ``d*(a'b' + E)``, with ``b_mid * sum_k a'`` and the ``a_mid`` terms added after;
    * ``direct``: the whole LUT's factors (``table.lut_factors()``), ``d*LUT``, nothing after.
      A product of rounded operands, DRUM's ``LUT = D(a) D(b)``, is one term of rank 1 where
      ``a'b' + E`` has rank 3: unsigned DRUM k=4 gathers 1 digit per activation instead of 4.

    Each factor column becomes a few terms (:func:`.intfactor.column_terms`): an offset ``c_j``
    that centres ``Fa_j`` (added back as ``c_j * sum_k Fb_j(w)``, a weight-only constant) and
    digit pairs ``2^shift * Da(a) Db(b)`` that fit int8, all at shift 0 when one side splits into
    digits whose partners still fit, else at powers of 256. Terms with the same activation
    digits share one slot, so a gather serves every shift: the GEMM gets one weight block per
    shift side by side instead. In the centred layout the exact product comes first, as the
    column pair ``(a', d*b')``, so that ``d*(a'b' + E)`` comes out of the same GEMMs. (A GEMM of
    its own measured dearer even where the fold needs a wider entry.)"""
    return table.cached("i8", lambda: _build(table))


def _build(table):
    a = np.arange(table.a_min, table.a_max + 1) - table.a_mid
    b = np.arange(table.b_min, table.b_max + 1) - table.b_mid
    plans = []
    skel = table.skeleton()
    if skel is not None:
        fa, fb, d, _ = skel
        cols = [intfactor.column_terms(a, d * b, offset=False)]
        cols += [intfactor.column_terms(fa[:, j], fb[:, j]) for j in range(fa.shape[1])]
        plans.append(_I8Plan.build(cols, np.concatenate([d * b[:, None], fb], 1), d, False, table.b_mid))
    lut = table.lut_factors()
    if lut is not None:
        fa, fb, d, _ = lut
        cols = [intfactor.column_terms(fa[:, j], fb[:, j]) for j in range(fa.shape[1])]
        plans.append(_I8Plan.build(cols, fb, d, True, table.b_mid))
    return min(plans, key=_I8Plan.cost) if plans else None


def gather_groups(table, wi):
    """The int8 terms of :func:`layout` as gather groups for weight indices ``wi`` (``w - b_min``,
    any shape S): ``[(packed, p, shifts, wt)]`` with ``packed`` (2^a,) the activation digits of each
    value packed into one 1/2/4/8-byte entry, and ``wt`` (S..., L, p) int8 the matching weight digits
    for each of the L ``shifts``; and the offsets' share (S...) int64, ``sum_j c_j Fb_j(w)`` (None
    when every offset is 0), to be summed over the reduction."""
    plan = layout(table)
    wconst = None if plan.wconst is None else plan.wconst[wi]
    out = []
    for ta, levels in plan.groups:
        p = ta.shape[1]
        tb = torch.stack([t for _, t in levels], 1)          # (2^b, L, p)
        out.append((ta.contiguous().view(_PACKED[p]).reshape(-1), p, [sh for sh, _ in levels], tb[wi]))
    return out, wconst


def _u8_group(packed, ta, levels, w, k_terms):
    """A gather group's ``(packed digits, weights)`` for :func:`.int8gemm._u8_linear` where its output
    is narrow (``w`` (K, n) with n <= ``_U8_MAX_N``) and ``k_terms`` products of its largest digit sum
    stay below 2^24 (exact float32 sums), else ``(packed, w)`` as given (``ta``, ``levels``: the group
    in :class:`_I8Plan` form)."""
    if w.shape[1] > _U8_MAX_N:
        return packed, w
    peak = max(int((ta.long() @ tb.long().T).abs().max()) for _, tb in levels)
    if k_terms * peak >= F32_EXACT or not _u8_linear_available():
        return packed, w
    return _u8_of(ta).contiguous().view(_PACKED[ta.shape[1]]).reshape(-1), _u8_pack(w)
