"""The system model: a hand-computed case, the CPU model's strict YAML, the kernels' op counts."""

import pytest

from axforge.errors import AxforgeError
from axforge.flows.npu_system import CpuModel, load_cpu, system_figures
from axforge.models.kernels import KERNELS, OP_CLASSES, kernel


def _cpu(**kw):
    d = {"name": "t", "freq_ghz": 1.0, "power_w": 2.0, "cycles": dict.fromkeys(OP_CLASSES, 1),
         "call_cycles": 10, "queue_cycles_per_word": 1}
    d.update(kw)
    return CpuModel.from_dict(d)


def test_a_hand_computed_system():
    cpu = _cpu(cycles={**dict.fromkeys(OP_CLASSES, 1), "sqrt": 50})
    k = kernel("kmeans")                          # add 5, mul 3, sqrt 1: 10 + 5 + 3 + 50 = 68 cycles
    assert cpu.kernel_cycles(k) == 68
    safe = [True, True, True, False]
    f = system_figures(cpu, k, safe, {"safe": 100, "unsafe": 40}, 500.0, {"pred": 30.0, "approx": 20.0},
                       leakage_uw=1000.0, n_out=1)
    # CPU: 4 * 6 input words + 4 result words (3 outputs + 1 fallback), plus one exact run: 28 + 68
    # NPU: 3 * 100 + 40 = 340 cycles at 500 MHz = 680 ns; CPU cycles at 1 GHz = 96 ns
    t_sys = 96e-9 + 680e-9
    assert f["system_time_s"] == pytest.approx(t_sys / 4)
    assert f["speedup"] == pytest.approx(4 * 68e-9 / t_sys)
    e_sys = 2.0 * 96e-9 + (4 * 30 + 3 * 20) * 1e-12 + 1e-3 * t_sys
    assert f["energy_reduction"] == pytest.approx(4 * 2.0 * 68e-9 / e_sys)
    assert f["invoked"] == 3 and f["inputs"] == 4


def test_cpu_yaml_is_strict(tmp_path):
    cpu = load_cpu()
    assert cpu.freq_ghz == 3.4 and set(cpu.cycles) == set(OP_CLASSES)
    with pytest.raises(AxforgeError, match="unknown key 'freq'"):
        _cpu(freq=1)
    with pytest.raises(AxforgeError, match="key 'power_w' must be a positive number, not 0"):
        _cpu(power_w=0)
    with pytest.raises(AxforgeError, match="key 'cycles' must be a mapping with exactly the operation classes"):
        _cpu(cycles={"add": 1})
    y = tmp_path / "c.yaml"
    y.write_text("name: x\n")
    with pytest.raises(AxforgeError, match="missing key 'freq_ghz'"):
        load_cpu(y)


def test_every_kernel_counts_its_operations():
    for name in KERNELS:
        k = kernel(name)
        assert k.ops and set(k.ops) <= set(OP_CLASSES), name
    # kmeans by hand: three differences, three squares, two additions, a square root
    assert kernel("kmeans").ops == {"add": 5, "mul": 3, "sqrt": 1}
    # jpeg's DCT: two 8x8 by 8x8 matrix products, 8 * 8 * 8 multiplications each
    assert kernel("jpeg").ops["mul"] == 2 * 8 ** 3
