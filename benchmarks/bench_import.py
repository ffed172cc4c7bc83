"""Import time of `axforge --help` (printed, not asserted).

``python -X importtime -m axforge.cli --help``: the sum of every imported
module's own time, best of 5 runs, next to the interpreter's bare start-up
(``-c pass``) measured in the same run.
"""

import platform
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def import_seconds(args):
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, cwd=ROOT)
    return sum(int(m.group(1)) for m in re.finditer(r"^import time:\s+(\d+) \|", proc.stderr, re.M)) / 1e6


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main():
    print(f"# CPU: {cpu_name()}, Python {platform.python_version()}")
    help_s = min(import_seconds(["-m", "axforge.cli", "--help"]) for _ in range(5))
    bare_s = min(import_seconds(["-c", "pass"]) for _ in range(5))
    print(f"BENCH cli_help_import_s {help_s:.4g} s")
    print(f"BENCH cli_help_import_vs_bare_python {help_s / bare_s:.4g} ratio")


if __name__ == "__main__":
    main()
