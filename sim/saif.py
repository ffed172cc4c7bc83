"""SAIF toggle counts, the one reader for every simulation that records activity.

The harnesses write a SAIF file of the run and a one-dump ``<file>.base``
companion: SAIF counts a signal that starts at 1 as one toggle, and the
baseline holds exactly those, so they are subtracted.
"""

import re
from pathlib import Path

from axforge.errors import AxforgeError

__all__ = ["saif_tree", "find_instance", "read_tree", "read_toggles"]

_NET = re.compile(r"\((\S+)\s+\(T0 \d+\)\s+\(T1 \d+\)(?:\s+\(\w+ \d+\))*?\s+\(TC (\d+)\)[^()]*\)")


def saif_tree(text):
    """``{"nets": {name: toggles}, "inst": {name: subtree}}``, tracking parentheses so nested
    instances close where the file closes them."""
    root = {"nets": {}, "inst": {}}
    stack = [(root, 0)]
    depth = 0
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("(INSTANCE "):
            node = {"nets": {}, "inst": {}}
            stack[-1][0]["inst"].setdefault(s.split()[1], node)
            depth += s.count("(") - s.count(")")
            stack.append((node, depth))
            continue
        m = _NET.match(s)
        if m:
            stack[-1][0]["nets"].setdefault(m.group(1).replace("\\", ""), int(m.group(2)))
            continue
        depth += s.count("(") - s.count(")")
        while len(stack) > 1 and depth < stack[-1][1]:
            stack.pop()
    return root


def find_instance(tree, name):
    """The first instance called ``name``, depth first, or None."""
    if name in tree["inst"]:
        return tree["inst"][name]
    for child in tree["inst"].values():
        found = find_instance(child, name)
        if found is not None:
            return found
    return None


def _subtract(tree, base):
    for n in tree["nets"]:
        tree["nets"][n] -= base["nets"].get(n, 0)
    for k, c in tree["inst"].items():
        if k in base["inst"]:
            _subtract(c, base["inst"][k])
    return tree


def read_tree(saif_path):
    """The tree of a run's SAIF file, less its ``.base`` companion (when there is one)."""
    tree = saif_tree(Path(saif_path).read_text())
    base = Path(f"{saif_path}.base")
    if base.exists():
        tree = _subtract(tree, saif_tree(base.read_text()))
    return tree


def read_toggles(saif_path, top):
    """Toggle counts of the nets of instance ``top`` (not of the instances inside it)."""
    node = find_instance(read_tree(saif_path), top)
    if node is None:
        raise AxforgeError(f"SAIF has no instance {top}")
    return dict(node["nets"])
