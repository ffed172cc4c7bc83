"""Which exact path ``auto`` runs for a layer: the fastest on this machine, timed once per shape class.

Every candidate path gives the same integers (the LUT's sums, bit for bit), so the choice only
changes speed. :func:`choose` takes a shape class (what the layer computes: the multiplier's
table, the GEMM route, the product's or the convolution's shape, the batch rounded to a power
of two), the candidate paths and a function that runs one of them on a slice of the real
input. On the first use of a class it runs each candidate once to build its weight tables,
then times three rounds of them back to back, and keeps the one with the smallest median
ratio to the fixed rule's choice over the rounds (a round's candidates see about the same
load on a shared machine, so the ratios vary far less than the times); the fixed rule's
choice stays unless another is at least 5 % faster:

* in memory, for the rest of the process;
* on disk (``AXFORGE_AUTO_CACHE=0`` turns this off), in one file under
  :func:`axforge.paths.cache_dir` per machine kind, keyed by the CPU model and its SIMD flags,
  the torch version, the thread count and the GEMM route, written atomically and verified on
  read (:func:`axforge.paths.read_verified`; a file for another machine kind is ignored).

``AXFORGE_AUTO=static`` skips the timing: ``auto`` is then the fixed rule of
:meth:`~.lutmm.ProductTable.resolve` (exact for an exact table, lowrank up to rank
:data:`~.lutmm.AUTO_MAX_RANK`, lut above). Nothing here runs at import.
"""

import functools
import hashlib
import json
import os
import time

import torch

from axforge.errors import bad_value
from axforge.paths import cache_dir, read_verified, write_verified

__all__ = ["choose", "mode", "machine", "cpu", "bucket", "decisions", "forget"]

FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8")
_CHOICES = {}         # repr((shape class, route)) -> chosen candidate, this process
_LOADED = set()       # routes whose disk file has been read into _CHOICES
_ROUNDS = 3           # timed rounds after the warm-up run
_MARGIN = 0.05        # a candidate must beat the fixed rule's by this much to replace it
_clock = time.perf_counter


def mode():
    """``time`` (the default: time the candidates once per shape class) or ``static`` (the fixed
    rule), from ``AXFORGE_AUTO``."""
    value = os.environ.get("AXFORGE_AUTO", "time")
    if value not in ("time", "static"):
        raise bad_value("AXFORGE_AUTO", value, "'time' or 'static'")
    return value


@functools.cache
def cpu():
    """(model name, SIMD flags of :data:`FLAGS` present) from ``/proc/cpuinfo``, read once."""
    name, flags = None, set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name is None:
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    if not name:
        import platform  # only where /proc/cpuinfo names no model (start-up speed)
        name = platform.processor() or platform.machine()
    return name, tuple(f for f in FLAGS if f in flags)


def machine(route):
    """What a timing depends on besides the shape: CPU model and flags, torch version, threads, route."""
    name, flags = cpu()
    return {"cpu": name, "flags": list(flags), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "route": route}


def bucket(n):
    """``n`` rounded down to a power of two (batch sizes within 2x share a timing)."""
    return 1 << max(0, int(n).bit_length() - 1)


def _disk_file(route):
    digest = hashlib.sha256(json.dumps(machine(route), sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / "autopath" / f"{digest}.json"


def _disk_choices(route):
    """The verified choices stored for this machine kind (empty without a valid file)."""
    if os.environ.get("AXFORGE_AUTO_CACHE") == "0":
        return {}
    value = read_verified(_disk_file(route))
    if not isinstance(value, dict) or value.get("machine") != machine(route) \
            or not isinstance(value.get("choices"), dict):
        return {}
    return value["choices"]


def _remember(route, key, choice):
    _CHOICES[key] = choice
    if os.environ.get("AXFORGE_AUTO_CACHE") == "0":
        return
    try:
        choices = dict(_disk_choices(route))
        choices[key] = choice
        write_verified(_disk_file(route), {"machine": machine(route), "choices": choices})
    except OSError:   # a read-only cache: the choice stays in memory
        pass


def choose(key, candidates, run, static, route):
    """The candidate (one of ``candidates``, strings) that ``auto`` runs for shape class ``key``.

    ``run(candidate)`` computes the product on a probe slice of the input (its result is not
    used); ``static`` is the answer of ``AXFORGE_AUTO=static``. With one candidate there is
    nothing to time. Otherwise the choice is read from memory or from the disk file of this
    machine kind (``route`` is part of its key), and timed only where neither has it."""
    candidates = list(candidates)
    if len(candidates) == 1:
        return candidates[0]
    if mode() == "static":
        return static
    k = repr((key, route))
    if k in _CHOICES and _CHOICES[k] in candidates:
        return _CHOICES[k]
    if route not in _LOADED:
        _LOADED.add(route)
        _CHOICES.update({kk: v for kk, v in _disk_choices(route).items() if kk not in _CHOICES})
        if k in _CHOICES and _CHOICES[k] in candidates:
            return _CHOICES[k]
    ref = next((c for c in candidates if c.partition("/")[0] == static), candidates[0])
    best = _time(candidates, run, ref)
    _remember(route, k, best)
    return best


def _time(candidates, run, ref):
    """The candidate with the smallest median time ratio to ``ref`` over :data:`_ROUNDS` rounds (each
    candidate run once first, which builds its weight tables; then the candidates back to back in
    each round); ``ref`` unless another's median ratio is below ``1 - _MARGIN``."""
    for c in candidates:
        run(c)
    times = {c: [] for c in candidates}
    for _ in range(_ROUNDS):
        for c in candidates:
            t0 = _clock()
            run(c)
            times[c].append(_clock() - t0)
    ratio = {c: _median([t / max(r, 1e-9) for t, r in zip(times[c], times[ref])]) for c in candidates}
    best = min(candidates, key=lambda c: (ratio[c], candidates.index(c)))
    return best if ratio[best] < 1 - _MARGIN else ref


def _median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def decisions():
    """The choices made or read in this process: ``{repr((shape class, route)): candidate}``."""
    return dict(_CHOICES)


def forget():
    """Drop the in-memory choices (the disk file stays; it is read again on the next choice)."""
    _CHOICES.clear()
    _LOADED.clear()
