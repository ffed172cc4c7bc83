"""Test set-up: tool environment, a persistent build cache, a private user library."""

import os
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
