"""int8gemm: the CPU probes run on first use, never at import; the u8x7 kernel's exactness bound."""

import json
import os
import subprocess
import sys

import pytest
import torch

import reference as ref
from axforge.errors import AxforgeError
from axforge.models import int8gemm

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
    from axforge.models import autopath
    at_import = {"opened": list(opened), "ops": list(mode.ops), "decided": "INT8_GEMM" in vars(int8gemm),
                 "cpu_cache": int8gemm._cpu_int8_dot.cache_info().currsize, "u8": int8gemm._U8_GEMM,
                 "u8x7": "U8X7_GEMM" in vars(int8gemm), "rate": int8gemm._U8X7_RATE,
                 "auto_cpu": autopath.cpu.cache_info().currsize}
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
    assert got["at_import"] == {"opened": [], "ops": [], "decided": False, "cpu_cache": 0, "u8": None,
                                "u8x7": False, "rate": None, "auto_cpu": 0}
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


# -- the u8x7 route: oneDNN's u8 x s8 linear on weights in [-64, 64] ----------------------------

def saturating():
    """Skip unless the u8 linear saturates here (no VNNI: ``vpmaddubsw``), so that a control can show
    that digits outside [-64, 64] give wrong sums."""
    ref.require_u8x7()
    if ref.u8_linear_status() is None:
        pytest.skip("the u8 linear is exact on full-range weights here (VNNI): nothing saturates to show")


def test_u8x7_probe_passes_and_the_bound_is_tight():
    """All-255 activations against columns of -64 and 64 sum exactly (every pair of products at
    +-32640); one step past the bound (-65: pairs at -33150) the kernel saturates here."""
    saturating()
    assert int8gemm._u8x7_exact() is None
    K, N = 4096, 8
    x = torch.full((5, K), 255, dtype=torch.uint8)
    for lo, hi, exact in ((-64, 64, True), (-65, 64, False), (-64, 65, False)):
        w = torch.full((K, N), lo, dtype=torch.int8)
        w[:, 1::2] = hi
        got = int8gemm._u8_linear(x[:, :1024], int8gemm._u8_pack(w[:1024])).double()
        want = (x[:, :1024].double() - 128) @ w[:1024].double()
        assert torch.equal(got, want) == exact, (lo, hi)


def test_u8x7_weights_are_checked_and_long_sums_chunked():
    """:class:`U8Weights` refuses digits outside [-64, 64], and splits K so that every float32 sum is
    exact: 4096 k-terms of (255 - 128) * 64 reach 3.3e7 > 2^24, in two chunks of 2048 here."""
    ref.require_u8x7()
    with pytest.raises(ValueError, match=r"^u8x7 weights must lie in \[-64, 64\], not up to 65$"):
        int8gemm.U8Weights(torch.full((4, 2), 65, dtype=torch.int8))
    K = 4096
    x = torch.full((3, K), 255, dtype=torch.uint8)
    x[1, ::3] = 0
    w = torch.full((K, 5), 64, dtype=torch.int8)
    w[:, 1] = -64
    wts = int8gemm.U8Weights(w, p=1, peak=127 * 64)
    assert len(wts.chunks) == 2
    assert torch.equal(wts.matmul(x).double(), (x.double() - 128) @ w.double())


def test_forced_u8x7_route_is_probed_and_refused_where_inexact(monkeypatch):
    """``AXFORGE_U8X7_GEMM=1`` skips the timing, not the exactness probe: where that fails it is an
    error, not wrong sums; ``=0`` probes nothing; unset, a failed probe means the route is off."""
    monkeypatch.setattr(int8gemm, "_u8x7_exact", lambda: "the kernel saturates (a test double)")
    monkeypatch.setattr(int8gemm, "_u8x7_rate", lambda: pytest.fail("a forced or failed route is never timed"))
    monkeypatch.setenv("AXFORGE_U8X7_GEMM", "1")
    with pytest.raises(AxforgeError, match=r"^AXFORGE_U8X7_GEMM=1 asks for the u8x7 GEMM route, but the kernel "
                                           r"saturates \(a test double\)$"):
        int8gemm._u8x7_available()
    monkeypatch.delenv("AXFORGE_U8X7_GEMM")
    assert int8gemm._u8x7_available() is False
    monkeypatch.setattr(int8gemm, "_u8x7_exact", lambda: pytest.fail("AXFORGE_U8X7_GEMM=0 probes nothing"))
    monkeypatch.setenv("AXFORGE_U8X7_GEMM", "0")
    assert int8gemm._u8x7_available() is False


def test_u8x7_route_is_on_where_exact_and_faster(monkeypatch):
    """Unforced, the route runs where the probe passes and the u8 linear beats the float32 GEMM."""
    monkeypatch.delenv("AXFORGE_U8X7_GEMM", raising=False)
    monkeypatch.setattr(int8gemm, "_u8x7_exact", lambda: None)
    for rates, on in (((20.0, 10.0), True), ((10.0, 20.0), False)):
        monkeypatch.setattr(int8gemm, "_u8x7_rate", lambda rates=rates: rates)
        assert int8gemm._u8x7_available() is on
    monkeypatch.setattr(int8gemm, "INT8_GEMM", True)
    monkeypatch.setattr(int8gemm, "U8X7_GEMM", True)
    assert int8gemm.gemm_route() == "int8"      # the int8 route comes first
