"""The synthesis script of designs built from many identical blocks with memories (the NPU).

It is :func:`~.synth.synth_script` with two changes:

- **hierarchical mapping**: ``synth`` runs without ``-flatten``, so a module instantiated many
  times (the NPU's PE) is optimised and mapped by ``abc`` once; ``flatten`` follows the mapping,
  and everything after it (clean-up, renaming, ``stat``, the netlist) is the flat netlist as
  for every other design;
- **memories onto SRAM macros**: between ``synth``'s coarse and fine stages, ``memory_libmap``
  maps the memories the PDK's SRAM compiler can build onto its macros (the files of
  :data:`MEMORY_FILES`, which the PPA flow writes from the PDK next to the Liberty file), where a
  macro is cheaper than flip-flops; the rest become flip-flops as before. Macro instances are
  renamed ``m<k>``.
"""

from .synth import LIB_NAME, synth_script

__all__ = ["MEMORY_FILES", "hierarchical_script"]

#: file names the script reads, by what they hold (the PDK writes them: ``PDK.memory_files``)
MEMORY_FILES = {"memlib": "sram.memlib", "techmap": "sram_map.v", "blackbox": "sram_bb.v"}


def _replace_once(text, old, new):
    if text.count(old) != 1:
        raise ValueError(f"synthesis script: expected one line {old.strip()!r}")
    return text.replace(old, new)


def hierarchical_script(sources, top, liberty=LIB_NAME, out="mapped"):
    """The Yosys script (text) for ``sources`` with top ``top`` (see the module docstring)."""
    text = synth_script(sources, top, liberty, out)
    f = MEMORY_FILES
    text = _replace_once(text, f"read_liberty -lib {liberty}\n",
                         f"read_liberty -lib {liberty}\nread_verilog -lib {f['blackbox']}\n")
    text = _replace_once(text, f"synth -flatten -top {top}\n",
                         f"synth -top {top} -run :fine\n"
                         f"memory_libmap -lib {f['memlib']}\n"
                         f"techmap -map {f['techmap']}\n"
                         f"synth -top {top} -run fine:\n")
    text = _replace_once(text, f"abc -liberty {liberty}\n",
                         f"abc -liberty {liberty}\nflatten\nhierarchy -top {top}\n")
    return _replace_once(text, "rename -enumerate -pattern u% t:*\n",
                         "rename -hide t:AXF_SRAM\nrename -enumerate -pattern m% t:AXF_SRAM\n"
                         "rename -enumerate -pattern u% t:*\n")
