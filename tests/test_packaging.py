"""Packaging: setuptools finds every package of the source tree, and the wheel built from the
working tree holds every module and data file, importable from a fresh environment.

The import package is ``axforge/``; its subpackages hdl/, generators/, sim/, ... sit at the top of
the repository and ``axforge/`` links to each (pyproject.toml). The lists checked here come from the
source tree, so a module, subpackage or data file that the wheel leaves out fails a test.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

from setuptools import find_packages
from setuptools.config.pyprojecttoml import read_configuration

ROOT = Path(__file__).resolve().parents[1]
PKG = "axforge"

# The subpackages that live at the top of the repository, each linked from axforge/.
TOP_LEVEL_SUBPACKAGES = ("hdl", "generators", "sim", "pdk_stub", "models", "search")

# Data files the code reads next to its modules: these patterns must match files in the source tree,
# and those files must be installed (every other non-Python file of the package tree must be, too).
REQUIRED_DATA = {"sim": ("*.cpp",), "pdk_stub": ("*.lib", "*.v")}

# Modules that cannot be imported outside a simulation, {module: reason}. Keep this minimal: the
# cocotb testbenches (sim/tb_*.py) import cocotb at top level, which works without a simulator, so
# they are imported like every other module.
NOT_IMPORTABLE = {}

# Files of the package tree that are deliberately not installed, as paths relative to axforge/.
NOT_SHIPPED = set()

# Directories that the build may leave in a copied tree, or that hold caches and outputs.
_COPY_IGNORE_TOP = {".git", ".venv", "build", "dist", "out", ".axforge", ".pytest_cache",
                    ".grimp_cache", ".import_linter_cache", "sim_build"}


def _walk(top):
    """``(dir, files)`` for every directory under ``top``, following symbolic links (a link back to
    an ancestor is not followed) and skipping ``__pycache__``."""
    top = Path(top)
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        here = Path(dirpath)
        ancestors = {os.path.realpath(p) for p in [here, *here.parents] if p.is_relative_to(top)}
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__"
                             and os.path.realpath(here / d) not in ancestors)
        yield here, sorted(filenames)


def _dotted(root, path):
    """``axforge.x.y`` for the directory ``root/axforge/x/y``."""
    return ".".join(path.relative_to(root).parts)


def _source_packages(root):
    """Dotted names of the directories under ``root/axforge`` that hold ``__init__.py``."""
    return {_dotted(root, d) for d, files in _walk(root / PKG) if "__init__.py" in files}


def _source_modules(root):
    """Dotted names of every ``*.py`` in a directory under ``root/axforge`` with ``__init__.py``."""
    mods = set()
    for d, files in _walk(root / PKG):
        if "__init__.py" in files:
            pkg = _dotted(root, d)
            mods |= {pkg if f == "__init__.py" else f"{pkg}.{f[:-3]}"
                     for f in files if f.endswith(".py")}
    return mods


def _source_data(root):
    """Paths (relative to ``root/axforge``) of the non-Python files of the package tree, less
    hidden files, byte code and editor backups."""
    out = set()
    for d, files in _walk(root / PKG):
        if any(part.startswith(".") for part in d.relative_to(root / PKG).parts):
            continue
        out |= {(d / f).relative_to(root / PKG).as_posix() for f in files
                if not f.endswith((".py", ".pyc", "~")) and not f.startswith(".")}
    return out


def _copy_tree(dst):
    """The working tree, copied with its symbolic links kept as links, less caches and outputs."""
    def ignore(src, names):
        skip = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}
        if Path(src) == ROOT:
            skip |= _COPY_IGNORE_TOP & set(names)
        return skip
    shutil.copytree(ROOT, dst, symlinks=True, ignore=ignore)
    return dst


def _run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert p.returncode == 0, f"{cmd} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
    return p


# Run by the fresh environment's Python: imports each module named on stdin and writes what it
# found (each module's file, import errors, where axforge's metadata and entry points come from).
_PROBE = textwrap.dedent("""
    import importlib, importlib.metadata as md, json, sys, traceback
    from pathlib import Path
    modules, out = json.loads(sys.stdin.read()), sys.argv[1]
    files, errors = {}, {}
    for name in modules:
        try:
            files[name] = importlib.import_module(name).__file__
        except (Exception, SystemExit):
            errors[name] = traceback.format_exc()
    dist = md.distribution("axforge")
    scripts = {}
    for ep in dist.entry_points.select(group="console_scripts"):
        try:
            obj = ep.load()
            scripts[ep.name] = [ep.value, f"{obj.__module__}:{obj.__qualname__}"]
        except Exception:
            scripts[ep.name] = [ep.value, traceback.format_exc()]
    json.dump({
        "files": files, "errors": errors, "sys_path": sys.path,
        "suppliers": [p for p in sys.path if (Path(p or ".") / "axforge").exists()],
        "editable": sorted(m for m in sys.modules if "editable" in m)
                    + [repr(f) for f in sys.meta_path if "editable" in repr(f).lower()],
        "dist_location": str(dist.locate_file("axforge/__init__.py")),
        "dist_version": dist.version, "scripts": scripts,
    }, open(out, "w"))
""")


def test_wheel_installs_every_module_and_data_file(tmp_path):
    src = _copy_tree(tmp_path / "src")      # the build writes build/ and *.egg-info into its tree
    modules = _source_modules(src)
    assert {PKG, *(f"{PKG}.{s}" for s in TOP_LEVEL_SUBPACKAGES)} <= modules
    stale = set(NOT_IMPORTABLE) - modules
    assert not stale, f"NOT_IMPORTABLE names modules that no longer exist: {sorted(stale)}"

    # the wheel, built by the dev environment's setuptools (offline: no isolated build env)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
         cwd=src)
    (wheel,) = dist.glob("*.whl")

    # a fresh environment, which sees the dev environment's site-packages (torch, amaranth, ...)
    # through a path line in a .pth file: the dev environment's own .pth files are not processed,
    # so its editable install of axforge is not activated
    fresh = tmp_path / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", str(fresh)])
    fresh_py = fresh / "bin" / "python"
    site = Path(_run([str(fresh_py), "-I", "-c",
                      "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    dev_site = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "_axforge_dev_deps.pth").write_text("".join(f"{p}\n" for p in dev_site))
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-compile",
          "--disable-pip-version-check", "-q", "--target", str(site), str(wheel)])

    # import every module from the installed wheel, outside the repository (-I: neither the
    # working directory nor PYTHONPATH is on sys.path; -B: write no byte code anywhere)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(AXFORGE_HOME=str(tmp_path / "home"), AXFORGE_CACHE=str(tmp_path / "cache"),
               AXFORGE_LIBRARY=str(tmp_path / "library"))
    _run([str(fresh_py), "-I", "-B", "-c", _PROBE, str(report)], cwd=elsewhere, env=env,
         input=json.dumps(sorted(set(modules) - set(NOT_IMPORTABLE))))
    r = json.loads(report.read_text())

    installed = (site / PKG).resolve()
    assert r["errors"] == {}, "modules that do not import from the wheel:\n" + "\n".join(
        f"--- {m}\n{tb}" for m, tb in sorted(r["errors"].items()))
    assert r["editable"] == [], f"the editable-install finder is active: {r['editable']}"
    assert [Path(p).resolve() for p in r["suppliers"]] == [site.resolve()], \
        f"axforge is importable from elsewhere too: {r['suppliers']}"
    outside = {m: f for m, f in r["files"].items() if not Path(f).resolve().is_relative_to(installed)}
    assert not outside, f"modules not imported from the fresh environment: {outside}"
    assert set(r["files"]) == set(modules) - set(NOT_IMPORTABLE)
    for name in NOT_IMPORTABLE:     # not importable here, but still shipped
        rel = Path(*name.split("."))
        assert (site / rel.with_suffix(".py")).is_file() or (site / rel / "__init__.py").is_file(), name

    # the distribution's metadata and console scripts are the wheel's
    assert Path(r["dist_location"]).resolve() == installed / "__init__.py"
    project = tomllib.loads((src / "pyproject.toml").read_text())["project"]
    assert r["dist_version"] == project["version"]
    assert r["scripts"] == {name: [target, target] for name, target in project["scripts"].items()}

    # data files: the required ones exist in the source tree, and every data file is installed
    data = _source_data(src)
    for sub, patterns in REQUIRED_DATA.items():
        for pattern in patterns:
            assert list((src / PKG / sub).glob(pattern)), f"no {sub}/{pattern} in the source tree"
    missing = sorted(rel for rel in data - NOT_SHIPPED if not (installed / rel).is_file())
    assert not missing, (f"data files left out of the wheel: {missing} "
                         "(add them to [tool.setuptools.package-data] in pyproject.toml)")
    differ = sorted(rel for rel in data - NOT_SHIPPED
                    if (installed / rel).read_bytes() != (src / PKG / rel).read_bytes())
    assert not differ, f"installed data files differ from the source tree: {differ}"


def test_setuptools_finds_every_package():
    pkg_dir = ROOT / PKG
    source = _source_packages(ROOT)

    # no directory of Python files without __init__.py (not a regular package: it would ship, if at
    # all, as an implicit namespace package)
    bare = sorted(_dotted(ROOT, d) for d, files in _walk(pkg_dir)
                  if "__init__.py" not in files and any(f.endswith(".py") for f in files))
    assert not bare, f"directories of Python files without __init__.py: {bare}"

    # setuptools' package discovery finds exactly the directories with __init__.py
    found = set(find_packages(str(ROOT), include=[PKG, f"{PKG}.*"]))
    assert found == source, (f"missed by find_packages: {sorted(source - found)}; "
                             f"found but not in the tree: {sorted(found - source)}")
    # and so does it as pyproject.toml configures it (namespaces = true, its default there, adds
    # directories without __init__.py: only ones without Python files, which package-data can reach)
    configured = set(read_configuration(ROOT / "pyproject.toml")["tool"]["setuptools"]["packages"])
    assert source <= configured, f"left out by pyproject.toml: {sorted(source - configured)}"
    for extra in configured - source:
        assert not list((ROOT / Path(*extra.split("."))).glob("*.py")), \
            f"pyproject.toml makes {extra} a namespace package"

    # every top-level subpackage folder is linked from axforge/ by a relative link, and every link
    # in axforge/ leads to a top-level folder
    top = {d.name for d in ROOT.iterdir()
           if d.is_dir() and not d.is_symlink() and d.name != PKG and (d / "__init__.py").is_file()}
    assert set(TOP_LEVEL_SUBPACKAGES) <= top, sorted(set(TOP_LEVEL_SUBPACKAGES) - top)
    unlinked = sorted(n for n in top
                      if not ((pkg_dir / n).is_symlink() and (pkg_dir / n).resolve() == ROOT / n))
    assert not unlinked, f"top-level packages not linked from {PKG}/ (e.g. {PKG}/x -> ../x): {unlinked}"
    for link in (p for p in pkg_dir.iterdir() if p.is_symlink()):
        target = os.readlink(link)
        assert not os.path.isabs(target), f"{link} -> {target}: use a relative link"
        assert link.resolve().parent == ROOT and link.resolve().is_dir(), f"{link} -> {target}"
