"""cocotb (Verilator, optionally Icarus) checks of generated multiplier RTL against the numpy models."""

import shutil

import pytest

from axforge.sim.cocotb_run import run_mult_tb

pytestmark = pytest.mark.cocotb

# One spec per family, both signs, non-square widths; checked exhaustively.
EXHAUSTIVE_SPECS = [
    "exact:8x8u:arch=array",
    "exact:8x8s:arch=booth",
    "exact:8x4u:arch=wallace",
    "exact:6x8s:arch=dadda",
    "trunc:8x8u:k=6,comp=const",
    "trunc:8x8s:k=5,comp=var",
    "bam:8x8u:h=2,v=6",
    "perf:8x8s:start=1,count=2",
    "kulkarni:8x8u:t=3",
    "drum:8x8s:k=4",
    "mitchell:8x8u:ec=0,w=4",
    "mitchell:8x6s:ec=1",
    "cmp42:8x8u:c=8,design=or",
    "cmp42:4x8s:c=5,design=maj",
]

ICARUS_SPECS = ["exact:8x4u:arch=wallace", "trunc:8x8s:k=5,comp=var"]


@pytest.mark.parametrize("spec", EXHAUSTIVE_SPECS)
def test_rtl_matches_model_exhaustive(spec):
    run_mult_tb(spec, simulator="verilator", vectors="exhaustive")


def test_rtl_matches_model_wide_random():
    # 24 operand bits: 2000 random vectors plus the corner cross product
    run_mult_tb("exact:12x12s:arch=booth", simulator="verilator", vectors=2000, seed=7)


def test_testbench_detects_a_wrong_model():
    """The bench must fail when the golden model disagrees with the RTL."""
    with pytest.raises(AssertionError, match=r"vectors mismatch the model"):
        run_mult_tb("trunc:8x8u:k=6,comp=none", model_spec="exact:8x8u")


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog is not on PATH (make test installs it where apt-get runs as root)")
@pytest.mark.parametrize("spec", ICARUS_SPECS)
def test_rtl_matches_model_icarus(spec):
    run_mult_tb(spec, simulator="icarus", vectors="exhaustive")
