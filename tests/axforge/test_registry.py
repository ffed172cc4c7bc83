"""axforge/registry.py: decorator registration, discovery of a package's modules, the one error text."""

import sys

import pytest

from axforge.errors import AxforgeError
from axforge.registry import Registry


def test_register_lookup_and_error_text():
    reg = Registry("Widget")

    @reg.register("a")
    class A:
        pass

    reg.register("b", 42)
    assert reg["a"] is A and reg.lookup("b") == 42 and list(reg) == ["a", "b"] and len(reg) == 2
    with pytest.raises(AxforgeError, match=r"^Widget must be one of a, b, not 'c'$"):
        reg.lookup("c")
    with pytest.raises(AxforgeError, match=r"^Widget 'a' is registered twice$"):
        reg.register("a", object())
    reg.register("a", A)   # the same object again is harmless (a module imported twice)


def test_discovery_imports_every_module_of_the_package(tmp_path, monkeypatch):
    pkg = tmp_path / "axf_plugins"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from axforge.registry import Registry\nREG = Registry('Plugin', __name__)\n")
    for name in ("one", "two"):
        (pkg / f"{name}.py").write_text(f"from axf_plugins import REG\n\n@REG.register('{name}')\ndef f():\n"
                                        f"    return '{name}'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import axf_plugins
    try:
        assert "axf_plugins.one" not in sys.modules          # nothing imported before the first lookup
        assert sorted(axf_plugins.REG) == ["one", "two"]
        assert axf_plugins.REG["two"]() == "two"
    finally:
        for m in [m for m in sys.modules if m.startswith("axf_plugins")]:
            del sys.modules[m]


def test_families_are_found_without_an_import_list():
    """hdl/arith/__init__.py names no family module: the registry finds all eight files."""
    from pathlib import Path

    import axforge.hdl.arith as arith
    from axforge.hdl.arith import FAMILIES
    init = Path(arith.__file__).read_text()
    assert "truncated" not in init and "mitchell" not in init
    assert sorted(FAMILIES) == ["bam", "cmp42", "drum", "exact", "kulkarni", "mitchell", "perf", "trunc"]


def test_a_new_approximable_type_is_used_by_the_layer_list():
    import torch.nn as nn

    from axforge.models.layers import APPROXIMABLE, approximable, layer_names

    class Bilinear(nn.Bilinear):
        pass

    @approximable(Bilinear)
    def _twin(name, mod, spec, config):   # pragma: no cover - not called here
        raise NotImplementedError

    try:
        model = nn.Sequential(nn.Linear(2, 2), Bilinear(2, 2, 2))
        assert layer_names(model) == ["0", "1"]
    finally:
        APPROXIMABLE._items.pop("Bilinear")
