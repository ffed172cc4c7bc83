"""int8gemm: the CPU probe runs on first use, never at import."""

import json
import os
import subprocess
import sys

import pytest

# Run in a fresh interpreter: torch is imported first (what it does is not ours to check), then
# ``open`` is spied on and torch's dispatcher watched while the emulation modules are imported.
PROBE = r"""
import builtins, json
import torch
from torch.utils._python_dispatch import TorchDispatchMode

opened = []
real_open = builtins.open
def spy(file, *args, **kwargs):
    opened.append(str(file))
    return real_open(file, *args, **kwargs)

class Ops(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))

builtins.open = spy
with Ops() as mode:
    import axforge.models.layers
    import axforge.models.lutmm
    from axforge.models import conv_plan, convolution, exact, factor, gather, i8layout, int8gemm, lowrank
    at_import = {"opened": list(opened), "ops": list(mode.ops), "decided": "INT8_GEMM" in vars(int8gemm),
                 "cpu_cache": int8gemm._cpu_int8_dot.cache_info().currsize, "u8": int8gemm._U8_GEMM}
    torch.zeros(1)        # the watch itself works
    seen_op = bool(mode.ops)
flag = int8gemm.INT8_GEMM  # first use: decides
print(json.dumps({"at_import": at_import, "seen_op": seen_op, "flag": flag, "opened": opened,
                  "has_int_mm": hasattr(torch, "_int_mm"), "cpu_cache": int8gemm._cpu_int8_dot.cache_info().currsize}))
"""


def probe(**env):
    env = {k: v for k, v in dict(os.environ, **env).items() if v is not None}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_reads_no_cpu_flags_and_runs_no_kernel():
    env = {k: None for k in ("AXFORGE_INT8_GEMM", "AXFORGE_U8_GEMM")}
    got = probe(**env)
    assert got["at_import"] == {"opened": [], "ops": [], "decided": False, "cpu_cache": 0, "u8": None}
    assert got["seen_op"]
    # the first read of INT8_GEMM probes the CPU (where torch has int8 GEMMs at all), once
    assert ("/proc/cpuinfo" in got["opened"]) == got["has_int_mm"]
    assert got["opened"].count("/proc/cpuinfo") <= 1
    assert got["cpu_cache"] == int(got["has_int_mm"])


@pytest.mark.parametrize("value", ["0", "1"])
def test_forced_route_skips_the_cpu_probe(value):
    got = probe(AXFORGE_INT8_GEMM=value)
    assert got["flag"] is (value == "1")
    assert "/proc/cpuinfo" not in got["opened"] and got["cpu_cache"] == 0
