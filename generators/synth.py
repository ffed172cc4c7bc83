"""The Yosys synthesis script emitted with every design, and run by :mod:`axforge.pdk_stub.flow`.

``read -> synth -flatten -> dfflibmap -> abc -liberty -> clean-up -> stat -json
-liberty -> mapped Verilog + JSON``. Private nets and cells are renamed
``n<k>`` / ``u<k>`` so that the Verilog (simulated for activity) and the JSON
(used for timing and loads) name every net the same way.
"""

__all__ = ["synth_script", "LIB_NAME"]

LIB_NAME = "cells.lib"


def synth_script(sources, top, liberty=LIB_NAME, out="mapped"):
    """The Yosys script (text). ``sources`` are Verilog file names relative to the run directory."""
    reads = "\n".join(f"read_verilog -sv {s}" for s in sources)
    return f"""# axforge PPA synthesis: map {top} onto {liberty}
read_liberty -lib {liberty}
{reads}
hierarchy -check -top {top}
synth -flatten -top {top}
dfflibmap -liberty {liberty}
abc -liberty {liberty}
opt_clean -purge
setundef -zero
rename -enumerate -pattern n% w:$*
rename -enumerate -pattern u% t:*
check -assert
tee -q -o {out}.stat.json stat -json -liberty {liberty}
write_verilog -noattr -noexpr {out}.v
write_json {out}.json
"""
