"""Integer matrix products where every product comes from a multiplier's RTL LUT.

``ProductTable(spec).matmul(xq, wq, path)`` returns the accumulators the
systolic array produces for ``xq @ wq`` (activations are operand ``a``,
weights operand ``b``), as int64. Three paths compute the same numbers:

``lut``
    A per-layer weight table ``T_w[k, a, n] = LUT[a, w[k, n]]`` (centred for unsigned
    operands) summed with ``embedding_bag``: one table row per (k, activation value), so
    a layer is M*K contiguous row additions instead of M*K*N scattered 2-D lookups.
``lowrank``
    The AutoApprox decomposition ``LUT(a, b) = a*b + E(a, b)`` with a
    truncated SVD of ``E``: one exact GEMM plus one GEMM of inner size K*r.
    Exact when r is E's numerical rank (the float error bound is computed and
    the precision raised to float64 when float32 cannot guarantee it);
    otherwise the bound on the deviation is reported.
``exact``
    The exact product (the exact multiplier, and the speed baseline).

All float arithmetic is arranged so that results are provably exact
integers: exact GEMMs use centred operands and K-chunks whose partial sums
stay below 2^24 (float32) or 2^53 (float64).
"""

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from axforge.errors import AxforgeError, bad_value

from . import intfactor
from .quant import operand_range

__all__ = ["ProductTable", "PATHS", "LowRankInfo", "table_for"]

PATHS = ("auto", "lut", "lowrank", "exact")
_F32_EXACT = 1 << 24
_F64_EXACT = 1 << 53
_EPS32 = 2.0 ** -24
_EPS64 = 2.0 ** -53
AUTO_MAX_RANK = 8          # auto picks lowrank up to this exact rank, lut above
_TABLE_BYTES = 256 << 20   # weight tables larger than this are built per block of columns


def _int8_gemm_available():
    """Whether int8 GEMMs (``torch._int_mm``: int8 x int8 -> int32, exact) beat float32 here.

    On CPUs with int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI, AMX) oneDNN's
    int8 GEMM measured 2.3x faster than the float32 one on this machine's 4096x576x64;
    elsewhere it may be slower, so the float paths stay. ``AXFORGE_INT8_GEMM=0/1`` overrides.
    """
    forced = os.environ.get("AXFORGE_INT8_GEMM")
    if forced in ("0", "1"):
        return forced == "1"
    if not hasattr(torch, "_int_mm"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return any(f in flags for f in ("avx512_vnni", "avx_vnni", "amx_int8"))


INT8_GEMM = _int8_gemm_available()
_I32_MAX = (1 << 31) - 1
_U8_MAX_N = 64       # widest GEMM output oneDNN's u8 x s8 linear is used for (see _u8_linear)
_U8_GEMM = None


def _u8_linear_available():
    """Whether oneDNN's quantised linear (``onednn::qlinear_pointwise``: uint8 activations with a
    zero point of 128 times int8 weights, float32 out) runs here and gives ``torch._int_mm``'s sums.

    It is a PyTorch-internal operator, so it is probed once on small operands (including sums
    whose uncompensated form exceeds float32's exact range) and the int8 GEMM stays the fallback.
    On a 4096 x (576 * 8) x 64 product it measured 0.72-0.79x ``_int_mm``'s time (VNNI reads uint8
    activations natively), on outputs wider than 64 columns 1.1-1.35x, so it serves narrow
    outputs only. ``AXFORGE_U8_GEMM=0`` turns it off."""
    global _U8_GEMM
    if _U8_GEMM is None:
        _U8_GEMM = False
        if os.environ.get("AXFORGE_U8_GEMM") != "0":
            try:
                g = torch.Generator().manual_seed(1)
                a = torch.randint(-128, 128, (37, 1024), generator=g, dtype=torch.int8)
                a[0] = 127
                b = torch.randint(-128, 128, (1024, 24), generator=g, dtype=torch.int8)
                b[:, 0] = 127
                _U8_GEMM = torch.equal(_u8_linear(_u8_of(a), _u8_pack(b)).to(torch.int64),
                                       torch._int_mm(a, b).to(torch.int64))
            except Exception:   # noqa: BLE001 - any failure means: not here
                _U8_GEMM = False
    return _U8_GEMM


def _u8_group(packed, ta, levels, w, k_terms):
    """A gather group's ``(packed digits, weights)`` for :func:`_u8_linear` where its output is narrow
    (``w`` (K, n) with n <= ``_U8_MAX_N``) and ``k_terms`` products of its largest digit sum stay
    below 2^24 (exact float32 sums), else ``(packed, w)`` as given (``ta``, ``levels``: the group
    in :class:`_I8Plan` form)."""
    if w.shape[1] > _U8_MAX_N:
        return packed, w
    peak = max(int((ta.long() @ tb.long().T).abs().max()) for _, tb in levels)
    if k_terms * peak >= _F32_EXACT or not _u8_linear_available():
        return packed, w
    return _u8_of(ta).contiguous().view(_PACKED[ta.shape[1]]).reshape(-1), _u8_pack(w)


def _u8_of(t):
    """int8 values as the uint8 codes of zero point 128 (the top bit flipped)."""
    return t.view(torch.uint8).bitwise_xor(128)


def _u8_pack(w):
    """int8 weights (K, N) prepacked for :func:`_u8_linear`."""
    n = w.shape[1]
    return (torch.ops.onednn.qlinear_prepack(w.t().contiguous(), None), torch.ones(n),
            torch.zeros(n, dtype=torch.int64))


def _u8_linear(x, packed):
    """``(x - 128) @ w`` for uint8 ``x`` (M, K) and :func:`_u8_pack`'s ``w``: int32 sums, returned as
    float32 (exact while they stay below 2^24 in magnitude)."""
    pw, ws, wz = packed
    return torch.ops.onednn.qlinear_pointwise(x, 1.0, 128, pw, ws, wz, None, 1.0, 0, torch.float32, "none", [], "")


_PACKED = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}   # p int8 digits in one entry


def _gamma(n, eps):
    return n * eps / (1 - n * eps)


@dataclass(frozen=True)
class LowRankInfo:
    """What the lowrank path did for one product shape."""
    rank: int            # components used
    exact_rank: int      # numerical rank of E
    dtype: str           # float32 or float64 for the error GEMM
    bound: float         # max |accumulator - LUT accumulator| before rounding
    exact: bool          # bit for bit equal to the LUT path
    method: str = "lattice"    # integer factors, "lattice" or "skeleton" (exact), or "svd" (float factors)
    denominator: int = 1       # skeleton: E = Fa Fb^T / d
    chunks: int = 1            # K-chunks needed to keep float partial sums exact

    def to_dict(self):
        return {"rank": self.rank, "exact_rank": self.exact_rank, "dtype": self.dtype, "bound": self.bound,
                "exact": self.exact, "method": self.method, "denominator": self.denominator, "chunks": self.chunks}


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
        self._factors = {}
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

    # -- properties ---------------------------------------------------------

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

    def exact_rank(self):
        return self._svd()[3]

    def _svd(self):
        if "svd" not in self._factors:
            e = self.error.astype(np.float64)
            u, s, vt = np.linalg.svd(e, full_matrices=False)
            tol = (s[0] if s.size and s[0] > 0 else 0.0) * max(e.shape) * np.finfo(np.float64).eps
            self._factors["svd"] = (u, s, vt, int((s > tol).sum()))
        return self._factors["svd"]

    def factors(self, rank=None):
        """(fa (2^a, r), fb (2^b, r), per-product max reconstruction error, exact rank) in float64."""
        u, s, vt, r0 = self._svd()
        r = r0 if rank is None else min(int(rank), r0)
        key = ("f", r)
        if key not in self._factors:
            root = np.sqrt(s[:r])
            fa, fb = u[:, :r] * root, vt[:r].T * root
            err = float(np.abs(self.error - fa @ fb.T).max()) if r else float(np.abs(self.error).max())
            self._factors[key] = (fa, fb, err)
        fa, fb, err = self._factors[key]
        return fa, fb, err, r0

    # -- the products ---------------------------------------------------------

    def resolve(self, path):
        """The path ``auto`` stands for: exact for an exact LUT, lowrank up to rank 8, else lut."""
        if path not in PATHS:
            raise bad_value("Emulation path", path, "one of " + ", ".join(PATHS))
        if path != "auto":
            return path
        if self.is_exact:
            return "exact"
        return "lowrank" if self.exact_rank() <= AUTO_MAX_RANK else "lut"

    def check_operands(self, xq, wq):
        for name, t, lo, hi in (("activations", xq, self.a_min, self.a_max), ("weights", wq, self.b_min, self.b_max)):
            if t.numel() and (int(t.min()) < lo or int(t.max()) > hi):
                raise AxforgeError(f"Quantised {name} must lie in [{lo}, {hi}], not [{int(t.min())}, {int(t.max())}]")

    def wraps(self, k_dim, acc_width, tile_rows):
        """Whether a tile's sum can leave the accumulator (then each tile wraps separately)."""
        if not acc_width:
            return False
        peak = int(self.table.abs().max()) * min(k_dim, tile_rows or k_dim)
        return peak >= (1 << (acc_width - 1) if self.signed else 1 << acc_width)

    def matmul(self, xq, wq, path="auto", acc_width=0, tile_rows=0, rank=None, wcache=None):
        """Accumulators of ``xq (M, K) @ wq (K, N)`` (int64 tensors of operand values).

        ``acc_width``/``tile_rows`` reproduce the array's accumulator: the K
        dimension is cut into tiles of ``tile_rows`` and each tile's sum wraps
        modulo ``2**acc_width`` before the host adds the tiles (0: no wrap).
        ``wcache`` (a dict) keeps the weight-side tables between calls with the same weights.
        """
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
            if self.int8_ok():
                return _i8_exact(xq, wq, self.a_mid, self.b_mid)
            return exact_matmul(xq, wq, self.a_mid, self.b_mid,
                                _maxabs(self.a_min, self.a_max, self.a_mid) * _maxabs(self.b_min, self.b_max, self.b_mid))
        if path == "lut":
            return self._lut_matmul(xq, wq, wcache)
        return self._lowrank_matmul(xq, wq, rank, wcache)[0]

    def int8_ok(self):
        """Whether the exact and lowrank matrix products run as int8 GEMMs: the centred operands
        (``a - a_mid``, ``b - b_mid``) fit int8 and the machine has fast int8 GEMMs."""
        return INT8_GEMM and self.a_width <= 8 and self.b_width <= 8

    def _lut_matmul(self, xq, wq, wcache=None):
        K, N = wq.shape
        A = self.a_max - self.a_min + 1
        # unsigned operands: sum the centred table T' = LUT - b_mid*a - a_mid*b + a_mid*b_mid
        # (= a'b' + E, about 4x smaller), so more k fit one exact float32 bag; the removed
        # terms come back from the row and column sums of the operands
        centred = self._centred_table()
        peak = max(1, int(centred.abs().max()))
        chunk = max(1, min(K, (_F32_EXACT - 1) // peak))
        nchunks = -(-K // chunk)
        M = xq.shape[0]
        # the row of table k for x, in an index buffer kept with the weights (a fresh ~10 MB
        # tensor per call costs page faults), padded to whole chunks with the zero row
        cache = wcache if wcache is not None else {}
        buf = cache.get("lut_idx")
        if buf is None or buf.shape != (M, nchunks * chunk):   # one buffer per layer: the last batch shape
            buf = cache["lut_idx"] = torch.full((M, nchunks * chunk), K * A, dtype=torch.int32)
        buf[:, :K].copy_(xq).add_(torch.arange(K, dtype=torch.int32) * A - self.a_min)
        xi = buf.view(-1, chunk)
        cols = max(1, min(N, _TABLE_BYTES // (4 * (K * A + 1))))
        out = torch.empty(M, N, dtype=torch.int64)
        for n0 in range(0, N, cols):
            key = ("lut", n0, cols)
            tw = wcache.get(key) if wcache is not None else None
            if tw is None:
                wi = wq[:, n0:n0 + cols] - self.b_min                   # (K, n)
                tw = centred[:, wi].permute(1, 0, 2).reshape(K * A, -1).float()
                tw = torch.cat([tw, tw.new_zeros(1, tw.shape[1])])
                if wcache is not None:
                    wcache[key] = tw
            part = torch.nn.functional.embedding_bag(xi, tw, mode="sum")  # (M * nchunks, n)
            if nchunks == 1:
                out[:, n0:n0 + cols] = part.to(torch.int64)
            else:
                out[:, n0:n0 + cols] = part.reshape(M, nchunks, -1).to(torch.int64).sum(1)
        if self.b_mid:
            out += self.b_mid * _row_sums(xq, self.a_max)
        if self.a_mid:
            out += self.a_mid * wq.sum(0, keepdim=True, dtype=torch.int64)
        if self.a_mid and self.b_mid:
            out -= K * self.a_mid * self.b_mid
        return out

    def _centred_table(self):
        """``LUT - b_mid*a - a_mid*b + a_mid*b_mid`` (int64), the table the lut path sums."""
        if "centred" not in self._factors:
            t = self.table
            if self.a_mid or self.b_mid:
                a = torch.arange(self.a_min, self.a_max + 1)[:, None]
                b = torch.arange(self.b_min, self.b_max + 1)[None, :]
                t = t - self.b_mid * a - self.a_mid * b + self.a_mid * self.b_mid
            self._factors["centred"] = t
        return self._factors["centred"]

    def skeleton(self):
        """Integer factors of E: ``E = (Fa @ Fb.T) / d`` with int64 ``Fa`` (2^a, r), ``Fb`` (2^b, r),
        as ``(Fa, Fb, d, peak)``, ``peak`` the largest ``|Fa| @ |Fb|^T`` entry.

        The LLL-reduced lattice basis of E's columns (short entries, ``d = 1``) or the skeleton
        (CUR) decomposition with a common denominator, whichever needs fewer int8 terms (see
        :mod:`.intfactor`); both checked exactly. Integer factors keep float32 and int8 GEMMs and float
        convolutions exact. ``None`` when E's rank exceeds :data:`SKELETON_MAX_RANK` or no
        factorization passes its check; :meth:`factor_method` says which one is used.
        """
        if "skel" not in self._factors:
            r = self.exact_rank()
            got, method = intfactor.best_factors(self.error, r) if 0 < r <= SKELETON_MAX_RANK else (None, None)
            self._factors["skel"] = got
            self._factors["skel_method"] = method
        return self._factors["skel"]

    def factor_method(self):
        """``lattice`` or ``skeleton``: the integer factorization :meth:`skeleton` found (None: none)."""
        self.skeleton()
        return self._factors["skel_method"]

    def _merged(self):
        """Skeleton factors extended by the centred exact product: ``[d a', Fa] . [b', Fb] = d (a'b' + E)``
        (float64 tensors) and the largest magnitude of one k-term (sets the exact K-chunk)."""
        if "merged" not in self._factors:
            fa, fb, d, _ = self.skeleton()
            a = torch.arange(self.a_min, self.a_max + 1, dtype=torch.float64) - self.a_mid
            b = torch.arange(self.b_min, self.b_max + 1, dtype=torch.float64) - self.b_mid
            fa_ext = torch.cat([d * a[:, None], torch.from_numpy(fa).double()], 1)
            fb_ext = torch.cat([b[:, None], torch.from_numpy(fb).double()], 1)
            self._factors["merged"] = (fa_ext, fb_ext, float((fa_ext.abs() @ fb_ext.abs().T).max()))
        return self._factors["merged"]

    def lowrank_info(self, k_dim, rank=None):
        """Rank, method, precision and error bound the lowrank path uses for inner size ``k_dim``."""
        r0 = self.exact_rank()
        skel = self.skeleton() if rank is None or rank >= r0 else None
        if r0 == 0:
            return LowRankInfo(0, 0, "float32", 0.0, True)
        if skel is not None:
            _, _, term = self._merged()
            dtype, chunk = _plan(term, k_dim)
            return LowRankInfo(skel[0].shape[1], r0, dtype, 0.0, True, self.factor_method(), skel[2],
                               -(-k_dim // chunk))
        fa, fb, err, r0 = self.factors(rank)
        r = fa.shape[1]
        if r == 0:
            return LowRankInfo(0, r0, "float64", k_dim * err, k_dim * err < 0.5, "svd")
        mag = float((np.abs(fa) @ np.abs(fb).T).max())
        bound = k_dim * err + _gamma(k_dim * r + 1, _EPS64) * k_dim * mag
        return LowRankInfo(r, r0, "float64", bound, bound < 0.5, "svd")

    def _lowrank_matmul(self, xq, wq, rank=None, wcache=None):
        K, N = wq.shape
        info = self.lowrank_info(K, rank)
        if info.rank == 0:
            return self.matmul(xq, wq, "exact"), info
        if info.method == "svd":
            fa, fb, _, _ = self.factors(rank)
            exact = self.matmul(xq, wq, "exact")
            # the codes may be float32 tensors holding integers (a layer's activations): index with int64
            gw = torch.from_numpy(fb)[wq.long() - self.b_min].permute(0, 2, 1).reshape(K * info.rank, N)
            fx = torch.from_numpy(fa)[xq.long() - self.a_min].reshape(xq.shape[0], K * info.rank)
            return exact + torch.round(fx @ gw).to(torch.int64), info
        cache = wcache if wcache is not None else {}
        if self.int8_ok():
            return self._lowrank_i8(xq, wq, cache), info
        # one GEMM of inner size K*(1+r): [d*a', Fa] . [b', Fb] = d*(a'b' + E), with a' = a - a_mid
        if "skel" not in cache:
            fa_ext, fb_ext, term = self._merged()
            dtype, chunk = _plan(term, K)
            dt = torch.float32 if dtype == "float32" else torch.float64
            gw = fb_ext.to(dt)[wq - self.b_min].permute(0, 2, 1).contiguous()      # (K, 1+r, N)
            wsum = (wq - self.b_mid).sum(0, keepdim=True)
            cache["skel"] = (fa_ext.to(dt), gw, chunk, self.skeleton()[2], wsum)
        fa_ext, gw, chunk, d, wsum = cache["skel"]
        M = xq.shape[0]
        xi = xq.to(torch.int32) - self.a_min
        y = torch.zeros(M, N, dtype=torch.float64)
        for k0 in range(0, K, chunk):
            fx = F.embedding(xi[:, k0:k0 + chunk], fa_ext).reshape(M, -1)
            y += (fx @ gw[k0:k0 + chunk].reshape(-1, N)).double()
        acc = torch.div(y.to(torch.int64), d, rounding_mode="floor")
        if self.b_mid:
            acc += self.b_mid * (_row_sums(xq, self.a_max) - K * self.a_mid)
        if self.a_mid:
            acc += self.a_mid * wsum
        if self.a_mid and self.b_mid:
            acc += K * self.a_mid * self.b_mid
        return acc, info

    def _i8_terms(self):
        """The int8 GEMM layout of the lowrank path (:class:`_I8Plan`), or None without integer factors.

        Two factorizations are laid out and the cheaper kept (:meth:`_I8Plan.cost`):

        * ``centred``: the centred exact product plus E's factors (:meth:`skeleton`),
          ``d*(a'b' + E)``, with ``b_mid * sum_k a'`` and the ``a_mid`` terms added after;
        * ``direct``: the whole LUT's factors (:meth:`lut_factors`), ``d*LUT``, nothing after.
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
        if "i8" not in self._factors:
            a = np.arange(self.a_min, self.a_max + 1) - self.a_mid
            b = np.arange(self.b_min, self.b_max + 1) - self.b_mid
            plans = []
            skel = self.skeleton()
            if skel is not None:
                fa, fb, d, _ = skel
                cols = [intfactor.column_terms(a, d * b, offset=False)]
                cols += [intfactor.column_terms(fa[:, j], fb[:, j]) for j in range(fa.shape[1])]
                plans.append(_I8Plan.build(cols, np.concatenate([d * b[:, None], fb], 1), d, False, self.b_mid))
            lut = self.lut_factors()
            if lut is not None:
                fa, fb, d, _ = lut
                cols = [intfactor.column_terms(fa[:, j], fb[:, j]) for j in range(fa.shape[1])]
                plans.append(_I8Plan.build(cols, fb, d, True, self.b_mid))
            self._factors["i8"] = min(plans, key=_I8Plan.cost) if plans else None
        return self._factors["i8"]

    def lut_factors(self):
        """Integer factors of the whole LUT, ``LUT = Fa Fb^T / d``, as :meth:`skeleton` gives E's
        (None above :data:`SKELETON_MAX_RANK` or when no factorization checks out)."""
        if "lut_factors" not in self._factors:
            t = self.table.numpy()
            r = int(np.linalg.matrix_rank(t.astype(np.float64)))
            self._factors["lut_factors"] = intfactor.best_factors(t, r)[0] if 0 < r <= SKELETON_MAX_RANK else None
        return self._factors["lut_factors"]

    def i8_direct(self):
        """Whether the int8 lowrank route sums the whole LUT's factors (no centring terms after)."""
        plan = self._i8_terms()
        return plan is not None and plan.direct

    def _i8_groups(self, wi):
        """The int8 terms as gather groups for weight indices ``wi`` (``w - b_min``, any shape S):
        ``[(packed, p, shifts, wt)]`` with ``packed`` (2^a,) the activation digits of each value packed
        into one 1/2/4/8-byte entry, and ``wt`` (S..., L, p) int8 the matching weight digits for each of
        the L ``shifts``; and the offsets' share (S...) int64, ``sum_j c_j Fb_j(w)`` (None when every
        offset is 0), to be summed over the reduction."""
        plan = self._i8_terms()
        wconst = None if plan.wconst is None else plan.wconst[wi]
        out = []
        for ta, levels in plan.groups:
            p = ta.shape[1]
            tb = torch.stack([t for _, t in levels], 1)          # (2^b, L, p)
            out.append((ta.contiguous().view(_PACKED[p]).reshape(-1), p, [sh for sh, _ in levels], tb[wi]))
        return out, wconst

    def _lowrank_i8(self, xq, wq, cache):
        """The lowrank accumulators with int8 GEMMs: per scale, the activation digits times the weight
        digits, divided by ``d``; in the centred layout the exact product on centred operands rides
        in the same GEMMs.

        The activation digits of one value are packed into one 1/2/4/8-byte table entry, so a
        single ``index_select`` per group of up to 8 digits gathers them, already in the
        (M, K * p) int8 layout the GEMM reads (unused bytes are zero on the weight side). Its
        int32 index measured 1.6 ms against ``torch.take``'s int64 one at 2.8 ms on 4096x576."""
        K, N = wq.shape
        M = xq.shape[0]
        plan = self._i8_terms()
        if "i8" not in cache:
            wi = (wq - self.b_min).long()
            groups, wconst = self._i8_groups(wi)     # wt (K, N, L, p) -> (K * p, L * N)
            cache["i8"] = []
            for (packed, p, shifts, wt), (ta, levels) in zip(groups, plan.groups):
                wt = wt.permute(0, 3, 2, 1).reshape(K * p, len(shifts) * N).contiguous()
                packed, wt = _u8_group(packed, ta, levels, wt, K)
                cache["i8"].append((packed, p, shifts, wt))
            # (1, N) int64 terms added before the division by d (the offsets' weight-only share)
            # and after it (the centred layout's a_mid * sum_k b'; its b_mid term is a row sum)
            pre = None if wconst is None else wconst.sum(0)[None, :]
            post = None
            if not plan.direct and self.a_mid:
                post = self.a_mid * (wq.to(torch.int64) - self.b_mid).sum(0, keepdim=True)
            if plan.d == 1 and post is not None:
                pre, post = post if pre is None else pre + post, None
            cache["i8_rows"] = (pre, post)
        pre, post = cache["i8_rows"]
        # scratch buffers kept with the weights: a fresh ~20 MB tensor per call costs page faults
        # whose price varies with the machine's load more than the gather itself (so do the GEMMs'
        # int32 outputs: converting them into one int64 sum measured 0.4 ms less than `.to(int64)`
        # copies on DRUM's 4096x128)
        scratch = cache.get("i8_scratch")
        if scratch is None or scratch[0] != M:
            scratch = (M, torch.empty(M * K, dtype=torch.int32),
                       {p: torch.empty(M * K, dtype=_PACKED[p]) for _, p, _, _ in cache["i8"]},
                       torch.empty(M * max([0] + [wt.shape[1] for *_, wt in cache["i8"] if torch.is_tensor(wt)]),
                                   dtype=torch.int32))
            cache["i8_scratch"] = scratch
        _, idx, outs, prod_buf = scratch
        idx.copy_(xq.reshape(-1))
        if self.a_min:
            idx.sub_(self.a_min)
        acc = torch.empty(M, N, dtype=torch.int64)
        first = True
        for packed, p, shifts, wt in cache["i8"]:
            g = torch.index_select(packed, 0, idx, out=outs[p])
            if isinstance(wt, tuple):   # exact float32 sums
                prod = _u8_linear(g.view(torch.uint8).view(M, K * p), wt)
            elif K * p * (1 << 14) < _I32_MAX:    # int32 sums cannot overflow
                prod = torch._int_mm(g.view(torch.int8).view(M, K * p), wt,
                                     out=prod_buf[:M * wt.shape[1]].view(M, -1))
            else:
                prod = _imm(g.view(torch.int8).view(M, K * p), wt, 1 << 14)
            for li, shift in enumerate(shifts):
                part = prod[:, li * N:(li + 1) * N]
                if first:
                    acc.copy_(part)
                    if shift:
                        acc.mul_(1 << shift)
                    first = False
                else:
                    acc.add_(part.to(torch.int64), alpha=1 << shift)
        if pre is not None:
            acc += pre
        if plan.d != 1:
            acc = acc.div_(plan.d, rounding_mode="floor")
        if post is not None:
            acc += post
        if not plan.direct and self.b_mid:   # b_mid * sum_k a
            acc += self.b_mid * _row_sums(xq, self.a_max)
        return acc

    def conv2d_parts(self, codes, wq, stride, dilation, groups, path, wcache=None, padding=(0, 0), pad_code=0):
        """A convolution's accumulators on activation codes (float32 tensor of integers, padded by
        ``padding`` with ``pad_code`` here) and integer weights (O, C/g, kh, kw), through float
        convolutions that are exact by construction (paths ``exact`` and ``lowrank`` with integer
        factors) or int8 GEMMs (:meth:`conv2d_chunks`), as parts:
        ``acc = core + b_mid * box + const`` without materialising ``acc``. ``core`` (B, O, OH, OW) is
        the convolution of centred codes and weights plus the approximation error, ``box`` (B, g, OH, OW)
        the sum of the codes under each window per group, ``const`` (1, O, 1, 1); all float64 integers."""
        cache = wcache if wcache is not None else {}
        O, K = wq.shape[0], wq[0].numel()
        const = self.conv_const(wq, cache)
        wc = cache["exact"][0]
        B, C, H, W = codes.shape
        if self.conv_i8_ok(path, groups):
            core = box = None
            for b0, b1, part, bx in self.conv2d_chunks(lambda b0, b1: codes[b0:b1], codes.shape, wq, stride, dilation,
                                                       cache, padding, pad_code):
                if core is None:
                    core = torch.empty(B, *part.shape[1:], dtype=torch.float64, memory_format=torch.channels_last)
                    box = torch.empty(B, *bx.shape[1:], dtype=torch.float64)
                core[b0:b1] = part
                box[b0:b1] = bx
            if core is None:   # an empty batch
                oh, ow = (_out_size(n + 2 * p, k, s, dl) for n, p, k, s, dl in
                          zip((H, W), padding, wq.shape[2:], stride, dilation))
                core = torch.zeros(0, O, oh, ow, dtype=torch.float64)
                box = torch.zeros(0, 1, oh, ow, dtype=torch.float64)
            if not self.conv_centred(path, groups):
                core -= self.b_mid * box + const      # the contract's form: acc = core + b_mid box + const
            return core, box, const
        peak = _maxabs(self.a_min, self.a_max, self.a_mid) * _maxabs(self.b_min, self.b_max, self.b_mid)
        # the window sums of the codes: summed over each group's channels, then slices added
        # (a single-channel convolution measured 4x slower: 20.6 ms against 5.1 ms on 1000x34x34)
        cg = C // groups
        csum = codes.view(B, groups, cg, H, W).sum(2) if cg > 1 else codes
        ph, pw = padding
        if ph or pw:
            csum = F.pad(csum, (pw, pw, ph, ph), value=float(cg * pad_code))
        box = _box_sum(csum, wq.shape[2:], stride, dilation)
        if ph or pw:
            codes = F.pad(codes, (pw, pw, ph, ph), value=float(pad_code))
            H, W = codes.shape[2:]
        xc = codes - self.a_mid if self.a_mid else codes
        y = _int_conv(xc, wc, stride, dilation, groups, peak)
        if path == "lowrank" and not self.is_exact:
            fa, fb, d, _ = self.skeleton()
            r = fa.shape[1]
            if "lowrank" not in cache:
                gw = torch.from_numpy(fb).float()[wq - self.b_min]                  # (O, C/g, kh, kw, r)
                gw = gw.permute(0, 1, 4, 2, 3).reshape(O, -1, *wq.shape[2:]).contiguous()
                kr = gw[0].numel()
                fa_max, fb_max = int(np.abs(fa).max()), int(np.abs(fb).max())
                # split Fa = hi * 2^s + lo when one float32 convolution could not hold the sums exactly
                # (two exact convolutions instead of many channel chunks)
                shift = 0
                if kr * fa_max * fb_max >= _F32_EXACT:   # the split that makes both parts smallest
                    shift = min(range(1, 24), key=lambda t: max(fa_max >> t, (1 << t) - 1))
                fa_t = torch.from_numpy(fa.T.copy())
                parts = [(fa_t.float(), 1.0)] if not shift else [
                    (torch.div(fa_t, 1 << shift, rounding_mode="floor").float(), float(1 << shift)),
                    (torch.remainder(fa_t, 1 << shift).float(), 1.0)]
                terms = [int(p.abs().max()) * fb_max for p, _ in parts]
                cache["lowrank"] = (gw, parts, terms)
            gw, parts, terms = cache["lowrank"]
            idx = (codes - self.a_min).to(torch.int64)
            err = None
            for (fa_p, scale), term in zip(parts, terms):
                fx = torch.stack([fa_p[j].take(idx) for j in range(r)], dim=2).reshape(B, C * r, H, W)
                part = _int_conv(fx, gw, stride, dilation, groups, term)
                err = part * scale if err is None else err.add_(part.mul_(scale))
            y += err / d if d != 1 else err    # exact: err is a multiple of d below 2^53
        return y, box, const

    def conv_const(self, wq, cache):
        """``a_mid * sum(w - b_mid)`` per output channel (1, O, 1, 1) float64: the accumulators'
        part that depends on the weights only (cached with the centred float weights)."""
        if "exact" not in cache:
            O = wq.shape[0]
            wc = (wq - self.b_mid).float()
            cache["exact"] = (wc, (self.a_mid * wc.reshape(O, -1).sum(1).double()).reshape(1, O, 1, 1))
        return cache["exact"][1]

    def conv_i8_ok(self, path, groups):
        """Whether a convolution on ``path`` runs on int8 GEMMs (:meth:`conv2d_chunks`)."""
        return path == "lowrank" and not self.is_exact and groups == 1 and self.int8_ok() \
            and self.skeleton() is not None and self._i8_terms() is not None

    def conv_centred(self, path, groups):
        """Whether a convolution's accumulators are ``core + b_mid * box + const`` (:meth:`conv2d_parts`);
        else, where the int8 route sums the whole LUT's factors (:meth:`i8_direct`), they are ``core``."""
        return not (self.conv_i8_ok(path, groups) and self.i8_direct())

    def conv2d_chunks(self, codes_of, shape, wq, stride, dilation, cache, padding=(0, 0), pad_code=0):
        """The int8-GEMM convolution in batch chunks: yields ``(b0, b1, core, box)`` with ``core``
        (b1-b0, O, OH, OW) channels-last float64 (centred product plus error, as in
        :meth:`conv2d_parts`) and ``box`` (b1-b0, 1, OH, OW) float64 window sums of the codes.

        ``codes_of(b0, b1)`` gives the activation codes (float32 integers, unpadded) of images
        b0..b1-1 of ``shape`` (B, C, H, W), so that a layer can quantise chunk by chunk too.
        The activation digits are gathered once per input pixel (not once per window position, as
        an unfolded matrix product would) into channels-last int8 rows. Then either each kernel
        tap is a GEMM on a row-shifted view of them (:class:`_TapPlan`), nothing unfolded, or
        their rows are unfolded (one row gather) into a single GEMM (:meth:`_TapPlan.unfold_gemm`),
        whichever :meth:`_TapPlan.tap_cost` and ``unfold_cost`` estimate cheaper: the tap views
        compute whole phase grids (up to 4x the output rows on small maps) and sum wide outputs
        (taps x O columns), which costs most where a pixel has few digit bytes. Chunks hold
        about ``_CONV_CHUNK_BYTES`` of digits, so that the GEMMs read the gather's output from
        cache, and reuse their scratch buffers (fresh ones page-fault)."""
        O, C, KH, KW = wq.shape
        B, _, H, W = shape
        ph, pw = padding
        Hp, Wp = H + 2 * ph, W + 2 * pw
        one = _TapPlan((1, Hp, Wp), (KH, KW), stride, dilation)
        i8 = self._i8_terms()
        unfold = _UNFOLD if _UNFOLD is not None else \
            sum(one.unfold_cost(C * ta.shape[1], len(lv) * O) for ta, lv in i8.groups) < \
            sum(one.tap_cost(C * ta.shape[1], len(lv) * O) for ta, lv in i8.groups)
        if cache.get("conv_i8_unfold") != unfold:
            wi = (wq - self.b_min).long()
            groups, wconst = self._i8_groups(wi)
            phases = _TapPlan.phase_taps((KH, KW), stride, dilation)
            taps = []   # wt (O, C, KH, KW, L, p) -> (KH*KW, C*p, L*O) -> per phase (C*p, taps*L*O)
            for (packed, p, shifts, wt), (ta, levels) in zip(groups, i8.groups):
                wt = wt.permute(2, 3, 1, 5, 4, 0).reshape(KH * KW, C * p, len(shifts) * O)
                order = [t for _, tl in phases for t, _, _ in tl]
                if not unfold:
                    walls = [wt[[t for t, _, _ in tl]].permute(1, 0, 2).reshape(C * p, -1).contiguous()
                             for _, tl in phases]
                else:   # one weight matrix (taps * C * p, L * O), taps in the plan's order
                    packed, walls = _u8_group(packed, ta, levels, wt[order].reshape(-1, len(shifts) * O).contiguous(),
                                              len(order) * C)
                taps.append((packed, p, shifts, walls))
            wconst = None if wconst is None else wconst.reshape(O, -1).sum(1).double().view(1, O, 1, 1)
            cache["conv_i8"] = (taps, wconst)
            cache["conv_i8_unfold"] = unfold
        taps, wconst = cache["conv_i8"]
        d = i8.d
        width = C * max(p for _, p, _, _ in taps)
        chunks = max(1, -(-B // max(1, _CONV_CHUNK_BYTES // (Hp * Wp * width))))
        per = max(1, -(-B // chunks))    # equal chunks (the last at most a few images fewer)
        scratch = {}
        rows = cache.setdefault("conv_rows", {})
        for b0 in range(0, B, per):
            nb = min(B, b0 + per) - b0
            codes = codes_of(b0, b0 + nb)
            csum = codes.sum(1, keepdim=True)
            if ph or pw:
                csum = F.pad(csum, (pw, pw, ph, ph), value=float(C * pad_code))
            box = _box_sum(csum, (KH, KW), stride, dilation)
            plan = _TapPlan((nb, Hp, Wp), (KH, KW), stride, dilation)
            # code - a_min of every padded pixel, per phase grid: (P, nb, Hq, Wq, C) int32
            idx = plan.indices(codes, padding, pad_code, -self.a_min)
            if unfold and (nb, Hp, Wp) not in rows:
                if len(rows) >= 4:     # input sizes change rarely: keep a few
                    rows.clear()
                rows[(nb, Hp, Wp)] = plan.unfold_rows()
            core = None
            for packed, p, shifts, walls in taps:
                g = plan.buffer(C * p, scratch)
                torch.index_select(packed, 0, idx.view(-1), out=g[:plan.pixels].view(-1).view(_PACKED[p]))
                if unfold:
                    prod = plan.unfold_gemm(g, rows[(nb, Hp, Wp)], walls, scratch)
                else:
                    prod = plan.conv(g, walls, scratch)
                prod = prod.permute(0, 3, 1, 2)      # (nb, L*O, OH, OW), channels-last
                for li, shift in enumerate(shifts):
                    part = prod[:, li * O:(li + 1) * O]
                    if core is None:   # int32 (or exact float32) sums into the float64 core (exact below 2^53)
                        core = torch.empty(part.shape, dtype=torch.float64, memory_format=torch.channels_last)
                        core.copy_(part)
                        if shift:
                            core.mul_(1 << shift)
                    else:
                        core.add_(part, alpha=1 << shift)
            if wconst is not None:   # integers below 2^53: exact in float64
                core += wconst
            if d != 1:
                core.div_(d).floor_()
            yield b0, b0 + nb, core, box

    def conv_ok(self, path):
        """Whether :meth:`conv2d_parts` can serve ``path`` (else the layer unfolds to matrix products)."""
        return path == "exact" or self.is_exact or (path == "lowrank" and self.skeleton() is not None)


SKELETON_MAX_RANK = 16

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


def _plan(peak, k_dim):
    """(dtype, K-chunk) for exact integer products of magnitude <= ``peak`` summed over ``k_dim``."""
    peak = max(1, int(peak))
    if peak * min(k_dim, 64) < _F32_EXACT:
        return "float32", max(1, (_F32_EXACT - 1) // peak)
    return "float64", max(1, (_F64_EXACT - 1) // peak)


def _out_size(n, k, stride, dilation):
    return (n - dilation * (k - 1) - 1) // stride + 1


_CONV_CHUNK_BYTES = 4 << 20
# None: each int8 convolution picks tap by tap (:meth:`_TapPlan.conv`) or one GEMM on unfolded
# rows (:meth:`_TapPlan.unfold_gemm`) by :meth:`_TapPlan.tap_cost` and ``unfold_cost``; True or
# False forces one (tests)
_UNFOLD = None
_INT8_MACS_PER_NS = 400.0     # oneDNN int8 GEMM here, 4096 x 4608 x 64
_BYTES_PER_NS = 30.0          # fitted to the tap sums' and the row gathers' measured times


def _scratch(store, key, numel, dtype):
    """A tensor of ``numel`` elements, reused from ``store`` (a dict) when it holds a large enough one."""
    if store is None:
        return torch.empty(numel, dtype=dtype)
    buf = store.get((key, dtype))
    if buf is None or buf.numel() < numel:
        buf = store[(key, dtype)] = torch.empty(numel, dtype=dtype)
    return buf[:numel]


def _phase_slices(n, pad, stride, phase):
    """(destination slice in the phase grid, source slice in the unpadded input) along one axis:
    phase position i holds padded position ``i*stride + phase``, input index ``i*stride + phase - pad``."""
    i0 = max(0, -(-(pad - phase) // stride))
    i1 = (n + pad - phase - 1) // stride + 1          # one past the last i with a source index < n
    if i1 <= i0:
        return slice(0, 0), slice(0, 0)
    y0 = i0 * stride + phase - pad
    return slice(i0, i1), slice(y0, y0 + (i1 - i0 - 1) * stride + 1, stride)


def _box_sum(csum, kernel, stride, dilation):
    """Window sums of ``csum`` (B, G, H, W) float32 integers, (B, G, OH, OW) float64: one strided
    slice added per kernel tap."""
    (KH, KW), (sh, sw), (dh, dw) = kernel, stride, dilation
    H, W = csum.shape[2:]
    OH, OW = _out_size(H, KH, sh, dh), _out_size(W, KW, sw, dw)
    out = None
    for ky in range(KH):
        for kx in range(KW):
            part = csum[:, :, ky * dh:ky * dh + (OH - 1) * sh + 1:sh, kx * dw:kx * dw + (OW - 1) * sw + 1:sw]
            out = part.double() if out is None else out.add_(part)
    return out


class _TapPlan:
    """A convolution as GEMMs on row-shifted views of channels-last pixel rows.

    With stride 1, output pixel (h, w) is ``sum_t x[h + dy_t, w + dx_t] @ W_t``; on the pixel
    rows of ``x`` (B*H*W rows of C values) that is row ``r(h, w) + dy_t*W + dx_t``, so tap t is a
    GEMM on the rows shifted by a constant: a view, no copy. All taps run as one GEMM of
    N = taps * O on row blocks, and their shifted slices are summed. The whole (H, W) grid is
    computed and cropped to (OH, OW): the rows that wrap into the next image row or image only
    reach cropped outputs. A stride s splits the input into s*s phase grids
    ``x[py::s, px::s]`` (one copy of the input, only the phases some tap reads); tap (dy, dx)
    reads phase (dy % s, dx % s) shifted by (dy // s, dx // s), so a strided convolution is a sum
    of stride-1 ones on the phases. Sums are int32 while ``taps * Cp * 128^2`` stays below 2^31,
    else int64."""

    BLOCK_BYTES = 1 << 22    # one row block's GEMM output: stays in cache

    def __init__(self, shape, kernel, stride, dilation):
        B, H, W = shape
        (KH, KW), (sh, sw), (dh, dw) = kernel, stride, dilation
        self.B, self.sh, self.sw = B, sh, sw
        self.OH, self.OW = _out_size(H, KH, sh, dh), _out_size(W, KW, sw, dw)
        self.Hq, self.Wq = -(-H // sh), -(-W // sw)
        phases = self.phase_taps(kernel, stride, dilation)
        self.phase_list = [ph for ph, _ in phases]
        self.offsets = [[sy * self.Wq + sx for _, sy, sx in tl] for _, tl in phases]   # row shift per tap
        self.rows = B * self.Hq * self.Wq          # rows per phase
        self.pixels = self.rows * len(self.phase_list)
        self.extra = max(max(offs) for offs in self.offsets)

    @staticmethod
    def phase_taps(kernel, stride, dilation):
        """``[((py, px), [(tap, sy, sx), ...]), ...]``: the phases some tap reads, in order, each with
        its taps (index ``ky*KW + kx``) and their shifts within the phase grid. :meth:`conv`
        takes its weights per phase in this order, the taps side by side."""
        (KH, KW), (sh, sw), (dh, dw) = kernel, stride, dilation
        by_phase = {}
        for ky in range(KH):
            for kx in range(KW):
                (sy, py), (sx, px) = divmod(ky * dh, sh), divmod(kx * dw, sw)
                by_phase.setdefault((py, px), []).append((ky * KW + kx, sy, sx))
        return sorted(by_phase.items())

    def indices(self, codes, padding, pad_code, offset):
        """``code + offset`` of every pixel of the padded input ``codes`` (B, C, H, W) (float32
        integers), channels-last and split into the phase grids the taps read: (P, B, Hq, Wq, C)
        int32, one pass over ``codes`` (the padding and whole-stride tails hold ``pad_code``)."""
        B, C, H, W = codes.shape
        out = torch.full((len(self.phase_list), B, self.Hq, self.Wq, C), pad_code + offset, dtype=torch.int32)
        src = codes.permute(0, 2, 3, 1)
        for k, (py, px) in enumerate(self.phase_list):
            (dy, sy), (dx, sx) = (_phase_slices(n, pad, s, ph) for n, pad, s, ph in
                                  ((H, padding[0], self.sh, py), (W, padding[1], self.sw, px)))
            dst = out[k, :, dy, dx]
            dst.copy_(src[:, sy, sx])
            if offset:
                dst.add_(offset)
        return out

    def tap_cost(self, cp, n):
        """Estimated ns per image tap by tap, ``cp`` digit bytes per pixel and ``n`` outputs per
        tap: GEMMs over the whole phase grids (wrapped rows and padding included) and the int32
        sums of the taps' shifted outputs (GEMM write, read, accumulator read and write)."""
        rows = self.rows // self.B
        taps = sum(len(o) for o in self.offsets)
        return rows * cp * taps * n / _INT8_MACS_PER_NS + taps * rows * n * 12 / _BYTES_PER_NS

    def unfold_cost(self, cp, n):
        """Estimated ns per image for :meth:`unfold_gemm`: the GEMM over the output pixels only and
        the unfolding row gather (read and write).

        Against measured times (ResNet-8 layer shapes, 60-327 images) this picked the faster
        route in each of 12 cases: unfolded 0.17-0.53x the tap route's time with few digit bytes
        per pixel (C*p = 16-32: DRUM, the 3-channel stem) and 0.28-0.82x on maps of 16x16 and
        below; tap by tap 0.72x the unfolded time on 32x32 maps with C*p = 128."""
        m = self.OH * self.OW
        taps = sum(len(o) for o in self.offsets)
        return m * taps * cp * n / _INT8_MACS_PER_NS + m * taps * cp * 2 / _BYTES_PER_NS

    def unfold_rows(self):
        """(B*OH*OW*T,) int32: for each output pixel the rows of the pixel rows its T taps read, taps
        in :meth:`phase_taps` order (phase by phase)."""
        b = torch.arange(self.B)[:, None, None] * (self.Hq * self.Wq)
        base = (b + torch.arange(self.OH)[None, :, None] * self.Wq + torch.arange(self.OW)[None, None, :]).reshape(-1)
        cols = [base + (k * self.rows + off) for k, offs in enumerate(self.offsets) for off in offs]
        return torch.stack(cols, 1).reshape(-1).to(torch.int32)

    def unfold_gemm(self, g, rows, w, scratch=None):
        """(B, OH, OW, N) view: the convolution as one GEMM on the unfolded rows (``rows`` from
        :meth:`unfold_rows`) of ``g``, gathered whole, against ``w`` (T*Cp, N) int8, or a
        :func:`_u8_pack` (``g`` then holds uint8 codes): no rows outside the outputs, no
        per-tap sums."""
        Cp = g.shape[1]
        T = sum(len(o) for o in self.offsets)
        M = self.B * self.OH * self.OW
        cols = _scratch(scratch, "unfold", M * T * Cp, torch.int8).view(M * T, Cp)
        torch.index_select(g, 0, rows, out=cols)
        if isinstance(w, tuple):
            out = _u8_linear(cols.view(torch.uint8).view(M, T * Cp), w)
        elif T * Cp * (1 << 14) < _I32_MAX:
            out = torch._int_mm(cols.view(M, T * Cp), w)
        else:
            out = _imm(cols.view(M, T * Cp), w, 1 << 14)
        return out.view(self.B, self.OH, self.OW, -1)

    def buffer(self, width, scratch=None):
        """Pixel rows of ``width`` int8 values for every phase, and zero rows after them that the
        last shifted views read (from ``scratch``, a dict of reusable buffers, when given)."""
        g = _scratch(scratch, "rows", (self.pixels + self.extra) * width, torch.int8).view(-1, width)
        g[self.pixels:].zero_()
        return g

    def conv(self, g, walls, scratch=None):
        """(B, OH, OW, N) int32/int64 view: the convolution of the rows ``g`` with the weights
        ``walls``, per phase (Cp, taps*N) int8 with its taps side by side (:meth:`phase_taps`);
        its buffer from ``scratch`` when given."""
        Cp = walls[0].shape[0]
        N = walls[0].shape[1] // len(self.offsets[0])
        wide = sum(w.shape[1] // N for w in walls) * Cp * (1 << 14) >= _I32_MAX
        out = _scratch(scratch, "out", self.rows * N, torch.int64 if wide else torch.int32).view(self.rows, N)
        first = True
        for k, (wall, offs) in enumerate(zip(walls, self.offsets)):
            base = k * self.rows
            block = max(1024, min(1 << 14, self.BLOCK_BYTES // (len(offs) * N * 4)))
            last = max(offs)
            for r0 in range(0, self.rows, block):
                r1 = min(self.rows, r0 + block)
                prod = torch._int_mm(g[base + r0:base + r1 + last], wall)
                acc = out[r0:r1]
                for i, off in enumerate(offs):
                    part = prod[off:off + r1 - r0, i * N:(i + 1) * N]
                    if first and i == 0:
                        acc.copy_(part)
                    else:
                        acc.add_(part)
            first = False
        return out.view(self.B, self.Hq, self.Wq, N)[:, :self.OH, :self.OW]


def _int_conv(x, w, stride, dilation, groups, peak):
    """Exact integer convolution of integer-valued float32 tensors whose products are <= ``peak``
    (float64 result): input channels are split so that every float32 partial sum stays below 2^24."""
    K = w[0].numel()
    dtype, chunk = _plan(peak, K)
    cg = w.shape[1]
    if dtype == "float64":
        return F.conv2d(x.double(), w.double(), None, stride, 0, dilation, groups)
    per = max(1, chunk // (w.shape[2] * w.shape[3]))   # input channels per exact chunk
    if per >= cg:
        return F.conv2d(x, w, None, stride, 0, dilation, groups).double()
    out = None
    for c0 in range(0, cg, per):
        if groups == 1:
            xs = x[:, c0:c0 + per]
        else:
            xs = x[:, torch.cat([torch.arange(gi * cg + c0, gi * cg + min(cg, c0 + per)) for gi in range(groups)])]
        part = F.conv2d(xs, w[:, c0:c0 + per], None, stride, 0, dilation, groups).double()
        out = part if out is None else out.add_(part)
    return out


def _packed_width(t):
    """Bytes of the table entry that packs ``t`` int8 digits (1, 2, 4 or 8; ``t`` <= 8)."""
    return next(q for q in (1, 2, 4, 8) if q >= t)


def _imm(a, b, peak):
    """Exact int64 ``a @ b`` of int8 matrices through int32 GEMMs (``torch._int_mm``); ``peak`` bounds
    one product's magnitude, and K is cut so that no int32 sum can overflow."""
    K = a.shape[1]
    chunk = max(1, _I32_MAX // max(1, peak))
    if chunk >= K:
        return torch._int_mm(a, b).to(torch.int64)
    y = None
    for k0 in range(0, K, chunk):
        part = torch._int_mm(a[:, k0:k0 + chunk].contiguous(), b[k0:k0 + chunk].contiguous()).to(torch.int64)
        y = part if y is None else y.add_(part)
    return y


def _row_sums(x, peak):
    """Exact int64 row sums (M, 1) of ``x`` (integer values of magnitude <= ``peak``): in float32
    when every partial sum stays below 2^24 (a float64 sum converts the whole matrix first and
    measured as long as the float32 GEMM it accompanies), else in float64."""
    if not x.is_floating_point():
        return x.sum(1, keepdim=True)
    dt = torch.float32 if x.shape[1] * abs(peak) < _F32_EXACT else torch.float64
    return x.sum(1, keepdim=True, dtype=dt).to(torch.int64)


def _to_i8(t, mid):
    """Operand codes (a float32 tensor of integers, or an integer tensor) minus ``mid``, as int8."""
    if mid == 128:   # unsigned 8-bit: x - 128 is x with its top bit flipped, read as int8
        u = t.to(torch.uint8, copy=True)   # never the caller's tensor: the flip is in place
        return u.bitwise_xor_(128).view(torch.int8)
    return (t - mid).to(torch.int8) if mid else t.to(torch.int8)


def _i8_exact(xq, wq, a_mid=0, b_mid=0):
    """Exact integer ``xq @ wq`` for operands whose centred values fit int8, with one int8 GEMM:
    ``x'w'`` plus ``b_mid * sum_k x'`` (a column of ones next to ``w'``) and the ``a_mid`` terms."""
    K, N = wq.shape
    xi = _to_i8(xq, a_mid)
    wc = wq.to(torch.int64) - b_mid
    wi = torch.cat([wc, torch.ones(K, 1, dtype=torch.int64)], 1).to(torch.int8) if b_mid else wc.to(torch.int8)
    y = _imm(xi, wi, 1 << 14)
    if b_mid:
        y = y[:, :N] + b_mid * y[:, N:]
    if a_mid:
        y += a_mid * wc.sum(0, keepdim=True)
    if a_mid and b_mid:
        y += K * a_mid * b_mid
    return y


def _maxabs(lo, hi, mid):
    return max(abs(lo - mid), abs(hi - mid))


def _wrap(y, width, signed):
    y = torch.remainder(y, 1 << width)
    return torch.where(y >= 1 << (width - 1), y - (1 << width), y) if signed else y


def exact_matmul(xq, wq, a_mid=0, b_mid=0, max_prod=None):
    """Exact integer ``xq @ wq`` with float GEMMs on centred operands (int64 result).

    The operands may be integer tensors or float32 tensors holding integer codes
    (no integer round trip then)."""
    K = xq.shape[1]
    if max_prod is None:
        xa = (xq - a_mid).abs().max() if xq.numel() else 1
        wa = (wq - b_mid).abs().max() if wq.numel() else 1
        max_prod = max(1, int(xa)) * max(1, int(wa))
    dtype, chunk = _plan(max_prod, K)
    dt = torch.float32 if dtype == "float32" else torch.float64
    xf = xq.to(dt) - a_mid if a_mid else xq.to(dt)
    wf = wq.to(dt) - b_mid if b_mid else wq.to(dt)
    if chunk >= K:
        y = (xf @ wf).to(torch.int64)
    else:
        y = torch.zeros(xq.shape[0], wq.shape[1], dtype=torch.int64)
        for k0 in range(0, K, chunk):
            y += (xf[:, k0:k0 + chunk] @ wf[k0:k0 + chunk]).to(torch.int64)
    if b_mid:
        y += b_mid * xf.sum(1, keepdim=True, dtype=torch.float64).to(torch.int64)
    if a_mid:
        y += a_mid * wf.sum(0, keepdim=True, dtype=torch.float64).to(torch.int64)
    if a_mid and b_mid:
        y += K * a_mid * b_mid
    return y


_TABLES = {}


def table_for(spec, a_width=8, b_width=8, signed=False):
    """A cached :class:`ProductTable` (None = exact products of the given widths)."""
    key = str(spec) if spec is not None else ("exact", a_width, b_width, signed)
    if key not in _TABLES:
        _TABLES[key] = ProductTable(spec, a_width, b_width, signed)
    return _TABLES[key]

