"""The layering of docs/architecture.md holds, and `axforge --help` imports little."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def test_import_contracts_are_kept():
    """import-linter: the layers contract and the no-cycles contract of pyproject.toml."""
    proc = subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in proc.stdout


def test_the_contracts_catch_an_upward_import(tmp_path):
    """The same contracts on a copy of the package with one upward import added must fail."""
    import shutil
    pkg = tmp_path / "axforge"
    shutil.copytree(ROOT / "axforge", pkg, symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "*.cpp", "*.lib", "*.v", "*.md"))
    target = pkg / "hdl" / "pe.py"
    target.write_text(target.read_text() + "\nfrom axforge.search import pareto  # noqa: E402,F401\n")
    proc = subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=tmp_path,
                          capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "axforge.hdl is not allowed to import axforge.search" in proc.stdout
    assert "axforge.hdl.pe -> axforge.search.pareto" in proc.stdout


def _help_import_seconds():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "axforge.cli", "--help"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    self_us = [int(m.group(1)) for m in re.finditer(r"^import time:\s+(\d+) \|", proc.stderr, re.M)]
    modules = [ln.rsplit("|", 1)[1].strip() for ln in proc.stderr.splitlines() if ln.startswith("import time:")
               and "self [us]" not in ln]
    return sum(self_us) / 1e6, modules


def test_help_imports_no_heavy_library():
    """`axforge --help` builds every parser without torch, amaranth, optuna or matplotlib.

    This is what keeps its import time under 1 s; the time itself depends on the machine's load, so
    it is measured and printed by ``benchmarks/bench_import.py`` (a BENCH line), not asserted here.
    """
    _, modules = _help_import_seconds()
    heavy = {"torch", "amaranth", "optuna", "matplotlib", "sklearn", "scipy", "ConfigSpace", "pymoo", "cocotb"}
    assert not heavy & {m.split(".")[0] for m in modules}
