"""Integer matrix products where every product comes from a multiplier's RTL LUT.

``ProductTable(spec).matmul(xq, wq, path)`` returns the accumulators the
systolic array produces for ``xq @ wq`` (activations are operand ``a``,
weights operand ``b``), as int64. Three paths compute the same numbers:

``lut``
    Every product gathered from a per-layer weight table summed with
    ``embedding_bag`` (:mod:`.gather`).
``lowrank``
    The AutoApprox decomposition ``LUT(a, b) = a*b + E(a, b)`` (:mod:`.lowrank`):
    one exact GEMM plus one GEMM of inner size K*r on factors of E. Exact integer
    factors ``E = Fa Fb^T / d`` (an LLL-reduced lattice basis or a skeleton
    decomposition, :mod:`.factor`) give the LUT's sums bit for bit, as float GEMMs
    or, where the CPU has fast int8 GEMMs (:mod:`.int8gemm`), as int8 GEMMs of
    their digits (:mod:`.i8layout`). A truncated rank, or an E without integer
    factors, uses float64 SVD factors and reports the bound on the deviation.
``exact``
    The exact product (the exact multiplier, and the speed baseline), as float
    GEMMs that are exact by construction (:mod:`.exact`) or as int8 GEMMs.

``auto`` runs the fastest exact path for the product's shape class on this machine,
timed on first use (:mod:`.autopath`): ``exact`` for an exact LUT, else ``lowrank``
(where E has integer factors) or ``lut``. With ``AXFORGE_AUTO=static``, or a truncated
rank, it is ``exact`` for an exact LUT, ``lowrank`` up to E's rank :data:`AUTO_MAX_RANK`,
``lut`` above (:meth:`ProductTable.resolve`). Convolutions on the ``exact`` and ``lowrank``
paths run without unfolding their input (:mod:`.convolution`). :class:`ProductTable`
holds the table and what it derives from it, and hands each product to the
module of its path.
"""

import numpy as np
import torch

from axforge.errors import AxforgeError, bad_value
from axforge.paths import sha256_bytes

from . import autopath, convolution, factor, gather, i8layout, lowrank
from .exact import _maxabs, exact_matmul
from .int8gemm import _i8_exact, gemm_route
from .quant import operand_range

__all__ = ["ProductTable", "PATHS", "AUTO_MAX_RANK", "table_for"]

PATHS = ("auto", "lut", "lowrank", "exact")
AUTO_MAX_RANK = 8          # the fixed rule of auto (AXFORGE_AUTO=static): lowrank up to this exact rank, lut above
_AUTO_PROBE_ROWS = 1024    # rows of the probe slice on which auto times a matrix product's candidates


def _wrap(y, width, signed):
    """``y`` modulo ``2**width``, as a signed or unsigned accumulator of that width."""
    y = torch.remainder(y, 1 << width)
    return torch.where(y >= 1 << (width - 1), y - (1 << width), y) if signed else y


class ProductTable:
    """The products of one multiplier as a (2^a, 2^b) table indexed by operand value.

    Parameters
    ----------
    spec : MultSpec or None
        The multiplier; its LUT comes from its RTL (:func:`axforge.sim.lut.extract_lut`).
        ``None`` means exact products of the given widths (no LUT needed).
    a_width, b_width, signed : used when ``spec`` is None.
    lut : ndarray, optional
        A LUT in :func:`extract_lut`'s layout, instead of extracting one.

    Attributes
    ----------
    a_min, a_max, b_min, b_max : int
        The operand ranges.
    a_mid, b_mid : int
        The centres subtracted from unsigned operands (0 for signed ones).
    is_exact : bool
        Whether every product is exact (E = 0).

    Raises
    ------
    AxforgeError
        If ``a_width + b_width`` exceeds 20 with a LUT.
    """

    def __init__(self, spec=None, a_width=8, b_width=8, signed=False, lut=None):
        self.spec = spec
        if spec is not None:
            a_width, b_width, signed = spec.a_width, spec.b_width, spec.signed
        self.a_width, self.b_width, self.signed = a_width, b_width, signed
        self.a_min, self.a_max = operand_range(a_width, signed)
        self.b_min, self.b_max = operand_range(b_width, signed)
        self.a_mid = 0 if signed else 1 << (a_width - 1)
        self.b_mid = 0 if signed else 1 << (b_width - 1)
        self._table = None
        self._cache = {}
        if spec is None and lut is None:
            self.is_exact = True
            return
        if a_width + b_width > 20:
            raise bad_value("LUT operand widths a_width + b_width", a_width + b_width,
                            "at most 20 for LUT emulation (use path 'exact')")
        if lut is None:
            from axforge.sim.lut import extract_lut
            lut = extract_lut(spec)
        a = np.arange(self.a_min, self.a_max + 1) % (1 << a_width)
        b = np.arange(self.b_min, self.b_max + 1) % (1 << b_width)
        table = np.asarray(lut, dtype=np.int64)[(a[:, None] << b_width) | b[None, :]]
        exact = np.outer(np.arange(self.a_min, self.a_max + 1), np.arange(self.b_min, self.b_max + 1))
        self._table = torch.from_numpy(table)
        self._err = table - exact
        self.is_exact = not self._err.any()

    # -- the table ------------------------------------------------------------

    @property
    def table(self):
        """(2^a, 2^b) int64 tensor of products, row = a - a_min, column = b - b_min."""
        if self._table is None:
            a = torch.arange(self.a_min, self.a_max + 1)
            b = torch.arange(self.b_min, self.b_max + 1)
            self._table = a[:, None] * b[None, :]
        return self._table

    @property
    def error(self):
        """E = LUT - a*b as an int64 numpy array."""
        if self._table is None:
            return np.zeros((self.a_max - self.a_min + 1, self.b_max - self.b_min + 1), dtype=np.int64)
        return self._err

    def cached(self, key, make):
        """``make()``, computed on the first call with ``key`` and kept with the table (the
        factorisations and layouts the path modules derive from it)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # -- its factorisations (:mod:`.factor`) ------------------------------------

    def _svd(self):
        return self.cached("svd", lambda: factor.error_svd(self.error))

    def exact_rank(self):
        """The numerical rank of E (from its SVD)."""
        return self._svd()[3]

    def factors(self, rank=None):
        """(fa (2^a, r), fb (2^b, r), per-product max reconstruction error, exact rank) in float64:
        E's SVD factors of rank ``rank`` (None: E's rank)."""
        r0 = self._svd()[3]
        r = r0 if rank is None else min(int(rank), r0)
        fa, fb, err = self.cached(("f", r), lambda: factor.svd_factors(self._svd(), self.error, r))
        return fa, fb, err, r0

    def _integer_factors(self):
        return self.cached("skel", lambda: factor.integer_factors(self.error, self.exact_rank()))

    def skeleton(self):
        """Integer factors of E: ``E = (Fa @ Fb.T) / d`` with int64 ``Fa`` (2^a, r), ``Fb`` (2^b, r),
        as ``(Fa, Fb, d, peak)``, ``peak`` the largest ``|Fa| @ |Fb|^T`` entry.

        The LLL-reduced lattice basis of E's columns (short entries, ``d = 1``) or the skeleton
        (CUR) decomposition with a common denominator, whichever needs fewer int8 terms (see
        :mod:`.intfactor`); both checked exactly. Integer factors keep float32 and int8 GEMMs and float
        convolutions exact. ``None`` when E's rank exceeds :data:`.factor.SKELETON_MAX_RANK` or no
        factorization passes its check; :meth:`factor_method` says which one is used.
        """
        return self._integer_factors()[0]

    def factor_method(self):
        """``lattice`` or ``skeleton``: the integer factorization :meth:`skeleton` found (None: none)."""
        return self._integer_factors()[1]

    def lut_factors(self):
        """Integer factors of the whole LUT, ``LUT = Fa Fb^T / d``, as :meth:`skeleton` gives E's
        (None above :data:`.factor.SKELETON_MAX_RANK` or when no factorization checks out)."""
        return self.cached("lut_factors", lambda: factor.lut_integer_factors(self.table.numpy()))

    # -- the products -----------------------------------------------------------

    def resolve(self, path):
        """``path``, or for ``auto`` its fixed rule (``AXFORGE_AUTO=static``, and the answer before a
        shape is known): exact for an exact LUT, lowrank up to rank 8, else lut."""
        if path not in PATHS:
            raise bad_value("Emulation path", path, "one of " + ", ".join(PATHS))
        if path != "auto":
            return path
        if self.is_exact:
            return "exact"
        return "lowrank" if self.exact_rank() <= AUTO_MAX_RANK else "lut"

    def identity(self):
        """A name of these products for :mod:`.autopath`'s shape classes: the multiplier's spec, the
        exact widths, or the SHA-256 of a LUT given as an array."""
        if self.spec is not None:
            return str(self.spec)
        if self._table is None:
            return f"exact:{self.a_width}x{self.b_width}{'s' if self.signed else 'u'}"
        return self.cached("sha", lambda: "lut:" + sha256_bytes(self._table.numpy().tobytes())[:16])

    def auto_candidates(self, rank=None):
        """The exact paths ``auto`` chooses among: ``exact`` alone for an exact LUT; else ``lowrank``
        where E has integer factors (first: it wins a tie) and ``lut``. A truncated ``rank`` (not an
        exact path) leaves the fixed rule alone."""
        if self.is_exact:
            return ["exact"]
        if rank is not None and int(rank) < self.exact_rank():
            return [self.resolve("auto")]
        return (["lowrank"] if self.skeleton() is not None else []) + ["lut"]

    def _auto(self, xq, wq, rank, wcache):
        """``(path, weight cache)`` of ``auto`` for ``xq @ wq``: :func:`.autopath.choose` over
        :meth:`auto_candidates`, timed on the first :data:`_AUTO_PROBE_ROWS` rows; each candidate
        keeps its weight tables in its own part of ``wcache``, and the losers' are dropped."""
        cache = wcache if wcache is not None else {}
        cands = self.auto_candidates(rank)
        M, K = xq.shape
        key = ("matmul", self.identity(), autopath.bucket(M), K, wq.shape[1])
        probe = xq[:_AUTO_PROBE_ROWS]

        def run(p):
            return self.matmul(probe, wq, p, rank=rank, wcache=cache.setdefault(("auto", p), {}))
        path = autopath.choose(key, cands, run, self.resolve("auto"), self.route())
        for p in cands:
            if p != path:
                cache.pop(("auto", p), None)
        cache["auto_path"] = path
        return path, cache.setdefault(("auto", path), {})

    def check_operands(self, xq, wq):
        """Raise :class:`AxforgeError` unless the operands lie in the multiplier's ranges."""
        for name, t, lo, hi in (("activations", xq, self.a_min, self.a_max), ("weights", wq, self.b_min, self.b_max)):
            if t.numel() and (int(t.min()) < lo or int(t.max()) > hi):
                raise AxforgeError(f"Quantised {name} must lie in [{lo}, {hi}], not [{int(t.min())}, {int(t.max())}]")

    def wraps(self, k_dim, acc_width, tile_rows):
        """Whether a tile's sum can leave the accumulator (then each tile wraps separately)."""
        if not acc_width:
            return False
        peak = int(self.table.abs().max()) * min(k_dim, tile_rows or k_dim)
        return peak >= (1 << (acc_width - 1) if self.signed else 1 << acc_width)

    def route(self):
        """The GEMM route of this table's exact and lowrank products (:func:`.int8gemm.gemm_route`:
        ``int8``, ``u8x7`` or ``float``, probed on the first call); ``float`` where the centred
        operands (``a - a_mid``, ``b - b_mid``) do not fit int8."""
        if self.a_width > 8 or self.b_width > 8:
            return "float"
        return gemm_route()

    def int8_ok(self):
        """Whether the lowrank products run as int8 GEMMs of integer factor digits (:meth:`route`
        ``int8`` or ``u8x7``). The ``exact`` path uses int8 GEMMs on the ``int8`` route only (on
        ``u8x7`` its 8-bit weights would need two digits each, and the float GEMM is exact)."""
        return self.route() != "float"

    def matmul(self, xq, wq, path="auto", acc_width=0, tile_rows=0, rank=None, wcache=None):
        """Accumulators of ``xq (M, K) @ wq (K, N)`` (int64 tensors of operand values).

        ``acc_width``/``tile_rows`` reproduce the array's accumulator: the K
        dimension is cut into tiles of ``tile_rows`` and each tile's sum wraps
        modulo ``2**acc_width`` before the host adds the tiles (0: no wrap).
        ``wcache`` (a dict) keeps the weight-side tables between calls with the same weights (and,
        for ``auto``, the path chosen, as ``wcache["auto_path"]``).
        """
        if path == "auto" and not self.wraps(xq.shape[1], acc_width, tile_rows):
            path, wcache = self._auto(xq, wq, rank, wcache)
        path = self.resolve(path)
        if path in ("lut", "lowrank") and self._table is None and self.spec is None:
            path = "exact"   # an exact table has nothing to look up
        K = xq.shape[1]
        if self.wraps(K, acc_width, tile_rows):
            y = torch.zeros(xq.shape[0], wq.shape[1], dtype=torch.int64)
            for k0 in range(0, K, tile_rows):
                part = self.matmul(xq[:, k0:k0 + tile_rows], wq[k0:k0 + tile_rows], path, rank=rank)
                y += _wrap(part, acc_width, self.signed)
            return y
        if path == "exact":
            if self.route() == "int8":
                return _i8_exact(xq, wq, self.a_mid, self.b_mid)
            peak = _maxabs(self.a_min, self.a_max, self.a_mid) * _maxabs(self.b_min, self.b_max, self.b_mid)
            return exact_matmul(xq, wq, self.a_mid, self.b_mid, peak)
        if path == "lut":
            return gather.lut_matmul(self, xq, wq, wcache)
        return self._lowrank_matmul(xq, wq, rank, wcache)[0]

    def lowrank_info(self, k_dim, rank=None):
        """Rank, method, precision and error bound the lowrank path uses for inner size ``k_dim``
        (:func:`.lowrank.lowrank_info`)."""
        return lowrank.lowrank_info(self, k_dim, rank)

    def _lowrank_matmul(self, xq, wq, rank=None, wcache=None):
        """``(accumulators, LowRankInfo)`` of the lowrank path (:func:`.lowrank.lowrank_matmul`)."""
        return lowrank.lowrank_matmul(self, xq, wq, rank, wcache)

    def _i8_terms(self, route="int8"):
        """The int8 GEMM layout of the lowrank path for the digit route ``route`` (``int8``, ``u8x7``;
        None: this machine's), or None without integer factors (:func:`.i8layout.layout`)."""
        return i8layout.layout(self, route)

    def i8_direct(self):
        """Whether the int8 lowrank route sums the whole LUT's factors (no centring terms after)."""
        plan = i8layout.layout(self)
        return plan is not None and plan.direct

    # -- convolutions (:mod:`.convolution`) ---------------------------------------

    def conv2d_parts(self, codes, wq, stride, dilation, groups, path, wcache=None, padding=(0, 0), pad_code=0,
                     i8=True):
        """A convolution's accumulators as ``(core, box, const)``, ``acc = core + b_mid * box + const``
        (:func:`.convolution.conv2d_parts`; ``i8`` False: float convolutions only)."""
        return convolution.conv2d_parts(self, codes, wq, stride, dilation, groups, path, wcache, padding, pad_code,
                                        i8)

    def conv2d_chunks(self, codes_of, shape, wq, stride, dilation, cache, padding=(0, 0), pad_code=0, unfold=None):
        """The int8-GEMM convolution in batch chunks, ``(b0, b1, core, box)`` each
        (:func:`.convolution.conv2d_chunks`; ``unfold`` True/False picks its route)."""
        return convolution.conv2d_chunks(self, codes_of, shape, wq, stride, dilation, cache, padding, pad_code,
                                         unfold)

    def conv_const(self, wq, cache):
        """The accumulators' weight-only part per output channel (:func:`.convolution.conv_const`)."""
        return convolution.conv_const(self, wq, cache)

    def conv_i8_ok(self, path, groups):
        """Whether a convolution on ``path`` runs on int8 GEMMs (:func:`.convolution.conv_i8_ok`)."""
        return convolution.conv_i8_ok(self, path, groups)

    def conv_centred(self, path, groups, i8=True):
        """Whether a convolution's accumulators are ``core + b_mid * box + const``, else ``core``
        (:func:`.convolution.conv_centred`)."""
        return convolution.conv_centred(self, path, groups, i8)

    def conv_ok(self, path):
        """Whether :meth:`conv2d_parts` can serve ``path`` (else the layer unfolds to matrix products)."""
        return convolution.conv_ok(self, path)


_TABLES = {}


def table_for(spec, a_width=8, b_width=8, signed=False):
    """A cached :class:`ProductTable` (None = exact products of the given widths)."""
    key = str(spec) if spec is not None else ("exact", a_width, b_width, signed)
    if key not in _TABLES:
        _TABLES[key] = ProductTable(spec, a_width, b_width, signed)
    return _TABLES[key]
