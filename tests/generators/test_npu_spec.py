"""NPU specs: strict keys, one-line errors, presets, YAML or preset wherever an NPU is named."""

import pytest

from axforge.errors import AxforgeError
from axforge.generators.npu import PRESETS, NpuSpec, load_npu, preset


@pytest.mark.parametrize("data, msg", [
    ({"tiles": 1}, "missing key 'pes' (required: pes, tiles)"),
    ({"tiles": 1, "pes": 2, "pe": 3}, "unknown key 'pe'; allowed keys: acc_width, data_depth"),
    ({"tiles": 0, "pes": 2}, "NPU key 'tiles' must be an integer between 1 and 16, not 0"),
    ({"tiles": 1, "pes": 2, "width": 20}, "NPU key 'width' must be an integer between 4 and 16, not 20"),
    ({"tiles": 1, "pes": 2, "signed": "yes"}, "NPU key 'signed' must be true or false, not 'yes'"),
    ({"tiles": 1, "pes": 2, "acc_width": 12}, "NPU key 'acc_width' must be an integer between 17 and 48, not 12"),
    ({"tiles": 1, "pes": 2, "multiplier": "exact:6x6s"},
     "NPU key 'multiplier' widths must be 8x8s (the NPU's width and signedness), not '6x6s'"),
    ({"tiles": 1, "pes": 2, "signed": False, "multiplier": "exact:8x8s"}, "must be 8x8u"),
    ({"tiles": 1, "pes": 2, "multiplier": "nosuch:8x8s"}, "nosuch"),
])
def test_bad_specs_name_the_field(data, msg):
    with pytest.raises(AxforgeError) as exc:
        NpuSpec.from_dict(data)
    assert msg in str(exc.value) and "\n" not in str(exc.value)


def test_defaults_and_multiplier_default_to_exact():
    s = NpuSpec.from_dict({"tiles": 2, "pes": 3, "signed": False})
    assert s.multiplier.startswith("exact:8x8u") and s.config.acc_width == 24 and s.config.n_pes == 6
    assert NpuSpec.from_dict({"tiles": 1, "pes": 1, "width": 6}).multiplier.startswith("exact:6x6s")


def test_presets_and_yaml_paths(tmp_path):
    for name in PRESETS:
        assert load_npu(name) == preset(name)
    y = tmp_path / "n.yaml"
    y.write_text("tiles: 1\npes: 4\nmultiplier: trunc:8x8s:k=6,comp=const\n")
    s = load_npu(str(y))
    assert s.config.pes == 4 and s.multiplier.startswith("trunc:8x8s")
    assert load_npu("npu-tiny", "drum:8x8s:k=5").multiplier.startswith("drum:8x8s")
    with pytest.raises(AxforgeError, match="NPU must be a YAML file or a preset \\(npu-tiny"):
        load_npu("npu-huge")
    y.write_text("tiles: [1\n")
    with pytest.raises(AxforgeError, match="malformed"):
        load_npu(str(y))
    # the label does not change the hardware
    assert NpuSpec.from_dict({"tiles": 1, "pes": 2, "name": "a"}).design.content_hash == \
        NpuSpec.from_dict({"tiles": 1, "pes": 2, "name": "b"}).design.content_hash


def test_emission_writes_one_pe_module_and_the_npu_script(tmp_path):
    import re

    from axforge.generators.npu import emit_npu
    spec = preset("npu-tiny")
    d = spec.design
    man = emit_npu(spec, tmp_path / "npu", {"cells.lib": "lib", "sram.memlib": "memlib"})
    out = tmp_path / "npu"
    pe = out / f"{d.pe_module}.v"
    assert pe.is_file() and f"{d.pe_module}.v" in man["files"]
    assert len(re.findall(rf"^module {re.escape(d.pe_module)}\b", pe.read_text(), re.M)) == 1
    top = (out / f"{d.top}.v").read_text()
    # every PE of every tile is an instance of the one PE module
    assert len(re.findall(rf"^\s*{re.escape(d.pe_module)}\s", top, re.M)) == spec.config.n_pes
    script = (out / "synth.ys").read_text()
    assert script == d.synth_script([n for n in man["files"] if n.endswith(".v")])
    assert "memory_libmap -lib sram.memlib" in script and "synth -flatten" not in script
    assert (out / "cells.lib").read_text() == "lib" and (out / "sram.memlib").read_text() == "memlib"
