"""The spec loader: the only place that reads spec files (YAML) or spec strings from users."""

from pathlib import Path

import yaml

from axforge.errors import AxforgeError
from axforge.hdl.arith import MultSpec
from axforge.hdl.arith.imported import load

__all__ = ["load_mult_spec", "read_yaml", "load_mapping", "split_specs"]


def read_yaml(path, what):
    """Parse a YAML file; a parse error becomes one line naming ``what``, the file and the line."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise AxforgeError(f"{what} {path} is malformed: it must be valid YAML (parse error{where})") from None


def load_mult_spec(text, signed=None):
    """A :class:`MultSpec` from a spec string or a YAML file path.

    YAML: a mapping with ``family``, ``a_width``, ``b_width``, ``signed``,
    ``params`` (mapping) and ``registered``; or ``family: verilog`` with
    ``path``, ``top`` and ``signed``.
    """
    path = Path(text)
    if text.endswith((".yaml", ".yml")):
        if not path.is_file():
            raise AxforgeError(f"Spec file must exist, not {text!r}")
        data = read_yaml(path, "Spec file")
        spec = MultSpec.from_dict(data, where=f"spec file {text}")
    else:
        spec = MultSpec.parse(text)
    if signed is not None and spec.family == "verilog" and spec.signed != signed:
        spec = load(spec.source[0], spec.source[1], signed)
    return spec


def load_mapping(path):
    """A layer -> multiplier mapping from YAML: ``{layer name: spec string}`` (optionally under ``mapping:``)."""
    if not Path(path).is_file():
        raise AxforgeError(f"Mapping file must exist, not {str(path)!r}")
    data = read_yaml(path, "Mapping file")
    if isinstance(data, dict) and set(data) == {"mapping"}:
        data = data["mapping"]
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AxforgeError(f"Mapping file {path} must be a YAML mapping of layer name to multiplier spec, "
                           f"not a {type(data).__name__}")
    out = {}
    for layer, spec in data.items():
        if not isinstance(spec, str):
            raise AxforgeError(f"Mapping value for layer {layer!r} must be a multiplier spec string, not {spec!r}")
        out[str(layer)] = MultSpec.parse(spec)
    return out


def split_specs(text):
    """Comma-separated specs; a piece without ':' continues the previous spec's parameters
    (``trunc:8x8u:k=6,comp=const,drum:8x8u:k=4`` is two specs)."""
    out = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if ":" not in piece and out:
            out[-1] += "," + piece
        else:
            out.append(piece)
    return out
