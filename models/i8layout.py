"""The int8 GEMM layout of a product table's integer factors, for the int8 GEMM routes of lowrank.

:func:`layout` turns integer factors (:mod:`.factor`) into activation digit tables
and weight digit tables that fit int8 (on the ``u8x7`` route, :mod:`.int8gemm`, weight
digits in [-64, 64]), grouped so that one gather of packed digits feeds every GEMM of a
group; :func:`gather_groups` indexes the weight side by the layer's weights, and
:func:`_u8_group` hands narrow groups to oneDNN's u8 linear on the ``int8`` route, or
every group on the ``u8x7`` route. The lowrank matrix product (:mod:`.lowrank`) and the
int8 convolution (:mod:`.convolution`) both run on this layout.
"""

from dataclasses import dataclass

import numpy as np
import torch

from . import intfactor
from .exact import F32_EXACT
from .int8gemm import (
    _PACKED,
    _U8_MAX_N,
    W7_MAX,
    U8Weights,
    _packed_width,
    _u8_linear_available,
    _u8_of,
    _u8_pack,
    gemm_route,
)

__all__ = ["layout", "gather_groups", "digit_route", "B_RANGE"]

# the weight digits' range per GEMM route of the digits
B_RANGE = {"int8": (-128, 127), "u8x7": (-W7_MAX, W7_MAX)}

# the int8 lowrank route's cost model, in units of one int8 GEMM of inner size K and N columns:
# a gather of packed digits over the M x K activations measured about 4 of them (1.2-1.4 ms
# against 0.28-0.31 ms per digit and weight block on 4096x576x64), the activation row sums of
# the centred layout about 0.8 (on the VNNI machine). On the u8x7 route (AMD EPYC, AVX2, one
# thread, 4096x576x64) a u8 GEMM of inner size K took 0.44x the float32 GEMM, a gather of 8
# packed digits 0.42x (about 1 unit), the row sums 0.15x (0.35 units) and the sums of an
# activation-only table (``embedding_bag``) 0.52x (1.2 units)
_GATHER_COST = {"int8": 4.0, "u8x7": 1.0}
_ROWSUM_COST = {"int8": 0.8, "u8x7": 0.35}
_ACT_COST = 1.2


@dataclass
class _I8Plan:
    """An int8 GEMM layout of ``d * target`` (``target``: the LUT, or ``a'b' + E``).

    ``groups``: ``[(Ta (2^a, p) int8, [(shift, Tb (2^b, p) int8), ...]), ...]``, up to 8 activation
    digit slots per group (p = 1, 2, 4 or 8, unused slots zero) with a weight table per shift;
    ``wconst`` (2^b,) int64 the offsets' weight-only share per weight value (None when 0);
    ``act`` (2^a,) int64 the activation-only share per activation value, summed over the reduction
    without a GEMM (the ``u8x7`` route's terms of constant weight digit; None when there are none);
    both before the division by ``d``."""
    groups: list
    wconst: object
    d: int
    direct: bool
    b_mid: int
    act: object = None
    route: str = "int8"
    act_terms: tuple = ()       # the terms of act: (coefficient, activation digits (2^a,) int64)

    @classmethod
    def build(cls, cols, fb, d, direct, b_mid, route="int8"):
        """The layout of factor columns ``cols`` (:func:`.intfactor.column_terms` of each) whose
        weight-side factors are ``fb`` (2^b, columns), for the digit route ``route``: on ``u8x7``
        a term whose weight digit is the same for every weight, ``2^shift * c * Da(a)``, goes to
        ``act`` instead of a slot."""
        slots, used = [], {}      # activation digit vectors; (slot, shift) -> b digits
        act, consts = None, []
        for _, terms in cols:
            for shift, da, db in terms:
                if route == "u8x7" and intfactor.constant(db):
                    act = (0 if act is None else act) + (int(db[0]) << shift) * np.asarray(da, dtype=np.int64)
                    consts.append((int(db[0]) << shift, da))
                    continue
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
        act = None if act is None or not act.any() else torch.from_numpy(act)
        consts = () if act is None else tuple((c, torch.from_numpy(np.asarray(da, dtype=np.int64)))
                                              for c, da in consts)
        return cls(groups, wconst, int(d), direct, b_mid, act, route, consts)

    def cost(self):
        """Estimated time in int8 GEMMs of inner size K (see :data:`_GATHER_COST`); ties keep the
        centred layout, which comes first."""
        gemm = sum(_GATHER_COST[self.route] + ta.shape[1] * len(levels) for ta, levels in self.groups)
        rows = _ROWSUM_COST[self.route] if self.b_mid and not self.direct else 0.0
        if self.act is not None:   # the row sums then ride along with the activation-only table (d = 1)
            rows = _ACT_COST if self.d == 1 else rows + _ACT_COST
        return gemm + rows


def digit_route():
    """The route the digits are laid out for here: ``u8x7`` where that GEMM route is on, else ``int8``
    (:func:`.int8gemm.gemm_route`)."""
    return "u8x7" if gemm_route() == "u8x7" else "int8"


def layout(table, route=None):
    """The int8 GEMM layout (:class:`_I8Plan`) of ``table`` (a :class:`~.lutmm.ProductTable`) for the
    digit route ``route`` (``int8`` or ``u8x7``; None: :func:`digit_route`), computed once per table
    and route, or None without integer factors. On ``u8x7`` every weight digit lies in [-64, 64]
    (:data:`B_RANGE`).

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
    route = route or digit_route()
    key = "i8" if route == "int8" else ("i8", route)
    return table.cached(key, lambda: _build(table, route))


def _build(table, route="int8"):
    b_range = B_RANGE[route]
    a = np.arange(table.a_min, table.a_max + 1) - table.a_mid
    b = np.arange(table.b_min, table.b_max + 1) - table.b_mid
    plans = []
    skel = table.skeleton()
    if skel is not None:
        fa, fb, d, _ = skel
        cols = [intfactor.column_terms(a, d * b, offset=False, b_range=b_range)]
        cols += [intfactor.column_terms(fa[:, j], fb[:, j], b_range=b_range) for j in range(fa.shape[1])]
        plans.append(_I8Plan.build(cols, np.concatenate([d * b[:, None], fb], 1), d, False, table.b_mid, route))
    lut = table.lut_factors()
    if lut is not None:
        fa, fb, d, _ = lut
        cols = [intfactor.column_terms(fa[:, j], fb[:, j], b_range=b_range) for j in range(fa.shape[1])]
        plans.append(_I8Plan.build(cols, fb, d, True, table.b_mid, route))
    return min(plans, key=_I8Plan.cost) if plans else None


def act_columns(plan, terms=(), const=0):
    """Integer weights that give ``plan.act + sum_j q_j D_j + const`` (``terms``: ``(q_j, D_j)`` with
    ``D_j`` (2^a,) int64) as one more GEMM column: ``([c_g (p_g,) int8 per group], c0)`` with
    ``sum_g Ta_g @ c_g + c0`` equal to it exactly and every ``c`` in [-64, 64] (the u8x7 bound), or
    None where it is not such a combination of the slots.

    A term whose digits are a slot's own goes on the slots with those digits, split evenly (BAM's
    ``48 fa``; ``b_mid a' = 64 a' + 64 a'`` on the exact product's two parts); the rest comes from a
    least-squares solution, rounded and checked (trunc k=6's constant-weight column is
    ``-D2 - D3 - D4 - 2 D5 + 2 D6 + 2 D7 + 64``). Summed by the GEMM as one more output column, that
    replaces a table gather and a row sum (0.65x and 0.16x the float32 GEMM against about 0.05x, two
    threads of the AMD EPYC, 4096x576x64)."""
    if not plan.groups:
        return None
    ta = torch.cat([g[0] for g in plan.groups], 1).long()
    coefs = torch.zeros(ta.shape[1], dtype=torch.int64)
    c0, rest, want = int(const), torch.zeros(ta.shape[0], dtype=torch.int64), torch.full((ta.shape[0],), int(const))
    for q, da in tuple(plan.act_terms) + tuple(terms):
        want += q * da
        same = [i for i in range(ta.shape[1]) if torch.equal(ta[:, i], da)]
        if not same:
            rest += q * da
            continue
        for j, i in enumerate(same):     # q in len(same) near-equal parts
            coefs[i] += (q + j) // len(same)
    if rest.any():
        A = np.concatenate([ta.numpy().astype(np.float64), np.ones((ta.shape[0], 1))], 1)
        sol = np.rint(np.linalg.lstsq(A, rest.numpy().astype(np.float64), rcond=None)[0]).astype(np.int64)
        coefs += torch.from_numpy(sol[:-1])
        c0 += int(sol[-1])
    if int(coefs.abs().max()) > W7_MAX or not torch.equal(ta @ coefs + c0, want):
        return None
    out, i = [], 0
    for g, _ in plan.groups:
        out.append(coefs[i:i + g.shape[1]].to(torch.int8))
        i += g.shape[1]
    return out, c0


def group_peak(ta, levels):
    """The largest magnitude one k-term of a gather group adds to an output: ``max |Ta Tb^T|`` over
    its weight tables (``ta``, ``levels`` in :class:`_I8Plan` form)."""
    return max(int((ta.long() @ tb.long().T).abs().max()) for _, tb in levels)


def gather_groups(table, wi, route=None):
    """The int8 terms of :func:`layout` as gather groups for weight indices ``wi`` (``w - b_min``,
    any shape S): ``[(packed, p, shifts, wt)]`` with ``packed`` (2^a,) the activation digits of each
    value packed into one 1/2/4/8-byte entry, and ``wt`` (S..., L, p) int8 the matching weight digits
    for each of the L ``shifts``; and the offsets' share (S...) int64, ``sum_j c_j Fb_j(w)`` (None
    when every offset is 0), to be summed over the reduction; for the digit route ``route`` (None:
    :func:`digit_route`)."""
    plan = layout(table, route)
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
    peak = group_peak(ta, levels)
    if k_terms * peak >= F32_EXACT or not _u8_linear_available():
        return packed, w
    return _u8_of(ta).contiguous().view(_PACKED[ta.shape[1]]).reshape(-1), _u8_pack(w)


def _u8x7_group(ta, levels, w, col=None):
    """A gather group's ``(packed uint8 digits, U8Weights)`` on the ``u8x7`` route: the activation
    digits as uint8 codes of zero point 128, one per 1/2/4/8-byte entry, and the weights ``w``
    (K * p, L * N), all in [-64, 64], packed in chunks whose float32 sums stay exact
    (:class:`.int8gemm.U8Weights`); ``col`` (p,) int8 (the group's part of :func:`act_columns`)
    becomes one more output column, the same weights for every k."""
    p = ta.shape[1]
    peak = group_peak(ta, levels)
    if col is not None:
        w = torch.cat([w, col.repeat(w.shape[0] // p)[:, None]], 1)
        peak = max(peak, int((ta.long() @ col.long()).abs().max()))
    return _u8_of(ta).contiguous().view(_PACKED[p]).reshape(-1), U8Weights(w, p, peak)
