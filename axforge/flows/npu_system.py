"""The system model: a CPU that offloads a kernel to the NPU, against the same CPU alone.

Per input, the CPU sends ``n_in`` words to the NPU and reads its answer; the NPU always runs the
prediction phase and, for an input it predicts safe, the approximation phase; for an input it
rejects, the CPU runs the kernel's exact code. The CPU-only baseline runs the exact code on
every input. Nothing overlaps (the CPU waits for the NPU), so:

    time   = queue + NPU cycles / f_NPU + (rejected: the exact code on the CPU)
    energy = CPU power x (queue + exact code) + NPU energy (prediction, the approximation when
             invoked) + NPU leakage x time

The CPU (:class:`CpuModel`) prices a kernel's exact code from its operation counts
(:attr:`axforge.models.kernels.Kernel.ops`): ``call_cycles + sum(count x cycles[op])`` cycles at
``freq_ghz``, at ``power_w``. The default model (``cpu_core.yaml``, next to this file) is an
assumed Penryn-class core at 3.4 GHz; ``axforge npu report --cpu FILE`` takes a user's own. The
CPU's energy while it waits for the NPU is not counted (a clock-gated core), which favours the
NPU system; the figures are region speedups (the kernel alone, not the whole application).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from axforge.errors import AxforgeError, bad_value
from axforge.models.kernels import OP_CLASSES

__all__ = ["CPU_YAML", "CpuModel", "load_cpu", "system_figures"]

CPU_YAML = Path(__file__).with_name("cpu_core.yaml")
_KEYS = ("name", "freq_ghz", "power_w", "cycles", "call_cycles", "queue_cycles_per_word")


@dataclass(frozen=True)
class CpuModel:
    """A CPU core: clock, power while busy, cycles per operation class (see the module docstring)."""
    name: str
    freq_ghz: float
    power_w: float
    cycles: dict
    call_cycles: float
    queue_cycles_per_word: float

    @classmethod
    def from_dict(cls, d, where="CPU model"):
        if not isinstance(d, dict):
            raise AxforgeError(f"{where} must be a mapping of keys to values, not {type(d).__name__}")
        unknown = sorted(set(d) - set(_KEYS))
        if unknown:
            raise AxforgeError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(_KEYS)}")
        missing = [k for k in _KEYS if k not in d]
        if missing:
            raise AxforgeError(f"{where}: missing key {missing[0]!r} (required: {', '.join(_KEYS)})")
        for key in ("freq_ghz", "power_w"):
            if isinstance(d[key], bool) or not isinstance(d[key], (int, float)) or d[key] <= 0:
                raise bad_value(f"{where} key '{key}'", d[key], "a positive number")
        for key in ("call_cycles", "queue_cycles_per_word"):
            if isinstance(d[key], bool) or not isinstance(d[key], (int, float)) or d[key] < 0:
                raise bad_value(f"{where} key '{key}'", d[key], "a number >= 0")
        cyc = d["cycles"]
        if not isinstance(cyc, dict) or set(cyc) != set(OP_CLASSES):
            have = sorted(cyc) if isinstance(cyc, dict) else cyc
            raise bad_value(f"{where} key 'cycles'", have, "a mapping with exactly the operation classes "
                            + ", ".join(OP_CLASSES))
        for op, v in cyc.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise bad_value(f"{where} key 'cycles.{op}'", v, "a number >= 0")
        return cls(str(d["name"]), float(d["freq_ghz"]), float(d["power_w"]), {k: float(v) for k, v in cyc.items()},
                   float(d["call_cycles"]), float(d["queue_cycles_per_word"]))

    def kernel_cycles(self, kernel):
        """Cycles of one exact invocation of ``kernel`` (its ``ops``)."""
        if not kernel.ops:
            raise AxforgeError(f"Kernel {kernel.name!r} lists no operation counts (Kernel.ops): the CPU "
                               "model cannot price it")
        return self.call_cycles + sum(n * self.cycles[op] for op, n in kernel.ops.items())

    def seconds(self, cycles):
        return cycles / (self.freq_ghz * 1e9)

    def joules(self, cycles):
        return self.power_w * self.seconds(cycles)


def load_cpu(path=None):
    """The :class:`CpuModel` of a YAML file (default: ``cpu_core.yaml``)."""
    from axforge.generators.spec import read_yaml
    p = Path(path) if path is not None else CPU_YAML
    if not p.is_file():
        raise bad_value("CPU model", str(path), "an existing YAML file")
    return CpuModel.from_dict(read_yaml(p, "CPU model YAML"), f"CPU model {p}")


def system_figures(cpu, kernel, safe, npu_cycles, npu_mhz, energy_pj, leakage_uw, n_out):
    """Speedup and energy reduction of the CPU + NPU system against the CPU alone.

    Parameters
    ----------
    cpu : CpuModel
    kernel : Kernel -- its ``ops`` and ``n_in``.
    safe : (N,) bool -- the NPU's decision per input.
    npu_cycles : dict -- :func:`axforge.hdl.npu.cycles.sample_cycles` (``safe``, ``unsafe``).
    npu_mhz : float -- the NPU's clock.
    energy_pj : dict -- ``pred`` (per input) and ``approx`` (per invoked input), dynamic, pJ.
    leakage_uw : float -- the NPU's leakage power.
    n_out : int -- result words of an invoked input (a rejected one returns one word).

    Returns a dict: ``speedup``, ``energy_reduction``, the CPU-only and system ``time_s`` and
    ``energy_j`` per input, and their parts.
    """
    safe = np.asarray(safe, dtype=bool)
    n = len(safe)
    n_safe = int(safe.sum())
    kc = cpu.kernel_cycles(kernel)
    words = n * kernel.n_in + n_safe * n_out + (n - n_safe)
    cpu_cycles = cpu.queue_cycles_per_word * words + (n - n_safe) * kc
    npu_s = (n_safe * npu_cycles["safe"] + (n - n_safe) * npu_cycles["unsafe"]) / (npu_mhz * 1e6)
    t_sys = cpu.seconds(cpu_cycles) + npu_s
    e_npu = (n * energy_pj["pred"] + n_safe * energy_pj["approx"]) * 1e-12 + leakage_uw * 1e-6 * t_sys
    e_sys = cpu.joules(cpu_cycles) + e_npu
    t_cpu, e_cpu = n * cpu.seconds(kc), n * cpu.joules(kc)
    return {"inputs": n, "invoked": n_safe, "cpu_cycles_per_input": kc,
            "cpu_only_time_s": t_cpu / n, "cpu_only_energy_j": e_cpu / n,
            "system_time_s": t_sys / n, "system_energy_j": e_sys / n,
            "npu_time_s": npu_s / n, "npu_energy_j": e_npu / n, "cpu_time_s": cpu.seconds(cpu_cycles) / n,
            "speedup": t_cpu / t_sys, "energy_reduction": e_cpu / e_sys}
