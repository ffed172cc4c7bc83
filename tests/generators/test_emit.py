"""generators/emit.py: deterministic files, manifest, lint cleanliness."""

import json
import subprocess
import sys

import pytest

from axforge.generators.emit import emit_verilog
from axforge.hdl.arith import FAMILIES, MultSpec
from axforge.flows.char import library_specs
from axforge.sim.verilator import lint, lint_design


def test_manifest_and_filelist(tmp_path):
    res = emit_verilog(MultSpec.parse("perf:8x8u:start=2,count=2"), tmp_path)
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["spec"] == "perf:8x8u:start=2,count=2,tree=dadda"
    assert man["content_hash"] == res.content_hash and len(res.content_hash) == 64
    assert [p["name"] for p in man["ports"]] == ["a", "b", "p"]
    assert man["tools"]["amaranth"].startswith("0.5")
    assert (tmp_path / "filelist.f").read_text() == f"{res.module}.v\n"
    # operand bits 2 and 3 of b are unused by design: waived, and only those
    vlt = (tmp_path / f"{res.module}.vlt").read_text()
    assert vlt.count("UNUSEDSIGNAL") == 1 and "'b'" in vlt


def test_byte_identical_across_processes(tmp_path):
    code = ("import sys; from axforge.hdl.arith import MultSpec; "
            "from axforge.generators.emit import _convert; "
            "sys.stdout.write(_convert(MultSpec.parse('mitchell:8x6s:ec=1')))")
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)]
    assert outs[0] == outs[1] and "module axf_mitchell_8x6s_" in outs[0]


def test_lint_catches_warnings(tmp_path):
    v = tmp_path / "w.v"
    v.write_text("module w(input [3:0] a, output [1:0] y);\nassign y = a;\nendmodule\n")
    assert any("WIDTH" in w for w in lint([v], "w"))


def lint_sample():
    specs = []
    for name, fam in sorted(FAMILIES.items()):
        for signed in (False, True):
            lib = fam.library(8, 8, signed)
            specs += [MultSpec.make(name, 8, 8, signed, **p) for p in (lib[0], lib[-1])]
    specs += [MultSpec.parse(s) for s in ("trunc:8x8u:k=4,reg=1", "drum:16x8s:k=6",
                                          "exact:5x3u:arch=booth")]
    return specs


def test_lint_zero_warnings_sample():
    warnings = {str(s): lint_design(s) for s in lint_sample()}
    assert sum(len(w) for w in warnings.values()) == 0, {k: v[:2] for k, v in warnings.items() if v}


@pytest.mark.slow
def test_lint_zero_warnings_whole_library():
    warnings = {str(s): lint_design(s) for s in library_specs(8, 8)}
    assert sum(len(w) for w in warnings.values()) == 0, {k: v[:2] for k, v in warnings.items() if v}
