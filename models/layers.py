"""Quantised layers whose products come from an approximate multiplier, and ``approximate(model, mapping)``.

A layer quantises its input (per-tensor, calibrated) and its weights (per
output channel by default), computes the integer accumulators exactly as the
systolic array does (:class:`~axforge.models.lutmm.ProductTable`), removes
the zero-point cross terms on the host side (Jacob et al. 2018, eq. 7) and
rescales. The backward pass is straight-through: gradients are those of the
float layer, so a network can be fine-tuned with approximate forward passes.
"""

import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from axforge.errors import AxforgeError, bad_value
from axforge.registry import Registry

from . import autopath
from .conv_plan import _out_size
from .convolution import conv_variants
from .lutmm import PATHS, table_for
from .quant import MinMaxObserver, quantize, weight_qparams

__all__ = ["QuantConfig", "ApproxLinear", "ApproxConv2d", "approximate", "approx_layers", "layer_names",
           "calibrate", "remap", "mapping_report"]


@dataclass(frozen=True)
class QuantConfig:
    """How layers are quantised and emulated (shared by every layer of a network)."""
    a_width: int = 8
    b_width: int = 8
    signed: bool = False
    per_channel: bool = True
    path: str = "auto"
    acc_width: int = 0      # 0: wide enough for one tile, never wraps (the array's default)
    tile_rows: int = 0      # K rows per array tile (only matters when acc_width can wrap)
    rank: int | None = None  # lowrank: components used (None = E's exact rank)

    def __post_init__(self):
        for key in ("a_width", "b_width"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or not 4 <= v <= 16:
                raise bad_value(f"Quantisation key '{key}'", v, "an integer between 4 and 16")
        if self.path not in PATHS:
            raise bad_value("Emulation path", self.path, "one of " + ", ".join(PATHS))
        if self.acc_width and not self.tile_rows:
            raise bad_value("Quantisation key 'tile_rows'", self.tile_rows, "a positive integer when acc_width is set")


CONV_CHUNK_BYTES = 4 << 20   # float32 codes per batch chunk of a float-route convolution


class _ApproxMixin:
    """Shared state of the approximate layers; subclasses provide ``_float``, ``_operands``, ``_approx``
    and ``count_macs``."""

    def _setup(self, spec, config):
        self.spec = spec
        self.config = config
        self.observer = MinMaxObserver()
        self.calibrating = False
        self.act_qp = None
        self.macs_per_sample = 0
        self._wkey = None
        self._setup_table(spec)

    def _setup_table(self, spec):
        config = self.config
        self._wcache = {}
        if spec is not None and (spec.a_width, spec.b_width, spec.signed) != (
                config.a_width, config.b_width, config.signed):
            raise bad_value(f"Multiplier {spec}'s operands", f"{spec.a_width}x{spec.b_width} signed={spec.signed}",
                            f"{config.a_width}x{config.b_width} signed={config.signed} (the quantisation config)")
        self.spec = spec
        self.table = table_for(spec, config.a_width, config.b_width, config.signed)

    @property
    def resolved_path(self):
        """The path the layer runs: the configured one, or for ``auto`` the one chosen on this machine
        for the last input shape (:mod:`.autopath`), its fixed rule before the first input."""
        if self.config.path == "auto" and "auto_path" in self._wcache:
            return self._wcache["auto_path"].partition("/")[0]
        return self.table.resolve(self.config.path)

    def finish_calibration(self):
        self.act_qp = self.observer.qparams(self.config.a_width, self.config.signed)
        self.calibrating = False

    def _weights(self):
        """Quantised weights and their parameters (cached while the weights do not change)."""
        key = (self.weight.data_ptr(), self.weight._version)
        if key != self._wkey:
            c = self.config
            self._wqp = weight_qparams(self.weight, c.b_width, c.signed, c.per_channel)
            self._wq = quantize(self.weight, self._wqp, channel_dim=0)
            self._wcache = {}
            self._wkey = key
        return self._wq, self._wqp

    def _int_matmul(self, xq, wmat, cache_key, path=None):
        """The array's accumulators of one (M, K) x (K, N) product on ``path`` (None: the configured
        one), weight tables cached per ``(path, cache_key)``."""
        c = self.config
        path = path or c.path
        cache = self._wcache.setdefault((path, cache_key), {})
        acc = self.table.matmul(xq, wmat, path, c.acc_width, c.tile_rows, c.rank, cache)
        if "auto_path" in cache:
            self._wcache["auto_path"] = cache["auto_path"]
        return acc

    def forward(self, x):
        if self.calibrating:
            self.observer.update(x)
            return self._float(x)
        if self.act_qp is None:
            raise AxforgeError(f"Layer {self.name!r} must be calibrated before use (run calibrate(model, batches))")
        y = self._approx(x)
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
            yf = self._float(x)
            return yf + (y - yf).detach()     # straight-through: exact-product gradients
        return y

    def _dequant(self, acc, xq_rows, wmat, wqp, n_slice):
        """Real outputs from accumulators: remove zero-point cross terms, rescale."""
        zx = int(self.act_qp.zero_point)
        zw = wqp.zero_point[n_slice] if wqp.zero_point.ndim else wqp.zero_point
        K = wmat.shape[0]
        y = acc.double()
        if zx:
            y = y - zx * wmat.sum(0, keepdim=True, dtype=torch.float64)
        if wqp.zero_point.ndim or int(wqp.zero_point):
            zw = zw.double() if torch.is_tensor(zw) else float(zw)
            y = y - xq_rows.sum(1, keepdim=True, dtype=torch.float64) * zw + K * zx * zw
        sw = wqp.scale[n_slice] if wqp.scale.ndim else wqp.scale
        return y * (self.act_qp.scale.double() * sw.double())

    def accumulators(self, x):
        """The raw integer accumulators (M, N) for input ``x`` (what the array outputs), with the operands."""
        xq, wq, _ = self._operands(x)
        return self.table.matmul(xq, wq, self.config.path, self.config.acc_width, self.config.tile_rows,
                                 self.config.rank), xq, wq

    def extra_repr(self):
        return f"{super().extra_repr()}, mult={self.spec or 'exact'}, path={self.config.path}"


class ApproxLinear(_ApproxMixin, nn.Linear):
    """``nn.Linear`` with every product from a multiplier's RTL LUT.

    Parameters
    ----------
    in_features, out_features, bias : as ``nn.Linear``.
    spec : MultSpec or None -- the multiplier (None: exact products).
    config : QuantConfig
    """

    def __init__(self, in_features, out_features, bias=True, spec=None, config=QuantConfig(), name="linear"):
        super().__init__(in_features, out_features, bias)
        self.name = name
        self._setup(spec, config)

    def _float(self, x):
        return F.linear(x, self.weight, self.bias)

    def _operands(self, x, as_float=False):
        wq, wqp = self._weights()
        xq = quantize(x, self.act_qp, as_float=as_float).reshape(-1, self.in_features)
        return xq, wq.t(), wqp

    def _approx(self, x):
        xq, wmat, wqp = self._operands(x, as_float=True)     # float32 codes: no integer round trip
        acc = self._int_matmul(xq, wmat, 0)
        y = self._dequant(acc, xq, wmat, wqp, slice(None))
        if self.bias is not None:
            y = y + self.bias.detach().double()
        return y.float().reshape(*x.shape[:-1], self.out_features)

    def count_macs(self, x):
        return self.in_features * self.out_features * (x[0].numel() // self.in_features)


class ApproxConv2d(_ApproxMixin, nn.Conv2d):
    """``nn.Conv2d`` (groups and depthwise included) lowered to per-group matrix products through the LUT.

    Padding uses the activation zero point (the code of a real 0), as a
    quantised accelerator pads.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", spec=None, config=QuantConfig(), name="conv"):
        if padding_mode != "zeros":
            raise bad_value(f"Layer {name!r} padding_mode", padding_mode, "'zeros' for approximate convolution")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        if isinstance(self.padding, str):
            raise bad_value(f"Layer {name!r} padding", self.padding, "explicit integers for approximate convolution")
        self.name = name
        self._setup(spec, config)

    def _float(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def _columns(self, x):
        """Quantised input unfolded to (B * L, C * kh * kw) columns and the output size."""
        zx = int(self.act_qp.zero_point)
        codes = quantize(x, self.act_qp).float()
        ph, pw = self.padding
        if ph or pw:
            codes = F.pad(codes, (pw, pw, ph, ph), value=float(zx))
        cols = F.unfold(codes, self.kernel_size, dilation=self.dilation, stride=self.stride)   # (B, K*g, L)
        H, W = codes.shape[-2:]
        kh, kw = self.kernel_size
        oh = (H - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        ow = (W - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        return cols.transpose(1, 2).reshape(-1, cols.shape[1]).to(torch.int64), oh, ow

    def _operands(self, x):
        """Group 0's operands (the whole layer when groups == 1)."""
        wq, wqp = self._weights()
        xq, _, _ = self._columns(x)
        kg = wq[0].numel()
        og = self.out_channels // self.groups
        return xq[:, :kg], wq[:og].reshape(og, -1).t(), wqp

    def _approx(self, x):
        if self.config.path == "auto":
            return self._approx_as(x, self._auto_choice(x))
        return self._approx_as(x, self.config.path)

    def _approx_as(self, x, choice):
        """The layer on ``choice``: a path, or ``lowrank/tap``, ``lowrank/unfold`` (the int8
        convolution's two routes, :func:`.convolution.conv2d_chunks`) or ``lowrank/float`` (its float
        convolutions where int8 GEMMs could run)."""
        table = self.table
        path, _, variant = choice.partition("/")
        path = table.resolve(path)
        # a truncated rank is the lowrank matmul's SVD (as for ApproxLinear and the layer report);
        # the convolution routes use the exact integer factors
        if self._conv_route(path):
            return self._approx_conv(x, path, variant or None)
        return self._approx_unfolded(x, path)

    def _conv_route(self, path):
        """Whether ``path`` runs as a convolution (:meth:`_approx_conv`), else on unfolded columns."""
        c, table = self.config, self.table
        svd = path == "lowrank" and c.rank is not None and c.rank < table.exact_rank()
        return path != "lut" and not svd and table.conv_ok(path) and not table.wraps(self.weight[0].numel(),
                                                                                     c.acc_width, c.tile_rows)

    def _auto_choice(self, x):
        """What ``auto`` runs for input ``x``: :func:`.autopath.choose` over the exact paths
        (:meth:`~.lutmm.ProductTable.auto_candidates`; on the int8 GEMM routes lowrank's tap,
        unfolded and float convolutions separately), timed on a slice of about 16k output pixels. Every
        candidate gives the same outputs (the same integers, dequantised alike), so this only
        changes speed; the losers' weight tables are dropped."""
        table, c = self.table, self.config
        self._weights()          # the weight caches (and the choice kept with them) belong to these weights
        cands = []
        for p in table.auto_candidates(c.rank):
            if p == "lowrank" and self._conv_route(p) and table.conv_i8_ok(p, self.groups):
                cands += [f"lowrank/{v}" for v in conv_variants(table, self.in_channels) + ["float"]]
            else:
                cands.append(p)
        B, C, H, W = x.shape
        oh, ow = (_out_size(n + 2 * p, k, s, dl) for n, p, k, s, dl in
                  zip((H, W), self.padding, self.kernel_size, self.stride, self.dilation))
        key = ("conv", table.identity(), autopath.bucket(B), C, H, W, self.out_channels, self.kernel_size,
               self.stride, self.padding, self.dilation, self.groups)
        probe = x[:max(1, (1 << 14) // max(1, oh * ow))]
        choice = autopath.choose(key, cands, lambda cand: self._approx_as(probe, cand), table.resolve("auto"),
                                 table.route())
        keep = self._cache_keys(choice)
        for cand in cands:
            for k in self._cache_keys(cand) - keep:
                self._wcache.pop(k, None)
        self._wcache["auto_path"] = choice
        return choice

    def _cache_keys(self, choice):
        """The weight-cache entries ``choice`` (as in :meth:`_approx_as`) builds."""
        path, _, variant = choice.partition("/")
        if self._conv_route(self.table.resolve(path)):
            return {("conv", variant or None)}
        return {(path, gi) for gi in range(self.groups)}

    def _approx_conv(self, x, path, variant=None):
        """Exact and lowrank paths batch chunk by batch chunk (about 4 MB each): quantised, convolved
        and dequantised while in cache, on int8 GEMMs (:meth:`ProductTable.conv2d_chunks`, its tap or
        unfolded route by ``variant`` ``tap`` or ``unfold``, None: its estimate) or as float
        convolutions that are exact by construction (:meth:`ProductTable.conv2d_parts`; ``variant``
        ``float`` asks for these where int8 GEMMs could run).

        The outputs are ``float32(T * scale + bias)`` of the exact integer accumulators after the
        zero-point terms, ``T = acc - zx sum(w) - zw box + K zx zw``, computed as on the unfolded
        route (:meth:`_dequant`): the integer part exactly in float64 first, then one multiplication
        and one addition, so that every path and route gives the same floats."""
        wq, wqp = self._weights()
        zx = int(self.act_qp.zero_point)
        table, cache = self.table, self._wcache.setdefault(("conv", variant), {})
        i8 = variant != "float" and table.conv_i8_ok(path, self.groups)
        # T = core + coef * box + offset (integers), with acc = core + b_mid box + const
        # (acc = core where the int8 route sums the whole LUT's factors)
        centred = table.conv_centred(path, self.groups, i8)
        coef, offset, scale, bias = self._conv_affine(wq, wqp, zx, table.conv_const(wq, cache), centred)

        def codes_of(b0, b1):
            return quantize(x[b0:b1], self.act_qp, as_float=True)
        B, C, H, W = x.shape
        if i8:
            chunks = table.conv2d_chunks(codes_of, x.shape, wq, self.stride, self.dilation, cache, self.padding, zx,
                                         {"tap": False, "unfold": True}.get(variant))
        else:
            per = max(1, CONV_CHUNK_BYTES // max(1, 4 * C * H * W))
            chunks = ((b0, min(B, b0 + per)) + table.conv2d_parts(codes_of(b0, b0 + per), wq, self.stride,
                                                                  self.dilation, self.groups, path, cache,
                                                                  self.padding, zx, i8=False)[:2]
                      for b0 in range(0, B, per))
        out = None
        for b0, b1, core, box in chunks:
            y = core
            nb, O = y.shape[:2]
            g = box.shape[1]
            y.view(nb, g, O // g, *y.shape[2:]).addcmul_(box.view(nb, g, 1, *box.shape[2:]),
                                                         coef.view(1, g, O // g, 1, 1))
            y.add_(offset).mul_(scale)
            if bias is not None:
                y.add_(bias)
            if out is None:   # the int8 route's cores are channels-last: so is the output then
                fmt = torch.channels_last if y.is_contiguous(memory_format=torch.channels_last) \
                    and not y.is_contiguous() else torch.contiguous_format
                out = torch.empty(B, *y.shape[1:], memory_format=fmt)
            out[b0:b1] = y
        if out is None:   # an empty batch
            oh, ow = (_out_size(n + 2 * p, k, s, dl) for n, p, k, s, dl in
                      zip((H, W), self.padding, self.kernel_size, self.stride, self.dilation))
            out = torch.empty(0, self.out_channels, oh, ow)
        return out

    def _conv_affine(self, wq, wqp, zx, const, centred=True):
        """Per output channel: the box coefficient and the offset (integers, float64) of ``T`` and the
        scale and bias (None without one) of the fused dequantisation (``centred``: the accumulators
        are ``core + b_mid * box + const``, else ``core``)."""
        key = ("affine", zx, float(self.act_qp.scale), centred)
        if key not in self._wcache:
            O, K = wq.shape[0], wq[0].numel()
            sw = wqp.scale.double() if wqp.scale.ndim else wqp.scale.double().expand(O)
            zw = wqp.zero_point.double() if wqp.zero_point.ndim else wqp.zero_point.double().expand(O)
            scale = self.act_qp.scale.double() * sw
            ints = (const.reshape(O) if centred else 0.0) - zx * wq.reshape(O, -1).sum(1).double() + K * zx * zw
            coef = (self.table.b_mid if centred else 0) - zw
            bias = None if self.bias is None else self.bias.detach().double().reshape(1, O, 1, 1)
            self._wcache[key] = (coef, ints.reshape(1, O, 1, 1), scale.reshape(1, O, 1, 1), bias)
        return self._wcache[key]

    def _approx_unfolded(self, x, path=None):
        """The layer as matrix products on unfolded columns, on ``path`` (None: the configured one)."""
        wq, wqp = self._weights()
        xq, oh, ow = self._columns(x)
        B, O, g = x.shape[0], self.out_channels, self.groups
        kg, og = wq[0].numel(), O // g
        y = torch.empty(xq.shape[0], O, dtype=torch.float64)
        for gi in range(g):
            xs = xq[:, gi * kg:(gi + 1) * kg]
            wmat = wq[gi * og:(gi + 1) * og].reshape(og, kg).t()
            acc = self._int_matmul(xs, wmat, gi, path)
            y[:, gi * og:(gi + 1) * og] = self._dequant(acc, xs, wmat, wqp, slice(gi * og, (gi + 1) * og))
        if self.bias is not None:
            y = y + self.bias.detach().double()
        return y.float().reshape(B, oh * ow, O).transpose(1, 2).reshape(B, O, oh, ow)

    def count_macs(self, x):
        kh, kw = self.kernel_size
        H, W = x.shape[-2] + 2 * self.padding[0], x.shape[-1] + 2 * self.padding[1]
        oh = (H - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        ow = (W - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        return oh * ow * self.out_channels * (self.in_channels // self.groups) * kh * kw


def layer_names(model):
    """Names of the approximable layers of ``model`` (see :data:`APPROXIMABLE`), in module order."""
    types = tuple(f.module_type for f in APPROXIMABLE.values())
    return [n for n, m in model.named_modules() if isinstance(m, types)]


def approx_layers(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, _ApproxMixin)]


# module type name -> factory(name, module, spec, config) of its approximate replacement; a new
# approximable type registers with ``@approximable(ModuleType)`` next to its approximate module
APPROXIMABLE = Registry("Approximable module type")


def approximable(module_type):
    """Decorator: ``factory(name, module, spec, config)`` builds the approximate twin of ``module_type``."""
    def add(factory):
        factory.module_type = module_type
        return APPROXIMABLE.register(module_type.__name__, factory)
    return add


@approximable(nn.Conv2d)
def _approx_conv(name, mod, spec, config):
    return ApproxConv2d(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding,
                        mod.dilation, mod.groups, mod.bias is not None, mod.padding_mode, spec, config, name)


@approximable(nn.Linear)
def _approx_linear(name, mod, spec, config):
    return ApproxLinear(mod.in_features, mod.out_features, mod.bias is not None, spec, config, name)


def _replacement(name, mod, spec, config):
    factory = next(f for f in APPROXIMABLE.values() if isinstance(mod, f.module_type))
    new = factory(name, mod, spec, config)
    new.weight = mod.weight
    if mod.bias is not None:
        new.bias = mod.bias
    return new


def _as_spec(value, layer):
    from axforge.hdl.arith import MultSpec
    if value is None or hasattr(value, "a_width"):
        return value
    if not isinstance(value, str):
        raise bad_value(f"Mapping value for layer {layer!r}", value, "a multiplier spec string")
    return MultSpec.parse(value)


@dataclass
class LayerReport:
    name: str
    kind: str
    spec: str
    path: str
    macs: int            # per input sample
    extra: dict = field(default_factory=dict)

    def to_dict(self):
        return {"name": self.name, "kind": self.kind, "spec": self.spec, "path": self.path, "macs": self.macs,
                **self.extra}


def calibrate(model, batches):
    """Run calibration batches through ``model``'s approximate layers (sets activation ranges and MACs).

    The float forward runs in float64 (the model is converted and back, losslessly): another CPU's
    float32 kernels sum in another order, and float64 keeps that difference below what rounding the
    observed ranges to float32 can see, so the scales and zero points are the same on every machine."""
    layers = approx_layers(model)
    hooks = []
    for _, m in layers:
        m.calibrating = True
        m.observer = MinMaxObserver()

        def hook(mod, inputs, _out=None):
            mod.macs_per_sample = mod.count_macs(inputs[0])
        hooks.append(m.register_forward_pre_hook(hook))
    was_training = model.training
    model.eval()
    model.double()
    seen = 0
    try:
        with torch.no_grad():
            for batch in batches:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                model(x.double())
                seen += 1
    finally:
        for h in hooks:
            h.remove()
        model.float()
        model.train(was_training)
    if not seen:
        raise AxforgeError("Calibration needs at least one batch, got none")
    for _, m in layers:
        m.finish_calibration()
    return model


def approximate(model, mapping=None, calib=None, config=QuantConfig(), copy_model=True):
    """Replace every Conv2d / Linear by its approximate twin according to ``mapping``.

    Parameters
    ----------
    model : torch.nn.Module
    mapping : dict, optional
        ``{layer name: multiplier spec}``; unmapped layers use the exact
        multiplier of the same widths (the exact 8-bit network).
    calib : iterable of batches (or one tensor), optional
        Calibration data; without it call :func:`calibrate` before use.
    config : QuantConfig

    Returns
    -------
    (model, report) : the approximate model (a copy unless ``copy_model`` is
        False) and one :class:`LayerReport` per layer with its MACs per sample.
    """
    mapping = dict(mapping or {})
    names = layer_names(model)
    for key in mapping:
        if key not in names:
            raise bad_value("Mapping layer", key, "one of " + ", ".join(names))
    specs = {n: _as_spec(mapping.get(n), n) for n in names}
    model = copy.deepcopy(model) if copy_model else model
    for name in names:
        parent, _, leaf = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, leaf, _replacement(name, owner.get_submodule(leaf), specs[name], config))
    if calib is not None:
        calibrate(model, [calib] if torch.is_tensor(calib) else calib)
    return model, mapping_report(model)


def mapping_report(model):
    """One :class:`LayerReport` per approximate layer: multiplier, path, MACs per sample, low-rank bound."""
    report = []
    for name, m in approx_layers(model):
        extra = {}
        if m.resolved_path == "lowrank":
            extra["lowrank"] = m.table.lowrank_info(m.weight[0].numel(), m.config.rank).to_dict()
        report.append(LayerReport(name, type(m).__name__, str(m.spec) if m.spec else "exact", m.resolved_path,
                                  m.macs_per_sample, extra))
    return report


def remap(model, mapping=None):
    """Change the multipliers of an approximated model in place (calibration is kept).

    ``mapping`` is ``{layer name: spec}``; layers not named go back to exact products.
    """
    mapping = dict(mapping or {})
    layers = dict(approx_layers(model))
    for key in mapping:
        if key not in layers:
            raise bad_value("Mapping layer", key, "one of " + ", ".join(layers))
    for name, m in layers.items():
        spec = _as_spec(mapping.get(name), name)
        if spec != m.spec:
            m._setup_table(spec)
    return model
