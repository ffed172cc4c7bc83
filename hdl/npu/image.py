"""The NPU's configuration image: its memory map, the writes of a program, and result beats.

The host configures the NPU through the ``cfg`` stream, one ``{addr, data}`` write per beat,
accepted only while the NPU is idle (between samples). ``data`` is ``MemoryMap.data_width`` bits;
a field narrower than that takes its low bits (signed fields in two's complement). The address is
``MemoryMap.addr_width`` bits: a 2-bit region in the top bits, then a region-specific word:

====== =================================================== ==========================================
region word (low bits, most significant first)              what
====== =================================================== ==========================================
0      ``reg`` (3 bits)                                    global registers :data:`GLOBALS`
1      ``layer`` (``layer_bits``), ``field`` (3 bits)      layer descriptors :data:`LAYER_FIELDS`
2      ``tile``, ``pe``, ``word`` (``weight_bits``)        PE weight memory word
3      ``tile``, ``pe``, ``slot`` (``slot_bits``),          PE neuron slot field :data:`SLOT_FIELDS`
       ``field`` (2 bits)
====== =================================================== ==========================================

Global registers: ``n_in`` (input words per sample), ``n_pred`` (prediction layers), ``n_layers``
(all layers), ``p_addr``, ``p_outputs`` (1 or 2), ``out_addr``, ``n_out``. Layer descriptors
(prediction layers first): ``src``, ``dst``, ``n_in``, ``n_out``, ``shift`` (S), ``gate`` (bit 0:
the layer is gated; bits 1 and up: the data address of ``c[0]``), ``wbase`` (the layer's first
weight word in every PE) and ``slot`` (its first neuron slot). An NPU with ``gating: false`` has
no ``gate`` field (:attr:`MemoryMap.layer_fields`): the image writes none, the NPU ignores a write
to its address (the other fields keep their addresses), and ``data_width`` does not count it.
Neuron slot fields: ``bias``
(``acc_width`` bits), ``mult`` (M, ``mult_bits``), ``zw`` (the weight zero point, unsigned NPU
only), ``kind`` (an index into :data:`~.program.KINDS`). The bit widths of ``tile`` and ``pe`` are
``tile_bits`` and ``pe_bits``; every index is at least one bit wide. Writes to a tile or PE that
does not exist are ignored; addresses past a memory's depth are not checked (an image never has
them).

Placement (as :func:`~.program.check_fits` counts it): neuron ``j`` of a layer runs on global PE
``g = j % n_pes`` (``g = tile * pes + pe``) in pass ``j // n_pes``. Every PE stores, layer after
layer and pass after pass, the ``n_in`` weights of its neuron of that pass, then its neuron's slot;
a PE without a neuron in a pass gets zero weights and a zero slot (never written back).

The sample index of the ``results`` beats counts samples since reset or since the last
configuration write. Reset clears the global registers (not the memories): send the image again
after a reset. The NPU accepts samples only once ``n_layers`` is non-zero.
"""

from dataclasses import dataclass

import numpy as np

from axforge.errors import AxforgeError, bad_value

from .program import check_fits, passes

__all__ = ["GLOBALS", "KIND_BITS", "LAYER_FIELDS", "SLOT_FIELDS", "MemoryMap", "image_words", "index_bits",
           "samples_from_beats"]

GLOBALS = ("n_in", "n_pred", "n_layers", "p_addr", "p_outputs", "out_addr", "n_out")
LAYER_FIELDS = ("src", "dst", "n_in", "n_out", "shift", "gate", "wbase", "slot")
SLOT_FIELDS = ("bias", "mult", "zw", "kind")
KIND_BITS = 3


def index_bits(n):
    """Bits of an index into ``n`` items (at least one)."""
    return max(1, (n - 1).bit_length())


@dataclass(frozen=True)
class MemoryMap:
    """Field widths and addresses of the configuration space of one :class:`~.config.NpuConfig`."""

    config: object

    @property
    def addr_bits(self):
        """A data memory address."""
        return index_bits(self.config.data_depth)

    @property
    def count_bits(self):
        """A count of data words (``n_in``, ``n_out``: up to ``data_depth``)."""
        return self.config.data_depth.bit_length()

    @property
    def layer_bits(self):
        return index_bits(self.config.max_layers)

    @property
    def layer_count_bits(self):
        return self.config.max_layers.bit_length()

    @property
    def tile_bits(self):
        return index_bits(self.config.tiles)

    @property
    def pe_bits(self):
        return index_bits(self.config.pes)

    @property
    def weight_bits(self):
        return index_bits(self.config.weight_depth)

    @property
    def slot_bits(self):
        return index_bits(self.config.neuron_depth)

    def global_width(self, name):
        return {"n_in": self.count_bits, "n_pred": self.layer_count_bits, "n_layers": self.layer_count_bits,
                "p_addr": self.addr_bits, "p_outputs": 2, "out_addr": self.addr_bits,
                "n_out": self.count_bits}[name]

    @property
    def layer_fields(self):
        """The layer descriptor fields the NPU has: :data:`LAYER_FIELDS`, less ``gate`` without gating."""
        return LAYER_FIELDS if self.config.gating else tuple(f for f in LAYER_FIELDS if f != "gate")

    def layer_width(self, name):
        return {"src": self.addr_bits, "dst": self.addr_bits, "n_in": self.count_bits, "n_out": self.count_bits,
                "shift": self.config.shift_bits, "gate": self.addr_bits + 1, "wbase": self.weight_bits,
                "slot": self.slot_bits}[name]

    def slot_width(self, name):
        c = self.config
        return {"bias": c.acc_width, "mult": c.mult_bits, "zw": c.width, "kind": KIND_BITS}[name]

    @property
    def word_bits(self):
        """Bits of a region's word (the address less the region)."""
        pe = self.tile_bits + self.pe_bits
        return max(3, self.layer_bits + 3, pe + self.weight_bits, pe + self.slot_bits + 2)

    @property
    def addr_width(self):
        return self.word_bits + 2

    @property
    def data_width(self):
        widths = [self.global_width(n) for n in GLOBALS] + [self.layer_width(n) for n in self.layer_fields]
        return max(widths + [self.slot_width(n) for n in SLOT_FIELDS])

    def _addr(self, region, word):
        return region << self.word_bits | word

    def global_addr(self, name):
        return self._addr(0, GLOBALS.index(name))

    def layer_addr(self, layer, name):
        return self._addr(1, layer << 3 | LAYER_FIELDS.index(name))

    def _pe(self, g):
        c = self.config
        return (g // c.pes) << self.pe_bits | (g % c.pes)

    def weight_addr(self, g, word):
        """Weight ``word`` of global PE ``g``."""
        return self._addr(2, self._pe(g) << self.weight_bits | word)

    def slot_addr(self, g, slot, name):
        """Field ``name`` of neuron slot ``slot`` of global PE ``g``."""
        return self._addr(3, (self._pe(g) << self.slot_bits | slot) << 2 | SLOT_FIELDS.index(name))


def _check_program(program, config):
    """What :func:`check_fits` leaves out: the program's own addresses, and layers that would
    overwrite their own inputs between passes."""
    c = config
    spans = [("input", 0, program.n_in), ("P(x)", program.p_addr, program.p_outputs),
             ("output", program.out_addr, program.n_out)]
    for what, start, n in spans:
        if n < 1 or start < 0 or start + n > c.data_depth:
            raise bad_value(f"Program {what} addresses", f"{start}..{start + n - 1}",
                            f"a non-empty range within the data memory 0..{c.data_depth - 1}")
    for i, layer in enumerate(program.layers):
        if passes(layer.n_out, c.n_pes) == 1:
            continue   # a single pass reads everything before it writes
        reads = [(layer.src, layer.n_in)] + ([(layer.gate, layer.n_out)] if layer.gate >= 0 else [])
        for start, n in reads:
            if start < layer.dst + layer.n_out and layer.dst < start + n:
                raise AxforgeError(f"Layer {i} runs in {passes(layer.n_out, c.n_pes)} passes and writes "
                                   f"data {layer.dst}..{layer.dst + layer.n_out - 1} over its own inputs "
                                   f"{start}..{start + n - 1}")


def image_words(program, config):
    """Every configuration write of ``program`` on ``config``, in the order the host sends them:
    the global registers, the layer descriptors (no ``gate`` field with ``gating: false``), then PE
    by PE its weights and its neuron slots.

    Returns a list of ``(addr, data)`` with ``data`` the raw unsigned field bits."""
    check_fits(program, config)
    _check_program(program, config)
    c, mm = config, MemoryMap(config)
    mask = (1 << mm.data_width) - 1
    layers = program.layers
    words = [(mm.global_addr(name), value) for name, value in (
        ("n_in", program.n_in), ("n_pred", len(program.pred)), ("n_layers", len(layers)),
        ("p_addr", program.p_addr), ("p_outputs", program.p_outputs), ("out_addr", program.out_addr),
        ("n_out", program.n_out))]
    n_pes = c.n_pes
    weights = [[] for _ in range(n_pes)]      # per PE: its weight words, in memory order
    slots = [[] for _ in range(n_pes)]        # per PE: (bias, M, zw, kind) per slot
    for li, layer in enumerate(layers):
        gate = (layer.gate << 1 | 1) if layer.gate >= 0 else 0
        desc = {"src": layer.src, "dst": layer.dst, "n_in": layer.n_in, "n_out": layer.n_out,
                "shift": layer.shift, "gate": gate, "wbase": len(weights[0]), "slot": len(slots[0])}
        words += [(mm.layer_addr(li, name), desc[name]) for name in mm.layer_fields]
        for p in range(passes(layer.n_out, n_pes)):
            for g in range(n_pes):
                j = p * n_pes + g
                if j < layer.n_out:
                    weights[g] += [int(v) for v in layer.weights[j]]
                    slots[g].append((int(layer.bias[j]), int(layer.mult[j]), int(layer.zw[j]), int(layer.kind[j])))
                else:
                    weights[g] += [0] * layer.n_in
                    slots[g].append((0, 0, 0, 0))
    fields = [f for f in SLOT_FIELDS if f != "zw" or not c.signed]
    for g in range(n_pes):
        words += [(mm.weight_addr(g, k), v) for k, v in enumerate(weights[g])]
        for s, values in enumerate(slots[g]):
            words += [(mm.slot_addr(g, s, f), v) for f, v in zip(SLOT_FIELDS, values) if f in fields]
    return [(a, int(d) & mask) for a, d in words]


def samples_from_beats(beats):
    """Group ``results`` beats, ``(data, index, fallback, last)`` each, into samples:
    a list of ``{"index", "safe", "h"}`` (``h`` an int64 array, empty for a fallback)."""
    out, h = [], []
    for data, index, fallback, last in beats:
        if fallback:
            if h or not last:
                raise AxforgeError(f"Result beats of sample {index}: a fallback beat must be a sample's only beat")
            out.append({"index": index, "safe": False, "h": np.zeros(0, dtype=np.int64)})
            continue
        h.append(data)
        if last:
            out.append({"index": index, "safe": True, "h": np.array(h, dtype=np.int64)})
            h = []
    if h:
        raise AxforgeError(f"Result beats end inside a sample ({len(h)} beats without last)")
    return out
