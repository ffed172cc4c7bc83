"""Where axforge keeps things: the cache, the user's library; atomic writes."""

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "home_dir", "cache_dir", "library_dir", "sha256_bytes", "sha256_text",
    "atomic_write_bytes", "atomic_write_text", "atomic_dir", "write_json", "file_lock",
    "read_verified", "write_verified",
]


def home_dir():
    """``$AXFORGE_HOME``, or ``~/.axforge``."""
    return Path(os.environ.get("AXFORGE_HOME") or Path.home() / ".axforge")


def cache_dir():
    """Content-addressed build cache: ``$AXFORGE_CACHE`` or ``<home>/cache``."""
    path = Path(os.environ.get("AXFORGE_CACHE") or home_dir() / "cache")
    path.mkdir(parents=True, exist_ok=True)
    return path


def library_dir():
    """The user's library of imported designs: ``$AXFORGE_LIBRARY`` or ``<home>/library``."""
    return Path(os.environ.get("AXFORGE_LIBRARY") or home_dir() / "library")


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_text(text):
    return sha256_bytes(text.encode())


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode())


def write_json(path, obj):
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_verified(path, value):
    """A cache entry: ``value`` (JSON-able) with its SHA-256, written atomically."""
    atomic_write_text(path, json.dumps({"sha256": sha256_text(json.dumps(value, sort_keys=True)),
                                        "value": value}))


def read_verified(path):
    """The value of a :func:`write_verified` entry, or ``None`` if missing, corrupt or tampered with."""
    try:
        data = json.loads(Path(path).read_text())
        if sha256_text(json.dumps(data["value"], sort_keys=True)) == data["sha256"]:
            return data["value"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


@contextmanager
def atomic_dir(path):
    """Yield a temporary directory that replaces ``path`` only if the block succeeds.

    Files already in ``path`` that the block does not write are kept; files the
    block writes replace their namesakes. On an exception nothing in ``path``
    changes and the temporary directory is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        path.mkdir(parents=True, exist_ok=True)
        for item in sorted(tmp.rglob("*")):
            rel = item.relative_to(tmp)
            if item.is_dir():
                (path / rel).mkdir(parents=True, exist_ok=True)
            else:
                (path / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(item, path / rel)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def file_lock(path):
    """Hold an exclusive ``fcntl`` lock on ``path`` (created if missing) for the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
