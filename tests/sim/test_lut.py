"""sim/lut.py: LUTs come from the RTL (Verilator harness) and equal the models; cache verified."""

import numpy as np
import pytest

from axforge.hdl.arith import MultSpec
from axforge.flows.char import library_specs
from axforge.sim.lut import evaluate_rtl, extract_lut

REPRESENTATIVE = [
    "exact:8x8u:arch=array", "exact:8x8s:arch=booth", "exact:8x4u:arch=wallace",
    "exact:8x8s:arch=behav", "trunc:8x8s:k=7,comp=const", "bam:8x8u:h=2,v=6",
    "perf:6x8s:start=1,count=2", "kulkarni:8x8u:t=3", "drum:8x8s:k=4",
    "mitchell:8x8u:ec=0,w=3", "mitchell:7x8s:ec=1", "cmp42:8x8s:c=8,design=pair",
]


@pytest.mark.parametrize("text", REPRESENTATIVE)
def test_rtl_lut_equals_model(text):
    spec = MultSpec.parse(text)
    a, b = spec.operands()
    lut = extract_lut(spec)
    assert lut.shape == (1 << (spec.a_width + spec.b_width),)
    assert np.array_equal(lut, spec.model(a, b))


def test_wide_design_on_samples():
    spec = MultSpec.parse("trunc:16x12s:k=10,comp=var")
    rng = np.random.default_rng(3)
    a = rng.integers(-2 ** 15, 2 ** 15, 20000)
    b = rng.integers(-2 ** 11, 2 ** 11, 20000)
    a[:4], b[:4] = [-2 ** 15, 2 ** 15 - 1, -1, 0], [-2 ** 11, 2 ** 11 - 1, -1, 5]
    assert np.array_equal(evaluate_rtl(spec, a, b), spec.model(a, b))


def test_corrupt_lut_cache_is_rebuilt():
    from axforge.generators.emit import design_hash
    from axforge.paths import cache_dir
    spec = MultSpec.parse("drum:6x6u:k=3")
    good = extract_lut(spec)
    path = cache_dir() / "lut" / f"{design_hash(spec)}.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert np.array_equal(extract_lut(spec), good)


@pytest.mark.slow
@pytest.mark.parametrize("signed", [False, True])
def test_whole_library_rtl_equals_model(signed):
    luts = set()
    for spec in library_specs(8, 8, signed):
        a, b = spec.operands()
        lut = extract_lut(spec)
        assert np.array_equal(lut, spec.model(a, b)), str(spec)
        luts.add(lut.tobytes())
    assert len(luts) >= (150 if not signed else 40)


def test_big_models_compile_in_one_unit_per_core(tmp_path, monkeypatch):
    """Verilator C++ above the size limit is split into balanced groups, one per core; small stays whole."""
    from axforge.sim import verilator as V
    sizes = {f"Vdut_{i}.cpp": s for i, s in enumerate([900, 800, 700, 300, 200, 100, 50])}
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
    cpps = sorted(sizes)
    monkeypatch.setattr(V.os, "cpu_count", lambda: 2)
    assert V._split_units(tmp_path, cpps) == [cpps]                  # below _SPLIT_BYTES
    monkeypatch.setattr(V, "_SPLIT_BYTES", 1000)
    groups = V._split_units(tmp_path, cpps)
    assert len(groups) == 2 and sorted(sum(groups, [])) == cpps
    loads = [sum(sizes[c] for c in g) for g in groups]
    assert abs(loads[0] - loads[1]) <= 100                             # 1550 and 1500 bytes
    monkeypatch.setattr(V.os, "cpu_count", lambda: 1)
    assert V._split_units(tmp_path, cpps) == [cpps]


def test_a_verilog_error_is_reported_with_its_log(tmp_path):
    """A harness build that Verilator rejects raises one AxforgeError naming the step and a kept log."""
    from axforge.errors import AxforgeError
    from axforge.sim.verilator import build_harness
    bad = {"broken.v": "module broken(input a, output y);\n  assign y = a +;\nendmodule\n"}
    with pytest.raises(AxforgeError, match=r"Verilator failed: .*full log: .*\.log") as exc:
        build_harness("test-broken-" + str(tmp_path.name), bad, "broken")
    log = str(exc.value).rsplit("full log: ", 1)[1].rstrip(")")
    assert "syntax error" in open(log).read()
